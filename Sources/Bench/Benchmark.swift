import ArgumentParser
import AsyncHTTPClient
import Foundation
import Histogram
import Logging
import NIOCore
import NIOHTTP1
import ToolBridgeAuth
import ToolBridgeJSON

/// `toolbridge bench`: what one host carries. It starts `toolbridge serve` (or uses a running
/// one), seeds notes, opens N MCP sessions over Streamable HTTP, and measures in one run, at the
/// same concurrency, each tool of the mix through MCP, the same operations as direct REST calls,
/// a tool answered by the host alone (`whoami`), and the API's `/healthz`. The CLI's `bench`
/// command parses the options; this module keeps the load generator and its histograms out of
/// the server's modules.
public struct Benchmark: Sendable {
    /// Concurrent MCP sessions (and REST callers).
    public var sessions: Int
    /// Measured calls per operation, spread over the sessions.
    public var calls: Int
    /// Calls per operation before measuring.
    public var warmup: Int
    /// Notes to seed before measuring.
    public var seed: Int
    /// A running server to measure (both URLs and its JWT secret); nil starts one.
    public var running: (mcpURL: String, apiURL: String, jwtSecret: String)?
    /// The MCP revision the sessions speak.
    public var protocolVersion: String
    /// Print JSON instead of a table.
    public var json: Bool
    /// Environment settings for the started server (`TOOLBRIDGE_METRICS=off`), over the bench's own.
    public var serverSettings: [String: String]

    public init(
        sessions: Int, calls: Int, warmup: Int, seed: Int, running: (mcpURL: String, apiURL: String, jwtSecret: String)?,
        protocolVersion: String, json: Bool, serverSettings: [String: String] = [:]
    ) {
        self.sessions = sessions
        self.calls = calls
        self.warmup = warmup
        self.seed = seed
        self.running = running
        self.protocolVersion = protocolVersion
        self.json = json
        self.serverSettings = serverSettings
    }

    public func run(logger: Logger) async throws {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = sessions + 8
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            try await measure(client: client, logger: logger)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    private func measure(client: HTTPClient, logger: Logger) async throws {
        let server: BenchServer
        let secret: String
        if let running {
            secret = running.jwtSecret
            server = BenchServer(mcpURL: running.mcpURL, apiURL: running.apiURL, process: nil)
        } else {
            secret = (0..<2).map { _ in UUID().uuidString }.joined()
            server = try await BenchServer.start(secret: secret, settings: serverSettings)
        }
        defer { server.stop() }
        let verifier = try await TokenVerifier(configuration: AuthConfiguration(jwtSecret: secret), logger: logger)
        let tenant = "bench-\(UUID().uuidString.prefix(8).lowercased())"
        let token = try await verifier.issue(subject: "bench", tenants: [tenant], ttlSeconds: 3600)
        let idleRSS = server.memory()

        let rest = try await RESTCaller(client: client, apiURL: server.apiURL, token: token, tenant: tenant)
        let seeded = try await rest.seed(notes: seed)
        var mcp: [MCPBenchSession] = []
        for _ in 0..<sessions {
            mcp.append(try await MCPBenchSession.open(
                client: client, url: server.mcpURL + "/mcp", token: token, protocolVersion: protocolVersion))
        }
        let sample = seeded.isEmpty ? [try await rest.createNote()] : seeded
        let pick: @Sendable (Int) -> String = { sample[$0 % sample.count] }

        typealias Call = @Sendable (_ caller: Int, _ index: Int) async -> Bool
        let sessionsForCalls = mcp
        func viaMCP(_ tool: String, _ arguments: @escaping @Sendable (Int) -> JSONValue) -> Call {
            { caller, index in await sessionsForCalls[caller].call(tool, arguments(index)) }
        }
        let operations: [(String, Call)] = [
            ("mcp get_note", viaMCP("get_note") { ["uid": .string(pick($0))] }),
            ("rest get_note", { _, index in await rest.send(.GET, "/v1/notes/\(pick(index))") }),
            ("mcp list_notes", viaMCP("list_notes") { _ in ["limit": 20] }),
            ("rest list_notes", { _, _ in await rest.send(.GET, "/v1/notes?limit=20") }),
            ("mcp create_note", viaMCP("create_note") { ["title": .string("bench \($0)"), "content": "measured"] }),
            ("rest create_note", { _, index in await rest.send(.POST, "/v1/notes", body: #"{"title":"bench \#(index)","content":"measured"}"#) }),
            ("mcp patch_note", viaMCP("patch_note") { ["uid": .string(pick($0)), "updates": ["touched": .integer(Int64($0))]] }),
            ("rest patch_note", { _, index in await rest.send(.PATCH, "/v1/notes/\(pick(index))", body: #"{"touched":\#(index)}"#) }),
            ("mcp search", viaMCP("search") { ["query": .string(RESTCaller.seedWords[$0 % 10]), "limit": 20] }),
            ("rest search", { _, index in await rest.send(.GET, "/v1/search?q=\(RESTCaller.seedWords[index % 10])&limit=20") }),
            ("mcp whoami (host only)", viaMCP("whoami") { _ in [:] }),
            ("healthz (HTTP floor)", { _, _ in await rest.send(.GET, "/healthz", session: false) }),
        ]
        var results: [OperationResult] = []
        var peakRSS = idleRSS
        for (name, operation) in operations {
            _ = await Self.drive(operation, calls: warmup, callers: sessions)
            results.append(await Self.drive(operation, calls: calls, callers: sessions, name: name))
            peakRSS = server.memory()
        }
        for session in mcp { await session.close() }
        report(results, idleRSS: idleRSS, loadedRSS: peakRSS, store: server.store)
    }

    /// Runs `calls` calls spread over `callers` concurrent callers and records each latency (µs).
    private static func drive(
        _ operation: @escaping @Sendable (Int, Int) async -> Bool, calls: Int, callers: Int, name: String = ""
    ) async -> OperationResult {
        let start = ContinuousClock.now
        let (histogram, errors) = await withTaskGroup(of: (Histogram<UInt64>, Int).self) { group in
            for caller in 0..<callers {
                let count = calls / callers + (caller < calls % callers ? 1 : 0)
                group.addTask {
                    var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
                    var errors = 0
                    for index in 0..<count {
                        let began = ContinuousClock.now
                        let ok = await operation(caller, caller * 1_000_003 + index)
                        _ = histogram.record(began.duration(to: .now).microseconds)
                        if !ok { errors += 1 }
                    }
                    return (histogram, errors)
                }
            }
            var merged = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
            var errors = 0
            for await (histogram, failed) in group {
                merged.add(histogram)
                errors += failed
            }
            return (merged, errors)
        }
        return OperationResult(name: name, histogram: histogram, errors: errors, elapsed: start.duration(to: .now))
    }

    private func report(_ results: [OperationResult], idleRSS: ServerMemory?, loadedRSS: ServerMemory?, store: String) {
        func ratio(_ operation: String) -> Double? {
            guard let host = results.first(where: { $0.name == "mcp \(operation)" }),
                let rest = results.first(where: { $0.name == "rest \(operation)" })
            else { return nil }
            return Double(host.percentile(50)) / Double(max(1, rest.percentile(50)))
        }
        let ratios = ["get_note", "list_notes", "create_note", "patch_note", "search"].compactMap { name in ratio(name).map { (name, $0) } }
        if json {
            var object: JSONObject = [
                "store": .string(store), "protocol": .string(protocolVersion), "sessions": .integer(Int64(sessions)),
                "callsPerOperation": .integer(Int64(calls)),
                "seededNotes": .integer(Int64(seed)), "operations": .array(results.map(\.json)),
                "hostToRestP50": .object(JSONObject(uniqueKeysWithValues: ratios.map { ($0.0, .number(String(format: "%.2f", $0.1))) })),
            ]
            if let idleRSS { object["serverRSSIdleMB"] = .number(String(format: "%.1f", idleRSS.currentMB)) }
            if let loadedRSS {
                object["serverRSSLoadedMB"] = .number(String(format: "%.1f", loadedRSS.currentMB))
                object["serverRSSPeakMB"] = .number(String(format: "%.1f", loadedRSS.peakMB))
            }
            print(JSONValue.object(object).serialized)
            return
        }
        print("store: \(store), MCP \(protocolVersion), sessions: \(sessions), calls per operation: \(calls), seeded notes: \(seed)")
        print("operation                   calls/s    p50 ms    p95 ms    p99 ms    max ms  errors")
        for result in results {
            print(
                result.name.padding(toLength: 24, withPad: " ", startingAt: 0)
                    + String(format: "%10.0f %9.3f %9.3f %9.3f %9.3f %7d", result.callsPerSecond,
                             result.milliseconds(50), result.milliseconds(95), result.milliseconds(99),
                             Double(result.histogram.max) / 1000, result.errors))
        }
        print("MCP/REST at p50: " + ratios.map { String(format: "%@ %.2fx", $0.0, $0.1) }.joined(separator: ", "))
        if let idleRSS, let loadedRSS {
            print(String(format: "server RSS: %.1f MB idle, %.1f MB after the load, %.1f MB peak", idleRSS.currentMB,
                         loadedRSS.currentMB, loadedRSS.peakMB))
        }
    }
}

extension Duration {
    var microseconds: UInt64 {
        UInt64(max(1, components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000))
    }
}

struct OperationResult {
    let name: String
    /// Latencies in microseconds.
    let histogram: Histogram<UInt64>
    let errors: Int
    let elapsed: Duration

    func percentile(_ value: Double) -> UInt64 { histogram.valueAtPercentile(value) }
    func milliseconds(_ value: Double) -> Double { Double(percentile(value)) / 1000 }

    var callsPerSecond: Double {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Double(histogram.totalCount) / max(seconds, 1e-9)
    }

    var json: JSONValue {
        func number(_ value: Double) -> JSONValue { .number(String(format: "%.3f", value)) }
        return [
            "name": .string(name), "calls": .integer(Int64(histogram.totalCount)), "errors": .integer(Int64(errors)),
            "callsPerSecond": number(callsPerSecond), "p50Ms": number(milliseconds(50)),
            "p95Ms": number(milliseconds(95)), "p99Ms": number(milliseconds(99)),
            "maxMs": number(Double(histogram.max) / 1000),
        ]
    }
}

struct ServerMemory {
    let currentMB: Double
    let peakMB: Double
}

/// The measured server: a `toolbridge serve` child process, or URLs of a running one.
final class BenchServer: @unchecked Sendable {  // immutable after start
    let mcpURL: String
    let apiURL: String
    let process: Process?
    private let directory: String?

    init(mcpURL: String, apiURL: String, process: Process?, directory: String? = nil) {
        self.mcpURL = mcpURL
        self.apiURL = apiURL
        self.process = process
        self.directory = directory
    }

    var store: String {
        process == nil ? "running server" : ((ProcessInfo.processInfo.environment["DATABASE_URL"] ?? "").isEmpty ? "sqlite" : "postgresql")
    }

    /// Every rate limit of `toolbridge serve` (docs/api.md, docs/host.md).
    static let rateLimitVariables = [
        "TOOLBRIDGE_API_RATE_LIMIT", "TOOLBRIDGE_API_SESSION_RATE_LIMIT", "TOOLBRIDGE_MCP_REQUEST_LIMIT",
        "TOOLBRIDGE_MCP_USER_CALL_LIMIT", "TOOLBRIDGE_MCP_TENANT_CALL_LIMIT", "TOOLBRIDGE_MCP_WRITE_CALL_LIMIT",
        "TOOLBRIDGE_MCP_READ_CALL_LIMIT",
    ]

    /// Starts this same executable as `toolbridge serve` on free ports, on a fresh data directory.
    static func start(secret: String, settings: [String: String]) async throws -> BenchServer {
        let directory = NSTemporaryDirectory() + "toolbridge-bench-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["serve", "--api-port", "0", "--mcp-port", "0"]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TOOLBRIDGE_") }
        environment["TOOLBRIDGE_JWT_SECRET"] = secret
        environment["TOOLBRIDGE_DATA_DIR"] = directory
        environment["TOOLBRIDGE_LOG_LEVEL"] = "error"
        // Limits far above any load the bench makes: it measures calls, and with the limits on
        // (not off) their cost is part of what it measures.
        for name in Self.rateLimitVariables { environment[name] = "1000000/1s burst 1000000" }
        environment.merge(settings) { _, setting in setting }
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var mcp: String?
        var api: String?
        var buffered = ""
        let handle = output.fileHandleForReading
        while mcp == nil || api == nil {
            let data = handle.availableData
            guard !data.isEmpty else { throw ValidationError("toolbridge serve exited before it listened") }
            buffered += String(decoding: data, as: UTF8.self)
            for line in buffered.split(separator: "\n") {
                if let range = line.range(of: "toolbridge mcp listening on ") { mcp = String(line[range.upperBound...]) }
                if let range = line.range(of: "toolbridge api listening on ") { api = String(line[range.upperBound...]) }
            }
        }
        return BenchServer(mcpURL: mcp!, apiURL: api!, process: process, directory: directory)
    }

    /// VmRSS and VmHWM (peak) of the server process, from /proc.
    func memory() -> ServerMemory? {
        guard let process, let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)
        else { return nil }
        func kilobytes(_ key: String) -> Double {
            let line = status.split(separator: "\n").first { $0.hasPrefix(key) } ?? ""
            return Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        return ServerMemory(currentMB: kilobytes("VmRSS:") / 1024, peakMB: kilobytes("VmHWM:") / 1024)
    }

    func stop() {
        guard let process else { return }
        process.terminate()
        process.waitUntilExit()
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }
}

/// Direct REST calls with a sync session of their own: the baseline MCP is compared to.
struct RESTCaller: Sendable {
    let client: HTTPClient
    let apiURL: String
    let headers: HTTPHeaders

    init(client: HTTPClient, apiURL: String, token: String, tenant: String) async throws {
        self.client = client
        self.apiURL = apiURL
        var request = HTTPClientRequest(url: apiURL + "/v1/sync/sessions")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "X-TB-Tenant-ID", value: tenant)
        let response = try await client.execute(request, timeout: .seconds(10))
        let body = try JSONValue.parse(Array(buffer: try await response.body.collect(upTo: 1 << 20)))
        guard let id = body["id"]?.stringValue, let epoch = body["epoch"]?.int64Value else {
            throw ValidationError("could not create a sync session: \(body.serialized)")
        }
        var headers = request.headers
        headers.add(name: "X-Sync-Session", value: id)
        headers.add(name: "X-Sync-Epoch", value: String(epoch))
        headers.add(name: "Content-Type", value: "application/json")
        self.headers = headers
    }

    func send(_ method: HTTPMethod, _ path: String, body: String? = nil, session: Bool = true) async -> Bool {
        var request = HTTPClientRequest(url: apiURL + path)
        request.method = method
        if session { request.headers = headers }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        guard let response = try? await client.execute(request, timeout: .seconds(30)),
            (try? await response.body.collect(upTo: 1 << 24)) != nil
        else { return false }
        return (200..<300).contains(response.status.code)
    }

    func createNote() async throws -> String {
        var request = HTTPClientRequest(url: apiURL + "/v1/notes")
        request.method = .POST
        request.headers = headers
        request.body = .bytes(ByteBuffer(string: #"{"title":"bench"}"#))
        let response = try await client.execute(request, timeout: .seconds(30))
        let body = try JSONValue.parse(Array(buffer: try await response.body.collect(upTo: 1 << 20)))
        guard let uid = body["uid"]?.stringValue else { throw ValidationError("could not create a note: \(body.serialized)") }
        return uid
    }

    /// Pushes `notes` notes in batches of 1,000 through the sync API; returns their uids.
    /// Each seeded note's title has one of these words and its content two, so a search for one
    /// matches about a tenth of the titles and a fifth of the contents.
    static let seedWords = ["alpha", "budget", "meeting", "groceries", "release", "travel", "invoice", "garden", "design", "review"]

    func seed(notes: Int) async throws -> [String] {
        var uids: [String] = []
        let words = Self.seedWords
        while uids.count < notes {
            var items: [JSONValue] = []
            for _ in 0..<min(1000, notes - uids.count) {
                let uid = UUID().uuidString.lowercased()
                let index = uids.count + items.count
                uids.append(uid)
                items.append([
                    "uid": .string(uid), "updatedTs": .integer(1_700_000_000_000 + Int64(index)),
                    "title": .string("\(words[index % 10]) note \(index)"),
                    "content": .string("Seeded for the benchmark: \(words[(index / 10) % 10]) and \(words[(index / 100) % 10])."),
                ])
            }
            var request = HTTPClientRequest(url: apiURL + "/v1/sync/notes/push")
            request.method = .POST
            request.headers = headers
            request.body = .bytes(ByteBuffer(string: JSONValue.object(["items": .array(items)]).serialized))
            let response = try await client.execute(request, timeout: .seconds(120))
            _ = try await response.body.collect(upTo: 1 << 24)
            guard response.status == .ok else { throw ValidationError("seeding failed with \(response.status.code)") }
        }
        return uids
    }
}

/// A minimal MCP client over Streamable HTTP, enough to measure `tools/call`. In the handshake
/// era it initializes once, then sends one POST per call in its session; in 2026-07-28 every call
/// is a POST of its own, with `_meta` and the routing headers, and there is no session.
final class MCPBenchSession: Sendable {
    let client: HTTPClient
    let url: String
    let headers: HTTPHeaders
    /// Set when the session speaks the stateless revision.
    let modernVersion: String?

    private init(client: HTTPClient, url: String, headers: HTTPHeaders, modernVersion: String? = nil) {
        self.client = client
        self.url = url
        self.headers = headers
        self.modernVersion = modernVersion
    }

    static func open(client: HTTPClient, url: String, token: String, protocolVersion: String) async throws -> MCPBenchSession {
        var headers = HTTPHeaders()
        headers.add(name: "Authorization", value: "Bearer \(token)")
        headers.add(name: "Accept", value: "application/json, text/event-stream")
        headers.add(name: "Content-Type", value: "application/json")
        if protocolVersion == "2026-07-28" {
            headers.add(name: "MCP-Protocol-Version", value: protocolVersion)
            return MCPBenchSession(client: client, url: url, headers: headers, modernVersion: protocolVersion)
        }
        let initialize: JSONValue = [
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": [
                "protocolVersion": .string(protocolVersion), "capabilities": [:],
                "clientInfo": ["name": "toolbridge-bench", "version": "1"],
            ],
        ]
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers = headers
        request.body = .bytes(ByteBuffer(string: initialize.serialized))
        let response = try await client.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        guard let session = response.headers.first(name: "Mcp-Session-Id") else {
            throw ValidationError("the MCP server did not open a session (HTTP \(response.status.code))")
        }
        headers.add(name: "Mcp-Session-Id", value: session)
        headers.add(name: "MCP-Protocol-Version", value: protocolVersion)
        let opened = MCPBenchSession(client: client, url: url, headers: headers)
        _ = await opened.post(["jsonrpc": "2.0", "method": "notifications/initialized"])
        return opened
    }

    /// True when the call answered a result that is not an error.
    func call(_ tool: String, _ arguments: JSONValue) async -> Bool {
        var params: JSONObject = ["name": .string(tool), "arguments": arguments]
        var routing = HTTPHeaders()
        if let modernVersion {
            params["_meta"] = [
                "io.modelcontextprotocol/protocolVersion": .string(modernVersion),
                "io.modelcontextprotocol/clientCapabilities": [:],
                "io.modelcontextprotocol/clientInfo": ["name": "toolbridge-bench", "version": "1"],
            ]
            routing.add(name: "Mcp-Method", value: "tools/call")
            routing.add(name: "Mcp-Name", value: tool)
        }
        let message: JSONValue = ["jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": .object(params)]
        guard let body = await post(message, extraHeaders: routing) else { return false }
        // A server may answer as JSON or as an SSE stream; both are Streamable HTTP.
        let candidates = body.hasPrefix("{") ? [Substring(body)]
            : body.split(separator: "\n").filter { $0.hasPrefix("data:") }.map { $0.dropFirst(5) }
        for candidate in candidates {
            guard let value = try? JSONValue.parse(String(candidate)), value["id"] != nil else { continue }
            return value["result"] != nil && value["result"]?["isError"] != true
        }
        return false
    }

    private func post(_ message: JSONValue, extraHeaders: HTTPHeaders = [:]) async -> String? {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers = headers
        request.headers.add(contentsOf: extraHeaders)
        request.body = .bytes(ByteBuffer(string: message.serialized))
        guard let response = try? await client.execute(request, timeout: .seconds(30)),
            let body = try? await response.body.collect(upTo: 1 << 24), response.status.code < 300
        else { return nil }
        return String(buffer: body)
    }

    func close() async {
        guard modernVersion == nil else { return }
        var request = HTTPClientRequest(url: url)
        request.method = .DELETE
        request.headers = headers
        _ = try? await client.execute(request, timeout: .seconds(5))
    }
}
