import PluginKit

private let export = PluginExport(
    EntityToolset(
        plural: "comments", singular: "comment",
        fields: [
            EntityField("content", ["type": "string", "description": "The comment's text."]),
            EntityField(
                "parent_type", key: "parentType",
                ["type": "string", "enum": ["note", "task"], "description": "What the comment is on."]),
            EntityField("parent_uid", key: "parentUid", ["type": "string", "description": "uid of that note or task."]),
        ],
        requiredOnCreate: ["content", "parent_type", "parent_uid"],
        filters: [
            EntityField("parent_type", key: "parentType", ["type": "string", "enum": ["note", "task"]]),
            EntityField("parent_uid", key: "parentUid", ["type": "string", "description": "Only comments on this item."]),
        ],
        actions: ["resolve", "reopen"]
    ).plugin(name: "comments", description: "Comments on notes and tasks."))

@_cdecl("toolbridge_plugin_v1")
public func toolbridgePluginV1(_ hostMinor: UInt32) -> UnsafeRawPointer? { export.descriptor }
