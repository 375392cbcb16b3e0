import ServerSupport

/// The rate limits of the MCP edge, by name. The same names are the keys of the tenants file's
/// `[limits]` tables; `environmentVariable` sets the process-wide default.
public enum MCPLimitName: String, Sendable, CaseIterable {
    /// Every authenticated HTTP request to the MCP endpoints, per user.
    case requests
    /// `tools/call` per user, over all tools.
    case userCalls = "user_calls"
    /// `tools/call` per tenant, over all its users and tools.
    case tenantCalls = "tenant_calls"
    /// `tools/call` per user and tool, for tools not marked `readOnlyHint: true`.
    case writeCalls = "write_calls"
    /// `tools/call` per user and tool, for tools marked `readOnlyHint: true`.
    case readCalls = "read_calls"

    public var environmentVariable: String {
        switch self {
        case .requests: "TOOLBRIDGE_MCP_REQUEST_LIMIT"
        case .userCalls: "TOOLBRIDGE_MCP_USER_CALL_LIMIT"
        case .tenantCalls: "TOOLBRIDGE_MCP_TENANT_CALL_LIMIT"
        case .writeCalls: "TOOLBRIDGE_MCP_WRITE_CALL_LIMIT"
        case .readCalls: "TOOLBRIDGE_MCP_READ_CALL_LIMIT"
        }
    }
}

/// A set of MCP edge limits: the process's defaults (every name set), or the overrides of the
/// tenants file (only the names it sets), plus limits of named tools (per user and tool).
public struct MCPLimits: Sendable, Equatable {
    public var values: [MCPLimitName: RateLimit]
    public var tools: [String: RateLimit]

    public init(values: [MCPLimitName: RateLimit] = [:], tools: [String: RateLimit] = [:]) {
        self.values = values
        self.tools = tools
    }

    /// The built-in defaults.
    public static let defaults = MCPLimits(values: [
        .requests: RateLimit(count: 1200, periodSeconds: 60, burst: 240),
        .userCalls: RateLimit(count: 600, periodSeconds: 60, burst: 120),
        .tenantCalls: RateLimit(count: 6000, periodSeconds: 60, burst: 1000),
        .writeCalls: RateLimit(count: 120, periodSeconds: 60, burst: 30),
        .readCalls: RateLimit(count: 600, periodSeconds: 60, burst: 120),
    ])
}
