// `annotations`' default `[:]` is an OrderedDictionary literal, inlined into callers.
import OrderedCollections

/// Everything the host learns about a plugin from its descriptor, and the tools it runs.
public struct PluginDefinition: Sendable {
    /// The name operators enable per tenant (`notes`): lowercase letters, digits and `_`.
    public let name: String
    public let version: String
    public let description: String
    public let tools: [Tool]

    public init(name: String, version: String, description: String, tools: [Tool]) {
        self.name = name
        self.version = version
        self.description = description
        self.tools = tools
    }

    /// The descriptor's `tools_json`: MCP tool definitions without the handlers.
    public var toolsJSON: String {
        JSONValue.array(tools.map(\.definition)).serialized
    }
}

/// One MCP tool: its definition and the function that runs it.
public struct Tool: Sendable {
    public let name: String
    public let title: String
    public let description: String
    public let inputSchema: JSONValue
    public let outputSchema: JSONValue?
    public let annotations: JSONObject
    /// Runs the tool on arguments already checked against `inputSchema`. Runs on a host worker
    /// thread, possibly many at once; it may block on `context.request`.
    public let handler: @Sendable (JSONObject, CallContext) throws(ToolError) -> JSONValue

    public init(
        name: String, title: String, description: String, inputSchema: JSONValue, outputSchema: JSONValue? = nil,
        annotations: JSONObject = [:],
        handler: @escaping @Sendable (JSONObject, CallContext) throws(ToolError) -> JSONValue
    ) {
        self.name = name
        self.title = title
        self.description = description
        self.inputSchema = inputSchema
        self.outputSchema = outputSchema
        self.annotations = annotations
        self.handler = handler
    }

    /// The input schema of an object of `properties`, refusing any other argument.
    public static func inputSchema(_ properties: JSONObject, required: [String] = []) -> JSONValue {
        var schema: JSONObject = ["type": "object", "properties": .object(properties), "additionalProperties": false]
        if !required.isEmpty { schema["required"] = .array(required.map(JSONValue.string)) }
        return .object(schema)
    }

    public var definition: JSONValue {
        var object: JSONObject = [
            "name": .string(name), "title": .string(title), "description": .string(description),
            "inputSchema": inputSchema,
        ]
        if let outputSchema { object["outputSchema"] = outputSchema }
        var hints = annotations
        hints["title"] = .string(title)
        object["annotations"] = .object(hints)
        return .object(object)
    }
}

/// Why a tool call failed: the ABI status, a sentence for the LLM, and the API's HTTP status
/// when the failure came from the API.
public struct ToolError: Error, Sendable, Equatable {
    public enum Kind: Int32, Sendable {
        case toolError = 1
        case invalidArgument = 2
        case unknownTool = 3
        case unimplemented = 4
        case cancelled = 5
        case deadlineExceeded = 6
        case unavailable = 7
        case internalError = 8
    }

    public let kind: Kind
    public let message: String
    public let httpStatus: Int?

    public init(_ kind: Kind, _ message: String, httpStatus: Int? = nil) {
        self.kind = kind
        self.message = message
        self.httpStatus = httpStatus
    }

    public static func invalidArgument(_ message: String) -> ToolError { ToolError(.invalidArgument, message) }

    /// `{"error": "...", "status": N}`, the output the ABI prescribes for failed calls.
    public var output: JSONValue {
        var object: JSONObject = ["error": .string(message)]
        if let httpStatus { object["status"] = .integer(Int64(httpStatus)) }
        return .object(object)
    }
}
