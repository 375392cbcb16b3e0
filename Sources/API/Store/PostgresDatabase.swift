#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import PostgresNIO
import ServerSupport

/// The production store: PostgreSQL through postgres-nio's pooled `PostgresClient`. Row locks
/// (`SELECT … FOR UPDATE`) serialize writers of one item; nothing is kept in process memory, so
/// any number of API replicas can share the database.
struct PostgresDatabase: SQLDatabase {
    let dialect = SQLDialect.postgres
    let client: PostgresClient
    let logger: Logger

    func read<Result: Sendable>(_ body: (any SQLConnection) async throws -> Result) async throws -> Result {
        try await client.withConnection { connection in
            try await body(PostgresStatementRunner(connection: connection, logger: logger))
        }
    }

    func transaction<Result: Sendable>(_ body: (any SQLConnection) async throws -> Result) async throws -> Result {
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await body(PostgresStatementRunner(connection: connection, logger: logger))
            }
        } catch let error as PostgresTransactionError {
            // A rolled-back transaction reports why the body failed (a 404, a 412…) as itself.
            if let reason = error.closureError, error.rollbackError == nil { throw reason }
            throw error
        }
    }

    /// Reads `postgres://user:password@host:port/database?sslmode=disable|prefer|require`.
    static func configuration(url text: String, connections: Int) throws -> PostgresClient.Configuration {
        guard let url = URLComponents(string: text), let scheme = url.scheme,
            scheme == "postgres" || scheme == "postgresql"
        else {
            throw ConfigurationError("DATABASE_URL must look like postgres://user:password@host:5432/database")
        }
        guard let user = url.user, !user.isEmpty else {
            throw ConfigurationError("DATABASE_URL names no user (postgres://USER@host/database)")
        }
        let mode = url.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw ConfigurationError("DATABASE_URL sslmode '\(mode)' is not one of disable, prefer, require")
        }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        var configuration = PostgresClient.Configuration(
            host: url.host ?? "localhost", port: url.port ?? 5432, username: user,
            password: url.password?.removingPercentEncoding, database: database.isEmpty ? user : database, tls: tls)
        // postgres-nio arms a keep-alive and an idle timer task each time a connection goes back to
        // the pool; each lives until it fires (30 and 60 s), so under load memory grew with the
        // query rate (measured: about 1.5 KB per query). A fixed-size pool with no keep-alive
        // arms neither.
        configuration.options.minimumConnections = connections
        configuration.options.maximumConnections = connections
        configuration.options.keepAliveBehavior = nil
        return configuration
    }
}

private struct PostgresStatementRunner: SQLConnection {
    let connection: PostgresConnection
    let logger: Logger

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

    func execute(_ statement: SQLStatement) async throws {
        try await mappingConflicts { try await connection.query(query(statement), logger: logger).consume() }
    }

    func items(_ statement: SQLStatement) async throws -> [StoredItem] {
        try await mappingConflicts {
            var items: [StoredItem] = []
            let rows = try await connection.query(query(statement), logger: logger)
            for try await (uid, version, updated, deleted, clock, payload, status, parentUID, parentType) in rows.decode(
                (String, Int64, Int64, Int64?, Int64, String, String?, String?, String?).self)
            {
                items.append(StoredItem(
                    uid: uid, version: version, updatedMs: updated, deletedMs: deleted, clockMs: clock, payload: payload,
                    status: status, parentUID: parentUID, parentType: parentType))
            }
            return items
        }
    }

    func rows(_ statement: SQLStatement) async throws -> [[SQLValue]] {
        try await mappingConflicts { try await decodedRows(statement) }
    }

    private func decodedRows(_ statement: SQLStatement) async throws -> [[SQLValue]] {
        var result: [[SQLValue]] = []
        for try await row in try await connection.query(query(statement), logger: logger) {
            var values: [SQLValue] = []
            for cell in row {
                if cell.bytes == nil {
                    values.append(.null)
                } else if [.int2, .int4, .int8].contains(cell.dataType) {
                    values.append(.integer(try cell.decode(Int64.self)))
                } else if [.float4, .float8].contains(cell.dataType) {
                    values.append(.real(try cell.decode(Double.self)))
                } else {
                    values.append(.text(try cell.decode(String.self)))
                }
            }
            result.append(values)
        }
        return result
    }
}

extension PostgresRowSequence {
    fileprivate func consume() async throws {
        for try await _ in self {}
    }
}
