import ArgumentParser
import Bench
import Logging

/// `toolbridge bench`: the options of a `Benchmark` run (the `Bench` module measures).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure MCP tool-call latency and throughput against direct REST calls, a host-only tool and /healthz.")

    @Option(help: "Concurrent MCP sessions (and REST callers).")
    var sessions = 10

    @Option(help: "Measured calls per operation, spread over the sessions.")
    var calls = 5000

    @Option(help: "Calls per operation before measuring.")
    var warmup = 500

    @Option(help: "Notes to seed before measuring.")
    var seed = 10_000

    @Option(help: "A running toolbridge serve's MCP URL (with --api-url); default: start one (DATABASE_URL selects PostgreSQL).")
    var mcpURL: String?

    @Option(help: "A running toolbridge serve's API URL (with --mcp-url).")
    var apiURL: String?

    @Option(name: .customLong("protocol"), help: "The MCP revision the sessions speak: 2026-07-28 (stateless: no initialize, no session) or 2025-11-25 (initialize, Mcp-Session-Id).")
    var protocolVersion = "2025-11-25"

    @Option(name: .customLong("server-setting"), help: "NAME=VALUE in the started server's environment, e.g. TOOLBRIDGE_METRICS=off; repeatable.")
    var serverSettings: [String] = []

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard sessions > 0, calls > 0, warmup >= 0, seed >= 0 else {
            throw ValidationError("--sessions and --calls must be positive; --warmup and --seed not negative")
        }
        guard (mcpURL == nil) == (apiURL == nil) else { throw ValidationError("give both --mcp-url and --api-url, or neither") }
        guard ["2026-07-28", "2025-11-25"].contains(protocolVersion) else {
            throw ValidationError("--protocol must be 2026-07-28 or 2025-11-25")
        }
        guard serverSettings.isEmpty || mcpURL == nil else {
            throw ValidationError("--server-setting applies to the server the bench starts, not to --mcp-url")
        }
        guard serverSettings.allSatisfy({ $0.split(separator: "=", maxSplits: 1).count == 2 }) else {
            throw ValidationError("--server-setting takes NAME=VALUE")
        }
    }

    func run() async throws {
        Settings.bootstrapLogging(level: "error")
        let logger = Logger(label: "toolbridge.bench")
        var running: (mcpURL: String, apiURL: String, jwtSecret: String)?
        if let mcpURL, let apiURL {
            // A running server signs with the secret this environment configures.
            let secret = try Settings(dataDirectory: nil).apiConfiguration(logger: logger).auth.jwtSecret ?? ""
            running = (mcpURL, apiURL, secret)
        }
        try await Benchmark(
            sessions: sessions, calls: calls, warmup: warmup, seed: seed, running: running,
            protocolVersion: protocolVersion, json: json,
            serverSettings: Dictionary(
                serverSettings.map { setting in
                    let parts = setting.split(separator: "=", maxSplits: 1)
                    return (String(parts[0]), String(parts[1]))
                }, uniquingKeysWith: { _, last in last })
        ).run(logger: logger)
    }
}
