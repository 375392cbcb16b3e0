/// The one implementation of `ItemStore`, shared by PostgreSQL and SQLite: the databases differ
/// only in how they connect, lock and run a transaction (`SQLDatabase`).
struct SQLItemStore<Database: SQLDatabase>: ItemStore {
    let database: Database

    private var lockClause: String { database.dialect == .postgres ? " FOR UPDATE" : "" }
    private var shareClause: String { database.dialect == .postgres ? " FOR SHARE" : "" }

    func migrate() async throws {
        try await database.transaction { connection in
            if database.dialect == .postgres {
                // One migrator at a time across replicas; released at commit.
                try await connection.execute(SQLStatement("SELECT pg_advisory_xact_lock(7261837205)"))
            }
            try await connection.execute(SQLStatement(
                "CREATE TABLE IF NOT EXISTS toolbridge_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)"
            ))
            let applied = Set(try await connection.rows(SQLStatement("SELECT version FROM toolbridge_migrations"))
                .compactMap { $0.first?.integer })
            for migration in Schema.migrations where !applied.contains(migration.version) {
                for statement in migration.statements {
                    try await connection.execute(SQLStatement(statement))
                }
                try await connection.execute(SQLStatement(
                    "INSERT INTO toolbridge_migrations (version, applied_ms) VALUES ($1, $2)",
                    [.integer(migration.version), .integer(Timestamp.nowMilliseconds())]))
            }
        }
    }

    func ping() async throws {
        _ = try await database.read { try await $0.rows(SQLStatement("SELECT 1")) }
    }

    private func scopeBinds(_ scope: Scope, _ kind: EntityKind) -> [SQLValue] {
        [.text(scope.tenant), .text(scope.owner), .text(kind.name)]
    }

    func item(_ scope: Scope, kind: EntityKind, uid: String) async throws -> StoredItem? {
        let statement = SQLStatement(
            "SELECT \(ItemColumns.list) FROM items WHERE tenant_id = $1 AND owner_id = $2 AND kind = $3 AND uid = $4",
            scopeBinds(scope, kind) + [.text(uid)])
        return try await database.read { try await $0.items(statement).first }
    }

    func list(_ scope: Scope, kind: EntityKind, query: ListQuery) async throws -> [StoredItem] {
        var sql = "SELECT \(ItemColumns.list) FROM items WHERE tenant_id = $1 AND owner_id = $2 AND kind = $3"
        var binds = scopeBinds(scope, kind)
        func bind(_ value: SQLValue) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        for filter in query.filters {
            sql += " AND \(filter.field.rawValue) = \(bind(.text(filter.value)))"
        }
        if !query.includeDeleted { sql += " AND deleted_ms IS NULL" }
        if let after = query.after {
            let ms = bind(.integer(after.updatedMs))
            let uid = bind(.text(after.uid))
            sql += " AND (updated_ms > \(ms) OR (updated_ms = \(ms) AND uid > \(uid)))"
        }
        sql += " ORDER BY updated_ms, uid LIMIT \(bind(.integer(Int64(query.limit))))"
        let statement = SQLStatement(sql, binds)
        return try await database.read { try await $0.items(statement) }
    }

    func write(
        _ scope: Scope, kind: EntityKind, uid: String,
        _ change: @Sendable (StoredItem?) throws -> ItemChange?
    ) async throws -> StoredItem? {
        let select = SQLStatement(
            "SELECT \(ItemColumns.list) FROM items WHERE tenant_id = $1 AND owner_id = $2 AND kind = $3 AND uid = $4"
                + lockClause,
            scopeBinds(scope, kind) + [.text(uid)])
        return try await database.transaction { connection in
            let current = try await connection.items(select).first
            guard let change = try change(current) else { return current }
            if let parent = change.requiredParent {
                let live = try await connection.rows(SQLStatement(
                    "SELECT 1 FROM items WHERE tenant_id = $1 AND owner_id = $2 AND kind = $3 AND uid = $4"
                        + " AND deleted_ms IS NULL" + shareClause,
                    scopeBinds(scope, parent.kind) + [.text(parent.uid)]))
                guard !live.isEmpty else {
                    let key = kind.parent?.uidKey ?? "parent"
                    throw APIError.badRequest(
                        "\(key): there is no live \(parent.kind.singular) with uid \(parent.uid) for this user")
                }
            }
            let item = change.item
            try await connection.execute(SQLStatement(
                """
                INSERT INTO items (tenant_id, owner_id, kind, uid, version, updated_ms, deleted_ms, clock_ms,
                                   payload, status, parent_uid, parent_type)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                ON CONFLICT (tenant_id, owner_id, kind, uid) DO UPDATE SET
                    version = excluded.version, updated_ms = excluded.updated_ms, deleted_ms = excluded.deleted_ms,
                    clock_ms = excluded.clock_ms, payload = excluded.payload, status = excluded.status,
                    parent_uid = excluded.parent_uid, parent_type = excluded.parent_type
                """,
                scopeBinds(scope, kind) + [
                    .text(item.uid), .integer(item.version), .integer(item.updatedMs), SQLValue(item.deletedMs),
                    .integer(item.clockMs), .text(item.payload), SQLValue(item.status), SQLValue(item.parentUID),
                    SQLValue(item.parentType),
                ]))
            return item
        }
    }

    func createSession(_ session: SyncSession) async throws {
        try await database.transaction { connection in
            try await connection.execute(SQLStatement(
                "DELETE FROM sync_sessions WHERE tenant_id = $1 AND user_id = $2 AND expires_ms <= $3",
                [.text(session.tenant), .text(session.userID), .integer(session.createdMs)]))
            try await connection.execute(SQLStatement(
                "INSERT INTO sync_sessions (id, tenant_id, user_id, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5)",
                [
                    .text(session.id), .text(session.tenant), .text(session.userID), .integer(session.createdMs),
                    .integer(session.expiresMs),
                ]))
        }
    }

    private static func session(from row: [SQLValue]) -> SyncSession? {
        guard row.count >= 5, let id = row[0].text, let tenant = row[1].text, let user = row[2].text,
            let created = row[3].integer, let expires = row[4].integer
        else { return nil }
        return SyncSession(id: id, tenant: tenant, userID: user, createdMs: created, expiresMs: expires)
    }

    func session(id: String) async throws -> SyncSession? {
        let statement = SQLStatement(
            "SELECT id, tenant_id, user_id, created_ms, expires_ms FROM sync_sessions WHERE id = $1", [.text(id)])
        return try await database.read { try await $0.rows(statement).first.flatMap(Self.session(from:)) }
    }

    func deleteSession(id: String) async throws {
        try await database.transaction { connection in
            try await connection.execute(SQLStatement("DELETE FROM sync_sessions WHERE id = $1", [.text(id)]))
        }
    }

    func sessionAndEpoch(id: String, scope: Scope) async throws -> (SyncSession?, Int64) {
        let statement = SQLStatement(
            """
            SELECT s.id, s.tenant_id, s.user_id, s.created_ms, s.expires_ms,
                   (SELECT e.epoch FROM sync_epochs e WHERE e.tenant_id = $2 AND e.owner_id = $3)
            FROM sync_sessions s WHERE s.id = $1
            """,
            [.text(id), .text(scope.tenant), .text(scope.owner)])
        guard let row = try await database.read({ try await $0.rows(statement).first }) else {
            return (nil, EpochState.initial.epoch)
        }
        return (Self.session(from: row), row[5].integer ?? EpochState.initial.epoch)
    }

    private func readEpoch(_ connection: any SQLConnection, _ scope: Scope) async throws -> EpochState {
        let rows = try await connection.rows(SQLStatement(
            "SELECT epoch, last_wipe_ms, last_wipe_by FROM sync_epochs WHERE tenant_id = $1 AND owner_id = $2",
            [.text(scope.tenant), .text(scope.owner)]))
        guard let row = rows.first, let epoch = row[0].integer else { return .initial }
        return EpochState(epoch: epoch, lastWipeMs: row[1].integer, lastWipeBy: row[2].text)
    }

    func epochState(_ scope: Scope) async throws -> EpochState {
        try await database.read { try await readEpoch($0, scope) }
    }

    func wipe(_ scope: Scope, by user: String) async throws -> (EpochState, [String: Int]) {
        let owner: [SQLValue] = [.text(scope.tenant), .text(scope.owner)]
        return try await database.transaction { connection in
            var deleted: [String: Int] = [:]
            for kind in EntityKind.all { deleted[kind.name] = 0 }
            let counts = try await connection.rows(SQLStatement(
                "SELECT kind, COUNT(*) FROM items WHERE tenant_id = $1 AND owner_id = $2 GROUP BY kind", owner))
            for row in counts {
                if let kind = row[0].text, let count = row[1].integer { deleted[kind] = Int(count) }
            }
            try await connection.execute(SQLStatement(
                "DELETE FROM items WHERE tenant_id = $1 AND owner_id = $2", owner))
            try await connection.execute(SQLStatement(
                """
                INSERT INTO sync_epochs (tenant_id, owner_id, epoch, last_wipe_ms, last_wipe_by)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (tenant_id, owner_id) DO UPDATE SET
                    epoch = sync_epochs.epoch + 1, last_wipe_ms = excluded.last_wipe_ms,
                    last_wipe_by = excluded.last_wipe_by
                """,
                owner + [.integer(EpochState.initial.epoch + 1), .integer(Timestamp.nowMilliseconds()), .text(user)]))
            return (try await readEpoch(connection, scope), deleted)
        }
    }
}
