/// The versioned schema both databases share. Types are chosen so the same DDL is valid in
/// PostgreSQL and SQLite (BIGINT has integer affinity in SQLite); each database's full-text
/// engine needs its own statements. Append new versions; never edit one.
enum Schema {
    struct Migration: Sendable {
        let version: Int64
        let statements: [String]
        var postgres: [String] = []
        var sqlite: [String] = []
        /// Set when the version adds columns derived from the payload (search text, tags) that rows
        /// written before it must fill. They are filled once, after the last pending version, by
        /// the current upsert (which writes every derived column).
        var indexesExistingItems = false

        func statements(for dialect: SQLDialect) -> [String] {
            statements + (dialect == .postgres ? postgres : sqlite)
        }
    }

    static let migrations: [Migration] = [
        Migration(version: 1, statements: [
            """
            CREATE TABLE items (
                tenant_id TEXT NOT NULL,
                owner_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                uid TEXT NOT NULL,
                version BIGINT NOT NULL,
                updated_ms BIGINT NOT NULL,
                deleted_ms BIGINT,
                clock_ms BIGINT NOT NULL,
                payload TEXT NOT NULL,
                status TEXT,
                parent_uid TEXT,
                parent_type TEXT,
                PRIMARY KEY (tenant_id, owner_id, kind, uid)
            )
            """,
            "CREATE INDEX items_by_time ON items (tenant_id, owner_id, kind, updated_ms, uid)",
            "CREATE INDEX items_by_status ON items (tenant_id, owner_id, kind, status, updated_ms, uid)",
            "CREATE INDEX items_by_parent ON items (tenant_id, owner_id, kind, parent_uid, updated_ms, uid)",
            """
            CREATE TABLE sync_sessions (
                id TEXT PRIMARY KEY,
                tenant_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                created_ms BIGINT NOT NULL,
                expires_ms BIGINT NOT NULL
            )
            """,
            "CREATE INDEX sync_sessions_by_user ON sync_sessions (tenant_id, user_id, expires_ms)",
            """
            CREATE TABLE sync_epochs (
                tenant_id TEXT NOT NULL,
                owner_id TEXT NOT NULL,
                epoch BIGINT NOT NULL,
                last_wipe_ms BIGINT,
                last_wipe_by TEXT,
                PRIMARY KEY (tenant_id, owner_id)
            )
            """,
        ]),
        // Full-text search. `search_title` and `search_body` (NULL for deleted items) hold the
        // text as written, for snippets. PostgreSQL keeps a weighted tsvector beside them
        // (title A, body B) behind a GIN index; the store lowercases the text it is built from,
        // since the database's own lowercasing depends on its locale. SQLite keeps an FTS5 index
        // over the two columns, fed by triggers so it changes in the same transaction as the row;
        // it is keyed by `search_id`, which the store assigns, because VACUUM may renumber rowids.
        Migration(
            version: 2,
            statements: [
                "ALTER TABLE items ADD COLUMN search_title TEXT",
                "ALTER TABLE items ADD COLUMN search_body TEXT",
            ],
            postgres: [
                "ALTER TABLE items ADD COLUMN search_vector tsvector",
                "CREATE INDEX items_search ON items USING GIN (search_vector)",
            ],
            sqlite: [
                "ALTER TABLE items ADD COLUMN search_id INTEGER",
                "CREATE UNIQUE INDEX items_by_search_id ON items (search_id)",
                """
                CREATE VIRTUAL TABLE items_search USING fts5(
                    search_title, search_body, content='items', content_rowid='search_id',
                    tokenize='unicode61 remove_diacritics 0', prefix='2 3')
                """,
                """
                CREATE TRIGGER items_search_insert AFTER INSERT ON items WHEN new.search_title IS NOT NULL BEGIN
                    INSERT INTO items_search (rowid, search_title, search_body)
                    VALUES (new.search_id, new.search_title, new.search_body);
                END
                """,
                """
                CREATE TRIGGER items_search_delete AFTER DELETE ON items WHEN old.search_title IS NOT NULL BEGIN
                    INSERT INTO items_search (items_search, rowid, search_title, search_body)
                    VALUES ('delete', old.search_id, old.search_title, old.search_body);
                END
                """,
                """
                CREATE TRIGGER items_search_update AFTER UPDATE ON items BEGIN
                    INSERT INTO items_search (items_search, rowid, search_title, search_body)
                    SELECT 'delete', old.search_id, old.search_title, old.search_body WHERE old.search_title IS NOT NULL;
                    INSERT INTO items_search (rowid, search_title, search_body)
                    SELECT new.search_id, new.search_title, new.search_body WHERE new.search_title IS NOT NULL;
                END
                """,
            ],
            indexesExistingItems: true),
        // Tags for insights, as a JSON array of strings the server writes. Insights used to read
        // them from the payload in the database, which fails for every item of the user once one
        // payload holds a value PostgreSQL's jsonb refuses (a number like 1e1000000, `\u0000`).
        Migration(version: 3, statements: ["ALTER TABLE items ADD COLUMN tags TEXT"], indexesExistingItems: true),
        // Operator-managed memberships (SPEC §4), read beside the token's tenant claim. The index on
        // `user_id` serves the request path's question "which tenants is this user in".
        Migration(version: 4, statements: [
            """
            CREATE TABLE memberships (
                tenant TEXT NOT NULL,
                user_id TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (tenant, user_id)
            )
            """,
            "CREATE INDEX memberships_by_user ON memberships (user_id)",
        ]),
        auditEvents,
    ]
}
