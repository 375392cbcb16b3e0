#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import PostgresNIO
import ServerSupport

/// The production store: PostgreSQL through our fixed-size `PostgresConnectionPool`. Row locks
/// (`SELECT … FOR UPDATE`) serialize writers of one item; nothing is kept in process memory, so
/// any number of API replicas can share the database.
struct PostgresDatabase: SQLDatabase {
    let dialect = SQLDialect.postgres
    let pool: PostgresConnectionPool
    let logger: Logger
    /// Times every statement; nil when metrics are off.
    var metrics: DatabaseMetrics?

    /// `db.system.name` of the OpenTelemetry conventions.
    static let systemName = "postgresql"

    func read<Result: Sendable>(_ body: (any SQLConnection) async throws -> Result) async throws -> Result {
        try await pool.withConnection { connection in
            try await body(PostgresStatementRunner(connection: connection, logger: logger, metrics: metrics))
        }
    }

    /// BEGIN, the body, COMMIT; ROLLBACK when the body fails, whose error is rethrown as itself
    /// (a 404, a 412…). A connection that broke on the way is not leased again (the pool's rule).
    func transaction<Result: Sendable>(_ body: (any SQLConnection) async throws -> Result) async throws -> Result {
        try await pool.withConnection { connection in
            let runner = PostgresStatementRunner(connection: connection, logger: logger, metrics: metrics)
            try await runner.execute(SQLStatement("BEGIN"))
            let result: Result
            do {
                result = try await body(runner)
            } catch {
                do {
                    try await runner.execute(SQLStatement("ROLLBACK"))
                } catch {
                    // In an unknown transaction state: never lease it again.
                    try? await connection.close()
                    throw error
                }
                throw error
            }
            try await runner.execute(SQLStatement("COMMIT"))
            return result
        }
    }

    /// Reads `postgres://user:password@host:port/database?sslmode=disable|prefer|require`.
    static func configuration(url text: String) throws -> PostgresConnection.Configuration {
        guard let url = URLComponents(string: text), let scheme = url.scheme,
            scheme == "postgres" || scheme == "postgresql"
        else {
            throw ConfigurationError("DATABASE_URL must look like postgres://user:password@host:5432/database")
        }
        guard let user = url.user, !user.isEmpty else {
            throw ConfigurationError("DATABASE_URL names no user (postgres://USER@host/database)")
        }
        let mode = url.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        let tls: PostgresConnection.Configuration.TLS
        switch mode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case "require", "verify-ca", "verify-full": tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        default: throw ConfigurationError("DATABASE_URL sslmode '\(mode)' is not one of disable, prefer, require")
        }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        var configuration = PostgresConnection.Configuration(
            host: url.host ?? "localhost", port: url.port ?? 5432, username: user,
            password: url.password?.removingPercentEncoding, database: database.isEmpty ? user : database, tls: tls)
        // A slot retries every 250 ms; a connect that hangs (no answer at all) must not hold it long.
        configuration.options.connectTimeout = .seconds(2)
        return configuration
    }
}

private struct PostgresStatementRunner: SQLConnection {
    let connection: PostgresConnection
    let logger: Logger
    let metrics: DatabaseMetrics?

    private func query(_ statement: SQLStatement) -> PostgresQuery {
        var binds = PostgresBindings(capacity: statement.binds.count)
        for value in statement.binds {
            switch value {
            case .text(let text): binds.append(text)
            case .integer(let number): binds.append(number)
            case .real(let number): binds.append(number)
            case .null: binds.appendNull()
            }
        }
        return PostgresQuery(unsafeSQL: statement.sql, binds: binds)
    }

    /// Runs `body`, turning PostgreSQL's "this transaction lost a race" errors into a 409 the
    /// client can act on: the transaction was rolled back and retrying it is safe.
    private func mappingConflicts<Result>(_ body: () async throws -> Result) async throws -> Result {
        do {
            return try await body()
        } catch let error as PSQLError {
            // 40P01 deadlock_detected, 40001 serialization_failure.
            if let state = error.serverInfo?[.sqlState], state == "40P01" || state == "40001" {
                throw APIError(.conflict, "the write conflicted with a concurrent one and was rolled back; retry it")
            }
            throw error
        }
    }

    private func run(_ statement: SQLStatement) async throws -> PostgresQueryResult {
        try await statement.observed(on: "postgresql", metrics: metrics) {
            try await connection.queryWhileOpen(query(statement), logger: logger)
        }
    }

    func execute(_ statement: SQLStatement) async throws {
        _ = try await mappingConflicts { try await run(statement) }
    }

    func items(_ statement: SQLStatement) async throws -> [StoredItem] {
        try await mappingConflicts {
            try await run(statement).map { row in
                let (uid, version, updated, deleted, clock, payload, status, parentUID, parentType) = try row.decode(
                    (String, Int64, Int64, Int64?, Int64, String, String?, String?, String?).self)
                return StoredItem(
                    uid: uid, version: version, updatedMs: updated, deletedMs: deleted, clockMs: clock, payload: payload,
                    status: status, parentUID: parentUID, parentType: parentType)
            }
        }
    }

    func rows(_ statement: SQLStatement) async throws -> [[SQLValue]] {
        try await mappingConflicts {
            try await run(statement).map { row in
                try row.map { cell -> SQLValue in
                    if cell.bytes == nil { return .null }
                    if [.int2, .int4, .int8].contains(cell.dataType) { return .integer(try cell.decode(Int64.self)) }
                    if [.float4, .float8].contains(cell.dataType) { return .real(try cell.decode(Double.self)) }
                    return .text(try cell.decode(String.self))
                }
            }
        }
    }
}
