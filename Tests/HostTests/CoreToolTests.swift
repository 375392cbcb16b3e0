import API
import Host
import PluginABI
import TestSupport
import Testing

@Suite("The 40 core tools")
struct CoreToolTests {
    /// What each kind's tools need: create arguments (given the uids of a note and a chat to hang
    /// children on), a list filter that must find the item, and payload checks after create.
    struct KindCase: Sendable {
        let kind: EntityKind
        let create: @Sendable (_ note: String, _ chat: String) -> JSONObject
        let filter: @Sendable (_ note: String, _ chat: String) -> JSONObject
        let stored: [String: JSONValue]
        let action: String
        let actionEffect: (String, JSONValue)

        var plural: String { kind.name }
        var singular: String { kind.singular }
    }

    static let cases: [KindCase] = [
        KindCase(
            kind: .notes, create: { _, _ in ["title": "Plan", "content": "Body", "tags": ["a"]] },
            filter: { _, _ in [:] }, stored: ["title": "Plan", "tags": ["a"]], action: "pin",
            actionEffect: ("pinned", true)),
        KindCase(
            kind: .tasks,
            create: { _, _ in ["title": "Ship", "status": "open", "due_date": "2026-12-01", "priority": "high"] },
            filter: { _, _ in ["status": "open"] }, stored: ["dueDate": "2026-12-01", "priority": "high"],
            action: "complete", actionEffect: ("done", true)),
        KindCase(
            kind: .comments,
            create: { note, _ in ["content": "Nice", "parent_type": "note", "parent_uid": .string(note)] },
            filter: { note, _ in ["parent_uid": .string(note), "parent_type": "note"] },
            stored: ["parentType": "note", "content": "Nice"], action: "resolve", actionEffect: ("status", "resolved")),
        KindCase(
            kind: .chats, create: { _, _ in ["title": "Support", "description": "d"] },
            filter: { _, _ in [:] }, stored: ["title": "Support"], action: "resolve",
            actionEffect: ("status", "resolved")),
        KindCase(
            kind: .chatMessages,
            create: { _, chat in ["chat_uid": .string(chat), "content": "hi", "role": "user"] },
            filter: { _, chat in ["chat_uid": .string(chat)] }, stored: ["role": "user", "content": "hi"],
            action: "mark_read", actionEffect: ("read", true)),
    ]

    /// The entity plugins' tools: the 40 of the SPEC.
    static var entityTools: [ToolDefinition] {
        let entityPlugins = Set(EntityKind.all.map(\.name))
        return builtPlugins.plugins.filter { entityPlugins.contains($0.name) }.flatMap(\.tools)
    }

    @Test("the built plugins load: the five entity plugins with the SPEC's 40 tools, status, search, batch, insights")
    func builtPluginsLoad() {
        #expect(builtPlugins.refusals.isEmpty, "\(builtPlugins.refusals)")
        #expect(
            Set(builtPlugins.plugins.map(\.name))
                == Set(EntityKind.all.map(\.name)).union(["status", "search", "batch", "insights"]))
        #expect(builtPlugins.plugins.first { $0.name == "status" }?.tools.map(\.name) == ["whoami"])
        let names = Set(Self.entityTools.map(\.name))
        var expected: Set<String> = []
        for kind in EntityKind.all {
            expected.insert("list_\(kind.name)")
            for verb in ["get", "create", "update", "patch", "delete", "archive", "process"] {
                expected.insert("\(verb)_\(kind.singular)")
            }
        }
        #expect(names == expected)
        #expect(names.count == 40)
    }

    @Test("every tool has an input and output schema, a title and the right annotations")
    func schemasAndAnnotations() throws {
        for tool in Self.entityTools {
            let definition = tool.definition
            #expect(definition["inputSchema"]?["type"] == "object", "\(tool.name)")
            #expect(definition["outputSchema"]?["type"] == "object", "\(tool.name)")
            #expect(tool.title?.isEmpty == false, "\(tool.name)")
            let annotations = try #require(definition["annotations"], "\(tool.name)")
            let verb = tool.name.split(separator: "_").first.map(String.init) ?? ""
            #expect(annotations["readOnlyHint"] == .bool(["list", "get"].contains(verb)), "\(tool.name)")
            if verb == "delete" { #expect(annotations["destructiveHint"] == true) }
            if verb == "list" { #expect(definition["outputSchema"]?["required"] == ["items"]) }
        }
        let process = try #require(builtPlugins.plugins.flatMap(\.tools).first { $0.name == "process_task" })
        #expect(process.definition["inputSchema"]?["properties"]?["action"]?["enum"] == ["start", "complete", "reopen"])
        let create = try #require(builtPlugins.plugins.flatMap(\.tools).first { $0.name == "create_comment" })
        #expect(create.definition["inputSchema"]?["required"] == ["content", "parent_type", "parent_uid"])
    }

    @Test("every kind has a case in the test that calls all 40 tools")
    func everyKindHasACase() {
        #expect(Self.cases.map(\.kind.name) == EntityKind.all.map(\.name))
    }

    @Test("all 40 tools work through dlopen'd plugins against a running API", arguments: StoreKind.allCases)
    func allToolsWork(store: StoreKind) async throws {
        try await HostHarness.run(store) { host in
            var called: Set<String> = []
            func call(_ tool: String, _ arguments: JSONObject) async -> ToolOutcome {
                called.insert(tool)
                return await host.call(tool, .object(arguments))
            }
            let parentNote = try #require(await host.call("create_note", ["title": "parent"]).value["uid"]?.stringValue)
            let parentChat = try #require(await host.call("create_chat", ["title": "parent"]).value["uid"]?.stringValue)

            for kind in Self.cases {
                let (s, p) = (kind.singular, kind.plural)
                let created = await call("create_\(s)", kind.create(parentNote, parentChat))
                try #require(!created.isError, "create_\(s): \(created.value.serialized)")
                let uid = try #require(created.value["uid"]?.stringValue)
                #expect(created.value["version"] == 1)
                for (key, value) in kind.stored {
                    #expect(created.value["payload"]?[key] == value, "create_\(s) stores \(key)")
                }

                let fetched = await call("get_\(s)", ["uid": .string(uid)])
                #expect(fetched.value["uid"]?.stringValue == uid, "get_\(s)")

                var listArguments = kind.filter(parentNote, parentChat)
                listArguments["limit"] = 50
                let listed = await call("list_\(p)", listArguments)
                #expect(listed.value["items"]?.arrayValue?.contains { $0["uid"]?.stringValue == uid } == true, "list_\(p)")

                var replacement = kind.create(parentNote, parentChat)
                replacement["uid"] = .string(uid)
                replacement["if_match"] = 1
                replacement["additional_fields"] = ["source": "test"]
                let updated = await call("update_\(s)", replacement)
                #expect(updated.value["version"] == 2, "update_\(s): \(updated.value.serialized)")
                #expect(updated.value["payload"]?["source"] == "test")
                let stale = await call("update_\(s)", replacement)
                #expect(stale.status == TB_TOOL_ERROR && stale.value["status"] == 412, "update_\(s) with a stale if_match")

                let patched = await call("patch_\(s)", ["uid": .string(uid), "updates": ["extra": "x"], "if_match": 2])
                #expect(patched.value["version"] == 3, "patch_\(s): \(patched.value.serialized)")
                #expect(patched.value["payload"]?["extra"] == "x")

                let processed = await call("process_\(s)", ["uid": .string(uid), "action": .string(kind.action)])
                #expect(processed.value["payload"]?[kind.actionEffect.0] == kind.actionEffect.1, "process_\(s)")
                let badAction = await call("process_\(s)", ["uid": .string(uid), "action": "explode"])
                #expect(badAction.status == TB_INVALID_ARGUMENT, "process_\(s) with an unknown action")
                #expect(badAction.message?.contains(kind.action) == true)

                let archived = await call("archive_\(s)", ["uid": .string(uid)])
                #expect(archived.value["payload"]?["status"] == "archived", "archive_\(s)")

                let deleted = await call("delete_\(s)", ["uid": .string(uid)])
                #expect(deleted.value["deletedAt"]?.stringValue != nil, "delete_\(s)")
                let gone = await call("get_\(s)", ["uid": .string(uid)])
                #expect(gone.status == TB_TOOL_ERROR && gone.value["status"] == 410, "get_\(s) after delete")
                #expect(gone.message?.contains("was deleted") == true)
                let withDeleted = await call("get_\(s)", ["uid": .string(uid), "include_deleted": true])
                #expect(!withDeleted.isError)
                let again = await call("delete_\(s)", ["uid": .string(uid)])
                #expect(again.value["status"] == 410, "delete_\(s) twice")
                let unknown = await call("get_\(s)", ["uid": "00000000-0000-4000-8000-000000000000"])
                #expect(unknown.value["status"] == 404, "get_\(s) of an unknown uid")
                #expect(unknown.message?.contains("no \(s.split(separator: "_").joined(separator: "_"))") == true)
            }
            #expect(called.count == 40, "every core tool was called")
        }
    }

    @Test("a comment on a missing note is a tool error with the API's sentence", arguments: StoreKind.allCases)
    func orphanComment(store: StoreKind) async throws {
        try await HostHarness.run(store) { host in
            let outcome = await host.call(
                "create_comment",
                ["content": "x", "parent_type": "note", "parent_uid": "00000000-0000-4000-8000-000000000000"])
            #expect(outcome.status == TB_TOOL_ERROR)
            #expect(outcome.value["status"] == 400)
            #expect(outcome.message?.contains("no live note") == true)
        }
    }

    @Test("bad arguments are refused before any request, with a sentence naming the argument")
    func badArguments() async throws {
        try await HostHarness.run(.sqlite) { host in
            let cases: [(String, JSONValue, String)] = [
                ("get_note", [:], "'uid' is required"),
                ("get_note", ["uid": "../../v1/sync/wipe"], "must be a UUID"),
                ("list_notes", ["limit": "ten"], "'limit' must be an integer"),
                ("create_note", ["title": "t", "colour": "red"], "unknown argument 'colour'"),
                ("create_comment", ["content": "c", "parent_type": "chat", "parent_uid": "x"], "must be one of: note, task"),
                ("list_tasks", [1, 2], "must be a JSON object"),
            ]
            for (tool, arguments, message) in cases {
                let outcome = await host.call(tool, arguments)
                #expect(outcome.status == TB_INVALID_ARGUMENT, "\(tool) \(arguments.serialized)")
                #expect(outcome.message?.contains(message) == true, "\(tool): \(outcome.message ?? "")")
            }
            let unknown = await host.call("drop_database", [:])
            #expect(unknown.status == TB_UNKNOWN_TOOL)
            #expect(await host.proxy.sessionsCreated == 0, "refused calls never reached the API")
        }
    }

    @Test("whoami answers from the host alone, as the caller")
    func whoami() async throws {
        try await HostHarness.withHost(apiURL: "http://127.0.0.1:1") { runner, proxy in
            let outcome = await runner.call(
                "whoami", arguments: [:], identity: HostHarness.identity("carol", tenant: "blue"))
            #expect(outcome.value["user"] == "carol")
            #expect(outcome.value["tenant"] == "blue")
            #expect((outcome.value["hostTimeMs"]?.int64Value ?? 0) > 1_700_000_000_000)
            #expect(await proxy.sessionsCreated == 0, "no API request was made")
        }
    }

    @Test("each user sees only their own items through the tools", arguments: StoreKind.allCases)
    func isolation(store: StoreKind) async throws {
        try await HostHarness.run(store) { host in
            let note = await host.call("create_note", ["title": "alice's"], as: "alice")
            let uid = try #require(note.value["uid"]?.stringValue)
            let bobGet = await host.call("get_note", ["uid": .string(uid)], as: "bob")
            #expect(bobGet.value["status"] == 404)
            let bobList = await host.call("list_notes", [:], as: "bob")
            #expect(bobList.value["items"] == [])
        }
    }
}
