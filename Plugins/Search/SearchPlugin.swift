import PluginKit

/// `search`: full-text search over every kind at once, through the API's `/v1/search`, which
/// uses the database's own index. One tool with a kinds filter rather than one per kind keeps
/// the tool list short for the model.
private let export = PluginExport(
    PluginDefinition(
        name: "search", version: "1.0.0",
        description: "Search: full-text search across the user's notes, tasks, comments, chats and chat messages.",
        tools: [
            Tool(
                name: "search", title: "Search",
                description: """
                    Finds the user's items by their words, best match first, with a snippet marking the matched \
                    words in **bold**. Words match as prefixes (meet finds meeting); use "quotes" for an exact \
                    phrase, OR between alternatives, and -word to exclude. Titles weigh more than text.
                    """,
                inputSchema: Tool.inputSchema(
                    [
                        "query": ["type": "string", "description": "The words to look for (at most 1000 characters)."],
                        "kinds": KindsArgument.schema,
                        "limit": ["type": "integer", "minimum": 1, "maximum": 100, "description": "Results per page (default 20)."],
                        "cursor": ["type": "string", "description": "nextCursor from the previous page."],
                    ], required: ["query"]),
                outputSchema: [
                    "type": "object",
                    "properties": [
                        "items": [
                            "type": "array",
                            "items": [
                                "type": "object",
                                "properties": [
                                    "kind": ["type": "string"], "score": ["type": "number"], "snippet": ["type": "string"],
                                    "item": EntityToolset.itemSchema,
                                ],
                                "required": ["kind", "score", "snippet", "item"],
                            ],
                        ],
                        "nextCursor": ["type": "string"],
                    ],
                    "required": ["items"],
                ],
                annotations: ["readOnlyHint": true, "openWorldHint": false]
            ) { arguments, context throws(ToolError) in
                var query = [("q", arguments["query"]?.stringValue ?? "")] + KindsArgument.query(arguments)
                if let limit = arguments["limit"]?.int64Value { query.append(("limit", String(limit))) }
                if let cursor = arguments["cursor"]?.stringValue { query.append(("cursor", cursor)) }
                return try context.request("GET", "/v1/search" + QueryString.encode(query)).result()
            }
        ]))

@_cdecl("toolbridge_plugin_v1")
public func toolbridgePluginV1(_ hostMinor: UInt32) -> UnsafeRawPointer? { export.descriptor }
