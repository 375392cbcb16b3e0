import EntityKinds

/// An entity kind's eight tools: list, get, create, update, patch, delete, archive and process,
/// generated from its description (`EntityKind`, shared with the API). Each of the five core
/// plugins is one of these.
public struct EntityToolset: Sendable {
    public let kind: EntityKind

    public init(_ kind: EntityKind) {
        self.kind = kind
    }

    /// The kind's plugin: named after the kind, with the kind's description.
    public var plugin: PluginDefinition {
        PluginDefinition(name: kind.name, version: "1.0.0", description: kind.pluginDescription, tools: tools)
    }

    private var plural: String { kind.name }
    private var singular: String { kind.singular }
    private var label: String { singular.split(separator: "_").joined(separator: " ") }
    private var labels: String { plural.split(separator: "_").joined(separator: " ") }

    public var tools: [Tool] {
        [listTool, getTool, createTool, updateTool, patchTool, deleteTool, archiveTool, processTool]
    }

    // MARK: Tools

    private var listTool: Tool {
        var properties: JSONObject = [
            "limit": ["type": "integer", "minimum": 1, "maximum": 1000, "description": "Page size (default 100)."],
            "cursor": ["type": "string", "description": "nextCursor from the previous page."],
            "include_deleted": ["type": "boolean", "description": "Also list deleted \(labels)."],
        ]
        for filter in kind.filterArguments { properties[filter.argument] = filter.schema }
        let filters = kind.filterArguments
        let plural = self.plural
        return Tool(
            name: "list_\(plural)", title: "List \(labels)",
            description: "Lists your \(labels), least recently updated first, a page at a time.",
            inputSchema: Tool.inputSchema(properties), outputSchema: Self.listSchema,
            annotations: ["readOnlyHint": true, "openWorldHint": false]
        ) { arguments, context throws(ToolError) in
            var query: [(String, String)] = []
            if let limit = arguments["limit"]?.int64Value { query.append(("limit", String(limit))) }
            if let cursor = arguments["cursor"]?.stringValue { query.append(("cursor", cursor)) }
            if arguments["include_deleted"] == true { query.append(("includeDeleted", "true")) }
            for filter in filters {
                if let value = arguments[filter.argument]?.stringValue { query.append((filter.key, value)) }
            }
            return try context.request("GET", "/v1/\(plural)" + QueryString.encode(query)).result()
        }
    }

    private var getTool: Tool {
        let plural = self.plural
        return Tool(
            name: "get_\(singular)", title: "Get a \(label)",
            description: "Fetches one \(label) by uid.",
            inputSchema: Tool.inputSchema(
                [
                    "uid": Self.uidSchema(label),
                    "include_deleted": ["type": "boolean", "description": "Return it even if it was deleted."],
                ], required: ["uid"]),
            outputSchema: Self.itemSchema,
            annotations: ["readOnlyHint": true, "openWorldHint": false]
        ) { arguments, context throws(ToolError) in
            let uid = try Self.uid(arguments)
            let query = arguments["include_deleted"] == true ? "?includeDeleted=true" : ""
            return try context.request("GET", "/v1/\(plural)/\(uid)\(query)").result()
        }
    }

    private var fieldProperties: JSONObject {
        var properties = JSONObject()
        for field in kind.fields { properties[field.argument] = field.schema }
        properties["additional_fields"] = [
            "type": "object", "description": "Any other fields to store on the \(label), as they should appear.",
        ]
        return properties
    }

    /// The payload a create or update sends: `additional_fields`, then the named fields over them.
    private func payload(_ arguments: JSONObject) -> JSONValue {
        var payload = arguments["additional_fields"]?.objectValue ?? [:]
        for field in kind.fields {
            if let value = arguments[field.argument], value != .null { payload[field.key] = value }
        }
        return .object(payload)
    }

    private var createTool: Tool {
        let toolset = self
        let required = kind.fields.filter(\.requiredOnCreate).map(\.argument)
        return Tool(
            name: "create_\(singular)", title: "Create a \(label)",
            description: "Creates a \(label) and returns it with its uid and version.",
            inputSchema: Tool.inputSchema(fieldProperties, required: required), outputSchema: Self.itemSchema,
            annotations: ["readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": false]
        ) { arguments, context throws(ToolError) in
            try context.request("POST", "/v1/\(toolset.plural)", body: toolset.payload(arguments)).result()
        }
    }

    private var updateTool: Tool {
        var properties = fieldProperties
        properties["uid"] = Self.uidSchema(label)
        properties["if_match"] = Self.ifMatchSchema
        let toolset = self
        return Tool(
            name: "update_\(singular)", title: "Replace a \(label)",
            description: "Replaces all fields of a \(label): fields left out are removed. Use patch_\(singular) to change only some.",
            inputSchema: Tool.inputSchema(properties, required: ["uid"]), outputSchema: Self.itemSchema,
            annotations: ["readOnlyHint": false, "destructiveHint": true, "idempotentHint": true, "openWorldHint": false]
        ) { arguments, context throws(ToolError) in
            let uid = try Self.uid(arguments)
            return try context.request(
                "PUT", "/v1/\(toolset.plural)/\(uid)", body: toolset.payload(arguments), ifMatch: Self.ifMatch(arguments)
            ).result()
        }
    }

    private var patchTool: Tool {
        let plural = self.plural
        return Tool(
            name: "patch_\(singular)", title: "Change fields of a \(label)",
            description: "Changes only the given fields of a \(label); a field set to null is removed.",
            inputSchema: Tool.inputSchema(
                [
                    "uid": Self.uidSchema(label),
                    "updates": ["type": "object", "description": "Field names (as stored) and their new values."],
                    "if_match": Self.ifMatchSchema,
                ], required: ["uid", "updates"]),
            outputSchema: Self.itemSchema,
            annotations: ["readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": false]
        ) { arguments, context throws(ToolError) in
            let uid = try Self.uid(arguments)
            return try context.request(
                "PATCH", "/v1/\(plural)/\(uid)", body: arguments["updates"], ifMatch: Self.ifMatch(arguments)
            ).result()
        }
    }

    private var deleteTool: Tool {
        let plural = self.plural
        return Tool(
            name: "delete_\(singular)", title: "Delete a \(label)",
            description: "Deletes a \(label). It stays visible to sync as a tombstone.",
            inputSchema: Tool.inputSchema(["uid": Self.uidSchema(label)], required: ["uid"]),
            outputSchema: Self.itemSchema,
            annotations: ["readOnlyHint": false, "destructiveHint": true, "idempotentHint": false, "openWorldHint": false]
        ) { arguments, context throws(ToolError) in
            try context.request("DELETE", "/v1/\(plural)/\(try Self.uid(arguments))").result()
        }
    }

    private var archiveTool: Tool {
        let plural = self.plural
        return Tool(
            name: "archive_\(singular)", title: "Archive a \(label)",
            description: "Sets the \(label)'s status to archived.",
            inputSchema: Tool.inputSchema(["uid": Self.uidSchema(label)], required: ["uid"]),
            outputSchema: Self.itemSchema,
            annotations: ["readOnlyHint": false, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false]
        ) { arguments, context throws(ToolError) in
            try context.request("POST", "/v1/\(plural)/\(try Self.uid(arguments))/archive").result()
        }
    }

    private var processTool: Tool {
        let plural = self.plural
        let actions = kind.actions.map(\.name)
        return Tool(
            name: "process_\(singular)", title: "Act on a \(label)",
            description: "Applies an action to a \(label): \(actions.joined(separator: ", ")).",
            inputSchema: Tool.inputSchema(
                [
                    "uid": Self.uidSchema(label),
                    "action": ["type": "string", "enum": .array(actions.map(JSONValue.string))],
                    "metadata": ["type": "object", "description": "Optional details recorded with the action."],
                ], required: ["uid", "action"]),
            outputSchema: Self.itemSchema,
            annotations: ["readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": false]
        ) { arguments, context throws(ToolError) in
            var body: JSONObject = ["action": arguments["action"] ?? .null]
            if let metadata = arguments["metadata"], metadata != .null { body["metadata"] = metadata }
            return try context.request("POST", "/v1/\(plural)/\(try Self.uid(arguments))/process", body: .object(body))
                .result()
        }
    }

    // MARK: Schemas and arguments

    static func uidSchema(_ label: String) -> JSONValue {
        ["type": "string", "format": "uuid", "description": "The \(label)'s uid."]
    }

    static let ifMatchSchema: JSONValue = [
        "type": "integer", "description": "Apply only if the item is still at this version (optimistic locking).",
    ]

    /// The API item: `{uid, version, updatedAt, deletedAt?, payload}`.
    public static let itemSchema: JSONValue = [
        "type": "object",
        "properties": [
            "uid": ["type": "string"], "version": ["type": "integer"], "updatedAt": ["type": "string"],
            "deletedAt": ["type": "string"], "payload": ["type": "object"],
        ],
        "required": ["uid", "version", "updatedAt", "payload"],
    ]

    public static let listSchema: JSONValue = [
        "type": "object",
        "properties": ["items": ["type": "array", "items": itemSchema], "nextCursor": ["type": "string"]],
        "required": ["items"],
    ]

    /// The uid argument, refused before any request when it cannot be a UUID (so it never
    /// reaches a path unescaped).
    static func uid(_ arguments: JSONObject) throws(ToolError) -> String {
        guard let uid = arguments["uid"]?.stringValue, isUUID(uid) else {
            throw .invalidArgument("the argument 'uid' must be a UUID such as 3b241101-e2bb-4255-8caf-4136c566a962")
        }
        return uid.lowercased()
    }

    static func isUUID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        for (index, byte) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(index) {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte | 0x20)
                else { return false }
            }
        }
        return true
    }

    static func ifMatch(_ arguments: JSONObject) -> String? {
        arguments["if_match"]?.int64Value.map(String.init)
    }
}

extension EntityField {
    /// The argument's JSON schema: its type, then its description.
    var schema: JSONValue {
        var schema = type.schema
        if let description { schema["description"] = .string(description) }
        return .object(schema)
    }
}

extension FieldType {
    var schema: JSONObject {
        switch self {
        case .string: ["type": "string"]
        case .integer: ["type": "integer"]
        case .number: ["type": "number"]
        case .boolean: ["type": "boolean"]
        case .object: ["type": "object"]
        case .array(let items): ["type": "array", "items": .object(items.schema)]
        case .oneOf(let values): ["type": "string", "enum": .array(values.map(JSONValue.string))]
        }
    }
}
