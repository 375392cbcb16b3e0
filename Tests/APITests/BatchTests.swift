import API
import TestSupport
import Testing

@Suite("Batch")
struct BatchTests {
    private func batch(_ api: TestAPI, _ user: TestUser, _ operations: String) async throws -> APIResponse {
        try await api.send(.post, "/v1/batch", as: user, body: #"{"operations":[\#(operations)]}"#)
    }

    @Test("later operations use items created earlier in the batch", arguments: StoreKind.allCases)
    func references(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let response = try await batch(api, alice, """
                {"op":"create","kind":"notes","ref":"plan","fields":{"title":"Trip plan"}},
                {"op":"create","kind":"comment","fields":{"parentType":"note","parentUid":{"$ref":"plan"},"content":"Book early"}},
                {"op":"patch","kind":"notes","uid":{"$ref":"plan"},"fields":{"content":"Lisbon in May"},"ifMatch":1},
                {"op":"process","kind":"notes","uid":{"$ref":"plan"},"action":"pin"},
                {"op":"create","kind":"chats","ref":"c","fields":{"title":"Trip"}},
                {"op":"create","kind":"chat_messages","fields":{"chatUid":{"$ref":"c"},"content":"hi","role":"user"}}
                """)
            try #require(response.status == .ok, "\(response.text)")
            let results = try #require(response["results"]?.arrayValue)
            #expect(results.count == 6)
            #expect(results.map { $0["index"]?.int64Value } == [0, 1, 2, 3, 4, 5])
            #expect(results[0]["ref"] == "plan")
            let note = try #require(results[0]["item"])
            #expect(results[1]["item"]?.payload["parentUid"]?.stringValue == note.uid)
            #expect(results[2]["item"]?.version == 2)
            #expect(results[3]["item"]?.version == 3)
            #expect(results[3]["item"]?.payload["pinned"] == true)
            #expect(results[5]["item"]?.payload["chatUid"]?.stringValue == results[4]["item"]?.uid)
            let stored = try await api.send(.get, "/v1/notes/\(note.uid)", as: alice)
            #expect(stored.json?.payload["content"] == "Lisbon in May")
            #expect(stored.json?.version == 3)
            let found = try await api.send(.get, "/v1/search?q=lisbon", as: alice)
            #expect(found["items"]?.arrayValue?.first?["item"]?.uid == note.uid)
        }
    }

    @Test("a failing operation rolls back the whole batch", arguments: StoreKind.allCases)
    func rollback(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let existing = try await api.create("tasks", as: alice, #"{"title":"Existing"}"#)
            let missing = "3b241101-e2bb-4255-8caf-4136c566a962"
            let notFound = try await batch(api, alice, """
                {"op":"create","kind":"notes","ref":"n","fields":{"title":"Rolled back"}},
                {"op":"patch","kind":"tasks","uid":"\(existing.uid)","fields":{"title":"Changed"}},
                {"op":"delete","kind":"notes","uid":"\(missing)"}
                """)
            #expect(notFound.status == .notFound, "\(notFound.text)")
            #expect(notFound["failedOperation"]?.int64Value == 2)
            #expect(notFound.error.contains("operation 2"))
            #expect(notFound.error.contains(missing))
            let stale = try await batch(api, alice, """
                {"op":"create","kind":"notes","fields":{"title":"Rolled back too"}},
                {"op":"update","kind":"tasks","uid":"\(existing.uid)","fields":{"title":"Replaced"},"ifMatch":7}
                """)
            #expect(stale.status == .preconditionFailed)
            #expect(stale["failedOperation"]?.int64Value == 1)
            #expect(stale["version"]?.int64Value == 1)
            let orphan = try await batch(api, alice, """
                {"op":"create","kind":"notes","fields":{"title":"Rolled back again"}},
                {"op":"create","kind":"comments","fields":{"parentType":"note","parentUid":"\(missing)","content":"x"}}
                """)
            #expect(orphan.status == .badRequest)
            #expect(orphan["failedOperation"]?.int64Value == 1)

            let notes = try await api.send(.get, "/v1/notes?includeDeleted=true", as: alice)
            #expect(notes["items"]?.arrayValue?.isEmpty == true, "\(notes.text)")
            let task = try await api.send(.get, "/v1/tasks/\(existing.uid)", as: alice)
            #expect(task.json?.version == 1)
            #expect(task.json?.payload["title"] == "Existing")
            #expect(try await api.send(.get, "/v1/search?q=rolled", as: alice)["items"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test("a batch reaches only the caller's items in the caller's tenant", arguments: StoreKind.allCases)
    func isolation(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user("alice")
            let bob = try await api.user("bob")
            let aliceElsewhere = try await api.user("alice", tenants: [uniqueTenant()])
            let note = try await api.create("notes", as: alice, #"{"title":"mine"}"#)
            for intruder in [bob, aliceElsewhere] {
                let response = try await batch(api, intruder, """
                    {"op":"patch","kind":"notes","uid":"\(note.uid)","fields":{"title":"taken"}},
                    {"op":"create","kind":"comments","fields":{"parentType":"note","parentUid":"\(note.uid)","content":"x"}}
                    """)
                #expect(response.status == .notFound, "\(response.text)")
                #expect(response["failedOperation"]?.int64Value == 0)
            }
            let stored = try await api.send(.get, "/v1/notes/\(note.uid)", as: alice)
            #expect(stored.json?.version == 1)
            #expect(stored.json?.payload["title"] == "mine")
        }
    }

    @Test("malformed batches are refused before anything runs, naming the operation", arguments: StoreKind.allCases)
    func validation(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let cases: [(String, Int64?, String)] = [
                (#"{"op":"explode","kind":"notes"}"#, 0, "op must be one of"),
                (#"{"op":"create","kind":"boats","fields":{}}"#, 0, "boats"),
                (#"{"op":"create","kind":"notes"}"#, 0, "fields is required"),
                (#"{"op":"create","kind":"notes","fields":{},"colour":"red"}"#, 0, "'colour'"),
                (#"{"op":"create","kind":"notes","fields":{}},{"op":"delete","kind":"notes","uid":{"$ref":"nope"}}"#, 1, "no earlier create"),
                (#"{"op":"create","kind":"notes","ref":"a","fields":{}},{"op":"create","kind":"notes","ref":"a","fields":{}}"#, 1, "ref 'a'"),
                (#"{"op":"delete","kind":"notes","uid":"not-a-uuid"}"#, 0, "uid must be a UUID"),
                (#"{"op":"process","kind":"tasks","uid":"3b241101-e2bb-4255-8caf-4136c566a962","action":"fly"}"#, 0, "unknown action"),
                (#""just a string""#, 0, "JSON object"),
            ]
            for (operations, index, phrase) in cases {
                let response = try await batch(api, alice, operations)
                #expect(response.status == .badRequest, "\(operations): \(response.text)")
                #expect(response["failedOperation"]?.int64Value == index, "\(operations)")
                #expect(response.error.contains(phrase), "\(operations): \(response.error)")
            }
            let empty = try await api.send(.post, "/v1/batch", as: alice, body: #"{"operations":[]}"#)
            #expect(empty.status == .badRequest)
            let wrongShape = try await api.send(.post, "/v1/batch", as: alice, body: #"[{"op":"create"}]"#)
            #expect(wrongShape.status == .badRequest)
            let tooMany = Array(repeating: #"{"op":"create","kind":"notes","fields":{}}"#, count: 1001).joined(separator: ",")
            let refused = try await batch(api, alice, tooMany)
            #expect(refused.status == .badRequest)
            #expect(refused.error.contains("1000"))
            var noSession = alice
            noSession.session = ""
            let unsynced = try await api.send(
                .post, "/v1/batch", as: noSession, body: #"{"operations":[{"op":"create","kind":"notes","fields":{}}]}"#)
            #expect(unsynced.status == .preconditionRequired)
            #expect(try await api.send(.get, "/v1/notes", as: alice)["items"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test("1000 operations fit in one batch within the body limit", arguments: StoreKind.allCases)
    func largeBatch(store: StoreKind) async throws {
        try await TestAPI.run(store, configure: { $0.maxBodyBytes = 256 * 1024 }) { api in
            let alice = try await api.user()
            var operations: [String] = []
            for index in 0..<500 {
                operations.append(#"{"op":"create","kind":"tasks","ref":"t\#(index)","fields":{"title":"Step \#(index)","tags":["bulk"]}}"#)
            }
            for index in 0..<500 {
                operations.append(#"{"op":"process","kind":"tasks","uid":{"$ref":"t\#(index)"},"action":"complete"}"#)
            }
            let body = #"{"operations":[\#(operations.joined(separator: ","))]}"#
            #expect(body.utf8.count < 256 * 1024)
            let response = try await api.send(.post, "/v1/batch", as: alice, body: body)
            try #require(response.status == .ok, "\(response.text.prefix(500))")
            #expect(response["results"]?.arrayValue?.count == 1000)
            let tasks = try await api.send(.get, "/v1/tasks?limit=1000&status=completed", as: alice)
            #expect(tasks["items"]?.arrayValue?.count == 500)
            let oversized = try await api.send(
                .post, "/v1/batch", as: alice, body: body + String(repeating: " ", count: 256 * 1024))
            #expect(oversized.status == .contentTooLarge)
            #expect(try await api.send(.get, "/v1/tasks?limit=1", as: alice).status == .ok)
        }
    }
}

extension BatchTests {
    /// Two batches run at once on their own connections, each locking one note, doing 300
    /// creates, then wanting the other's note: PostgreSQL sees a deadlock and aborts one.
    @Test("batches locking the same items in opposite orders: a deadlock is a 409 to retry, never a 500", arguments: StoreKind.allCases)
    func opposingBatches(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let scope = Scope(tenant: api.tenant, owner: "alice")
            let service = ItemService(store: api.store)
            let first = try await api.create("notes", as: alice, #"{"title":"first"}"#).uid
            let second = try await api.create("notes", as: alice, #"{"title":"second"}"#).uid
            func operations(_ from: String, _ to: String) throws -> [ItemOperation] {
                let patch = { (uid: String) in
                    try service.updateOperation(.notes, uid: uid, fields: ["n": 1], merge: true, ifMatch: nil)
                }
                let fillers = try (0..<300).map { try service.createOperation(.tasks, fields: ["title": .string("filler \($0)")]) }
                return [try patch(from)] + fillers + [try patch(to)]
            }
            var conflicts = 0
            for _ in 0..<3 {
                let (forward, backward) = (try operations(first, second), try operations(second, first))
                let outcomes = await withTaskGroup(of: String.self) { group in
                    for batch in [forward, backward] {
                        group.addTask {
                            do {
                                _ = try await service.apply(scope, batch)
                                return "ok"
                            } catch let failure as BatchFailure {
                                return (failure.error as? APIError).map { "\($0.status.code) \($0.message)" } ?? "\(failure.error)"
                            } catch {
                                return "\(error)"
                            }
                        }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                #expect(outcomes.contains("ok"), "\(outcomes)")
                for outcome in outcomes where outcome != "ok" {
                    #expect(outcome.hasPrefix("409 ") && outcome.contains("retry"), "\(outcome)")
                    conflicts += 1
                }
            }
            if store == .sqlite { #expect(conflicts == 0, "SQLite runs one writer at a time") }
            if store == .postgres { #expect(conflicts > 0, "the batches overlapped and deadlocked at least once") }
        }
    }
}
