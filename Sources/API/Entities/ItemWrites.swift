import ServerSupport

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The rules every write follows, whatever the kind or the endpoint: server-maintained payload
/// fields, monotonic timestamps, versions, indexed fields and the parent rule.
enum ItemWrites {
    /// Payload keys the server maintains; a client's values for them are replaced.
    static let serverKeys: Set<String> = ["uid", "updatedTs", "updateTime", "sync"]

    /// A canonical lowercase UUID, or nil when `text` is not one.
    static func canonicalUID(_ text: String) -> String? {
        UUID(uuidString: text)?.uuidString.lowercased()
    }

    static func newUID() -> String { UUID().uuidString.lowercased() }

    /// A write time strictly after the item's previous one, even when the clock has not moved
    /// (up to `Timestamp.latest`, which a stored time can only pass in a damaged database).
    static func nextWriteTime(after previous: StoredItem?) -> Int64 {
        let now = Timestamp.nowMilliseconds()
        guard let previous else { return now }
        return max(now, min(previous.updatedMs, Timestamp.latest - 1) + 1)
    }

    /// The version a write to `current` gets: 1 for a new item, one more than the stored one otherwise.
    static func nextVersion(after current: StoredItem?) throws(APIError) -> Int64 {
        guard let current else { return 1 }
        guard current.version < Int64.max else {
            throw APIError(.conflict, "the \(current.uid) item's version cannot grow any further")
        }
        return current.version + 1
    }

    /// The most UTF-8 bytes a value copied into an indexed column (`status`), or compared with one
    /// (a list filter), may have: PostgreSQL refuses a B-tree index entry over about 2,700 bytes, and the index also
    /// holds the tenant (up to 128 bytes), the user (up to 256), the kind and the uid.
    static let maximumIndexedBytes = 256

    /// Refuses a value the indexed columns cannot hold: too long, or with a NUL character
    /// (PostgreSQL text cannot hold one). `field` names it in the sentence.
    static func checkIndexed(_ value: String, field: String) throws(APIError) {
        guard value.utf8.count <= maximumIndexedBytes else {
            throw .badRequest(
                "\(field) is \(value.utf8.count) bytes long; at most \(maximumIndexedBytes) bytes are allowed (it is indexed)")
        }
        guard !value.utf8.contains(0) else { throw .badRequest("\(field) must not contain the NUL character (\\u0000)") }
    }

    /// The client's fields with server-maintained keys removed.
    static func clientFields(_ payload: JSONObject) -> JSONObject {
        payload.filter { !serverKeys.contains($0.key) }
    }

    static func parsePayload(_ item: StoredItem) -> JSONObject {
        (try? JSONValue.parse(item.payload))?.objectValue ?? [:]
    }

    /// Builds the stored form of an item: server fields set, indexed fields extracted, and the
    /// parent the write needs (none for tombstones: deleting never needs a live parent).
    static func makeChange(
        kind: EntityKind, uid: String, fields: JSONObject, version: Int64,
        updatedMs: Int64, clockMs: Int64, deletedMs: Int64?
    ) throws(APIError) -> ItemChange {
        var payload = clientFields(fields)
        payload["uid"] = .string(uid)
        payload["updatedTs"] = .string(Timestamp.format(milliseconds: clockMs))
        payload["updateTime"] = .string(Timestamp.format(milliseconds: updatedMs))
        var sync: JSONObject = ["version": .integer(version), "isDeleted": .bool(deletedMs != nil)]
        if let deletedMs { sync["deletedAt"] = .string(Timestamp.format(milliseconds: deletedMs)) }
        payload["sync"] = .object(sync)

        let status = payload["status"]?.stringValue
        if let status { try checkIndexed(status, field: "status") }
        var item = StoredItem(
            uid: uid, version: version, updatedMs: updatedMs, deletedMs: deletedMs, clockMs: clockMs,
            payload: JSONValue.object(payload).serialized, status: status)
        var parent: ItemReference?
        if let rule = kind.parent {
            let reference = try parentReference(rule, in: payload)
            item.parentUID = reference.uid
            item.parentType = rule.typeKey.flatMap { payload[$0]?.stringValue }
            if deletedMs == nil { parent = reference }
        }
        return ItemChange(item: item, requiredParent: parent, payload: payload)
    }

    static func parentReference(_ rule: ParentRule, in payload: JSONObject) throws(APIError) -> ItemReference {
        var parentKind: EntityKind?
        if let typeKey = rule.typeKey {
            let accepted = rule.kinds.map(\.type).joined(separator: ", ")
            guard let type = payload[typeKey]?.stringValue else {
                throw .badRequest("\(typeKey) is required and must be one of: \(accepted)")
            }
            guard let name = rule.kindName(forType: type) else {
                throw .badRequest("\(typeKey) '\(type)' is not valid; it must be one of: \(accepted)")
            }
            parentKind = EntityKind.named(name)
        } else {
            parentKind = rule.kindName(forType: nil).flatMap(EntityKind.named)
        }
        guard let value = payload[rule.uidKey] else {
            throw .badRequest("\(rule.uidKey) is required")
        }
        guard let text = value.stringValue, let uid = canonicalUID(text) else {
            throw .badRequest("\(rule.uidKey) must be a UUID string")
        }
        guard let parentKind else { throw .badRequest("\(rule.uidKey) names an unknown kind") }
        return ItemReference(kind: parentKind, uid: uid)
    }
}
