import API
import MCP
import Synchronization

/// The tools a session may see and call: the loaded plugins' tools, filtered by the session
/// tenant's enabled plugins, converted into the MCP SDK's types once per plugin.
public final class ToolCatalog: Sendable {
    public let runner: ToolRunner
    public let tenants: TenantConfiguration
    /// The converted tools of the runner's first plugins, one entry each. The runner only appends
    /// plugins, so when it has more, only the new ones are converted; other requests reuse the list.
    private let converted = Mutex<[(plugin: String, tools: [MCP.Tool])]>([])

    public init(runner: ToolRunner, tenants: TenantConfiguration) {
        self.runner = runner
        self.tenants = tenants
    }

    /// The tools of `tenant`'s enabled plugins, in plugin load order.
    public func tools(for tenant: String) -> [MCP.Tool] {
        let configuration = tenants.current
        return currentTools().filter { configuration.allows(plugin: $0.plugin, tenant: tenant) }.flatMap(\.tools)
    }

    public func allows(tool name: String, tenant: String) -> Bool {
        guard let plugin = runner.plugin(ofTool: name) else { return false }
        return tenants.current.allows(plugin: plugin.name, tenant: tenant)
    }

    private func currentTools() -> [(plugin: String, tools: [MCP.Tool])] {
        let plugins = runner.plugins
        return converted.withLock { converted in
            if converted.count < plugins.count {
                converted += plugins[converted.count...].map { ($0.name, $0.tools.map(Self.mcpTool)) }
            }
            return converted
        }
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
