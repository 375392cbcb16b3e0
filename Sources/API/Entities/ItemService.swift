/// The entity operations of the REST and sync endpoints, for any kind: each reads or writes one
/// item through the store's atomic `write`, applying `ItemWrites`' rules.
public struct ItemService: Sendable {
    public let store: any ItemStore

    public init(store: any ItemStore) {
        self.store = store
    }

    public func get(_ scope: Scope, _ kind: EntityKind, uid: String, includeDeleted: Bool) async throws -> StoredItem {
        guard let item = try await store.item(scope, kind: kind, uid: uid) else { throw notFound(kind, uid) }
        if let deletedMs = item.deletedMs, !includeDeleted { throw gone(kind, uid, deletedMs) }
        return item
    }

    public func create(_ scope: Scope, _ kind: EntityKind, fields: JSONObject) async throws -> StoredItem {
        let uid: String
        if let given = fields["uid"] {
            guard let text = given.stringValue, let canonical = ItemWrites.canonicalUID(text) else {
                throw APIError.badRequest("uid must be a UUID string")
            }
            uid = canonical
        } else {
            uid = ItemWrites.newUID()
        }
        let stored = try await store.write(scope, kind: kind, uid: uid) { current in
            if current != nil {
                throw APIError(.conflict, "a \(kind.singular) with uid \(uid) already exists")
            }
            let now = ItemWrites.nextWriteTime(after: nil)
            return try ItemWrites.makeChange(
                kind: kind, uid: uid, fields: fields, version: 1, updatedMs: now, clockMs: now, deletedMs: nil)
        }
        return stored!
    }

    /// Replaces the client fields (PUT), or merges into them (PATCH, RFC 7396 at the top level).
    public func update(
        _ scope: Scope, _ kind: EntityKind, uid: String, fields: JSONObject, merge: Bool, ifMatch: Int64?
    ) async throws -> StoredItem {
        if let given = fields["uid"], given.stringValue.flatMap(ItemWrites.canonicalUID) != uid {
            throw APIError.badRequest("uid in the body does not match the uid in the path (\(uid))")
        }
        return try await modify(scope, kind, uid: uid, ifMatch: ifMatch) { current in
            guard merge else { return fields }
            var merged = current
            for (key, value) in ItemWrites.clientFields(fields) {
                if value == .null { merged.removeValue(forKey: key) } else { merged[key] = value }
            }
            return merged
        }
    }

    public func archive(_ scope: Scope, _ kind: EntityKind, uid: String) async throws -> StoredItem {
        try await modify(scope, kind, uid: uid, ifMatch: nil) { current in
            var fields = current
            fields["status"] = "archived"
            return fields
        }
    }

    public func process(
        _ scope: Scope, _ kind: EntityKind, uid: String, action name: String, metadata: JSONObject?
    ) async throws -> StoredItem {
        guard let action = kind.action(named: name) else {
            throw APIError.badRequest(
                "unknown action '\(name)' for \(kind.name); valid actions: \(Self.actionList(kind))")
        }
        return try await modify(scope, kind, uid: uid, ifMatch: nil) { current in
            var fields = current
            for (key, value) in action.effects { fields[key] = value }
            var record: JSONObject = [
                "action": .string(action.name), "at": .string(Timestamp.format(milliseconds: Timestamp.nowMilliseconds())),
            ]
            if let metadata { record["metadata"] = .object(metadata) }
            fields["lastAction"] = .object(record)
            return fields
        }
    }

    public static func actionList(_ kind: EntityKind) -> String {
        kind.actions.map(\.name).joined(separator: ", ")
    }

    public func delete(_ scope: Scope, _ kind: EntityKind, uid: String) async throws -> StoredItem {
        let stored = try await store.write(scope, kind: kind, uid: uid) { current in
            guard let current else { throw notFound(kind, uid) }
            if let deletedMs = current.deletedMs { throw gone(kind, uid, deletedMs) }
            let now = ItemWrites.nextWriteTime(after: current)
            return try ItemWrites.makeChange(
                kind: kind, uid: uid, fields: ItemWrites.parsePayload(current), version: current.version + 1,
                updatedMs: now, clockMs: now, deletedMs: now)
        }
        return stored!
    }

    /// A write to a live item: 404 when unknown, 410 when deleted, 412 when `ifMatch` is stale.
    private func modify(
        _ scope: Scope, _ kind: EntityKind, uid: String, ifMatch: Int64?,
        _ transform: @escaping @Sendable (JSONObject) throws -> JSONObject
    ) async throws -> StoredItem {
        let stored = try await store.write(scope, kind: kind, uid: uid) { current in
            guard let current else { throw notFound(kind, uid) }
            if let deletedMs = current.deletedMs { throw gone(kind, uid, deletedMs) }
            if let ifMatch, ifMatch != current.version {
                throw APIError(
                    .preconditionFailed,
                    "version mismatch: the \(kind.singular) is at version \(current.version), If-Match named \(ifMatch)",
                    extra: ["version": .integer(current.version)])
            }
            let fields = try transform(ItemWrites.parsePayload(current))
            let now = ItemWrites.nextWriteTime(after: current)
            return try ItemWrites.makeChange(
                kind: kind, uid: uid, fields: fields, version: current.version + 1, updatedMs: now, clockMs: now,
                deletedMs: nil)
        }
        return stored!
    }

    /// One item of a sync push, last writer wins on `updatedTs`. An older or equal clock stores
    /// nothing, so replaying a write never bumps the version.
    public func push(_ scope: Scope, _ kind: EntityKind, payload: JSONValue) async -> JSONObject {
        guard let fields = payload.objectValue else { return ["error": "each pushed item must be a JSON object"] }
        guard let text = fields["uid"]?.stringValue, let uid = ItemWrites.canonicalUID(text) else {
            return ["uid": fields["uid"] ?? .null, "error": "uid must be a UUID string"]
        }
        guard let clockMs = Self.clock(fields["updatedTs"]) else {
            return ["uid": .string(uid), "error": "updatedTs must be an RFC 3339 time or unix milliseconds"]
        }
        let isDeleted = fields["sync"]?["isDeleted"]?.boolValue ?? false
        do {
            let stored = try await store.write(scope, kind: kind, uid: uid) { current in
                if let current, clockMs <= current.clockMs { return nil }
                let now = ItemWrites.nextWriteTime(after: current)
                return try ItemWrites.makeChange(
                    kind: kind, uid: uid, fields: fields, version: (current?.version ?? 0) + 1, updatedMs: now,
                    clockMs: clockMs, deletedMs: isDeleted ? (current?.deletedMs ?? now) : nil)
            }
            guard let stored else { return ["uid": .string(uid), "error": "the item could not be stored"] }
            return [
                "uid": .string(uid), "version": .integer(stored.version),
                "updatedAt": .string(Timestamp.format(milliseconds: stored.updatedMs)),
            ]
        } catch let error as APIError {
            return ["uid": .string(uid), "error": .string(error.message)]
        } catch {
            return ["uid": .string(uid), "error": "the item could not be stored"]
        }
    }

    private static func clock(_ value: JSONValue?) -> Int64? {
        switch value {
        case .string(let text): Timestamp.parse(text)
        case .number: value?.int64Value
        default: nil
        }
    }

    private func notFound(_ kind: EntityKind, _ uid: String) -> APIError {
        .notFound("no \(kind.singular) with uid \(uid)")
    }

    private func gone(_ kind: EntityKind, _ uid: String, _ deletedMs: Int64) -> APIError {
        .gone("the \(kind.singular) \(uid) was deleted", deletedMs: deletedMs)
    }
}
