import HTTPTypes
import PluginABI
import ServerSupport

/// The MCP edge's rate limits, per process (behind N replicas a user or tenant gets N times as
/// much unless the load balancer pins them): every authenticated HTTP request per user, and
/// `tools/call` per user, per tenant and per user and tool. The limits are the process's
/// defaults, overridden by the tenants file as it is now (it reloads live); a user's buckets are
/// shared across their tenants, under the limits of the tenant the request acts in.
public final class EdgeLimits: Sendable {
    let defaults: MCPLimits
    let tenants: TenantConfiguration
    let limiter: RateLimiter
    let metrics: HostMetrics?

    public init(
        defaults: MCPLimits = .defaults, tenants: TenantConfiguration, limiter: RateLimiter = RateLimiter(),
        metrics: HostMetrics? = nil
    ) {
        self.defaults = defaults
        self.tenants = tenants
        self.limiter = limiter
        self.metrics = metrics
    }

    /// Charges one HTTP request of `user` acting in `tenant`; over the limit, the 429.
    func admitRequest(user: String, tenant: String) throws(HostHTTPError) {
        let limit = limit(.requests, tenant: tenant, tenants.current)
        guard let decision = limiter.take("requests:" + user, limit), !decision.allowed else { return }
        metrics?.http.rateLimitRejected(limit: "mcp_requests", tenant: tenant)
        throw HostHTTPError(
            .tooManyRequests,
            "rate limit exceeded: \(limit) HTTP requests per user; retry in \(decision.retryAfterSeconds) s",
            headers: [.retryAfter: String(decision.retryAfterSeconds)], jsonRPCCode: -32000)
    }

    /// Charges one `tools/call` of `tool` to the caller's, the tenant's and the caller's per-tool
    /// limits, all or none: a call one limit refuses costs nothing under the others. Nil when the
    /// call may run; else the error result the client gets instead.
    func refusal(tool: String, readOnly: Bool, as caller: CallIdentity) -> ToolOutcome? {
        let file = tenants.current
        let user = limit(.userCalls, tenant: caller.tenant, file)
        let tenant = limit(.tenantCalls, tenant: caller.tenant, file)
        let perTool =
            file.limit(tool: tool, tenant: caller.tenant) ?? defaults.tools[tool]
            ?? limit(readOnly ? .readCalls : .writeCalls, tenant: caller.tenant, file)
        let decisions = limiter.take([
            (key: "calls:" + caller.user, limit: user),
            (key: "tenant:" + caller.tenant, limit: tenant),
            // The user's length first, so no user and tool pair can name another pair's bucket.
            (key: "tool:\(caller.user.utf8.count):" + caller.user + tool, limit: perTool),
        ])
        for (index, decision) in decisions.enumerated() {
            guard let decision, !decision.allowed else { continue }
            metrics?.http.rateLimitRejected(
                limit: ["mcp_user_calls", "mcp_tenant_calls", "mcp_tool_calls"][index], tenant: caller.tenant)
            let which = [
                "your tool calls (\(user) per user)", "the tool calls of tenant \(caller.tenant) (\(tenant) per tenant)",
                "your calls of \(tool) (\(perTool) per user)",
            ][index]
            return .failure(TB_UNAVAILABLE, "rate limited: \(which); retry in \(decision.retryAfterSeconds) s")
        }
        return nil
    }

    /// The limit `name` in `tenant`: the tenants file's, else the process's default.
    private func limit(_ name: MCPLimitName, tenant: String, _ file: TenantPlugins) -> RateLimit {
        file.limit(name, tenant: tenant) ?? defaults.values[name] ?? .off
    }
}
