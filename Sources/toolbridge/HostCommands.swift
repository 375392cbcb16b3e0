import API
import ArgumentParser
import Foundation
import HTTPTypes
import Host
import Hummingbird
import Logging
import MCP
import Observability
import ServerSupport
import ServiceLifecycle
import ToolBridgeAuth

/// Options of the MCP Host shared by `serve` and `mcp`.
struct HostOptions: ParsableArguments {
    @Option(help: "Port of the MCP endpoints (0 picks a free one).")
    var mcpPort = 8001

    @Option(help: "The per-tenant plugin sets file, TOML (env TOOLBRIDGE_TENANTS); reloaded on change and SIGHUP.")
    var tenants: String?

    @Option(help: "A browser origin allowed besides localhost; repeatable (env TOOLBRIDGE_ALLOWED_ORIGINS, comma-separated).")
    var allowedOrigin: [String] = []

    @Option(help: "The host's external URL, as clients reach it (env TOOLBRIDGE_PUBLIC_URL); named in the OAuth protected-resource metadata.")
    var publicURL: String?

    @Option(help: "Serve the host's /metrics only on this port, not on the MCP port (env TOOLBRIDGE_MCP_METRICS_PORT; 0 picks a free one).")
    var mcpMetricsPort: Int?

    func metricsAccess(_ settings: Settings) throws -> MetricsAccess {
        try settings.metricsAccess(port: mcpMetricsPort, variable: "TOOLBRIDGE_MCP_METRICS_PORT")
    }

    func configuration(
        host: String, environment: [String: String], limits: HTTPServerLimits, metricsAccess: MetricsAccess
    ) -> HostConfiguration {
        let fromEnvironment = (environment["TOOLBRIDGE_ALLOWED_ORIGINS"] ?? "").split(separator: ",")
            .map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return HostConfiguration(
            host: host, port: mcpPort, allowedOrigins: fromEnvironment + allowedOrigin, limits: limits,
            publicURL: publicURL ?? environment["TOOLBRIDGE_PUBLIC_URL"].nonEmpty,
            replicaID: environment["TOOLBRIDGE_REPLICA_ID"].nonEmpty, metricsAccess: metricsAccess)
    }

    func tenantsPath(_ environment: [String: String]) -> String? {
        tenants ?? environment["TOOLBRIDGE_TENANTS"].nonEmpty
    }
}

/// The Host's parts, wired: plugins, runner, proxy, tenant sets, sessions, HTTP application.
/// The core plugins built beside the executable load once, at start (they are part of the
/// build); the operator's plugin directories are watched, so new files there load while it runs.
struct HostAssembly {
    let proxy: RESTProxy
    let audit: AuditTrail
    let runner: ToolRunner
    let catalog: ToolCatalog
    let sessions: MCPSessionRegistry
    let watcher: TenantConfigurationWatcher
    let pluginWatcher: PluginDirectoryWatcher
    let authenticator: Authenticator
    /// The host's own metrics; nil when they are off.
    let metrics: HostMetrics?

    /// `edgeAuth` verifies the clients' tokens (the host's audience); `delegation` signs the
    /// host's own credentials for the API.
    init(
        apiURL: String, edgeAuth: AuthConfiguration, delegation: DelegatedCredentials, tenantsPath: String?,
        plugins: PluginOptions, idleSessionTimeout: Duration, membershipCache: Duration,
        limits: MCPLimits, audit auditConfiguration: AuditConfiguration, metrics: HostMetrics?, logger: Logger
    ) async throws {
        self.metrics = metrics
        // Everything that can fail comes before the parts that must be shut down (the HTTP
        // client, the thread pool).
        let tenants = try TenantConfiguration(path: tenantsPath, logger: logger)
        let auditFile = try AuditLogFile(path: auditConfiguration.logPath)
        if edgeAuth.audience == nil, edgeAuth.jwtSecret != nil || edgeAuth.jwksURL != nil || edgeAuth.jwksFile != nil {
            logger.notice("the MCP edge checks no token audience: set TOOLBRIDGE_MCP_AUDIENCE (or TOOLBRIDGE_PUBLIC_URL) so only tokens issued for this host are accepted")
        }
        let verifier = try await TokenVerifier(configuration: edgeAuth, logger: logger)
        proxy = RESTProxy(
            configuration: ProxyConfiguration(apiURL: apiURL, tenantSecret: edgeAuth.tenantSecret), credentials: delegation,
            metrics: metrics, logger: logger)
        authenticator = Authenticator(
            configuration: edgeAuth, verifier: verifier,
            records: CachedMembershipRecords(
                APIMembershipRecords(proxy: proxy, lookupTenant: edgeAuth.defaultTenant), ttl: membershipCache))
        audit = AuditTrail(configuration: auditConfiguration, file: auditFile, proxy: proxy, logger: logger)
        let core = PluginLoader.load(directories: [], logger: logger)
        metrics?.pluginsLoaded(core)
        runner = ToolRunner(plugins: core.plugins, proxy: proxy, logger: logger)
        catalog = ToolCatalog(runner: runner, tenants: tenants, limits: limits, audit: audit, metrics: metrics)
        let sessions = MCPSessionRegistry(idleTimeout: idleSessionTimeout, metrics: metrics, logger: logger)
        self.sessions = sessions
        watcher = TenantConfigurationWatcher(configuration: tenants) { old, new in
            await sessions.configurationChanged(from: old, to: new)
        }
        pluginWatcher = PluginDirectoryWatcher(
            directories: plugins.allDirectories, runner: runner, metrics: metrics, logger: logger
        ) { added in
            await sessions.pluginsAdded(added, tenants: tenants.current)
        }
        pluginWatcher.scan()
        let loaded = runner.plugins
        if loaded.isEmpty {
            logger.warning("no plugin loaded, so no tools are offered yet: run `swift build` (it builds the core plugins), or add plugins to a --plugin-dir")
        }
        logger.info("host ready", metadata: ["plugins": "\(loaded.count)", "tools": "\(loaded.reduce(0) { $0 + $1.tools.count })"])
    }

    func application(_ configuration: HostConfiguration, logger: Logger, announce: @escaping @Sendable (Int) -> Void)
        -> some ApplicationProtocol
    {
        HostServer.application(
            configuration: configuration, catalog: catalog, authenticator: authenticator, sessions: sessions, proxy: proxy,
            logger: logger, onServerRunning: { channel in announce(channel.localAddress?.port ?? configuration.port) })
    }

    /// In start order; a service group stops them in reverse, so the plugin watcher stops loading
    /// before the runner shuts down, and the audit trail flushes after the last call ended and
    /// before the proxy it sends through closes.
    var services: [any Service] { [proxy, audit, runner, sessions, watcher, pluginWatcher] }
}

/// Writes a line to stdout at once: scripts and tests wait for these lines.
func announce(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the API and the MCP Host in one process (embedded SQLite unless DATABASE_URL is set).")

    @OptionGroup var common: CommonOptions
    @OptionGroup var plugins: PluginOptions
    @OptionGroup var host: HostOptions

    @Option(help: "Address to listen on.")
    var listen = "127.0.0.1"

    @Option(help: "Port of the REST API (0 picks a free one).")
    var apiPort = 8081

    @Option(help: "Serve the API's /metrics only on this port, not on the API port (env TOOLBRIDGE_METRICS_PORT; 0 picks a free one).")
    var metricsPort: Int?

    func run() async throws {
        let settings = common.settings()
        let logger = Logger(label: "toolbridge.serve")
        var configuration = try settings.apiConfiguration(logger: logger, announce: true)
        let developmentMode = settings.usesDevelopmentSecret
        configuration.host = listen
        configuration.port = apiPort == 0 ? try freeLoopbackPort() : apiPort
        // The API and the host count apart, so neither /metrics includes the other's work.
        let apiRegistry = try settings.metricsRegistry()
        let hostRegistry = try settings.metricsRegistry()
        configuration.metrics = apiRegistry.map(APIMetrics.init)
        configuration.metricsAccess = try settings.metricsAccess(port: metricsPort, variable: "TOOLBRIDGE_METRICS_PORT")
        let hostMetricsAccess = try host.metricsAccess(settings)
        let metricsPorts = [configuration.metricsAccess, hostMetricsAccess].filter { $0.port != nil }.count
        configuration.limits = try settings.serverLimits(listeners: 2 + metricsPorts, logger: logger)
        let apiURL = "http://\(listen == "0.0.0.0" ? "127.0.0.1" : listen):\(configuration.port)"

        // The host's delegated credentials: unless configured, a secret only this process knows.
        let delegationKey = try settings.delegationKey(processSecret: .randomSecret())
        switch delegationKey {
        case .secret(let secret) where configuration.auth.delegation.secret == nil:
            configuration.auth.delegation.secret = secret
        case .ecdsa where configuration.auth.delegation.jwksFile == nil && configuration.auth.delegation.jwksURL == nil:
            throw ConfigurationError(
                "TOOLBRIDGE_DELEGATION_KEY is set, so the API needs its public key: set TOOLBRIDGE_DELEGATION_JWKS_FILE (see `toolbridge delegation-key`)")
        default: break
        }
        let hostConfiguration = host.configuration(
            host: listen, environment: settings.environment, limits: configuration.limits, metricsAccess: hostMetricsAccess)

        // Configuration errors first: an opened store must be run (and closed) by the server.
        let authenticator = Authenticator(
            configuration: configuration.auth,
            verifier: try await TokenVerifier(configuration: configuration.auth, logger: logger))
        let parts = try await HostAssembly(
            apiURL: apiURL, edgeAuth: settings.edgeAuth(configuration.auth, publicURL: hostConfiguration.publicURL),
            delegation: try await DelegatedCredentials(
                key: delegationKey, actor: settings.hostActor, userSecret: configuration.auth.jwtSecret),
            tenantsPath: host.tenantsPath(settings.environment),
            plugins: plugins, idleSessionTimeout: try settings.idleSessionTimeout(),
            membershipCache: .seconds(configuration.membershipCacheSeconds), limits: try settings.mcpLimits(),
            audit: settings.auditConfiguration(), metrics: hostRegistry.map(HostMetrics.init),
            logger: logger)
        let storage = try await APIStorage.open(configuration, logger: logger)
        let api = APIServer.application(
            configuration: configuration, storage: storage, authenticator: authenticator, logger: logger,
            onServerRunning: { channel in announce("toolbridge api listening on \(apiURL)") })
        let token = developmentMode
            ? try await authenticator.verifier.issue(subject: "developer", tenants: nil, ttlSeconds: 30 * 86_400) : nil
        let listen = listen
        let mcp = parts.application(hostConfiguration, logger: logger) { port in
            announce("toolbridge mcp listening on http://\(listen):\(port)")
            if let token {
                announce(ClientInstructions(
                    mcpURL: "http://\(listen):\(port)", apiURL: apiURL, token: token, command: ClientInstructions.runningExecutable
                ).text)
            }
        }
        let metricsListeners =
            settings.metricsListener(
                apiRegistry, access: configuration.metricsAccess, host: listen, limits: configuration.limits, server: "api",
                logger: logger)
            + settings.metricsListener(
                hostRegistry, access: hostMetricsAccess, host: listen, limits: configuration.limits, server: "mcp",
                logger: logger)
        // The API application runs the storage's services (the PostgreSQL pool) itself.
        let tracing = try settings.tracing(serviceName: "toolbridge", logger: logger)
        try await settings.serviceGroup(tracing + [api] + parts.services + [mcp] + metricsListeners, logger: logger).run()
    }
}

struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp", abstract: "Run the MCP Host alone, in front of a running API (HTTP, or --stdio).")

    @OptionGroup var common: CommonOptions
    @OptionGroup var plugins: PluginOptions
    @OptionGroup var host: HostOptions

    @Option(help: "Address to listen on.")
    var listen = "127.0.0.1"

    @Option(help: "The API's base URL (env TOOLBRIDGE_API_URL).")
    var apiURL: String?

    @Flag(help: "Speak MCP on stdin/stdout for one client, as TOOLBRIDGE_TOKEN's user.")
    var stdio = false

    @Option(help: "For --stdio: the bearer token to act with (env TOOLBRIDGE_TOKEN).")
    var token: String?

    @Option(help: "For --stdio: the tenant to act in, when the token names several.")
    var tenant: String?

    func run() async throws {
        let settings = common.settings(quiet: stdio)
        let logger = Logger(label: "toolbridge.mcp")
        let configuration = try settings.apiConfiguration(logger: logger, announce: !stdio)
        let apiURL = settings.apiURL(flag: apiURL)
        let listen = listen
        let registry = try settings.metricsRegistry()
        let metricsAccess = try host.metricsAccess(settings)
        let hostConfiguration = host.configuration(
            host: listen, environment: settings.environment,
            limits: try settings.serverLimits(listeners: metricsAccess.port == nil ? 1 : 2, logger: logger),
            metricsAccess: metricsAccess)
        let parts = try await HostAssembly(
            apiURL: apiURL, edgeAuth: settings.edgeAuth(configuration.auth, publicURL: hostConfiguration.publicURL),
            delegation: try await DelegatedCredentials(
                key: try settings.delegationKey(), actor: settings.hostActor, userSecret: configuration.auth.jwtSecret),
            tenantsPath: host.tenantsPath(settings.environment),
            plugins: plugins, idleSessionTimeout: try settings.idleSessionTimeout(),
            membershipCache: .seconds(configuration.membershipCacheSeconds), limits: try settings.mcpLimits(),
            audit: settings.auditConfiguration(), metrics: registry.map(HostMetrics.init), logger: logger)
        let metricsListener = settings.metricsListener(
            registry, access: metricsAccess, host: listen, limits: hostConfiguration.limits, server: "mcp", logger: logger)
        if stdio {
            try await runStdio(parts, extra: metricsListener, settings: settings, logger: logger)
            return
        }
        let mcp = parts.application(hostConfiguration, logger: logger) { port in
            announce("toolbridge mcp listening on http://\(listen):\(port)")
        }
        let tracing = try settings.tracing(serviceName: "toolbridge-host", logger: logger)
        try await settings.serviceGroup(tracing + parts.services + [mcp] + metricsListener, logger: logger).run()
    }

    /// One session on stdin/stdout, as the user of the configured token; ends when stdin closes.
    private func runStdio(_ parts: HostAssembly, extra: [any Service], settings: Settings, logger: Logger) async throws {
        guard let token = token ?? settings.environment["TOOLBRIDGE_TOKEN"].nonEmpty else {
            throw ValidationError("--stdio needs a token: pass --token or set TOOLBRIDGE_TOKEN")
        }
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(token)"
        if let tenant { headers[.tenantID] = tenant }
        let caller: Caller
        switch await parts.caller(headers) {
        case .success(let resolved): caller = resolved
        case .failure(let error): throw ValidationError("the token was refused: \(error.message)")
        }
        let identity = CallIdentity(user: caller.user, tenant: caller.tenant, correlationID: "stdio")
        let session = StdioSession(catalog: parts.catalog, identity: identity, sessions: parts.sessions, logger: logger)
        let tracing = try settings.tracing(serviceName: "toolbridge-host", logger: logger)
        try await settings.serviceGroup(tracing + parts.services + extra, endingWith: session, logger: logger).run()
    }
}

extension HostAssembly {
    func caller(_ headers: HTTPFields) async -> Result<Caller, AuthError> {
        do {
            return .success(try await authenticator.edgeCaller(headers))
        } catch {
            return .failure(error)
        }
    }

}

/// What `serve` prints in development mode: a token and copy-paste client configuration.
struct ClientInstructions {
    let mcpURL: String
    let apiURL: String
    let token: String
    /// The executable a desktop client starts for stdio: an absolute path, since after
    /// `scripts/serve` (`.build/debug/toolbridge`) `toolbridge` is not on the PATH.
    let command: String

    /// The absolute path of the running executable.
    static var runningExecutable: String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        return URL(fileURLWithPath: CommandLine.arguments.first ?? "toolbridge").standardizedFileURL.path
    }

    var text: String {
        """

        Development token (user "developer", valid 30 days; signed with the development secret):
          \(token)

        Connect an MCP client:
          Streamable HTTP  \(mcpURL)/mcp   header  Authorization: Bearer <token>
          SSE              \(mcpURL)/sse   header  Authorization: Bearer <token>
          stdio            TOOLBRIDGE_TOKEN=<token> \(command) mcp --stdio --api-url \(apiURL)

        Claude Desktop (claude_desktop_config.json):
          {"mcpServers": {"toolbridge": {"command": \(JSONValue.string(command).serialized), "args": ["mcp", "--stdio", "--api-url", "\(apiURL)"],
                                          "env": {"TOOLBRIDGE_TOKEN": "\(token)"}}}}
        VS Code (.vscode/mcp.json):
          {"servers": {"toolbridge": {"type": "http", "url": "\(mcpURL)/mcp",
                                       "headers": {"Authorization": "Bearer \(token)"}}}}

        """
    }
}
