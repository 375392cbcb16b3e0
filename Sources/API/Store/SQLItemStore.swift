import ServerSupport

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
            var reindex = false
            for migration in Schema.migrations where !applied.contains(migration.version) {
                for statement in migration.statements(for: database.dialect) {
                    try await connection.execute(SQLStatement(statement))
                }
                reindex = reindex || migration.indexesExistingItems
                try await connection.execute(SQLStatement(
                    "INSERT INTO toolbridge_migrations (version, applied_ms) VALUES ($1, $2)",
                    [.integer(migration.version), .integer(Timestamp.nowMilliseconds())]))
            }
            if reindex { try await indexExistingItems(connection) }
        }
    }

    /// Stores every live item again with its derived columns, for items written before they existed.
    private func indexExistingItems(_ connection: any SQLConnection) async throws {
        let rows = try await connection.rows(SQLStatement(
            "SELECT tenant_id, owner_id, kind, \(ItemColumns.list) FROM items WHERE deleted_ms IS NULL"))
        for row in rows {
            guard let tenant = row[0].text, let owner = row[1].text, let kind = row[2].text.flatMap(EntityKind.named),
                let item = ItemColumns.item(from: Array(row[3...]))
            else { continue }
            let change = ItemChange(item: item, requiredParent: nil, payload: ItemWrites.parsePayload(item))
            try await connection.execute(upsert(Scope(tenant: tenant, owner: owner), kind, change))
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
        var statement = SQLStatement("", scopeBinds(scope, kind))
        var sql = "SELECT \(ItemColumns.list) FROM items WHERE tenant_id = $1 AND owner_id = $2 AND kind = $3"
        for filter in query.filters {
            sql += " AND \(filter.field.rawValue) = \(statement.bind(.text(filter.value)))"
        }
        if !query.includeDeleted { sql += " AND deleted_ms IS NULL" }
        if let after = query.after {
            let ms = statement.bind(.integer(after.updatedMs))
            let uid = statement.bind(.text(after.uid))
            sql += " AND (updated_ms > \(ms) OR (updated_ms = \(ms) AND uid > \(uid)))"
        }
        sql += " ORDER BY updated_ms, uid LIMIT \(statement.bind(.integer(Int64(query.limit))))"
        statement.sql = sql
        let page = statement
        return try await database.read { try await $0.items(page) }
    }

    func transaction<Result: Sendable>(
        _ scope: Scope, _ body: (any ItemWriter) async throws -> Result
    ) async throws -> Result {
        try await database.transaction { connection in
            try await body(SQLItemWriter(store: self, connection: connection, scope: scope))
        }
    }

    /// The statement storing an item and its search text (see `ItemUpsert`).
    fileprivate func upsert(_ scope: Scope, _ kind: EntityKind, _ change: ItemChange) -> SQLStatement {
        let item = change.item
        var binds = scopeBinds(scope, kind) + [
            .text(item.uid), .integer(item.version), .integer(item.updatedMs), SQLValue(item.deletedMs),
            .integer(item.clockMs), .text(item.payload), SQLValue(item.status), SQLValue(item.parentUID),
            SQLValue(item.parentType), SQLValue(change.search?.title), SQLValue(change.search?.body),
            SQLValue(change.tags),
        ]
        switch database.dialect {
        case .postgres:
            binds += [SQLValue(change.search?.title.lowercased()), SQLValue(change.search?.body.lowercased())]
            return SQLStatement(ItemUpsert.postgres, binds)
        case .sqlite:
            return SQLStatement(ItemUpsert.sqlite, binds)
        }
    }

    fileprivate func selectForUpdate(_ scope: Scope, _ kind: EntityKind, _ uid: String) -> SQLStatement {
        SQLStatement(
            "SELECT \(ItemColumns.list) FROM items WHERE tenant_id = $1 AND owner_id = $2 AND kind = $3 AND uid = $4"
                + lockClause,
            scopeBinds(scope, kind) + [.text(uid)])
    }

    fileprivate func liveParent(_ scope: Scope, _ parent: ItemReference) -> SQLStatement {
        SQLStatement(
            "SELECT 1 FROM items WHERE tenant_id = $1 AND owner_id = $2 AND kind = $3 AND uid = $4"
                + " AND deleted_ms IS NULL" + shareClause,
            scopeBinds(scope, parent.kind) + [.text(parent.uid)])
    }

    // MARK: Search and insights

    func search(_ scope: Scope, _ query: SearchQuery) async throws -> [SearchHit] {
        var statement = SQLStatement("", [.text(scope.tenant), .text(scope.owner)])
        let matchQuery = statement.bind(.text(Self.rendered(query.expression, for: database.dialect)))
        let kinds = query.kinds.map { statement.bind(.text($0.name)) }.joined(separator: ", ")
        let limit = statement.bind(.integer(Int64(query.limit)))
        let offset = statement.bind(.integer(Int64(query.offset)))
        let columns = ItemColumns.aliasedList
        let sql: String
        switch database.dialect {
        case .postgres:
            // The page is chosen first; ts_headline, the costly part, runs on its rows only.
            sql = """
                SELECT kind, \(ItemColumns.list), score,
                       ts_headline('simple', coalesce(search_title, '') || ' — ' || coalesce(search_body, ''), query,
                                   'StartSel="**", StopSel="**", MaxWords=24, MinWords=8, MaxFragments=2, FragmentDelimiter=" … "')
                FROM (
                    SELECT i.kind, \(columns), i.search_title, i.search_body, q.query,
                           ts_rank(i.search_vector, q.query)::float8 AS score
                    FROM items i, to_tsquery('simple', \(matchQuery)) AS q(query)
                    WHERE i.tenant_id = $1 AND i.owner_id = $2 AND i.deleted_ms IS NULL
                      AND i.kind IN (\(kinds)) AND i.search_vector @@ q.query
                    ORDER BY score DESC, i.updated_ms DESC, i.uid
                    LIMIT \(limit) OFFSET \(offset)
                ) page
                ORDER BY score DESC, updated_ms DESC, uid
                """
        case .sqlite:
            // bm25 is lower for better matches; a title hit weighs ten times a body hit.
            sql = """
                SELECT i.kind, \(columns), -bm25(items_search, 10.0, 1.0) AS score,
                       snippet(items_search, -1, '**', '**', ' … ', 16)
                FROM items_search JOIN items i ON i.search_id = items_search.rowid
                WHERE items_search MATCH \(matchQuery) AND i.tenant_id = $1 AND i.owner_id = $2
                  AND i.deleted_ms IS NULL AND i.kind IN (\(kinds))
                ORDER BY score DESC, i.updated_ms DESC, i.uid
                LIMIT \(limit) OFFSET \(offset)
                """
        }
        statement.sql = sql
        let search = statement
        let rows = try await database.read { try await $0.rows(search) }
        return rows.compactMap { row in
            guard row.count == 12, let kind = row[0].text.flatMap(EntityKind.named),
                let item = ItemColumns.item(from: Array(row[1...9]))
            else { return nil }
            return SearchHit(kind: kind, item: item, score: row[10].real ?? 0, snippet: row[11].text ?? "")
        }
    }

    /// The expression in the database's query language. Every word is letters and digits only
    /// (the parser split everything else away), so quoting it is enough to make it inert.
    static func rendered(_ expression: SearchExpression, for dialect: SQLDialect) -> String {
        func term(_ term: SearchTerm) -> String {
            switch (dialect, term) {
            case (.postgres, .word(let word)): "'\(word)':*"
            case (.postgres, .phrase(let words)): "(" + words.map { "'\($0)'" }.joined(separator: " <-> ") + ")"
            case (.sqlite, .word(let word)): "\"\(word)\"*"
            case (.sqlite, .phrase(let words)): "\"" + words.joined(separator: " ") + "\""
            }
        }
        let or = dialect == .postgres ? " | " : " OR "
        let and = dialect == .postgres ? " & " : " AND "
        let groups = expression.groups.map { "(" + $0.map(term).joined(separator: or) + ")" }.joined(separator: and)
        guard !expression.excluded.isEmpty else { return groups }
        let excluded = "(" + expression.excluded.map(term).joined(separator: or) + ")"
        return dialect == .postgres ? "(\(groups)) & !\(excluded)" : "(\(groups)) NOT \(excluded)"
    }

    func insights(_ scope: Scope, _ query: InsightsQuery) async throws -> Insights {
        var owned = SQLStatement("", [.text(scope.tenant), .text(scope.owner)])
        let kinds = query.kinds.map { owned.bind(.text($0.name)) }.joined(separator: ", ")
        owned.sql = "tenant_id = $1 AND owner_id = $2 AND kind IN (\(kinds))"
        var counts = owned
        counts.sql = """
            SELECT kind, status, CASE WHEN deleted_ms IS NULL THEN 0 ELSE 1 END AS deleted, COUNT(*)
            FROM items WHERE \(owned.sql) GROUP BY kind, status, deleted
            """
        var days = owned
        let since = days.bind(.integer(query.sinceMs))
        days.sql = """
            SELECT updated_ms / 86400000 AS day, COUNT(*) FROM items
            WHERE \(owned.sql) AND deleted_ms IS NULL AND updated_ms >= \(since)
            GROUP BY day ORDER BY day
            """
        var tags = owned
        let tagLimit = tags.bind(.integer(Int64(query.tagLimit)))
        switch database.dialect {
        // `tags` is the server's own JSON array of strings (see `ItemChange.tags`), never the payload.
        case .postgres:
            tags.sql = """
                SELECT t.tag, COUNT(*) FROM items, jsonb_array_elements_text(items.tags::jsonb) AS t(tag)
                WHERE \(owned.sql) AND deleted_ms IS NULL AND items.tags IS NOT NULL
                GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT \(tagLimit)
                """
        case .sqlite:
            tags.sql = """
                SELECT t.value, COUNT(*) FROM items, json_each(items.tags) AS t
                WHERE \(owned.sql) AND deleted_ms IS NULL AND items.tags IS NOT NULL
                GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT \(tagLimit)
                """
        }
        let (countsQuery, daysQuery, tagsQuery) = (counts, days, tags)
        return try await database.read { connection in
            var insights = Insights()
            for kind in query.kinds { insights.kinds[kind] = Insights.KindCounts() }
            for row in try await connection.rows(countsQuery) {
                guard let kind = row[0].text.flatMap(EntityKind.named), let count = row[3].integer else { continue }
                if row[2].integer == 1 {
                    insights.kinds[kind]?.deleted += count
                } else {
                    insights.kinds[kind]?.live += count
                    insights.kinds[kind]?.statuses.append((row[1].text, count))
                }
            }
            for kind in query.kinds {
                insights.kinds[kind]?.statuses.sort { ($0.count, $1.status ?? "") > ($1.count, $0.status ?? "") }
            }
            insights.tags = try await connection.rows(tagsQuery).compactMap { row in
                guard let tag = row[0].text, let count = row[1].integer else { return nil }
                return (tag, count)
            }
            insights.days = try await connection.rows(daysQuery).compactMap { row in
                guard let day = row[0].integer, let count = row[1].integer else { return nil }
                return (day * 86_400_000, count)
            }
            return insights
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

/// The writes of one store transaction.
private struct SQLItemWriter<Database: SQLDatabase>: ItemWriter {
    let store: SQLItemStore<Database>
    let connection: any SQLConnection
    let scope: Scope

    func write(
        kind: EntityKind, uid: String, _ change: (StoredItem?) throws -> ItemChange?
    ) async throws -> StoredItem? {
        let current = try await connection.items(store.selectForUpdate(scope, kind, uid)).first
        guard let change = try change(current) else { return current }
        if let parent = change.requiredParent {
            guard !(try await connection.rows(store.liveParent(scope, parent))).isEmpty else {
                let key = kind.parent?.uidKey ?? "parent"
                throw APIError.badRequest(
                    "\(key): there is no live \(parent.kind.singular) with uid \(parent.uid) for this user")
            }
        }
        try await connection.execute(store.upsert(scope, kind, change))
        return change.item
    }
}

/// The upsert of an item, its search text and its tags, one text per database, built once.
/// PostgreSQL builds the tsvector from binds 16 and 17, the text lowercased by the store (its own
/// lowercasing follows the database locale, often C). SQLite gives a new row the next `search_id`, which its
/// FTS5 triggers key the index by; a row keeps its id, and rows older than the search migration
/// get theirs when reindexed.
private enum ItemUpsert {
    static let postgres = sql(
        column: "search_vector",
        value: "setweight(to_tsvector('simple', $16), 'A') || setweight(to_tsvector('simple', $17), 'B')",
        update: "search_vector = excluded.search_vector")
    static let sqlite = sql(
        column: "search_id", value: "(SELECT COALESCE(MAX(search_id), 0) + 1 FROM items)",
        update: "search_id = COALESCE(items.search_id, excluded.search_id)")

    private static func sql(column: String, value: String, update: String) -> String {
        """
        INSERT INTO items (tenant_id, owner_id, kind, uid, version, updated_ms, deleted_ms, clock_ms,
                           payload, status, parent_uid, parent_type, search_title, search_body, tags, \(column))
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \(value))
        ON CONFLICT (tenant_id, owner_id, kind, uid) DO UPDATE SET
            version = excluded.version, updated_ms = excluded.updated_ms, deleted_ms = excluded.deleted_ms,
            clock_ms = excluded.clock_ms, payload = excluded.payload, status = excluded.status,
            parent_uid = excluded.parent_uid, parent_type = excluded.parent_type,
            search_title = excluded.search_title, search_body = excluded.search_body, tags = excluded.tags,
            \(update)
        """
    }
}
