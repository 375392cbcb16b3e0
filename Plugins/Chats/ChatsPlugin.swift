import PluginKit

private let export = PluginExport(
    EntityToolset(
        plural: "chats", singular: "chat",
        fields: [
            EntityField("title", ["type": "string", "description": "The conversation's title."]),
            EntityField("description", ["type": "string", "description": "What it is about."]),
        ],
        actions: ["resolve", "reopen"]
    ).plugin(name: "chats", description: "Chats: conversations that hold chat messages."))

@_cdecl("toolbridge_plugin_v1")
public func toolbridgePluginV1(_ hostMinor: UInt32) -> UnsafeRawPointer? { export.descriptor }
