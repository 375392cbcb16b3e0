import API
import ArgumentParser
import Foundation
import Logging
import ServerSupport
import ToolBridgeAuth

@main
struct ToolBridge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "toolbridge",
        abstract: "Notes, tasks, comments and chats for LLM clients, through the Model Context Protocol.",
        subcommands: [
            APICommand.self, TokenCommand.self, DelegationKeyCommand.self, ServeCommand.self, MCPCommand.self, MigrateCommand.self, PluginsCommand.self, CallCommand.self, BenchCommand.self, AuditCommand.self,
            MembersCommand.self,
        ])
}

/// Options every command shares: where data lives and how loud the log is.
struct CommonOptions: ParsableArguments {
    @Option(help: "Directory for the SQLite file and the development secret (env TOOLBRIDGE_DATA_DIR).")
    var dataDir: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error (env TOOLBRIDGE_LOG_LEVEL).")
    var logLevel: String?

    /// `quiet` commands log only warnings unless a level is asked for.
    func settings(quiet: Bool = false) -> Settings {
        Settings.bootstrapLogging(level: logLevel ?? (quiet ? "warning" : nil))
        return Settings(dataDirectory: dataDir)
    }
}

struct APICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api", abstract: "Run the REST API (embedded SQLite unless DATABASE_URL is set).")

    @OptionGroup var common: CommonOptions

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one).")
    var port = 8081

    @Option(help: "Serve /metrics only on this port, not on the API port (env TOOLBRIDGE_METRICS_PORT; 0 picks a free one).")
    var metricsPort: Int?

    func run() async throws {
        let settings = common.settings()
        let logger = Logger(label: "toolbridge.api")
        var configuration = try settings.apiConfiguration(logger: logger, announce: true)
        configuration.host = host
        configuration.port = port
        let registry = try settings.metricsRegistry()
        configuration.metrics = registry.map(APIMetrics.init)
        configuration.metricsAccess = try settings.metricsAccess(port: metricsPort, variable: "TOOLBRIDGE_METRICS_PORT")
        configuration.limits = try settings.serverLimits(
            listeners: configuration.metricsAccess.port == nil ? 1 : 2, logger: logger)
        // Configuration errors first: an opened store must be run (and closed) by the server.
        let verifier = try await TokenVerifier(configuration: configuration.auth, logger: logger)
        let storage = try await APIStorage.open(configuration, logger: logger)
        let authenticator = Authenticator(configuration: configuration.auth, verifier: verifier)
        logger.info("storage: \(storage.name)")
        let address = (host: configuration.host, port: configuration.port)
        let app = APIServer.application(
            configuration: configuration, storage: storage, authenticator: authenticator, logger: logger,
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? address.port
                // Unbuffered: scripts and tests wait for this line to know the port.
                FileHandle.standardOutput.write(Data("toolbridge api listening on http://\(address.host):\(port)\n".utf8))
            })
        let metricsListener = settings.metricsListener(
            registry, access: configuration.metricsAccess, host: host, limits: configuration.limits, server: "api",
            logger: logger)
        let tracing = try settings.tracing(serviceName: "toolbridge-api", logger: logger)
        try await settings.serviceGroup(tracing + [app] + metricsListener, logger: logger).run()
    }
}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print an HS256 token signed with the configured secret (for development and tests).")

    @OptionGroup var common: CommonOptions

    @Option(help: "The user (sub claim).")
    var sub: String

    @Option(help: "A tenant the user belongs to; repeat for several.")
    var tenant: [String] = []

    @Option(help: "Lifetime in seconds.")
    var ttl: Int64 = 3600

    @Option(help: "An audience (aud claim), e.g. the host's TOOLBRIDGE_MCP_AUDIENCE; repeat for several (default: TOOLBRIDGE_JWT_AUDIENCE).")
    var audience: [String] = []

    func run() async throws {
        let logger = Logger(label: "toolbridge.token")
        let configuration = try common.settings(quiet: true).apiConfiguration(logger: logger)
        let verifier = try await TokenVerifier(configuration: configuration.auth, logger: logger)
        print(try await verifier.issue(
            subject: sub, tenants: tenant.isEmpty ? nil : tenant, ttlSeconds: ttl, audience: audience.isEmpty ? nil : audience))
    }
}

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Create or upgrade the database schema, then exit.")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let logger = Logger(label: "toolbridge.migrate")
        let configuration = try common.settings().apiConfiguration(logger: logger)
        let storage = try await APIStorage.open(configuration, logger: logger)
        try await withRunningServices(storage.services) { try await storage.store.migrate() }
        print("\(storage.name) schema is up to date")
    }
}
