import API
import ArgumentParser
import AsyncHTTPClient
import Foundation
import Histogram
import Host
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// `toolbridge bench`: what the host adds to a tool call. It measures, in one run and at the same
/// concurrency, a tool call through the host core (plugin over the C ABI, REST proxy, API), the
/// same operation as a direct REST call, and the API's `/healthz` (the HTTP floor).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure tool-call latency through the host against direct REST calls and /healthz.")

    @OptionGroup var plugins: PluginOptions

    @Option(help: "A running API to measure (default: start one in this process on a fresh SQLite file, or on DATABASE_URL).")
    var apiURL: String?

    @Option(help: "Calls per operation.")
    var calls = 2000

    @Option(help: "Concurrent callers.")
    var concurrency = 1

    @Option(help: "Calls per operation before measuring.")
    var warmup = 200

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard calls > 0, concurrency > 0, warmup >= 0 else {
            throw ValidationError("--calls and --concurrency must be positive, --warmup not negative")
        }
    }

    func run() async throws {
        Settings.bootstrapLogging(level: "error")
        let logger = Logger(label: "toolbridge.bench")
        let secret = (0..<4).map { _ in UUID().uuidString }.joined()
        var configuration = APIConfiguration(
            port: 0, databaseURL: ProcessInfo.processInfo.environment["DATABASE_URL"].nonEmpty,
            dataDirectory: NSTemporaryDirectory() + "toolbridge-bench-\(UUID().uuidString)",
            auth: AuthConfiguration(jwtSecret: secret))
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        if let apiURL {
            configuration.auth.jwtSecret = try Settings(dataDirectory: nil).apiConfiguration(logger: logger).auth.jwtSecret
            try await measure(apiURL: apiURL, configuration: configuration, logger: logger)
            return
        }
        let inProcess = configuration
        try await InProcessAPI.run(configuration: inProcess, logger: logger) { url in
            try await measure(apiURL: url, configuration: inProcess, logger: logger)
        }
    }

    private func measure(apiURL: String, configuration: APIConfiguration, logger: Logger) async throws {
        let verifier = try await TokenVerifier(configuration: configuration.auth, logger: logger)
        let tenant = "bench"
        let token = try await verifier.issue(subject: "bench-user", tenants: [tenant], ttlSeconds: 3600)
        let identity = CallIdentity(user: "bench-user", tenant: tenant, bearerToken: token, correlationID: "bench")
        let proxy = RESTProxy(configuration: ProxyConfiguration(apiURL: apiURL), logger: logger)
        let runner = ToolRunner(plugins: plugins.load(logger: logger).plugins, proxy: proxy, logger: logger)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: Self.clientConfiguration)
        defer { _ = client.shutdown() }

        let results = try await withRunningServices([proxy, runner]) {
            let created = await runner.call("create_note", arguments: ["title": "bench"], identity: identity)
            guard let uid = created.value["uid"]?.stringValue else {
                throw ValidationError("could not create a note through the host: \(created.value.serialized)")
            }
            let rest = try await RESTCaller(client: client, apiURL: apiURL, token: token, tenant: tenant)
            let operations: [(String, @Sendable () async -> Bool)] = [
                ("host get_note", { !(await runner.call("get_note", arguments: ["uid": .string(uid)], identity: identity)).isError }),
                ("rest get_note", { await rest.get("/v1/notes/\(uid)", session: true) }),
                ("healthz", { await rest.get("/healthz", session: false) }),
            ]
            var results: [OperationResult] = []
            for (name, operation) in operations {
                _ = await Self.drive(operation, calls: warmup, concurrency: concurrency)
                results.append(await Self.drive(operation, calls: calls, concurrency: concurrency, name: name))
            }
            return results
        }
        report(results)
    }

    private static var clientConfiguration: HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        return configuration
    }

    /// Runs `calls` calls of `operation` from `concurrency` callers and records each latency.
    private static func drive(
        _ operation: @escaping @Sendable () async -> Bool, calls: Int, concurrency: Int, name: String = ""
    ) async -> OperationResult {
        let start = ContinuousClock.now
        let perCaller = (0..<concurrency).map { calls / concurrency + ($0 < calls % concurrency ? 1 : 0) }
        let recorded = await withTaskGroup(of: (Histogram<UInt64>, Int).self) { group in
            for count in perCaller {
                group.addTask {
                    var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
                    var errors = 0
                    for _ in 0..<count {
                        let began = ContinuousClock.now
                        let ok = await operation()
                        let elapsed = began.duration(to: .now)
                        _ = histogram.record(UInt64(max(1, elapsed.components.attoseconds / 1_000_000_000 + elapsed.components.seconds * 1_000_000_000) / 1000))
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
        return OperationResult(name: name, histogram: recorded.0, errors: recorded.1, elapsed: start.duration(to: .now))
    }

    private func report(_ results: [OperationResult]) {
        let host = results.first { $0.name == "host get_note" }
        let rest = results.first { $0.name == "rest get_note" }
        let ratio = host.flatMap { host in rest.map { Double(host.percentile(50)) / Double(max(1, $0.percentile(50))) } }
        if json {
            var object: JSONObject = [
                "calls": .integer(Int64(calls)), "concurrency": .integer(Int64(concurrency)),
                "operations": .array(results.map(\.json)),
            ]
            if let ratio { object["hostToRestP50"] = .number(String(format: "%.2f", ratio)) }
            print(JSONValue.object(object).serialized)
            return
        }
        print("calls per operation: \(calls), concurrency: \(concurrency)")
        print("operation          calls/s    p50 ms    p95 ms    p99 ms    max ms  errors")
        for result in results {
            print(
                result.name.padding(toLength: 16, withPad: " ", startingAt: 0)
                    + String(format: "%9.0f %9.3f %9.3f %9.3f %9.3f %7d", result.callsPerSecond,
                             result.milliseconds(50), result.milliseconds(95), result.milliseconds(99),
                             Double(result.histogram.max) / 1000, result.errors))
        }
        if let ratio { print(String(format: "host/REST p50: %.2fx", ratio)) }
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

/// Direct REST calls with a sync session of their own: the baseline the host is compared to.
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
        self.headers = headers
    }

    func get(_ path: String, session: Bool) async -> Bool {
        var request = HTTPClientRequest(url: apiURL + path)
        if session { request.headers = headers }
        guard let response = try? await client.execute(request, timeout: .seconds(30)),
            (try? await response.body.collect(upTo: 1 << 24)) != nil
        else { return false }
        return response.status == .ok
    }
}

/// An API in this process on a free port, for commands that measure or demonstrate without a
/// separate server.
enum InProcessAPI {
    static func run(
        configuration: APIConfiguration, logger: Logger, _ body: @Sendable (_ url: String) async throws -> Void
    ) async throws {
        let verifier = try await TokenVerifier(configuration: configuration.auth, logger: logger)
        let storage = try await APIStorage.open(configuration, logger: logger)
        let (ports, portFound) = AsyncStream<Int>.makeStream()
        let app = APIServer.application(
            configuration: configuration, storage: storage,
            authenticator: Authenticator(configuration: configuration.auth, verifier: verifier), logger: logger,
            onServerRunning: { channel in portFound.yield(channel.localAddress?.port ?? 0) })
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var port = 0
            for await found in ports {
                port = found
                break
            }
            do {
                try await body("http://127.0.0.1:\(port)")
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}
