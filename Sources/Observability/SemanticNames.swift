/// The attribute names both the metrics and the spans use, from the OpenTelemetry semantic
/// conventions (HTTP, database, MCP, GenAI) where they name the thing, and ToolBridge's own
/// otherwise. Spans carry them as written; Prometheus labels drop the `toolbridge.` namespace and
/// replace the dots with underscores (`tenant`, `mcp_transport`, `http_route`).
public enum SemanticName {
    // HTTP
    public static let httpRequestMethod = "http.request.method"
    public static let httpRoute = "http.route"
    public static let httpResponseStatusCode = "http.response.status_code"
    public static let errorType = "error.type"
    public static let serverAddress = "server.address"
    public static let serverPort = "server.port"

    // MCP and the tools it calls
    public static let mcpMethodName = "mcp.method.name"
    public static let mcpProtocolVersion = "mcp.protocol.version"
    public static let mcpSessionID = "mcp.session.id"
    public static let jsonRPCRequestID = "jsonrpc.request.id"
    public static let rpcResponseStatusCode = "rpc.response.status_code"
    public static let networkTransport = "network.transport"
    public static let genAIToolName = "gen_ai.tool.name"
    public static let genAIOperationName = "gen_ai.operation.name"

    // Databases
    public static let dbSystemName = "db.system.name"
    public static let dbOperationName = "db.operation.name"

    // ToolBridge's own
    public static let mcpTransport = "toolbridge.mcp.transport"
    public static let mcpEra = "toolbridge.mcp.era"
    public static let plugin = "toolbridge.plugin"
    public static let tenant = "toolbridge.tenant"
    public static let outcome = "toolbridge.outcome"

    /// The Prometheus label for an attribute name.
    public static func label(_ name: String) -> String {
        let local = name.hasPrefix("toolbridge.") ? name.dropFirst("toolbridge.".count) : Substring(name)
        return String(local.map { $0 == "." ? "_" : $0 })
    }
}
