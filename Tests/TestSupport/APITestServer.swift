import API
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ServiceLifecycle
import ToolBridgeAuth

/// The API running in process on a real store and a real loopback port, for as long as `body` runs.
public enum APITestServer {
    public static func run<Value: Sendable>(
        configuration: APIConfiguration,
        _ body: @Sendable (_ client: any TestClientProtocol, _ store: any ItemStore) async throws -> Value
    ) async throws -> Value {
        let (app, store) = try await application(configuration)
        return try await app.test(.live) { client in try await body(client, store) }
    }

    /// The API on `configuration.port` (the test framework always picks a free port), for tests
    /// that restart it on the same address.
    public static func runOnFixedPort(
        configuration: APIConfiguration, _ body: @Sendable () async throws -> Void
    ) async throws {
        let (running, started) = AsyncStream<Void>.makeStream()
        let (app, _) = try await application(configuration, onServerRunning: { _ in started.yield() })
        let group = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "toolbridge.test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            for await _ in running { break }
            do {
                try await body()
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    private static func application(
        _ configuration: APIConfiguration, onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) async throws -> (some ApplicationProtocol, any ItemStore) {
        var logger = Logger(label: "toolbridge.test")
        logger.logLevel = .warning
        let storage = try await APIStorage.open(configuration, logger: logger)
        let verifier = try await TokenVerifier(configuration: configuration.auth, logger: logger)
        let app = APIServer.application(
            configuration: configuration, storage: storage,
            authenticator: Authenticator(configuration: configuration.auth, verifier: verifier), logger: logger,
            onServerRunning: onServerRunning)
        return (app, storage.store)
    }
}
