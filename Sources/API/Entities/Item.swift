import ServerSupport
import ToolBridgeAuth

/// The owner of a request's data: every store query is scoped to one tenant and one user.
public struct Scope: Sendable, Hashable {
    public let tenant: String
    public let owner: String

    public init(tenant: String, owner: String) {
        self.tenant = tenant
        self.owner = owner
    }
}

extension Caller {
    /// The data an authenticated caller reads and writes: its own, in the tenant it acts in.
    public var scope: Scope { Scope(tenant: tenant, owner: user) }
}

/// An item as the stores keep it. `payload` is the serialized JSON text, stored and returned
/// byte for byte, so reads never parse it.
public struct StoredItem: Sendable, Equatable {
    public var uid: String
    public var version: Int64
    /// The server's write time; strictly increasing per item. Lists and pulls are ordered by it.
    public var updatedMs: Int64
    public var deletedMs: Int64?
    /// The last-writer-wins clock: the payload's `updatedTs`, as the writer set it.
    public var clockMs: Int64
    public var payload: String
    /// Payload fields copied into indexed columns so lists can filter on them.
    public var status: String?
    public var parentUID: String?
    public var parentType: String?

    public var isDeleted: Bool { deletedMs != nil }

    func indexedValue(_ field: IndexedField) -> String? {
        switch field {
        case .status: status
        case .parentUID: parentUID
        case .parentType: parentType
        }
    }

    /// `{uid, version, updatedAt, deletedAt?, payload}`, the item as the API returns it.
    public var json: String {
        var text = "{\"uid\":\"\(uid)\",\"version\":\(version),\"updatedAt\":\""
        text += Timestamp.format(milliseconds: updatedMs)
        text += "\""
        if let deletedMs {
            text += ",\"deletedAt\":\"" + Timestamp.format(milliseconds: deletedMs) + "\""
        }
        text += ",\"payload\":" + payload + "}"
        return text
    }
}

/// A reference to an item that a write requires to be live (a comment's note, a message's chat).
public struct ItemReference: Sendable, Equatable {
    public let kind: EntityKind
    public let uid: String
}

/// What a write wants stored, the parent that must be live when it lands, and what the server
/// derives from the payload for the database: the search text and the tags (both nil for a
/// tombstone: deleted items never match and are not counted).
public struct ItemChange: Sendable {
    public var item: StoredItem
    public var requiredParent: ItemReference?
    public var search: SearchText?
    /// The payload's string tags as a JSON array the server wrote, for insights; nil when there
    /// are none. The database parses only this text, never a client's payload, so nothing a client
    /// stores (a number like `1e1000000`, a `\u0000`) can make a later read fail.
    public var tags: String?

    init(item: StoredItem, requiredParent: ItemReference?, payload: JSONObject) {
        self.item = item
        self.requiredParent = requiredParent
        guard item.deletedMs == nil else { return }
        search = SearchText(payload: payload)
        tags = Self.tags(in: payload)
    }

    /// PostgreSQL's JSON types cannot hold a NUL character, so a tag with one is not counted.
    private static func tags(in payload: JSONObject) -> String? {
        let tags = payload["tags"]?.arrayValue?.compactMap(\.stringValue).filter { !$0.contains("\u{0}") } ?? []
        return tags.isEmpty ? nil : JSONValue.array(tags.map(JSONValue.string)).serialized
    }
}
