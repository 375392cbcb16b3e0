import ServerSupport

/// Which audit records to read: any filter may be absent; newest first, at most `limit`.
public struct AuditQuery: Sendable {
    public var tenant: String?
    public var user: String?
    /// Only records at or after this time (Unix milliseconds).
    public var sinceMs: Int64?
    public var limit: Int

    public init(tenant: String? = nil, user: String? = nil, sinceMs: Int64? = nil, limit: Int = 100) {
        self.tenant = tenant
        self.user = user
        self.sinceMs = sinceMs
        self.limit = limit
    }
}

/// The `audit_events` table: what hosts send, what `toolbridge audit` reads, what retention deletes.
/// Unlike `ItemStore` it is not scoped to one tenant: only the host writes and only operators read.
public protocol AuditStore: Sendable {
    /// Stores the records; one whose id is already stored is skipped, so a batch sent again is harmless.
    func insert(_ records: [AuditRecord]) async throws
    func events(_ query: AuditQuery) async throws -> [AuditRecord]
    /// Deletes records older than `cutoffMs` and returns how many.
    func deleteEvents(before cutoffMs: Int64) async throws -> Int
}

extension Schema {
    /// Version 5: the audit trail. Indexed for the CLI's filters (a tenant's or a user's calls,
    /// newest first) and for the retention sweep (by time alone).
    static let auditEvents = Migration(version: 5, statements: [
        """
        CREATE TABLE audit_events (
            id TEXT PRIMARY KEY,
            time_ms BIGINT NOT NULL,
            tenant_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            tool TEXT NOT NULL,
            plugin TEXT,
            outcome TEXT NOT NULL,
            api_status BIGINT,
            duration_us BIGINT NOT NULL,
            correlation_id TEXT NOT NULL,
            arguments_sha256 TEXT NOT NULL,
            replica TEXT
        )
        """,
        "CREATE INDEX audit_events_by_tenant ON audit_events (tenant_id, time_ms)",
        "CREATE INDEX audit_events_by_user ON audit_events (user_id, time_ms)",
        "CREATE INDEX audit_events_by_time ON audit_events (time_ms)",
    ])
}

private enum AuditColumns {
    static let list =
        "id, time_ms, tenant_id, user_id, tool, plugin, outcome, api_status, duration_us, correlation_id, arguments_sha256, replica"
    /// Rows per INSERT: 12 parameters each, well under either database's parameter limit.
    static let rowsPerStatement = 100
}

/// `AuditStore` on either database, beside `SQLItemStore` on the same connections.
struct SQLAuditStore<Database: SQLDatabase>: AuditStore {
    let database: Database

    func insert(_ records: [AuditRecord]) async throws {
        guard !records.isEmpty else { return }
        try await database.transaction { connection in
            var start = 0
            while start < records.count {
                let chunk = records[start..<min(start + AuditColumns.rowsPerStatement, records.count)]
                var statement = SQLStatement("")
                let rows = chunk.map { record in
                    let values: [SQLValue] = [
                        .text(record.id), .integer(record.timeMs), .text(record.tenant), .text(record.user),
                        .text(record.tool), SQLValue(record.plugin), .text(record.outcome.name),
                        SQLValue(record.apiStatus.map(Int64.init)), .integer(record.durationMicroseconds),
                        .text(record.correlationID), .text(record.argumentsSHA256), SQLValue(record.replica),
                    ]
                    return "(" + values.map { statement.bind($0) }.joined(separator: ", ") + ")"
                }
                statement.sql = "INSERT INTO audit_events (\(AuditColumns.list)) VALUES " + rows.joined(separator: ", ")
                    + " ON CONFLICT (id) DO NOTHING"
                try await connection.execute(statement)
                start += chunk.count
            }
        }
    }

    func events(_ query: AuditQuery) async throws -> [AuditRecord] {
        var statement = SQLStatement("")
        var conditions: [String] = []
        if let tenant = query.tenant { conditions.append("tenant_id = \(statement.bind(.text(tenant)))") }
        if let user = query.user { conditions.append("user_id = \(statement.bind(.text(user)))") }
        if let since = query.sinceMs { conditions.append("time_ms >= \(statement.bind(.integer(since)))") }
        statement.sql = "SELECT \(AuditColumns.list) FROM audit_events"
            + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY time_ms DESC, id DESC LIMIT \(statement.bind(.integer(Int64(query.limit))))"
        let page = statement
        return try await database.read { try await $0.rows(page) }.compactMap(Self.record)
    }

    func deleteEvents(before cutoffMs: Int64) async throws -> Int {
        try await database.transaction { connection in
            let old = [SQLValue.integer(cutoffMs)]
            let count = try await connection.rows(
                SQLStatement("SELECT count(*) FROM audit_events WHERE time_ms < $1", old)).first?.first?.integer ?? 0
            if count > 0 {
                try await connection.execute(SQLStatement("DELETE FROM audit_events WHERE time_ms < $1", old))
            }
            return Int(count)
        }
    }

    /// A stored row as a record; nil for a row this version cannot read (an outcome added later).
    private static func record(_ row: [SQLValue]) -> AuditRecord? {
        guard row.count == 12, let id = row[0].text, let timeMs = row[1].integer, let tenant = row[2].text,
            let user = row[3].text, let tool = row[4].text, let outcome = row[6].text.flatMap(AuditOutcome.init(named:)),
            let duration = row[8].integer, let correlationID = row[9].text, let hash = row[10].text
        else { return nil }
        return AuditRecord(
            id: id, timeMs: timeMs, tenant: tenant, user: user, tool: tool, plugin: row[5].text, outcome: outcome,
            apiStatus: row[7].integer.map(Int.init), durationMicroseconds: duration, correlationID: correlationID,
            argumentsSHA256: hash, replica: row[11].text)
    }
}
