import Observability
import ServerSupport
import ToolBridgeAuth

/// Everything the API needs to run. The CLI fills it from flags and `TOOLBRIDGE_*` variables.
public struct APIConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// `postgres://…` to use PostgreSQL; nil for the embedded SQLite file in `dataDirectory`.
    public var databaseURL: String?
    public var dataDirectory: String
    public var maxBodyBytes: Int
    public var sessionTTLSeconds: Int64
    /// PostgreSQL connections this process keeps open (a fixed-size pool).
    public var databaseConnections: Int
    /// Audit records older than this many days are deleted (at start and hourly).
    public var auditRetentionDays: Int64
    /// How long the API keeps a user's membership records before reading them again: the longest
    /// a change made by `toolbridge members` (another process) takes to apply.
    public var membershipCacheSeconds: Int64
    public var auth: AuthConfiguration
    public var limits: HTTPServerLimits
    /// Requests per user; see `APIRateLimits`.
    public var rateLimits: APIRateLimits
    /// The API's own metrics; nil when metrics are off (`TOOLBRIDGE_METRICS=off`).
    public var metrics: APIMetrics?
    /// Where `/metrics` is served (the main port unless `port` is set) and its token.
    public var metricsAccess: MetricsAccess

    public init(
        host: String = "127.0.0.1", port: Int = 8081, databaseURL: String? = nil, dataDirectory: String = ".",
        maxBodyBytes: Int = 10 * 1024 * 1024, sessionTTLSeconds: Int64 = 3600, databaseConnections: Int = 10,
        auditRetentionDays: Int64 = 90, membershipCacheSeconds: Int64 = 5, auth: AuthConfiguration = .init(), limits: HTTPServerLimits = .init(), rateLimits: APIRateLimits = .init(),
        metrics: APIMetrics? = nil, metricsAccess: MetricsAccess = .init()
    ) {
        self.host = host
        self.port = port
        self.databaseURL = databaseURL
        self.dataDirectory = dataDirectory
        self.maxBodyBytes = maxBodyBytes
        self.sessionTTLSeconds = sessionTTLSeconds
        self.databaseConnections = databaseConnections
        self.auditRetentionDays = auditRetentionDays
        self.membershipCacheSeconds = membershipCacheSeconds
        self.auth = auth
        self.limits = limits
        self.rateLimits = rateLimits
        self.metrics = metrics
        self.metricsAccess = metricsAccess
    }

    /// The SQLite file used when no `databaseURL` is set.
    public var sqlitePath: String { dataDirectory + "/toolbridge.sqlite" }
}
