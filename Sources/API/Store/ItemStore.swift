/// Where list pages start and what they keep: the API's list and pull queries.
public struct ListQuery: Sendable {
    public var limit: Int
    /// Exclusive keyset position `(updatedMs, uid)`; nil for the first page.
    public var after: (updatedMs: Int64, uid: String)?
    public var includeDeleted: Bool
    public var filters: [(field: IndexedField, value: String)]

    public init(
        limit: Int, after: (updatedMs: Int64, uid: String)? = nil, includeDeleted: Bool = false,
        filters: [(field: IndexedField, value: String)] = []
    ) {
        self.limit = limit
        self.after = after
        self.includeDeleted = includeDeleted
        self.filters = filters
    }
}

/// A delta-sync session, stored so every API replica sharing the database accepts it.
public struct SyncSession: Sendable, Equatable {
    public let id: String
    public let tenant: String
    public let userID: String
    public let createdMs: Int64
    public let expiresMs: Int64

    public init(id: String, tenant: String, userID: String, createdMs: Int64, expiresMs: Int64) {
        self.id = id
        self.tenant = tenant
        self.userID = userID
        self.createdMs = createdMs
        self.expiresMs = expiresMs
    }
}

/// The per-user, per-tenant sync epoch; a wipe bumps it so clients know to start over.
public struct EpochState: Sendable, Equatable {
    public var epoch: Int64
    public var lastWipeMs: Int64?
    public var lastWipeBy: String?

    public static let initial = EpochState(epoch: 1, lastWipeMs: nil, lastWipeBy: nil)
}

/// The storage behind the API. Every method is scoped to one tenant and owner: no method can
/// reach another scope's rows, whatever uid it is given.
public protocol ItemStore: Sendable {
    /// Creates or upgrades the schema; safe to run from several processes at once.
    func migrate() async throws
    /// Succeeds when the database answers a query.
    func ping() async throws

    func item(_ scope: Scope, kind: EntityKind, uid: String) async throws -> StoredItem?
    func list(_ scope: Scope, kind: EntityKind, query: ListQuery) async throws -> [StoredItem]

    /// Runs `body` in one transaction of `scope`: every write it makes lands, or none does.
    func transaction<Result: Sendable>(
        _ scope: Scope, _ body: (any ItemWriter) async throws -> Result
    ) async throws -> Result

    /// The live items matching the query, best first, through the database's full-text index.
    func search(_ scope: Scope, _ query: SearchQuery) async throws -> [SearchHit]
    func insights(_ scope: Scope, _ query: InsightsQuery) async throws -> Insights

    func createSession(_ session: SyncSession) async throws
    func session(id: String) async throws -> SyncSession?
    func deleteSession(id: String) async throws
    /// The session and the caller's epoch in one round trip: the check every entity request makes.
    func sessionAndEpoch(id: String, scope: Scope) async throws -> (SyncSession?, Int64)

    func epochState(_ scope: Scope) async throws -> EpochState
    /// Deletes every item of the scope, bumps its epoch and records who wiped, in one transaction.
    func wipe(_ scope: Scope, by user: String) async throws -> (EpochState, [String: Int])
}

/// Writes inside one store transaction.
public protocol ItemWriter {
    /// Reads the item (locked against concurrent writers), asks `change` what to store, checks the
    /// change's required parent is live, and stores it. `change` returning nil stores nothing.
    /// Returns the item as stored afterwards (nil when there is none).
    func write(
        kind: EntityKind, uid: String, _ change: (StoredItem?) throws -> ItemChange?
    ) async throws -> StoredItem?
}

extension ItemStore {
    /// One write in a transaction of its own.
    public func write(
        _ scope: Scope, kind: EntityKind, uid: String, _ change: (StoredItem?) throws -> ItemChange?
    ) async throws -> StoredItem? {
        try await transaction(scope) { try await $0.write(kind: kind, uid: uid, change) }
    }
}
