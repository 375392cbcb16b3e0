import PluginKit

private let export = PluginExport(
    EntityToolset(
        plural: "notes", singular: "note",
        fields: [
            EntityField("title", ["type": "string", "description": "The note's title."]),
            EntityField("content", ["type": "string", "description": "The note's text (Markdown welcome)."]),
            EntityField("tags", ["type": "array", "items": ["type": "string"], "description": "Labels for the note."]),
        ],
        requiredOnCreate: ["title"],
        filters: [EntityField("status", ["type": "string", "description": "Only notes with this status (active, archived)."])],
        actions: ["pin", "unpin", "archive", "unarchive"]
    ).plugin(name: "notes", description: "Notes: list, read, write, pin and archive the user's notes."))

@_cdecl("toolbridge_plugin_v1")
public func toolbridgePluginV1(_ hostMinor: UInt32) -> UnsafeRawPointer? { export.descriptor }
