@testable import API
import Foundation
import HTTPTypes
import Logging
import PostgresNIO
import ServerSupport
import ServiceLifecycle
import Synchronization
import TestSupport
import ToolBridgeAuth
import Testing

/// PostgreSQL going away and coming back while the API runs. Each test starts its own cluster,
/// since the shared one of `scripts/test` serves every other test and must not restart.
@Suite(
    "PostgreSQL faults", .serialized, .timeLimit(.minutes(2)),
    .enabled(if: PrivatePostgres.binDirectory != nil, "no PostgreSQL server binaries (initdb, pg_ctl) on this machine"))
struct PostgresFaultTests {
    @Test("a fast restart under a write load is survived: every answer is 201 or 503, and writes succeed again")
    func fastRestartUnderWrites() async throws {
        try await PrivatePostgres.with { postgres in
            try await TestAPI.run(configuration: postgres.apiConfiguration()) { api in
                let user = try await api.user()
                let writes = WriteLoad(api: api, user: user)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for writer in 0..<4 { group.addTask { try await writes.run(writer: writer) } }
                    try await writes.waitForAcknowledgements(10)
                    try await postgres.pgctl("restart", "-m", "fast")
                    let restarted = writes.acknowledgedCount()
                    try await writes.waitForAcknowledgements(restarted + 10)
                    writes.stop()
                    try await group.waitForAll()
                }
                let outcome = writes.outcome()
                #expect(outcome.unexpected.isEmpty, "answers other than 201 and 503: \(outcome.unexpected)")
                for acknowledged in outcome.acknowledged {
                    let fetched = try await api.send(.get, "/v1/notes/\(acknowledged.uid)", as: user)
                    #expect(fetched.status == .ok, "acknowledged \(acknowledged.uid) is missing: \(fetched.text)")
                    #expect(fetched.json?["payload"]?["title"]?.stringValue == acknowledged.title)
                }
            }
        }
    }

    @Test("while PostgreSQL is stopped, requests get 503 with a sentence and readyz says not ready; both recover after start")
    func stoppedDatabase() async throws {
        try await PrivatePostgres.with { postgres in
            try await TestAPI.run(configuration: postgres.apiConfiguration()) { api in
                let user = try await api.user()
                #expect(try await api.send(.get, "/readyz").status == .ok)
                try await postgres.pgctl("stop", "-m", "fast")

                let write = try await api.send(.post, "/v1/notes", as: user, body: #"{"title":"during the outage"}"#)
                #expect(write.status == .serviceUnavailable)
                #expect(write.error == "the database is unavailable; retry shortly")
                let read = try await api.send(.get, "/v1/notes", as: user)
                #expect(read.status == .serviceUnavailable)
                let ready = try await api.send(.get, "/readyz")
                #expect(ready.status == .serviceUnavailable)
                #expect(!ready.error.isEmpty)
                #expect(try await api.send(.get, "/healthz").status == .ok)

                try await postgres.start()
                let recovered = try await eventually {
                    try await api.send(.post, "/v1/notes", as: user, body: #"{"title":"after the outage"}"#).status
                        == .created
                }
                #expect(recovered, "writes did not succeed again after PostgreSQL started")
                #expect(try await api.send(.get, "/readyz").status == .ok)
            }
        }
    }

    @Test("a query in flight when its connection is terminated gets 503, and the pool reconnects")
    func terminatedConnection() async throws {
        try await PrivatePostgres.with { postgres in
            try await postgres.withPool(size: 2) { pool in
                async let sleeping: Void = pool.withConnection {
                    try await $0.query("SELECT pg_sleep(30)", logger: testLogger).consume()
                }
                // The sleeper's backend is the one running pg_sleep; terminate it from the other connection.
                let terminated = try await eventually {
                    try await pool.withConnection { connection in
                        let rows = try await connection.query(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND pid <> pg_backend_pid()",
                            logger: testLogger)
                        return try await rows.collect().count == 1
                    }
                }
                try #require(terminated)
                do {
                    try await sleeping
                    Issue.record("the query on the terminated connection succeeded")
                } catch let error as APIError {
                    #expect(error.status == .serviceUnavailable)
                    #expect(error.message == "the database is unavailable; retry shortly")
                }
                let answered = try await eventually {
                    try await pool.withConnection { try await $0.query("SELECT 1", logger: testLogger).collect().count == 1 }
                }
                #expect(answered)
            }
        }
    }

    @Test("graceful shutdown lets a leased connection finish its query, then closes every connection")
    func gracefulShutdown() async throws {
        try await PrivatePostgres.with { postgres in
            let pool = PostgresConnectionPool(configuration: try postgres.poolConfiguration(size: 3), logger: testLogger)
            let group = ServiceGroup(services: [pool], logger: testLogger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let (leased, isLeased) = AsyncStream<Void>.makeStream()
                tasks.addTask {
                    let slept = try await pool.withConnection { connection in
                        isLeased.yield()
                        return try await connection.query("SELECT pg_sleep(0.5)", logger: testLogger).collect().count
                    }
                    #expect(slept == 1, "the query in flight was cut off by the shutdown")
                }
                for await _ in leased { break }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            let refused = await #expect(throws: APIError.self) { try await pool.withConnection { _ in } }
            #expect(refused?.status == .serviceUnavailable)
            let closed = try await eventually { try await postgres.clientBackends() == 0 }
            #expect(closed, "connections are still open after the pool stopped")
        }
    }
}

private let testLogger: Logger = {
    var logger = Logger(label: "toolbridge.test.postgres-faults")
    logger.logLevel = .critical
    return logger
}()

/// True once `condition` holds, checked every 100 ms for at most `seconds`; errors count as not yet.
private func eventually(seconds: Int = 15, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return true }
        try await Task.sleep(for: .milliseconds(100))
    }
    return false
}

/// Writers creating notes with titles they choose, until stopped; every answer is recorded.
private final class WriteLoad: Sendable {
    struct Acknowledged: Sendable {
        let uid: String
        let title: String
    }

    let api: TestAPI
    let user: TestUser
    private let state = Mutex((acknowledged: [Acknowledged](), unexpected: [String](), stopped: false))

    init(api: TestAPI, user: TestUser) {
        self.api = api
        self.user = user
    }

    func run(writer: Int) async throws {
        // Bounded: at most 5,000 writes each, whatever happens.
        for call in 0..<5_000 where !state.withLock({ $0.stopped }) {
            let title = "writer \(writer) call \(call)"
            let response = try await api.send(.post, "/v1/notes", as: user, body: #"{"title":"\#(title)"}"#)
            state.withLock { state in
                if response.status == .created, let uid = response["uid"]?.stringValue {
                    state.acknowledged.append(Acknowledged(uid: uid, title: title))
                } else if response.status != .serviceUnavailable || response.error.isEmpty {
                    state.unexpected.append("\(response.status.code) \(response.text)")
                }
            }
            // As a client would: pause after a refusal instead of spinning through the bound.
            if response.status != .created { try await Task.sleep(for: .milliseconds(20)) }
        }
    }

    func acknowledgedCount() -> Int { state.withLock { $0.acknowledged.count } }

    /// Waits (bounded) until `count` writes were acknowledged.
    func waitForAcknowledgements(_ count: Int) async throws {
        let reached = try await eventually(seconds: 30) { acknowledgedCount() >= count }
        try #require(reached, "only \(acknowledgedCount()) of \(count) writes were acknowledged")
    }

    func stop() { state.withLock { $0.stopped = true } }

    func outcome() -> (acknowledged: [Acknowledged], unexpected: [String]) {
        state.withLock { ($0.acknowledged, $0.unexpected) }
    }
}

/// A PostgreSQL cluster of the test's own, in a temporary directory on a free port. The server
/// refuses to run as root, so as root its commands run as the `postgres` user.
struct PrivatePostgres: Sendable {
    let binDirectory: String
    let directory: String
    let port: Int

    var url: String { "postgres://postgres@127.0.0.1:\(port)/postgres?sslmode=disable" }

    /// `TOOLBRIDGE_TEST_PG_BIN` (set by scripts/test), `pg_config --bindir`, or /usr/lib/postgresql/*/bin.
    static let binDirectory: String? = {
        var candidates: [String] = []
        if let exported = ProcessInfo.processInfo.environment["TOOLBRIDGE_TEST_PG_BIN"] { candidates.append(exported) }
        if let output = try? PrivatePostgres.output(["pg_config", "--bindir"]) {
            candidates.append(output.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        candidates += versions.sorted().reversed().map { "/usr/lib/postgresql/\($0)/bin" }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0 + "/initdb") }
    }()

    private static var asRoot: Bool { geteuid() == 0 }

    /// Runs `body` with a started cluster, removing the cluster afterwards whatever happens.
    static func with(_ body: (PrivatePostgres) async throws -> Void) async throws {
        let binDirectory = try #require(Self.binDirectory)
        let directory = try TestDatabase.temporaryDirectory()
        let postgres = PrivatePostgres(binDirectory: binDirectory, directory: directory, port: try freePort())
        defer {
            _ = try? output(postgres.command("pg_ctl", "-D", directory + "/data", "-m", "immediate", "stop"))
            try? FileManager.default.removeItem(atPath: directory)
        }
        if asRoot {
            if (try? output(["id", "postgres"])) == nil {
                _ = try output(["useradd", "--system", "--no-create-home", "postgres"])
            }
            _ = try output(["chown", "postgres", directory])
        }
        _ = try output(postgres.command(
            "initdb", "-D", directory + "/data", "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale"))
        try await postgres.start()
        try await body(postgres)
    }

    func start() async throws {
        try await pgctl("-o", "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    }

    /// `pg_ctl -D data -w ARGUMENTS`: waits until the server started, stopped or restarted; a
    /// server it starts (restarts too) logs to server.log.
    func pgctl(_ arguments: String...) async throws {
        let command = command(
            "pg_ctl", ["-D", directory + "/data", "-w", "-t", "60", "-l", directory + "/server.log"] + arguments)
        // pg_ctl blocks for seconds; keep it off the cooperative threads the API under test runs on.
        try await Task.detached { _ = try Self.output(command) }.value
    }

    func apiConfiguration(connections: Int = 4) -> APIConfiguration {
        var configuration = APIConfiguration(port: 0, auth: AuthConfiguration(jwtSecret: TestTokens.secret))
        configuration.databaseURL = url
        configuration.databaseConnections = connections
        return configuration
    }

    func poolConfiguration(size: Int) throws -> PostgresConnectionPool.Configuration {
        .init(connection: try PostgresDatabase.configuration(url: url), size: size)
    }

    /// Runs `body` while a pool of `size` connections runs, then stops the pool.
    func withPool(size: Int, _ body: @Sendable (PostgresConnectionPool) async throws -> Void) async throws {
        let pool = PostgresConnectionPool(configuration: try poolConfiguration(size: size), logger: testLogger)
        try await withRunningServices([pool]) { try await body(pool) }
    }

    /// Client connections open on the server, not counting the one asking.
    func clientBackends() async throws -> Int {
        let connection = try await PostgresConnection.connect(
            configuration: try PostgresDatabase.configuration(url: url), id: 0, logger: testLogger)
        do {
            let rows = try await connection.query(
                "SELECT count(*)::int8 FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
                logger: testLogger)
            var count = -1
            for try await value in rows.decode(Int64.self) { count = Int(value) }
            try await connection.close()
            return count
        } catch {
            try? await connection.close()
            throw error
        }
    }

    private func command(_ tool: String, _ arguments: String...) -> [String] { command(tool, arguments) }

    private func command(_ tool: String, _ arguments: [String]) -> [String] {
        let invocation = [binDirectory + "/" + tool] + arguments
        let command = Self.asRoot ? ["runuser", "-u", "postgres", "--"] + invocation : invocation
        // Foundation's Process learns that a child ended when a socket it passes down closes; the
        // server `pg_ctl start` leaves running would inherit it and hold it open. Close every
        // descriptor above stderr first.
        let closeInherited = #"for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done; exec "$@""#
        return ["bash", "-c", closeInherited, "bash"] + command
    }

    /// Runs a command to completion; throws with its output when it fails. The output goes to a
    /// file, not a pipe, which the server `pg_ctl start` leaves running would hold open too.
    private static func output(_ arguments: [String]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("toolbridge-pg-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: path.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: path) }
        let file = try FileHandle(forWritingTo: path)
        defer { try? file.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = file
        process.standardError = file
        try process.run()
        process.waitUntilExit()
        let output = (try? String(contentsOf: path, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw TestSetupError("\(arguments.joined(separator: " ")) failed (\(process.terminationStatus)): \(output)")
        }
        return output
    }

    /// A port nothing listens on now: bind port 0, read the port, close.
    private static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestSetupError("socket() failed") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(descriptor, address, length) == 0 && getsockname(descriptor, address, &length) == 0
            }
        }
        guard bound else { throw TestSetupError("binding a free port failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

extension PostgresRowSequence {
    fileprivate func consume() async throws {
        for try await _ in self {}
    }
}
