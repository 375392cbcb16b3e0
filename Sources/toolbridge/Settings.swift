import API
import Host
import Hummingbird
import Logging
import Observability
import OTel
import ServerSupport
import ServiceLifecycle
import ToolBridgeAuth
import Tracing

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Reads configuration from the environment; the only place that does.
struct Settings {
    let environment: [String: String]
    let dataDirectory: String

    init(dataDirectory: String?, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
        self.dataDirectory = dataDirectory ?? environment["TOOLBRIDGE_DATA_DIR"].nonEmpty ?? "."
    }

    /// The API the host's proxy calls: the flag, else `TOOLBRIDGE_API_URL`, else the local default.
    func apiURL(flag: String?) -> String {
        flag ?? environment["TOOLBRIDGE_API_URL"].nonEmpty ?? "http://127.0.0.1:8081"
    }

    /// The host's audit trail: `TOOLBRIDGE_AUDIT_LOG`, else `audit.log` in the data directory.
    func auditConfiguration() -> AuditConfiguration {
        AuditConfiguration(
            logPath: environment["TOOLBRIDGE_AUDIT_LOG"].nonEmpty ?? dataDirectory + "/audit.log",
            replicaID: environment["TOOLBRIDGE_REPLICA_ID"].nonEmpty)
    }

    /// How long a Streamable HTTP session may stay unused before the host closes it.
    func idleSessionTimeout() throws -> Duration {
        try integer("TOOLBRIDGE_MCP_IDLE_TIMEOUT").map { .seconds($0) } ?? MCPSessionRegistry.defaultIdleTimeout
    }

    /// A server's own metrics registry, or nil when `TOOLBRIDGE_METRICS=off`. Whether tenants are
    /// labels (`TOOLBRIDGE_METRICS_TENANT_LABELS`) is decided here, once.
    func metricsRegistry() throws -> MetricsRegistry? {
        guard try isOn("TOOLBRIDGE_METRICS") else { return nil }
        return MetricsRegistry(tenantLabels: try isOn("TOOLBRIDGE_METRICS_TENANT_LABELS"))
    }

    /// Where a server's `/metrics` is served: its own port from `flag`, else `variable`; the token
    /// from `TOOLBRIDGE_METRICS_TOKEN`.
    func metricsAccess(port flag: Int?, variable: String) throws -> MetricsAccess {
        var port = flag
        if port == nil, let text = environment[variable].nonEmpty {
            guard let value = Int(text), (0...65_535).contains(value) else {
                throw ConfigurationError("\(variable) must be a port number, not '\(text)'")
            }
            port = value
        }
        return MetricsAccess(port: port, token: environment["TOOLBRIDGE_METRICS_TOKEN"].nonEmpty)
    }

    /// The extra listener that serves only `/metrics`, when `access` names a port: a service of the
    /// group, under the same connection limits as the other listeners.
    func metricsListener(
        _ registry: MetricsRegistry?, access: MetricsAccess, host: String, limits: HTTPServerLimits, server name: String,
        logger: Logger
    ) -> [any Service] {
        guard let registry, let port = access.port else { return [] }
        let router = Router()
        MetricsEndpoint(registry: registry, token: access.token).register(on: router)
        return [Application(
            router: router, server: limits.server(),
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                announce("toolbridge \(name) metrics listening on http://\(host):\(channel.localAddress?.port ?? port)")
            },
            logger: logger)]
    }

    /// `on` (the default), or `off`; anything else is a mistake worth stopping for.
    private func isOn(_ name: String) throws -> Bool {
        switch environment[name].nonEmpty?.lowercased() {
        case nil, "on", "true", "1": return true
        case "off", "false", "0": return false
        case let other?: throw ConfigurationError("\(name) must be on or off, not '\(other)'")
        }
    }

    /// The connection limits of every HTTP listener, fitted to the process's open-file limit for
    /// `listeners` listeners.
    func serverLimits(listeners: Int, logger: Logger) throws -> HTTPServerLimits {
        var limits = HTTPServerLimits()
        if let seconds = try integer("TOOLBRIDGE_HTTP_IDLE_TIMEOUT") { limits.idleTimeout = .seconds(seconds) }
        if let count = try integer("TOOLBRIDGE_MAX_CONNECTIONS") { limits.maxConnections = Int(count) }
        if let count = try integer("TOOLBRIDGE_MAX_REQUESTS_PER_CONNECTION") { limits.maxRequestsPerConnection = Int(count) }
        return limits.fitted(toListeners: listeners, logger: logger)
    }

    /// The servers' group: SIGTERM and SIGINT start a graceful shutdown (stop accepting, finish
    /// in-flight requests, end streams); past `TOOLBRIDGE_SHUTDOWN_GRACE` seconds (default 10)
    /// whatever still runs is cancelled. When `final` ends by itself (a stdio session whose
    /// client closed stdin), the others are shut down gracefully too.
    func serviceGroup(_ services: [any Service], endingWith final: (any Service)? = nil, logger: Logger) throws
        -> ServiceGroup
    {
        var configuration = ServiceGroupConfiguration(
            services: services.map { .init(service: $0) }
                + (final.map { [.init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup)] } ?? []),
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(try integer("TOOLBRIDGE_SHUTDOWN_GRACE") ?? 10)
        return ServiceGroup(configuration: configuration)
    }

    /// True when no JWT secret or JWKS is configured, so the development secret signs tokens.
    var usesDevelopmentSecret: Bool {
        ["TOOLBRIDGE_JWT_SECRET", "TOOLBRIDGE_JWKS_URL", "TOOLBRIDGE_JWKS_FILE"].allSatisfy { environment[$0].nonEmpty == nil }
    }

    /// Logs go to stderr; while tracing is on, every line written under a span carries its
    /// `trace_id` and `span_id` (swift-otel's metadata provider reads the current span).
    static func bootstrapLogging(level: String?) {
        let environment = ProcessInfo.processInfo.environment
        let name = level ?? environment["TOOLBRIDGE_LOG_LEVEL"] ?? "info"
        let logLevel = Logger.Level(rawValue: name.lowercased()) ?? .info
        let spanIDs = tracingConfigured(environment) ? OTel.makeLoggingMetadataProvider() : nil
        LoggingSystem.bootstrap(
            { label, metadataProvider in
                var handler = StreamLogHandler.standardError(label: label, metadataProvider: metadataProvider)
                handler.logLevel = logLevel
                return handler
            }, metadataProvider: spanIDs)
    }

    /// Tracing is on when an OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT` or
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), unless `OTEL_TRACES_EXPORTER=none` or
    /// `OTEL_SDK_DISABLED=true`.
    static func tracingConfigured(_ environment: [String: String]) -> Bool {
        let endpoint = environment["OTEL_EXPORTER_OTLP_ENDPOINT"].nonEmpty ?? environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"].nonEmpty
        return endpoint != nil && environment["OTEL_TRACES_EXPORTER"]?.lowercased() != "none"
            && environment["OTEL_SDK_DISABLED"]?.lowercased() != "true"
    }

    /// When tracing is configured: bootstraps the tracer (OTLP over HTTP/protobuf, traces only)
    /// and returns its service, to be first in the service group so that it stops last and
    /// flushes the spans of requests that ended during shutdown. swift-otel reads the other
    /// `OTEL_*` variables itself (service name over `serviceName`, sampler, batch delay, headers).
    func tracing(serviceName: String, logger: Logger) throws -> [any Service] {
        guard Self.tracingConfigured(environment) else { return [] }
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        configuration.diagnosticLogger = .custom(logger)
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        InstrumentationSystem.bootstrap(backend.factory)
        logger.info("tracing on: spans go to the OTLP endpoint")
        return [backend.service]
    }

    func integer(_ name: String) throws -> Int64? {
        guard let text = environment[name].nonEmpty else { return nil }
        guard let value = Int64(text), value > 0 else {
            throw ConfigurationError("\(name) must be a positive whole number, not '\(text)'")
        }
        return value
    }

    /// The API's configuration. Servers pass `announce` so that development defaults are logged
    /// loudly; client commands (`token`, `call`) stay quiet.
    func apiConfiguration(logger: Logger, announce: Bool = false) throws -> APIConfiguration {
        var auth = AuthConfiguration(
            jwtSecret: environment["TOOLBRIDGE_JWT_SECRET"].nonEmpty,
            jwksURL: environment["TOOLBRIDGE_JWKS_URL"].nonEmpty,
            jwksFile: environment["TOOLBRIDGE_JWKS_FILE"].nonEmpty,
            issuer: environment["TOOLBRIDGE_JWT_ISSUER"].nonEmpty,
            audience: environment["TOOLBRIDGE_JWT_AUDIENCE"].nonEmpty,
            delegation: DelegationTrust(
                secret: environment["TOOLBRIDGE_DELEGATION_SECRET"].nonEmpty,
                jwksURL: environment["TOOLBRIDGE_DELEGATION_JWKS_URL"].nonEmpty,
                jwksFile: environment["TOOLBRIDGE_DELEGATION_JWKS_FILE"].nonEmpty),
            tenantSecret: environment["TOOLBRIDGE_TENANT_SECRET"].nonEmpty,
            tenantClaim: environment["TOOLBRIDGE_TENANT_CLAIM"].nonEmpty ?? "org_id",
            defaultTenant: environment["TOOLBRIDGE_DEFAULT_TENANT"].nonEmpty ?? "default")
        if auth.jwtSecret == nil, auth.jwksURL == nil, auth.jwksFile == nil {
            auth.jwtSecret = try DevelopmentSecret.loadOrCreate(dataDirectory: dataDirectory)
            if announce {
                logger.warning(
                "DEVELOPMENT MODE: no TOOLBRIDGE_JWT_SECRET or JWKS is set; tokens are signed with the secret in \(DevelopmentSecret.path(dataDirectory: dataDirectory)). Do not use this in production."
                )
            }
        }
        if usesDevelopmentSecret, auth.delegation.secret == nil {
            auth.delegation.secret = try DevelopmentSecret.loadOrCreate(
                dataDirectory: dataDirectory, name: "toolbridge-dev-delegation-secret")
        }
        if announce, auth.tenantSecret == nil {
            logger.warning(
                "TENANT HEADERS ARE NOT VERIFIED: TOOLBRIDGE_TENANT_SECRET is not set, so X-TB-Tenant-ID is accepted unsigned (membership is still checked)."
            )
        }
        var configuration = APIConfiguration(
            databaseURL: environment["DATABASE_URL"].nonEmpty, dataDirectory: dataDirectory, auth: auth)
        if let bytes = try integer("TOOLBRIDGE_MAX_BODY_BYTES") { configuration.maxBodyBytes = Int(bytes) }
        if let seconds = try integer("TOOLBRIDGE_SESSION_TTL") { configuration.sessionTTLSeconds = seconds }
        if let connections = try integer("TOOLBRIDGE_DB_CONNECTIONS") { configuration.databaseConnections = Int(connections) }
        if let days = try integer("TOOLBRIDGE_AUDIT_RETENTION_DAYS") { configuration.auditRetentionDays = days }
        if let seconds = try integer("TOOLBRIDGE_MEMBERSHIP_CACHE_SECONDS") { configuration.membershipCacheSeconds = seconds }
        configuration.rateLimits = APIRateLimits(
            requests: try rateLimit("TOOLBRIDGE_API_RATE_LIMIT", default: configuration.rateLimits.requests),
            sessions: try rateLimit("TOOLBRIDGE_API_SESSION_RATE_LIMIT", default: configuration.rateLimits.sessions))
        return configuration
    }

    /// The MCP edge's default rate limits: the built-in ones, each replaced by its variable.
    func mcpLimits() throws -> MCPLimits {
        var limits = MCPLimits.defaults
        for name in MCPLimitName.allCases {
            limits.values[name] = try rateLimit(name.environmentVariable, default: limits.values[name] ?? .off)
        }
        return limits
    }

    /// The limit in variable `name` (`600/60s burst 120` or `off`), else `fallback`.
    func rateLimit(_ name: String, default fallback: RateLimit) throws -> RateLimit {
        guard let text = environment[name].nonEmpty else { return fallback }
        do {
            return try RateLimit.parse(text)
        } catch {
            throw ConfigurationError("\(name): \(error)")
        }
    }
}

extension Settings {
    /// The host's authentication at the MCP edge: the users' keys as the API has them, but the
    /// audience is the host's own (`TOOLBRIDGE_MCP_AUDIENCE`, else its public URL; RFC 8707), and
    /// no delegated credential is accepted there.
    func edgeAuth(_ api: AuthConfiguration, publicURL: String?) -> AuthConfiguration {
        var edge = api
        edge.audience = environment["TOOLBRIDGE_MCP_AUDIENCE"].nonEmpty ?? publicURL
        edge.delegation = DelegationTrust()
        return edge
    }

    /// The name the host acts under in its delegated credentials (`act.sub`).
    var hostActor: String { environment["TOOLBRIDGE_REPLICA_ID"].nonEmpty ?? "toolbridge-host" }

    /// The key the host signs its delegated credentials with: `TOOLBRIDGE_DELEGATION_KEY` (a PEM
    /// P-256 private key file, ES256), else `TOOLBRIDGE_DELEGATION_SECRET` (HS256), else in
    /// development mode a secret kept in the data directory (so `mcp --stdio` can reach a `serve`
    /// of the same directory). `serve` passes `processSecret`: its host and API share a fresh
    /// random secret that never leaves the process. A host alone with none of these cannot be
    /// trusted by any API, so that is an error.
    func delegationKey(processSecret: DelegationKey? = nil) throws -> DelegationKey {
        if let path = environment["TOOLBRIDGE_DELEGATION_KEY"].nonEmpty {
            guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError("cannot read the delegation key file \(path)")
            }
            return try DelegationKey.privateKey(pem: pem)
        }
        if let secret = environment["TOOLBRIDGE_DELEGATION_SECRET"].nonEmpty { return .secret(secret) }
        if usesDevelopmentSecret {
            return .secret(try DevelopmentSecret.loadOrCreate(dataDirectory: dataDirectory, name: "toolbridge-dev-delegation-secret"))
        }
        if let processSecret { return processSecret }
        throw ConfigurationError(
            "the host needs a key for its delegated credentials to the API: set TOOLBRIDGE_DELEGATION_KEY (a PEM P-256 private key; the API trusts its public key through TOOLBRIDGE_DELEGATION_JWKS_FILE or _URL) or TOOLBRIDGE_DELEGATION_SECRET (the same on host and API); see docs/auth.md"
        )
    }
}

extension Optional where Wrapped == String {
    /// Unset and empty variables mean the same: not configured.
    var nonEmpty: String? {
        guard let self, !self.isEmpty else { return nil }
        return self
    }
}
