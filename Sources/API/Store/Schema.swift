/// The versioned schema both databases share. Types are chosen so the same DDL is valid in
/// PostgreSQL and SQLite (BIGINT has integer affinity in SQLite). Append new versions; never edit one.
enum Schema {
    struct Migration: Sendable {
        let version: Int64
        let statements: [String]
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
        ])
    ]
}
