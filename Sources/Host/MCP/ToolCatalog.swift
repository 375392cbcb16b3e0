import API
import MCP

/// The tools a session may see and call: the loaded plugins' tools, filtered by the session
/// tenant's enabled plugins, converted once into the MCP SDK's types.
public struct ToolCatalog: Sendable {
    public let runner: ToolRunner
    public let tenants: TenantConfiguration
    private let tools: [(plugin: String, tool: MCP.Tool)]

    public init(runner: ToolRunner, tenants: TenantConfiguration) {
        self.runner = runner
        self.tenants = tenants
        tools = runner.plugins.flatMap { plugin in plugin.tools.map { (plugin.name, Self.mcpTool($0)) } }
    }

    /// The tools of `tenant`'s enabled plugins, in plugin load order.
    public func tools(for tenant: String) -> [MCP.Tool] {
        let configuration = tenants.current
        return tools.filter { configuration.allows(plugin: $0.plugin, tenant: tenant) }.map(\.tool)
    }

    public func allows(tool name: String, tenant: String) -> Bool {
        guard let plugin = runner.plugin(ofTool: name) else { return false }
        return tenants.current.allows(plugin: plugin.name, tenant: tenant)
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
    /// as text; a failure as an `isError` result whose text is the sentence (with the API's status).
    static func resultJSON(_ outcome: ToolOutcome) -> JSONValue {
        guard outcome.isError else {
            return [
                "content": [["type": "text", "text": .string(outcome.value.serialized)]],
                "structuredContent": outcome.value,
            ]
        }
        var text = outcome.message ?? "the tool failed"
        if let status = outcome.value["status"]?.int64Value { text += " (HTTP \(status))" }
        return ["content": [["type": "text", "text": .string(text)]], "isError": true]
    }
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
