import Foundation
import Observability
import ServerSupport

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
    /// The host's external URL (`https://mcp.example.com`), named in the protected-resource
    /// metadata and `WWW-Authenticate`; nil uses each request's `Host` header.
    public var publicURL: String?
    /// This replica's name (`TOOLBRIDGE_REPLICA_ID`), the prefix of the session ids it mints
    /// (`a.3f2…`), so a load balancer can send a handshake-era session back to the replica
    /// that holds it. Modern requests need no such routing.
    public var replicaID: String?
    /// Where the host's `/metrics` is served (the main port unless `port` is set) and its token.
    /// The metrics themselves are the catalog's (`ToolCatalog.metrics`).
    public var metricsAccess: MetricsAccess

    public init(
        host: String = "127.0.0.1", port: Int = 8001, maxBodyBytes: Int = 4 * 1024 * 1024,
        keepAliveInterval: Duration = .seconds(15),
        allowedOrigins: [String] = [], limits: HTTPServerLimits = .init(), publicURL: String? = nil,
        replicaID: String? = nil, metricsAccess: MetricsAccess = .init()
    ) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.keepAliveInterval = keepAliveInterval
        self.allowedOrigins = allowedOrigins
        self.limits = limits
        self.publicURL = publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.replicaID = replicaID
        self.metricsAccess = metricsAccess
    }

    /// A new session id, prefixed with the replica's name when it has one.
    func newSessionID() -> String {
        let id = UUID().uuidString.lowercased()
        return replicaID.map { "\($0).\(id)" } ?? id
    }
}
