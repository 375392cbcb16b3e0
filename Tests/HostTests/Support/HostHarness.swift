import API
import Foundation
import Host
import Logging
import Observability
import ServerSupport
import TestSupport
import ToolBridgeAuth

/// The core plugins `swift build` put beside the test binary, opened once for the whole run
/// (a library is never unloaded, so every test shares the same initialised plugins).
let builtPlugins: PluginLoadReport = PluginLoader.load(
    directories: [], logger: Logger(label: "toolbridge.test.plugins"))

/// A host core (plugins, tool runner, REST proxy) in front of an API running on a real store
/// and a real port.
struct HostHarness: Sendable {
    let runner: ToolRunner
    let proxy: RESTProxy
    let store: any ItemStore
    let apiURL: String
    let tenant: String

    static func run<Value: Sendable>(
        _ store: StoreKind, plugins: [LoadedPlugin] = builtPlugins.plugins,
        configure: (inout APIConfiguration) -> Void = { _ in },
        _ body: @Sendable (HostHarness) async throws -> Value
    ) async throws -> Value {
        var configuration = try TestDatabase.configuration(store)
        configure(&configuration)
        let tenant = uniqueTenant()
        return try await APITestServer.run(configuration: configuration) { client, store in
            let apiURL = "http://127.0.0.1:\(client.port!)"
            return try await withHost(apiURL: apiURL, plugins: plugins) { runner, proxy in
                try await body(HostHarness(runner: runner, proxy: proxy, store: store, apiURL: apiURL, tenant: tenant))
            }
        }
    }

    /// A runner and proxy pointed at `apiURL`, shut down when `body` returns.
    static func withHost<Value: Sendable>(
        apiURL: String, plugins: [LoadedPlugin] = builtPlugins.plugins,
        _ body: @Sendable (ToolRunner, RESTProxy) async throws -> Value
    ) async throws -> Value {
        var logger = Logger(label: "toolbridge.test.host")
        logger.logLevel = .error
        let proxy = RESTProxy(
            configuration: ProxyConfiguration(apiURL: apiURL, requestTimeout: .seconds(10)),
            credentials: try await testCredentials(), metrics: HostMetrics(registry: MetricsRegistry()), logger: logger)
        let runner = ToolRunner(plugins: plugins, proxy: proxy, threads: 16, ownsPlugins: false, logger: logger)
        return try await withRunningServices([proxy, runner]) { try await body(runner, proxy) }
    }

    /// A test host's delegated credentials, signed with the secret the test APIs trust.
    static func testCredentials(secret: String = TestTokens.delegationSecret) async throws -> DelegatedCredentials {
        try await DelegatedCredentials(key: .secret(secret), actor: "test-host", userSecret: TestTokens.secret)
    }

    static func identity(_ user: String = "alice", tenant: String) -> CallIdentity {
        CallIdentity(user: user, tenant: tenant, correlationID: "test-\(UUID().uuidString.prefix(8))")
    }

    func call(_ tool: String, _ arguments: JSONValue = [:], as user: String = "alice") async -> ToolOutcome {
        await runner.call(tool, arguments: arguments, identity: Self.identity(user, tenant: tenant))
    }
}

/// Compiles C files with `cc -shared -fPIC` against the ABI header alone, as a plugin author would.
enum CCompiler {
    /// `flags` come before the header's directory: another `-I` there wins (an older header).
    static func sharedLibrary(
        _ source: String, named name: String, into directory: String, flags: [String] = []
    ) throws -> String {
        let output = "\(directory)/lib\(name).so"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC"] + flags + [
            "-I", "\(packageRoot)/Sources/PluginABI/include", source, "-o", output,
        ]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestSetupError("cc \(source) failed: \(message)") }
        return output
    }
}
