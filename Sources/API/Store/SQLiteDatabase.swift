import Logging
import NIOCore
import SQLiteNIO
import ServiceLifecycle
import Synchronization

/// The embedded store: one SQLite file in WAL mode, one writer connection whose transactions are
/// queued by an `AsyncMutex`, and a few reader connections that see only committed data. It is a
/// `Service`: its connections stay open until graceful shutdown, then close.
final class SQLiteDatabase: SQLDatabase, Service {
    let dialect = SQLDialect.sqlite
    private let writer: SQLiteConnection
    private let readers: [SQLiteConnection]
    private let nextReader = Atomic<Int>(0)
    private let writeLock = AsyncMutex()
    private let metrics: APIMetrics?
    private let statements: DatabaseMetrics?

    private init(writer: SQLiteConnection, readers: [SQLiteConnection], metrics: APIMetrics?) {
        self.writer = writer
        self.readers = readers
        self.metrics = metrics
        statements = metrics?.database("sqlite")
        metrics?.connectionMax.set(readers.count + 1)
    }

    static func open(
        path: String, readers readerCount: Int = 2, metrics: APIMetrics? = nil, logger: Logger
    ) async throws -> SQLiteDatabase {
        let writer = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        for pragma in ["PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL", "PRAGMA busy_timeout = 5000"] {
            _ = try await writer.query(pragma)
        }
        var readers: [SQLiteConnection] = []
        for _ in 0..<readerCount {
            let reader = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
            _ = try await reader.query("PRAGMA busy_timeout = 5000")
            readers.append(reader)
        }
        return SQLiteDatabase(writer: writer, readers: readers, metrics: metrics)
    }

    /// Closes the connections on graceful shutdown, and also when cancelled (a shutdown past its
    /// grace period): the future-based close, unlike the async one, runs in a cancelled task.
    func run() async {
        try? await gracefulShutdown()
        for connection in [writer] + readers {
            let closed: EventLoopFuture<Void> = connection.close()
            try? await closed.get()
        }
    }

    func read<Result: Sendable>(_ body: (any SQLConnection) async throws -> Result) async throws -> Result {
        let index = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue
        return try await body(SQLiteStatementRunner(connection: readers[index % readers.count], metrics: statements))
    }

    func transaction<Result: Sendable>(_ body: (any SQLConnection) async throws -> Result) async throws -> Result {
        let runner = SQLiteStatementRunner(connection: writer, metrics: statements)
        let waiting = ContinuousClock.now
        return try await writeLock.withLock {
            // The one writer connection is SQLite's pool: waiting for its lock is the lease.
            metrics?.connectionWait.record(duration: waiting.duration(to: .now))
            try await runner.execute(SQLStatement("BEGIN IMMEDIATE"))
            do {
                let result = try await body(runner)
                try await runner.execute(SQLStatement("COMMIT"))
                return result
            } catch {
                try? await runner.execute(SQLStatement("ROLLBACK"))
                throw error
            }
        }
    }
}

private struct SQLiteStatementRunner: SQLConnection {
    let connection: SQLiteConnection
    let metrics: DatabaseMetrics?

    /// SQLite reads `$1` as a named parameter; `?1` is its positional form.
    private func run(_ statement: SQLStatement) async throws -> [SQLiteRow] {
        let sql = statement.sql.replacingDollarParameters()
        let binds: [SQLiteData] = statement.binds.map {
            switch $0 {
            case .text(let text): .text(text)
            case .integer(let number): .integer(Int(number))
            case .real(let number): .float(number)
            case .null: .null
            }
        }
        return try await statement.observed(on: "sqlite", metrics: metrics) { try await connection.query(sql, binds) }
    }

    func execute(_ statement: SQLStatement) async throws {
        _ = try await run(statement)
    }

    func items(_ statement: SQLStatement) async throws -> [StoredItem] {
        try await rows(statement).compactMap(ItemColumns.item(from:))
    }

    func rows(_ statement: SQLStatement) async throws -> [[SQLValue]] {
        try await run(statement).map { row in
            row.columns.map { column in
                switch column.data {
                case .integer(let number): .integer(Int64(number))
                case .float(let number): .real(number)
                case .text(let text): .text(text)
                case .blob(let buffer): .text(String(buffer: buffer))
                case .null: .null
                }
            }
        }
    }
}

extension String {
    /// `$1` → `?1`; a `$` not followed by a digit (a JSON path such as `'$.tags'`) stays.
    fileprivate func replacingDollarParameters() -> String {
        guard contains("$") else { return self }
        var result = ""
        result.reserveCapacity(utf8.count)
        var characters = self[...]
        while let character = characters.popFirst() {
            result.append(character == "$" && characters.first?.isASCIIDigit == true ? "?" : character)
        }
        return result
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
