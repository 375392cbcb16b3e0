import PluginKit

/// `batch`: several writes over any kinds in one transaction through `/v1/batch`, so a model can
/// create a note with its comments, or close ten tasks, and never leave half of it done.
private let export = PluginExport(
    PluginDefinition(
        name: "batch", version: "1.0.0",
        description: "Batch: apply many writes across kinds in one all-or-nothing transaction.",
        tools: [
            Tool(
                name: "batch", title: "Apply writes together",
                description: """
                    Applies up to 1000 operations in order, all or nothing: if one fails, none is applied and the \
                    error names the failing operation. Each operation is {op, kind, ...}: create {fields, ref?}, \
                    update (replace) and patch (merge) {uid, fields, ifMatch?}, delete {uid}, archive {uid}, \
                    process {uid, action, metadata?}. A create's ref names it; later operations use \
                    {"$ref": "name"} as a uid or a field value (e.g. a comment's parentUid).
                    """,
                inputSchema: Tool.inputSchema(
                    [
                        "operations": [
                            "type": "array", "minItems": 1, "maxItems": 1000,
                            "items": [
                                "type": "object",
                                "properties": [
                                    "op": ["type": "string", "enum": ["create", "update", "patch", "delete", "archive", "process"]],
                                    "kind": ["type": "string", "enum": .array(apiKindNames)],
                                    "ref": ["type": "string", "description": "A name for a created item, for later operations."],
                                    "uid": [
                                        "description": "The item's uid, or {\"$ref\": \"name\"} of an earlier create.",
                                        "anyOf": [["type": "string"], ["type": "object", "description": "{\"$ref\": \"name\"}"]],
                                    ],
                                    "fields": ["type": "object", "description": "The item's fields (create, update, patch)."],
                                    "ifMatch": ["type": "integer", "description": "Apply only if the item is at this version."],
                                    "action": ["type": "string", "description": "The process action (e.g. complete, pin)."],
                                    "metadata": ["type": "object"],
                                ],
                                "required": ["op", "kind"],
                            ],
                        ]
                    ], required: ["operations"]),
                outputSchema: [
                    "type": "object",
                    "properties": [
                        "results": [
                            "type": "array",
                            "items": [
                                "type": "object",
                                "properties": [
                                    "index": ["type": "integer"], "op": ["type": "string"], "kind": ["type": "string"],
                                    "ref": ["type": "string"], "item": EntityToolset.itemSchema,
                                ],
                                "required": ["index", "op", "kind", "item"],
                            ],
                        ]
                    ],
                    "required": ["results"],
                ],
                annotations: ["readOnlyHint": false, "destructiveHint": true, "idempotentHint": false, "openWorldHint": false]
            ) { arguments, context throws(ToolError) in
                try context.request("POST", "/v1/batch", body: ["operations": arguments["operations"] ?? []]).result()
            }
        ]))

@_cdecl("toolbridge_plugin_v1")
public func toolbridgePluginV1(_ hostMinor: UInt32) -> UnsafeRawPointer? { export.descriptor }
