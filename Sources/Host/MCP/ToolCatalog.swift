import Foundation
import MCP
import PluginABI
import ServerSupport
import Synchronization
import ToolBridgeJSON

/// The tools a session may see and call: the loaded plugins' tools, filtered by the session
/// tenant's enabled plugins, converted into the MCP SDK's types once per plugin.
public final class ToolCatalog: Sendable {
    public let runner: ToolRunner
    public let tenants: TenantConfiguration
    /// Where every call is recorded; nil records nothing (tests that do not look at it).
    public let audit: AuditTrail?
    public let limits: EdgeLimits
    /// Counts each call beside its audit record; nil when metrics are off.
    public let metrics: HostMetrics?
    /// The converted tools of the runner's first plugins, one entry each. The runner only appends
    /// plugins, so when it has more, only the new ones are converted; other requests reuse the list.
    private let converted = Mutex<[ConvertedPlugin]>([])

    /// One plugin's tools as the SDK's type (handshake era) and as JSON (2026-07-28 era), from one conversion.
    private struct ConvertedPlugin {
        let plugin: String
        let tools: [MCP.Tool]
        let json: [(name: String, value: JSONValue)]
    }

    public init(
        runner: ToolRunner, tenants: TenantConfiguration, limits: MCPLimits = .defaults, audit: AuditTrail? = nil,
        metrics: HostMetrics? = nil
    ) {
        self.runner = runner
        self.tenants = tenants
        self.limits = EdgeLimits(defaults: limits, tenants: tenants, metrics: metrics)
        self.audit = audit
        self.metrics = metrics
    }

    /// The tools of `tenant`'s enabled plugins, in plugin load order.
    public func tools(for tenant: String) -> [MCP.Tool] {
        let configuration = tenants.current
        return currentTools().filter { configuration.allows(plugin: $0.plugin, tenant: tenant) }.flatMap(\.tools)
    }

    /// The same tools as JSON, ordered by name: the order is then the same on every replica
    /// whatever order plugins were loaded in, so clients and prompt caches see one stable list.
    public func toolsJSON(for tenant: String) -> [JSONValue] {
        let configuration = tenants.current
        return currentTools().filter { configuration.allows(plugin: $0.plugin, tenant: tenant) }.flatMap(\.json)
            .sorted { $0.name < $1.name }.map(\.value)
    }

    public func allows(tool name: String, tenant: String) -> Bool {
        guard let plugin = runner.plugin(ofTool: name) else { return false }
        return tenants.current.allows(plugin: plugin.name, tenant: tenant)
    }

    /// Runs `tool` for `caller` and returns the JSON-RPC `result` of the call, or nil when the
    /// caller's tenant may not use the tool. Both eras answer `tools/call` through this, so the
    /// audit trail records every call here, refused ones too; a call over a rate limit is an error
    /// result naming the limit and when to retry.
    func call(_ tool: String, arguments: JSONValue, as caller: CallIdentity) async -> JSONValue? {
        let started = AuditTrail.Start.now
        let clock = ContinuousClock.now
        let plugin = runner.plugin(ofTool: tool)?.name
        guard let plugin, tenants.current.allows(plugin: plugin, tenant: caller.tenant) else {
            audit?.record(
                tool: tool, plugin: plugin, caller: caller, arguments: arguments, outcome: .denied, apiStatus: nil,
                started: started)
            metrics?.toolCall(tool: tool, plugin: plugin, tenant: caller.tenant, outcome: .denied, since: clock)
            return nil
        }
        if let refused = limits.refusal(tool: tool, readOnly: isReadOnly(tool), as: caller) {
            audit?.record(
                tool: tool, plugin: plugin, caller: caller, arguments: arguments, outcome: .rateLimited, apiStatus: nil,
                started: started)
            metrics?.toolCall(tool: tool, plugin: plugin, tenant: caller.tenant, outcome: .rateLimited, since: clock)
            return Self.resultJSON(refused)
        }
        let outcome = await runner.call(tool, arguments: arguments, identity: caller)
        audit?.record(
            tool: tool, plugin: plugin, caller: caller, arguments: arguments, outcome: outcome.isError ? .error : .ok,
            apiStatus: outcome.apiStatus, started: started)
        metrics?.toolCall(
            tool: tool, plugin: plugin, tenant: caller.tenant, outcome: outcome.isError ? .error : .ok, since: clock)
        return Self.resultJSON(outcome)
    }

    /// A tool name as a metric label: the name of a loaded tool, else `_OTHER` (clients may send any name).
    func toolLabel(_ tool: String) -> String {
        tool.isEmpty || runner.plugin(ofTool: tool) != nil ? tool : HostMetrics.other
    }

    /// Whether the tool says it only reads (`readOnlyHint: true`); read tools have their own limit.
    private func isReadOnly(_ tool: String) -> Bool {
        let definition = runner.plugin(ofTool: tool)?.tools.first { $0.name == tool }?.definition
        return definition?["annotations"]?["readOnlyHint"]?.boolValue == true
    }

    private func currentTools() -> [ConvertedPlugin] {
        let plugins = runner.plugins
        return converted.withLock { converted in
            if converted.count < plugins.count {
                converted += plugins[converted.count...].map { plugin in
                    let tools = plugin.tools.map(Self.mcpTool)
                    return ConvertedPlugin(plugin: plugin.name, tools: tools, json: tools.map { ($0.name, Self.json($0)) })
                }
            }
            return converted
        }
    }

    /// A tool's wire JSON, from the SDK's own encoding so both eras describe a tool identically.
    private static func json(_ tool: MCP.Tool) -> JSONValue {
        guard let data = try? JSONEncoder().encode(tool), let value = try? JSONValue.parse(data) else {
            return ["name": .string(tool.name), "inputSchema": ["type": "object"]]
        }
        return value
    }

    private static func mcpTool(_ definition: ToolDefinition) -> MCP.Tool {
        let json = definition.definition
        let hints = json["annotations"]
        return MCP.Tool(
            name: definition.name, title: definition.title, description: definition.description,
            inputSchema: (json["inputSchema"] ?? [:]).mcpValue,
            annotations: .init(
                title: hints?["title"]?.stringValue ?? definition.title,
                readOnlyHint: hints?["readOnlyHint"]?.boolValue, destructiveHint: hints?["destructiveHint"]?.boolValue,
                idempotentHint: hints?["idempotentHint"]?.boolValue, openWorldHint: hints?["openWorldHint"]?.boolValue),
            outputSchema: json["outputSchema"]?.mcpValue)
    }

    /// A tool outcome as an MCP `CallToolResult`: the result as `structuredContent` plus its JSON
    /// as text; a failure as an `isError` result whose text is the sentence (with the API's
    /// status), and whose `_meta[errorKey]` says the same for programs: the ABI status by name
    /// and number, the API's HTTP status when the failure came from the API, and the sentence.
    static func resultJSON(_ outcome: ToolOutcome) -> JSONValue {
        guard outcome.isError else {
            return [
                "content": [["type": "text", "text": .string(outcome.value.serialized)]],
                "structuredContent": outcome.value,
            ]
        }
        let message = outcome.message ?? "the tool failed"
        var text = message
        var error: JSONObject = [
            "status": .string(statusNames[outcome.status] ?? "internal"), "code": .integer(Int64(outcome.status)),
            "message": .string(message),
        ]
        if let status = outcome.value["status"]?.int64Value {
            text += " (HTTP \(status))"
            error["httpStatus"] = .integer(status)
        }
        return ["content": [["type": "text", "text": .string(text)]], "isError": true, "_meta": [errorKey: .object(error)]]
    }

    /// The `_meta` key of a failed call's structured error.
    static let errorKey = "toolbridge/error"

    /// The ABI's statuses by the names the structured error gives them.
    private static let statusNames: [Int32: String] = [
        TB_TOOL_ERROR: "tool_error", TB_INVALID_ARGUMENT: "invalid_argument", TB_UNKNOWN_TOOL: "unknown_tool",
        TB_UNIMPLEMENTED: "unimplemented", TB_CANCELLED: "cancelled", TB_DEADLINE_EXCEEDED: "deadline_exceeded",
        TB_UNAVAILABLE: "unavailable", TB_INTERNAL: "internal",
    ]
}

extension JSONValue {
    /// The SDK's value type. Numbers become integers when they are whole and fit, else doubles.
    var mcpValue: MCP.Value {
        switch self {
        case .null: .null
        case .bool(let value): .bool(value)
        case .number(let text): Int(text).map(MCP.Value.int) ?? .double(Double(text) ?? 0)
        case .string(let value): .string(value)
        case .array(let values): .array(values.map(\.mcpValue))
        case .object(let object): .object(Dictionary(uniqueKeysWithValues: object.map { ($0.key, $0.value.mcpValue) }))
        }
    }
}
