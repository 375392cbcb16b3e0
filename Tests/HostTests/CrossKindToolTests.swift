import API
import Host
import PluginABI
import TestSupport
import Testing

@Suite("The search, batch and insights tools")
struct CrossKindToolTests {
    private func tool(_ name: String) throws -> ToolDefinition {
        try #require(builtPlugins.plugins.flatMap(\.tools).first { $0.name == name })
    }

    @Test("their schemas and annotations say what they do")
    func definitions() throws {
        let search = try tool("search").definition
        #expect(search["inputSchema"]?["required"] == ["query"])
        #expect(search["annotations"]?["readOnlyHint"] == true)
        #expect(search["outputSchema"]?["required"] == ["items"])
        let batch = try tool("batch").definition
        #expect(batch["annotations"]?["readOnlyHint"] == false)
        #expect(batch["annotations"]?["destructiveHint"] == true)
        #expect(batch["inputSchema"]?["properties"]?["operations"]?["items"]?["properties"]?["op"]?["enum"]?.arrayValue?.count == 6)
        for name in ["insights", "list_tags"] {
            #expect(try tool(name).definition["annotations"]?["readOnlyHint"] == true, "\(name)")
            #expect(try tool(name).definition["outputSchema"]?["type"] == "object", "\(name)")
        }
    }

    @Test("batch, search, insights and list_tags work through dlopen'd plugins", arguments: StoreKind.allCases)
    func toolsWork(store: StoreKind) async throws {
        try await HostHarness.run(store) { host in
            let batch = await host.call("batch", [
                "operations": [
                    ["op": "create", "kind": "notes", "ref": "n", "fields": ["title": "Orchard plan", "tags": ["garden"]]],
                    ["op": "create", "kind": "comments", "fields": [
                        "parentType": "note", "parentUid": ["$ref": "n"], "content": "prune the orchard in March",
                    ]],
                    ["op": "create", "kind": "tasks", "fields": ["title": "Buy ladder", "status": "open", "tags": ["garden"]]],
                ],
            ])
            try #require(!batch.isError, "\(batch.value.serialized)")
            let results = try #require(batch.value["results"]?.arrayValue)
            #expect(results.count == 3)
            let noteUID = try #require(results[0]["item"]?["uid"]?.stringValue)

            let found = await host.call("search", ["query": "orchard"])
            let hits = try #require(found.value["items"]?.arrayValue, "\(found.value.serialized)")
            #expect(hits.count == 2)
            #expect(hits.first?["item"]?["uid"]?.stringValue == noteUID, "the title match first")
            #expect(hits.first?["snippet"]?.stringValue?.contains("**Orchard**") == true)
            let comments = await host.call("search", ["query": "orchard", "kinds": ["comments"], "limit": 5])
            #expect(comments.value["items"]?.arrayValue?.map { $0["kind"] } == ["comments"])
            let unclosed = await host.call("search", ["query": "\"orchard"])
            #expect(unclosed.status == TB_TOOL_ERROR && unclosed.value["status"] == 400)
            #expect(unclosed.message?.contains("never closes") == true)
            let badKind = await host.call("search", ["query": "orchard", "kinds": ["boats"]])
            #expect(badKind.value["status"] == 400)
            #expect(badKind.message?.contains("boats") == true)

            let failing = await host.call("batch", [
                "operations": [
                    ["op": "create", "kind": "notes", "fields": ["title": "never stored"]],
                    ["op": "delete", "kind": "tasks", "uid": "00000000-0000-4000-8000-000000000000"],
                ],
            ])
            #expect(failing.status == TB_TOOL_ERROR && failing.value["status"] == 404)
            #expect(failing.message?.contains("operation 1") == true)
            let none = await host.call("search", ["query": "never"])
            #expect(none.value["items"]?.arrayValue?.isEmpty == true, "the failed batch stored nothing")

            let insights = await host.call("insights", ["days": 7])
            #expect(insights.value["total"] == 3, "\(insights.value.serialized)")
            #expect(insights.value["kinds"]?["tasks"]?["count"] == 1)
            let tags = await host.call("list_tags", ["kinds": ["notes", "tasks"]])
            #expect(tags.value["tags"] == [["tag": "garden", "count": 2]])
        }
    }
}
