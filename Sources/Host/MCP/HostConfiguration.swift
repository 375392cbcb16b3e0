import API

/// How the Host's HTTP side runs. Filled by the CLI from flags and `TOOLBRIDGE_*` variables.
public struct HostConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The largest JSON-RPC message body accepted.
    public var maxBodyBytes: Int
    /// How often an idle SSE stream gets a keep-alive comment.
    public var keepAliveInterval: Duration
    /// Browser origins allowed besides localhost (`https://app.example`). Requests without an
    /// `Origin` header (non-browser clients) are always allowed.
    public var allowedOrigins: [String]
    public var limits: HTTPServerLimits

    public init(
        host: String = "127.0.0.1", port: Int = 8001, maxBodyBytes: Int = 4 * 1024 * 1024,
        keepAliveInterval: Duration = .seconds(15),
        allowedOrigins: [String] = [], limits: HTTPServerLimits = .init()
    ) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.keepAliveInterval = keepAliveInterval
        self.allowedOrigins = allowedOrigins
        self.limits = limits
    }
}
