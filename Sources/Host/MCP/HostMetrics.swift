import MCP
import Metrics
import Observability
import ToolBridgeJSON

/// The host's metrics: the HTTP server's, every MCP request of both eras on every transport, tool
/// calls as the audit trail counts them, sessions and streams, the REST proxy's requests to the
/// API and plugin loads. Made once per host from its own registry; nil everywhere when metrics are off.
public final class HostMetrics: Sendable {
    public let http: HTTPServerMetrics
    private let operations: InstrumentFamily<Metrics.Timer>
    private let toolCalls: InstrumentFamily<Metrics.Timer>
    private let sessionDurations: InstrumentFamily<Metrics.Timer>
    let sessions: InstrumentFamily<Meter>
    private let streams: InstrumentFamily<Meter>
    private let clientRequests: InstrumentFamily<Metrics.Timer>
    private let pluginLoads: InstrumentFamily<Metrics.Counter>

    public var registry: MetricsRegistry { http.registry }

    /// `mcp.transport` values.
    enum Transport: String, Sendable, CaseIterable {
        case sse, streamableHTTP = "streamable_http", statelessHTTP = "stateless_http", stdio

        /// `network.transport`: HTTP rides on TCP, stdio on a pipe.
        var networkTransport: String { self == .stdio ? "pipe" : "tcp" }
    }

    /// `mcp.era` values.
    enum Era: String, Sendable {
        case handshake, stateless
    }

    /// `toolbridge.outcome` of a tool call, as the audit trail records it.
    enum ToolOutcomeLabel: String, Sendable {
        case ok, error, denied, rateLimited = "rate_limited"
    }

    /// The label of any value a client sent that is not one the host knows (a method, a version,
    /// a tool), so clients cannot create series.
    static let other = "_OTHER"

    /// The methods with a label of their own; any other is `_OTHER`.
    static let knownMethods: Set<String> = [
        "initialize", "ping", "tools/list", "tools/call", "server/discover", "subscriptions/listen",
        "resources/list", "resources/templates/list", "resources/read", "resources/subscribe", "resources/unsubscribe",
        "prompts/list", "prompts/get", "completion/complete", "logging/setLevel",
    ]

    static let knownVersions = Set(ModernProtocol.supportedVersions)

    public init(registry: MetricsRegistry) {
        http = HTTPServerMetrics(registry: registry)
        operations = registry.timers(
            "mcp_server_operation_duration_seconds",
            help: "Time to answer one JSON-RPC request (subscriptions/listen: the stream's life), both eras, every transport.",
            labels: [
                SemanticName.mcpMethodName, SemanticName.mcpProtocolVersion, SemanticName.mcpEra,
                SemanticName.mcpTransport, SemanticName.genAIToolName, SemanticName.errorType,
            ])
        toolCalls = registry.timers(
            "toolbridge_tool_call_duration_seconds",
            help: "Tool calls as the audit trail records them: time from the call's arrival at the catalog to its result.",
            labels: [SemanticName.genAIToolName, SemanticName.plugin, SemanticName.tenant, SemanticName.outcome])
        sessionDurations = registry.timers(
            "mcp_server_session_duration_seconds", help: "Life of a handshake-era session, recorded when it ends.",
            labels: [SemanticName.mcpProtocolVersion, SemanticName.mcpTransport])
        sessions = registry.gauges(
            "toolbridge_mcp_sessions", help: "Handshake-era sessions open now.", labels: [SemanticName.mcpTransport])
        streams = registry.gauges(
            "toolbridge_mcp_open_streams",
            help: "Server-to-client streams open now: SSE streams, Streamable HTTP GET streams, subscriptions/listen streams.",
            labels: [SemanticName.mcpTransport])
        clientRequests = registry.timers(
            "http_client_request_duration_seconds", help: "The REST proxy's requests to the API, until the whole answer is read.",
            labels: [SemanticName.httpRequestMethod, SemanticName.httpResponseStatusCode, SemanticName.errorType])
        pluginLoads = registry.counters(
            "toolbridge_plugin_loads_total", help: "Plugin files loaded or refused, at start and when added later.",
            labels: ["outcome", "reason"])
        // Every transport's stream gauge exists from the start, at 0, so dashboards and alerts see it.
        for transport in Transport.allCases { streams(transport.rawValue).set(0) }
    }

    /// One JSON-RPC request answered. `error` is the JSON-RPC error code, or `tool_error` for a
    /// tool result with `isError`; empty on success.
    func operation(
        method: String, version: String, era: Era, transport: Transport, tool: String, error: String,
        since started: ContinuousClock.Instant
    ) {
        let method = Self.knownMethods.contains(method) ? method : Self.other
        let version = version.isEmpty || Self.knownVersions.contains(version) ? version : Self.other
        operations(method, version, era.rawValue, transport.rawValue, method == "tools/call" ? tool : "", error)
            .record(duration: started.duration(to: .now))
    }

    /// The `error.type` of a JSON-RPC response: its error code, `tool_error` for an `isError`
    /// result, empty for success.
    static func errorType(of response: JSONValue) -> String {
        if let code = response["error"]?["code"]?.int64Value { return String(code) }
        return response["result"]?["isError"]?.boolValue == true ? "tool_error" : ""
    }

    func toolCall(tool: String, plugin: String?, tenant: String, outcome: ToolOutcomeLabel, since started: ContinuousClock.Instant) {
        toolCalls(plugin == nil ? Self.other : tool, plugin ?? "", tenant, outcome.rawValue)
            .record(duration: started.duration(to: .now))
    }

    func sessionEnded(version: String, transport: Transport, since started: ContinuousClock.Instant) {
        let version = Self.knownVersions.contains(version) ? version : Self.other
        sessionDurations(version, transport.rawValue).record(duration: started.duration(to: .now))
    }

    /// The gauge of open streams of `transport`: up when one opens, down when it ends.
    func openStreams(_ transport: Transport) -> Meter {
        streams(transport.rawValue)
    }

    func clientRequest(method: String, status: Int?, error: String, since started: ContinuousClock.Instant) {
        clientRequests(method, status.map { String($0) } ?? "", error).record(duration: started.duration(to: .now))
    }

    public func pluginsLoaded(_ report: PluginLoadReport) {
        if !report.plugins.isEmpty { pluginLoads("loaded", "").increment(by: report.plugins.count) }
        for refusal in report.refusals { pluginLoads("refused", refusal.cause.rawValue).increment() }
    }
}
