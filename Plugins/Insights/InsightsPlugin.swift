import PluginKit

private func insights(_ arguments: JSONObject, _ context: CallContext) throws(ToolError) -> JSONValue {
    var query = KindsArgument.query(arguments)
    if let days = arguments["days"]?.int64Value { query.append(("days", String(days))) }
    return try context.request("GET", "/v1/insights" + QueryString.encode(query)).result()
}

private let countsSchema: JSONValue = [
    "type": "array",
    "items": ["type": "object", "properties": ["count": ["type": "integer"]], "required": ["count"]],
]

/// `insights` and `list_tags`: counts the database computes over the user's items, so a model
/// can answer "how many open tasks", "what did I work on this week" or "which tags do I use"
/// without paging through every item.
private let export = PluginExport(
    PluginDefinition(
        name: "insights", version: "1.0.0",
        description: "Insights: counts of the user's items per kind, status, tag and day.",
        tools: [
            Tool(
                name: "insights", title: "Item insights",
                description: """
                    Counts the user's items: per kind (live and deleted), per status within each kind, the most \
                    used tags, and items updated per UTC day over the last `days` days.
                    """,
                inputSchema: Tool.inputSchema([
                    "kinds": KindsArgument.schema,
                    "days": ["type": "integer", "minimum": 1, "maximum": 366, "description": "Days of activity to count (default 30)."],
                ]),
                outputSchema: [
                    "type": "object",
                    "properties": [
                        "total": ["type": "integer"], "kinds": ["type": "object"], "tags": countsSchema, "days": countsSchema,
                        "since": ["type": "string"],
                    ],
                    "required": ["total", "kinds", "tags", "days"],
                ],
                annotations: ["readOnlyHint": true, "openWorldHint": false],
                handler: insights),
            Tool(
                name: "list_tags", title: "List tags",
                description: "The tags the user puts on items, most used first, with how many live items carry each.",
                inputSchema: Tool.inputSchema(["kinds": KindsArgument.schema]),
                outputSchema: ["type": "object", "properties": ["tags": countsSchema], "required": ["tags"]],
                annotations: ["readOnlyHint": true, "openWorldHint": false]
            ) { arguments, context throws(ToolError) in
                ["tags": try insights(arguments, context)["tags"] ?? []]
            },
        ]))

@_cdecl("toolbridge_plugin_v1")
public func toolbridgePluginV1(_ hostMinor: UInt32) -> UnsafeRawPointer? { export.descriptor }
