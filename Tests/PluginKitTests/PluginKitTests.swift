import EntityKinds
import PluginABI
import Testing

@testable import PluginKit

@Suite("Argument checking")
struct ArgumentCheckTests {
    let schema = Tool.inputSchema(
        [
            "uid": ["type": "string"], "limit": ["type": "integer", "minimum": 1, "maximum": 1000],
            "flag": ["type": "boolean"],
            "mode": ["type": "string", "enum": ["a", "b"]], "tags": ["type": "array"],
        ], required: ["uid"])

    func check(_ arguments: JSONObject) -> String? {
        do throws(ToolError) {
            try ArgumentCheck.check(arguments, against: schema)
            return nil
        } catch {
            #expect(error.kind == .invalidArgument)
            return error.message
        }
    }

    @Test("valid arguments pass, and null counts as left out for optional ones")
    func valid() {
        #expect(check(["uid": "x", "limit": 3, "flag": true, "mode": "a", "tags": []]) == nil)
        #expect(check(["uid": "x", "limit": .null]) == nil)
    }

    @Test("each kind of mistake gets a sentence naming the argument")
    func mistakes() {
        #expect(check([:]) == "the argument 'uid' is required")
        #expect(check(["uid": .null]) == "the argument 'uid' is required")
        #expect(check(["uid": 3]) == "the argument 'uid' must be a string, not number")
        #expect(check(["uid": "x", "limit": .number("1.5")]) == "the argument 'limit' must be an integer, not number")
        #expect(check(["uid": "x", "flag": "yes"]) == "the argument 'flag' must be a boolean, not string")
        #expect(check(["uid": "x", "mode": "c"]) == "the argument 'mode' must be one of: a, b")
        #expect(check(["uid": "x", "limit": 0]) == "the argument 'limit' must be at least 1")
        #expect(check(["uid": "x", "limit": 1001]) == "the argument 'limit' must be at most 1000")
        #expect(check(["uid": "x", "extra": 1])?.hasPrefix("unknown argument 'extra'; accepted arguments:") == true)
    }

    @Test("malformed argument JSON is refused with the parser's position")
    func malformed() {
        let bytes = Array(#"{"uid": }"#.utf8)
        do throws(ToolError) {
            _ = try bytes.withUnsafeBufferPointer { buffer throws(ToolError) in
                try ArgumentCheck.arguments(buffer, schema: schema)
            }
            Issue.record("malformed JSON was accepted")
        } catch {
            #expect(error.message.contains("not valid JSON"))
            #expect(error.message.contains("byte 8"))
        }
    }
}

@Suite("Entity toolset")
struct EntityToolsetTests {
    let toolset = EntityToolset(
        EntityKind(
            name: "chat_messages", singular: "chat_message", pluginDescription: "d",
            fields: [
                EntityField("chat_uid", key: "chatUid", .string, requiredOnCreate: true), EntityField("content", .string),
            ],
            filters: [ListFilter("chatUid", .parentUID)],
            filterArguments: [EntityField("chat_uid", key: "chatUid", .string)],
            actions: [ProcessAction("mark_read", sets: ["read": true])]))

    @Test("one description becomes the eight tools, named after the kind")
    func toolNames() {
        #expect(toolset.tools.map(\.name) == [
            "list_chat_messages", "get_chat_message", "create_chat_message", "update_chat_message",
            "patch_chat_message", "delete_chat_message", "archive_chat_message", "process_chat_message",
        ])
        let create = toolset.tools[2].definition
        #expect(create["inputSchema"]?["required"] == ["chat_uid"])
        #expect(create["inputSchema"]?["properties"]?["additional_fields"]?["type"] == "object")
        #expect(create["outputSchema"] == EntityToolset.itemSchema)
        #expect(create["annotations"]?["title"] == "Create a chat message")
    }

    @Test("query values are percent-encoded and uids must be UUIDs")
    func encoding() {
        #expect(QueryString.encode([("status", "in progress&x=1"), ("limit", "5")]) == "?status=in%20progress%26x%3D1&limit=5")
        #expect(EntityToolset.isUUID("3B241101-e2bb-4255-8caf-4136c566a962"))
        #expect(!EntityToolset.isUUID("3b241101-e2bb-4255-8caf-4136c566a96"))
        #expect(!EntityToolset.isUUID("../../../../v1/sync/wipe/aaaaaaaaaaaa"))
    }

    @Test("the definition's tools JSON parses back to the same tools")
    func toolsJSON() throws {
        let definition = toolset.plugin
        let parsed = try JSONValue.parse(definition.toolsJSON)
        #expect(parsed.arrayValue?.count == 8)
        #expect(parsed.arrayValue?.first?["name"] == "list_chat_messages")
    }

    @Test("an API error becomes a tool error carrying the API's sentence and status")
    func apiErrors() {
        let response = APIResponse(status: 410, body: ["error": "the note x was deleted", "deletedAt": "t"])
        #expect(throws: ToolError(.toolError, "the note x was deleted", httpStatus: 410)) { try response.result() }
        #expect(ToolError(.toolError, "gone", httpStatus: 410).output == ["error": "gone", "status": 410])
        #expect(throws: Never.self) { try APIResponse(status: 201, body: ["uid": "x"]).result() }
    }
}
