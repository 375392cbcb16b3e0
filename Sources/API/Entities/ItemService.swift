import ServerSupport

/// The entity operations of the REST and sync endpoints, for any kind: each reads or writes one
/// item through the store's atomic `write`, applying `ItemWrites`' rules.
public struct ItemService: Sendable {
    public let store: any ItemStore

    public init(store: any ItemStore) {
        self.store = store
    }

    public func get(_ scope: Scope, _ kind: EntityKind, uid: String, includeDeleted: Bool) async throws -> StoredItem {
        guard let item = try await store.item(scope, kind: kind, uid: uid) else { throw Self.notFound(kind, uid) }
        if let deletedMs = item.deletedMs, !includeDeleted { throw Self.gone(kind, uid, deletedMs) }
        return item
    }

    public func create(_ scope: Scope, _ kind: EntityKind, fields: JSONObject) async throws -> StoredItem {
        try await run(scope, try createOperation(kind, fields: fields))
    }

    /// Replaces the client fields (PUT), or merges into them (PATCH, RFC 7396 at the top level).
    public func update(
        _ scope: Scope, _ kind: EntityKind, uid: String, fields: JSONObject, merge: Bool, ifMatch: Int64?
    ) async throws -> StoredItem {
        try await run(scope, try updateOperation(kind, uid: uid, fields: fields, merge: merge, ifMatch: ifMatch))
    }

    public func archive(_ scope: Scope, _ kind: EntityKind, uid: String) async throws -> StoredItem {
        try await run(scope, archiveOperation(kind, uid: uid))
    }

    public func process(
        _ scope: Scope, _ kind: EntityKind, uid: String, action name: String, metadata: JSONObject?
    ) async throws -> StoredItem {
        try await run(scope, try processOperation(kind, uid: uid, action: name, metadata: metadata))
    }

    public func delete(_ scope: Scope, _ kind: EntityKind, uid: String) async throws -> StoredItem {
        try await run(scope, deleteOperation(kind, uid: uid))
    }

    public static func actionList(_ kind: EntityKind) -> String {
        kind.actions.map(\.name).joined(separator: ", ")
    }

    /// Applies `operations` in order in one transaction: all land, or none does. A failure names
    /// the operation that failed.
    public func apply(_ scope: Scope, _ operations: [ItemOperation]) async throws -> [StoredItem] {
        try await store.transaction(scope) { writer in
            var stored: [StoredItem] = []
            stored.reserveCapacity(operations.count)
            for (index, operation) in operations.enumerated() {
                do {
                    stored.append(try await Self.write(operation, with: writer))
                } catch {
                    throw BatchFailure(index: index, error: error)
                }
            }
            return stored
        }
    }

    private func run(_ scope: Scope, _ operation: ItemOperation) async throws -> StoredItem {
        try await store.transaction(scope) { try await Self.write(operation, with: $0) }
    }

    private static func write(_ operation: ItemOperation, with writer: any ItemWriter) async throws -> StoredItem {
        // Every operation stores something or throws, so there is always an item afterwards.
        try await writer.write(kind: operation.kind, uid: operation.uid, operation.change)!
    }

    // MARK: Operations

    public func createOperation(_ kind: EntityKind, fields: JSONObject) throws(APIError) -> ItemOperation {
        let uid: String
        if let given = fields["uid"] {
            guard let text = given.stringValue, let canonical = ItemWrites.canonicalUID(text) else {
                throw .badRequest("uid must be a UUID string")
            }
            uid = canonical
        } else {
            uid = ItemWrites.newUID()
        }
        return ItemOperation(kind: kind, uid: uid) { current in
            if current != nil {
                throw APIError(.conflict, "a \(kind.singular) with uid \(uid) already exists")
            }
            let now = ItemWrites.nextWriteTime(after: nil)
            return try ItemWrites.makeChange(
                kind: kind, uid: uid, fields: fields, version: 1, updatedMs: now, clockMs: now, deletedMs: nil)
        }
    }

    public func updateOperation(
        _ kind: EntityKind, uid: String, fields: JSONObject, merge: Bool, ifMatch: Int64?
    ) throws(APIError) -> ItemOperation {
        if let given = fields["uid"], given.stringValue.flatMap(ItemWrites.canonicalUID) != uid {
            throw .badRequest("uid in the body does not match the uid in the path (\(uid))")
        }
        return modifyOperation(kind, uid: uid, ifMatch: ifMatch) { current in
            guard merge else { return fields }
            var merged = current
            for (key, value) in ItemWrites.clientFields(fields) {
                if value == .null { merged.removeValue(forKey: key) } else { merged[key] = value }
            }
            return merged
        }
    }

    public func archiveOperation(_ kind: EntityKind, uid: String) -> ItemOperation {
        modifyOperation(kind, uid: uid, ifMatch: nil) { current in
            var fields = current
            fields["status"] = "archived"
            return fields
        }
    }

    public func processOperation(
        _ kind: EntityKind, uid: String, action name: String, metadata: JSONObject?
    ) throws(APIError) -> ItemOperation {
        guard let action = kind.action(named: name) else {
            throw .badRequest("unknown action '\(name)' for \(kind.name); valid actions: \(Self.actionList(kind))")
        }
        return modifyOperation(kind, uid: uid, ifMatch: nil) { current in
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

    public func deleteOperation(_ kind: EntityKind, uid: String) -> ItemOperation {
        ItemOperation(kind: kind, uid: uid) { current in
            guard let current else { throw Self.notFound(kind, uid) }
            if let deletedMs = current.deletedMs { throw Self.gone(kind, uid, deletedMs) }
            let now = ItemWrites.nextWriteTime(after: current)
            return try ItemWrites.makeChange(
                kind: kind, uid: uid, fields: ItemWrites.parsePayload(current),
                version: try ItemWrites.nextVersion(after: current),
                updatedMs: now, clockMs: now, deletedMs: now)
        }
    }

    /// A write to a live item: 404 when unknown, 410 when deleted, 412 when `ifMatch` is stale.
    private func modifyOperation(
        _ kind: EntityKind, uid: String, ifMatch: Int64?,
        _ transform: @escaping @Sendable (JSONObject) throws -> JSONObject
    ) -> ItemOperation {
        ItemOperation(kind: kind, uid: uid) { current in
            guard let current else { throw Self.notFound(kind, uid) }
            if let deletedMs = current.deletedMs { throw Self.gone(kind, uid, deletedMs) }
            if let ifMatch, ifMatch != current.version {
                throw APIError(
                    .preconditionFailed,
                    "version mismatch: the \(kind.singular) is at version \(current.version), If-Match named \(ifMatch)",
                    extra: ["version": .integer(current.version)])
            }
            let fields = try transform(ItemWrites.parsePayload(current))
            let now = ItemWrites.nextWriteTime(after: current)
            return try ItemWrites.makeChange(
                kind: kind, uid: uid, fields: fields, version: try ItemWrites.nextVersion(after: current),
                updatedMs: now, clockMs: now, deletedMs: nil)
        }
    }

    /// One item of a sync push, last writer wins on `updatedTs`. An older or equal clock stores
    /// nothing, so replaying a write never bumps the version.
    public func push(_ scope: Scope, _ kind: EntityKind, payload: JSONValue) async -> JSONObject {
        guard let fields = payload.objectValue else { return ["error": "each pushed item must be a JSON object"] }
        guard let text = fields["uid"]?.stringValue, let uid = ItemWrites.canonicalUID(text) else {
            return ["uid": fields["uid"] ?? .null, "error": "uid must be a UUID string"]
        }
        guard let clockMs = Self.clock(fields["updatedTs"]) else {
            return ["uid": .string(uid), "error": .string(Self.clockRule)]
        }
        let isDeleted = fields["sync"]?["isDeleted"]?.boolValue ?? false
        do {
            let stored = try await store.write(scope, kind: kind, uid: uid) { current in
                if let current, clockMs <= current.clockMs { return nil }
                let now = ItemWrites.nextWriteTime(after: current)
                return try ItemWrites.makeChange(
                    kind: kind, uid: uid, fields: fields, version: try ItemWrites.nextVersion(after: current), updatedMs: now,
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

    /// The push's `updatedTs`: RFC 3339 text or whole unix milliseconds, within `Timestamp.range`.
    private static func clock(_ value: JSONValue?) -> Int64? {
        switch value {
        case .string(let text): Timestamp.parse(text)
        case .number: value?.int64Value.flatMap { Timestamp.range.contains($0) ? $0 : nil }
        default: nil
        }
    }

    private static let clockRule =
        "updatedTs must be an RFC 3339 time or whole unix milliseconds, from \(Timestamp.format(milliseconds: Timestamp.earliest)) (\(Timestamp.earliest)) to \(Timestamp.format(milliseconds: Timestamp.latest)) (\(Timestamp.latest))"

    private static func notFound(_ kind: EntityKind, _ uid: String) -> APIError {
        .notFound("no \(kind.singular) with uid \(uid)")
    }

    private static func gone(_ kind: EntityKind, _ uid: String, _ deletedMs: Int64) -> APIError {
        .gone("the \(kind.singular) \(uid) was deleted", deletedMs: deletedMs)
    }
}

/// One write, prepared before any transaction: the item it targets and what to store given
/// the item's current state. Batches prepare all their operations, then apply them together.
public struct ItemOperation: Sendable {
    public let kind: EntityKind
    public let uid: String
    let change: @Sendable (StoredItem?) throws -> ItemChange?
}

/// The operation of a batch that failed, and why; the whole batch was rolled back.
public struct BatchFailure: Error {
    public let index: Int
    public let error: any Error
}
