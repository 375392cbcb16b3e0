/// One entity kind described as data: its names, the fields its tools write, the filters its
/// list accepts, its `process` actions and its parent rule. The API, its stores, the core
/// plugins (through PluginKit's `EntityToolset`) and the tests all read these descriptions, so
/// a kind or an action is added in one place: `Kinds.swift`.
///
/// This module depends on nothing, so every part of the package can share it.
public struct EntityKind: Sendable, Hashable {
    /// The plural name used in paths, storage and plugin names (`notes`, `chat_messages`).
    public let name: String
    /// The singular name used in tool names and messages (`note`, `chat_message`).
    public let singular: String
    /// The description of the kind's plugin, as hosts and clients show it.
    public let pluginDescription: String
    /// The fields create and update take as tool arguments, in the order the tools list them.
    public let fields: [EntityField]
    /// Query parameters the API's list accepts, each matching one indexed payload field.
    public let filters: [ListFilter]
    /// The list tool's filter arguments; each one's `key` is the name of one of `filters`.
    public let filterArguments: [EntityField]
    /// The `process` actions in the order they are documented, each with the payload keys it sets.
    public let actions: [ProcessAction]
    /// Set when items of this kind must point at a live item of another kind.
    public let parent: ParentRule?

    public init(
        name: String, singular: String, pluginDescription: String, fields: [EntityField],
        filters: [ListFilter], filterArguments: [EntityField] = [], actions: [ProcessAction], parent: ParentRule? = nil
    ) {
        self.name = name
        self.singular = singular
        self.pluginDescription = pluginDescription
        self.fields = fields
        self.filters = filters
        self.filterArguments = filterArguments
        self.actions = actions
        self.parent = parent
    }

    public static func == (lhs: EntityKind, rhs: EntityKind) -> Bool { lhs.name == rhs.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }

    public func action(named name: String) -> ProcessAction? {
        actions.first { $0.name == name }
    }

    /// Every kind, in the order the API documents them.
    public static let all: [EntityKind] = [.notes, .tasks, .comments, .chats, .chatMessages]

    public static func named(_ name: String) -> EntityKind? {
        all.first { $0.name == name }
    }
}

/// A payload field as a tool argument: the snake_case argument name, the payload key it is
/// stored under (for a filter argument: the query parameter, which is the payload key), its
/// type and the sentence the tool's schema gives it.
public struct EntityField: Sendable {
    public let argument: String
    public let key: String
    public let type: FieldType
    public let description: String?
    /// Whether the create tool requires it.
    public let requiredOnCreate: Bool

    public init(
        _ argument: String, key: String? = nil, _ type: FieldType, _ description: String? = nil,
        requiredOnCreate: Bool = false
    ) {
        self.argument = argument
        self.key = key ?? argument
        self.type = type
        self.description = description
        self.requiredOnCreate = requiredOnCreate
    }
}

/// The JSON type of a field: the types tool argument checks understand, and strings from a fixed set.
public indirect enum FieldType: Sendable, Hashable {
    case string
    case integer
    case number
    case boolean
    case object
    case array(of: FieldType)
    /// A string that must be one of these values.
    case oneOf([String])
}

/// A `process` action and the payload keys it sets, in order.
public struct ProcessAction: Sendable {
    public let name: String
    public let sets: [(key: String, value: PayloadValue)]

    public init(_ name: String, sets: KeyValuePairs<String, PayloadValue>) {
        self.name = name
        self.sets = sets.map { ($0.key, $0.value) }
    }
}

/// A value an action writes into the payload.
public enum PayloadValue: Sendable, Hashable, ExpressibleByBooleanLiteral, ExpressibleByStringLiteral {
    case bool(Bool)
    case string(String)

    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(stringLiteral value: String) { self = .string(value) }
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

    public init(_ name: String, _ field: IndexedField) {
        self.name = name
        self.field = field
    }
}

/// "An item of this kind names a live parent owned by the same user in the same tenant."
public struct ParentRule: Sendable {
    /// The payload key holding the parent's uid (`parentUid`, `chatUid`).
    public let uidKey: String
    /// The payload key naming the parent's type (`parentType`), nil when the parent kind is fixed.
    public let typeKey: String?
    /// The accepted parent types and the kind each names; one entry when `typeKey` is nil.
    public let kinds: [(type: String, kind: String)]

    public init(uidKey: String, typeKey: String?, kinds: [(type: String, kind: String)]) {
        self.uidKey = uidKey
        self.typeKey = typeKey
        self.kinds = kinds
    }

    /// The values `typeKey` accepts.
    public var types: [String] { kinds.map(\.type) }

    public func kindName(forType type: String?) -> String? {
        typeKey == nil ? kinds.first?.kind : kinds.first { $0.type == type }?.kind
    }
}
