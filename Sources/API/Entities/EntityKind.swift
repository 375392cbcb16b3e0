/// One entity kind described as data: the API, the stores and the plugins serve all five kinds
/// with one piece of code that reads these descriptions.
public struct EntityKind: Sendable, Hashable {
    /// The plural name used in paths and storage (`notes`, `chat_messages`).
    public let name: String
    /// The singular name used in tool names and messages (`note`, `chat_message`).
    public let singular: String
    /// The `process` actions in the order they are documented, each with the payload keys it sets.
    public let actions: [ProcessAction]
    /// Query parameters a list accepts, each matching one indexed payload field.
    public let filters: [ListFilter]
    /// Set when items of this kind must point at a live item of another kind.
    public let parent: ParentRule?

    public static func == (lhs: EntityKind, rhs: EntityKind) -> Bool { lhs.name == rhs.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }

    public func action(named name: String) -> ProcessAction? {
        actions.first { $0.name == name }
    }
}

public struct ProcessAction: Sendable {
    public let name: String
    public let effects: JSONObject
}

/// The payload fields the stores index so lists can filter on them.
public enum IndexedField: String, Sendable, CaseIterable {
    case status
    case parentUID = "parent_uid"
    case parentType = "parent_type"
}

public struct ListFilter: Sendable {
    /// The query parameter and payload key (`status`, `parentUid`, `chatUid`).
    public let name: String
    public let field: IndexedField
}

/// "An item of this kind names a live parent owned by the same user in the same tenant."
public struct ParentRule: Sendable {
    /// The payload key holding the parent's uid (`parentUid`, `chatUid`).
    public let uidKey: String
    /// The payload key naming the parent's type (`parentType`), nil when the parent kind is fixed.
    public let typeKey: String?
    /// The accepted parent types and the kind each names; one entry when `typeKey` is nil.
    public let kinds: [(type: String, kind: String)]

    public func kindName(forType type: String?) -> String? {
        typeKey == nil ? kinds.first?.kind : kinds.first { $0.type == type }?.kind
    }
}

extension EntityKind {
    public static let notes = EntityKind(
        name: "notes", singular: "note",
        actions: [
            ProcessAction(name: "pin", effects: ["pinned": true]),
            ProcessAction(name: "unpin", effects: ["pinned": false]),
            ProcessAction(name: "archive", effects: ["status": "archived"]),
            ProcessAction(name: "unarchive", effects: ["status": "active"]),
        ],
        filters: [ListFilter(name: "status", field: .status)],
        parent: nil)

    public static let tasks = EntityKind(
        name: "tasks", singular: "task",
        actions: [
            ProcessAction(name: "start", effects: ["status": "in_progress", "done": false]),
            ProcessAction(name: "complete", effects: ["status": "completed", "done": true]),
            ProcessAction(name: "reopen", effects: ["status": "open", "done": false]),
        ],
        filters: [ListFilter(name: "status", field: .status)],
        parent: nil)

    public static let comments = EntityKind(
        name: "comments", singular: "comment",
        actions: [
            ProcessAction(name: "resolve", effects: ["status": "resolved"]),
            ProcessAction(name: "reopen", effects: ["status": "open"]),
        ],
        filters: [
            ListFilter(name: "status", field: .status),
            ListFilter(name: "parentUid", field: .parentUID),
            ListFilter(name: "parentType", field: .parentType),
        ],
        parent: ParentRule(uidKey: "parentUid", typeKey: "parentType", kinds: [("note", "notes"), ("task", "tasks")]))

    public static let chats = EntityKind(
        name: "chats", singular: "chat",
        actions: [
            ProcessAction(name: "resolve", effects: ["status": "resolved"]),
            ProcessAction(name: "reopen", effects: ["status": "active"]),
        ],
        filters: [ListFilter(name: "status", field: .status)],
        parent: nil)

    public static let chatMessages = EntityKind(
        name: "chat_messages", singular: "chat_message",
        actions: [
            ProcessAction(name: "mark_read", effects: ["read": true]),
            ProcessAction(name: "mark_delivered", effects: ["delivered": true]),
        ],
        filters: [
            ListFilter(name: "status", field: .status),
            ListFilter(name: "chatUid", field: .parentUID),
        ],
        parent: ParentRule(uidKey: "chatUid", typeKey: nil, kinds: [("chat", "chats")]))

    /// Every kind, in the order the API documents them.
    public static let all: [EntityKind] = [.notes, .tasks, .comments, .chats, .chatMessages]

    public static func named(_ name: String) -> EntityKind? {
        all.first { $0.name == name }
    }
}
