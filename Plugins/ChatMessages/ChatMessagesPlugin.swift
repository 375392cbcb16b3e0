import PluginKit

private let export = PluginExport(
    EntityToolset(
        plural: "chat_messages", singular: "chat_message",
        fields: [
            EntityField("chat_uid", key: "chatUid", ["type": "string", "description": "uid of the chat it belongs to."]),
            EntityField("content", ["type": "string", "description": "The message text."]),
            EntityField(
                "role", ["type": "string", "enum": ["user", "assistant", "system"], "description": "Who wrote it."]),
        ],
        requiredOnCreate: ["chat_uid", "content"],
        filters: [EntityField("chat_uid", key: "chatUid", ["type": "string", "description": "Only messages of this chat."])],
        actions: ["mark_read", "mark_delivered"]
    ).plugin(name: "chat_messages", description: "Chat messages: the messages of a chat."))

@_cdecl("toolbridge_plugin_v1")
public func toolbridgePluginV1(_ hostMinor: UInt32) -> UnsafeRawPointer? { export.descriptor }
