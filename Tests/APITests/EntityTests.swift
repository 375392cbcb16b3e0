import API
import ServerSupport
import TestSupport
import HTTPTypes
import Testing

@Suite("Entity endpoints")
struct EntityTests {
    @Test("POST creates an item with a server uid, version 1 and server fields", arguments: StoreKind.allCases)
    func createAssignsServerFields(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let item = try await api.create("notes", as: alice, #"{"title":"Groceries","tags":["home"],"score":1.50}"#)
            let uid = item.uid
            #expect(uid.count == 36)
            #expect(item.version == 1)
            #expect(item["deletedAt"] == nil)
            #expect(item.payload["title"] == "Groceries")
            #expect(item.payload["score"] == .number("1.50"), "numbers are kept as sent")
            #expect(item.payload["uid"]?.stringValue == uid)
            #expect(item.payload["updatedTs"] == item["updatedAt"])
            #expect(item.payload["updateTime"] == item["updatedAt"])
            #expect(item.payload["sync"] == ["version": 1, "isDeleted": false])
        }
    }

    @Test("POST keeps a client uid, refuses a duplicate (409) and a malformed one (400)", arguments: StoreKind.allCases)
    func createWithClientUID(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let uid = "6F9619FF-8B86-D011-B42D-00C04FC964FF"
            let item = try await api.create("tasks", as: alice, #"{"uid":"\#(uid)","title":"t"}"#)
            #expect(item.uid == uid.lowercased())
            let again = try await api.send(.post, "/v1/tasks", as: alice, body: #"{"uid":"\#(uid)"}"#)
            #expect(again.status == .conflict)
            #expect(again.error.contains("already exists"))
            let bad = try await api.send(.post, "/v1/tasks", as: alice, body: #"{"uid":"not-a-uuid"}"#)
            #expect(bad.status == .badRequest)
            #expect(bad.error.contains("uid"))
        }
    }

    @Test("GET returns the item; 404 when unknown; 410 with deletedAt when deleted", arguments: StoreKind.allCases)
    func getItem(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let note = try await api.create("notes", as: alice, #"{"title":"a"}"#)
            let fetched = try await api.send(.get, "/v1/notes/\(note.uid)", as: alice)
            #expect(fetched.status == .ok)
            #expect(fetched.json == note)

            let unknown = try await api.send(.get, "/v1/notes/00000000-0000-4000-8000-000000000000", as: alice)
            #expect(unknown.status == .notFound)

            let deleted = try await api.send(.delete, "/v1/notes/\(note.uid)", as: alice)
            #expect(deleted.status == .ok)
            let gone = try await api.send(.get, "/v1/notes/\(note.uid)", as: alice)
            #expect(gone.status == .gone)
            #expect(gone["deletedAt"] == deleted["deletedAt"])
            #expect(gone["correlation_id"] != nil)
            let included = try await api.send(.get, "/v1/notes/\(note.uid)?includeDeleted=true", as: alice)
            #expect(included.status == .ok)
            #expect(included["deletedAt"] == deleted["deletedAt"])
        }
    }

    @Test("PUT replaces the client fields and bumps the version", arguments: StoreKind.allCases)
    func putReplaces(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let note = try await api.create("notes", as: alice, #"{"title":"a","content":"body"}"#)
            let replaced = try await api.send(
                .put, "/v1/notes/\(note.uid)", as: alice, body: #"{"title":"b","sync":{"version":99}}"#)
            #expect(replaced.status == .ok)
            #expect(replaced["version"]?.int64Value == 2)
            #expect(replaced["payload"]?["title"] == "b")
            #expect(replaced["payload"]?["content"] == nil, "PUT is a full replace")
            #expect(replaced["payload"]?["sync"]?["version"] == 2, "sync is server-maintained")
        }
    }

    @Test("If-Match accepts \"N\" and N, and answers 412 on a stale version", arguments: StoreKind.allCases)
    func ifMatch(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let task = try await api.create("tasks", as: alice, #"{"title":"a"}"#)
            let path = "/v1/tasks/\(task.uid)"
            let quoted = try await api.send(.put, path, as: alice, body: #"{"title":"b"}"#, headers: [.ifMatch: "\"1\""])
            #expect(quoted.status == .ok)
            let bare = try await api.send(.patch, path, as: alice, body: #"{"title":"c"}"#, headers: [.ifMatch: "2"])
            #expect(bare.status == .ok)
            let stale = try await api.send(.patch, path, as: alice, body: #"{"title":"d"}"#, headers: [.ifMatch: "\"2\""])
            #expect(stale.status == .preconditionFailed)
            #expect(stale.error.contains("version 3"))
            let stalePut = try await api.send(.put, path, as: alice, body: #"{"title":"d"}"#, headers: [.ifMatch: "1"])
            #expect(stalePut.status == .preconditionFailed)
            let garbage = try await api.send(.patch, path, as: alice, body: #"{"title":"d"}"#, headers: [.ifMatch: "abc"])
            #expect(garbage.status == .badRequest)
            let current = try await api.send(.get, path, as: alice)
            #expect(current["payload"]?["title"] == "c", "refused writes change nothing")
        }
    }

    @Test("PATCH merges keys, null removes one, uid and sync cannot be overwritten", arguments: StoreKind.allCases)
    func patchMerges(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let note = try await api.create("notes", as: alice, #"{"title":"a","content":"body","tags":["x"]}"#)
            let patched = try await api.send(
                .patch, "/v1/notes/\(note.uid)", as: alice,
                body: #"{"content":null,"pinned":true,"sync":{"isDeleted":true}}"#)
            #expect(patched.status == .ok)
            let payload = try #require(patched["payload"])
            #expect(payload["title"] == "a")
            #expect(payload["content"] == nil)
            #expect(payload["pinned"] == true)
            #expect(payload["tags"] == ["x"])
            #expect(payload["sync"]?["isDeleted"] == false)
            let otherUID = try await api.send(
                .patch, "/v1/notes/\(note.uid)", as: alice, body: #"{"uid":"00000000-0000-4000-8000-000000000000"}"#)
            #expect(otherUID.status == .badRequest)
            #expect(otherUID.error.contains("does not match"))
        }
    }

    @Test("writes to unknown items are 404 and to deleted items 410", arguments: StoreKind.allCases)
    func writesToMissingItems(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let unknown = "/v1/chats/00000000-0000-4000-8000-000000000000"
            for (method, suffix, body) in [
                (HTTPRequest.Method.put, "", "{}"), (.patch, "", "{}"), (.delete, "", nil),
                (.post, "/archive", nil), (.post, "/process", #"{"action":"resolve"}"#),
            ] as [(HTTPRequest.Method, String, String?)] {
                let response = try await api.send(method, unknown + suffix, as: alice, body: body)
                #expect(response.status == .notFound, "\(method) \(suffix)")
            }
            let chat = try await api.create("chats", as: alice, #"{"title":"c"}"#)
            let path = "/v1/chats/\(chat.uid)"
            #expect(try await api.send(.delete, path, as: alice).status == .ok)
            for (method, suffix, body) in [
                (HTTPRequest.Method.put, "", "{}"), (.patch, "", "{}"), (.delete, "", nil),
                (.post, "/archive", nil), (.post, "/process", #"{"action":"resolve"}"#),
            ] as [(HTTPRequest.Method, String, String?)] {
                let response = try await api.send(method, path + suffix, as: alice, body: body)
                #expect(response.status == .gone, "\(method) \(suffix)")
                #expect(response["deletedAt"] != nil)
            }
        }
    }

    @Test("DELETE returns the tombstone with deletedAt", arguments: StoreKind.allCases)
    func deleteReturnsTombstone(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let note = try await api.create("notes", as: alice, #"{"title":"a"}"#)
            let deleted = try await api.send(.delete, "/v1/notes/\(note.uid)", as: alice)
            #expect(deleted.status == .ok)
            #expect(deleted["version"]?.int64Value == 2)
            #expect(deleted["deletedAt"]?.stringValue != nil)
            #expect(deleted["payload"]?["sync"]?["isDeleted"] == true)
            #expect(deleted["payload"]?["sync"]?["deletedAt"] == deleted["deletedAt"])
        }
    }

    @Test("archive sets status to archived on every kind", arguments: StoreKind.allCases)
    func archive(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let note = try await api.create("notes", as: alice, #"{"title":"n"}"#)
            let chat = try await api.create("chats", as: alice, #"{"title":"c"}"#)
            let bodies = [
                "notes": #"{"title":"a"}"#, "tasks": #"{"title":"a"}"#, "chats": #"{"title":"a"}"#,
                "comments": #"{"content":"a","parentType":"note","parentUid":"\#(note.uid)"}"#,
                "chat_messages": #"{"content":"a","chatUid":"\#(chat.uid)"}"#,
            ]
            for kind in EntityKind.all {
                let item = try await api.create(kind.name, as: alice, try #require(bodies[kind.name]))
                let archived = try await api.send(.post, "/v1/\(kind.name)/\(item.uid)/archive", as: alice)
                #expect(archived.status == .ok, "\(kind.name)")
                #expect(archived["payload"]?["status"] == "archived", "\(kind.name)")
                #expect(archived["version"]?.int64Value == 2)
            }
        }
    }

    @Test("every process action of every kind has its documented effect", arguments: StoreKind.allCases)
    func processActions(store: StoreKind) async throws {
        let expected: [String: [String: JSONValue]] = [
            "notes/pin": ["pinned": true], "notes/unpin": ["pinned": false],
            "notes/archive": ["status": "archived"], "notes/unarchive": ["status": "active"],
            "tasks/start": ["status": "in_progress", "done": false],
            "tasks/complete": ["status": "completed", "done": true],
            "tasks/reopen": ["status": "open", "done": false],
            "comments/resolve": ["status": "resolved"], "comments/reopen": ["status": "open"],
            "chats/resolve": ["status": "resolved"], "chats/reopen": ["status": "active"],
            "chat_messages/mark_read": ["read": true], "chat_messages/mark_delivered": ["delivered": true],
        ]
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let note = try await api.create("notes", as: alice, #"{"title":"n"}"#)
            let chat = try await api.create("chats", as: alice, #"{"title":"c"}"#)
            let bodies = [
                "notes": "{}", "tasks": "{}", "chats": "{}",
                "comments": #"{"content":"a","parentType":"note","parentUid":"\#(note.uid)"}"#,
                "chat_messages": #"{"content":"a","chatUid":"\#(chat.uid)"}"#,
            ]
            var checked = 0
            for kind in EntityKind.all {
                let item = try await api.create(kind.name, as: alice, try #require(bodies[kind.name]))
                for action in kind.actions {
                    let response = try await api.send(
                        .post, "/v1/\(kind.name)/\(item.uid)/process", as: alice,
                        body: #"{"action":"\#(action.name)","metadata":{"by":"test"}}"#)
                    #expect(response.status == .ok, "\(kind.name)/\(action.name): \(response.text)")
                    for (key, value) in try #require(expected["\(kind.name)/\(action.name)"]) {
                        #expect(response["payload"]?[key] == value, "\(kind.name)/\(action.name) sets \(key)")
                    }
                    #expect(response["payload"]?["lastAction"]?["metadata"] == ["by": "test"])
                    checked += 1
                }
            }
            #expect(checked == expected.count)
        }
    }

    @Test("an unknown or missing action is 400 naming the valid ones", arguments: StoreKind.allCases)
    func processRejectsUnknownAction(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let task = try await api.create("tasks", as: alice, "{}")
            let unknown = try await api.send(.post, "/v1/tasks/\(task.uid)/process", as: alice, body: #"{"action":"fly"}"#)
            #expect(unknown.status == .badRequest)
            #expect(unknown.error.contains("start, complete, reopen"))
            let missing = try await api.send(.post, "/v1/tasks/\(task.uid)/process", as: alice, body: "{}")
            #expect(missing.status == .badRequest)
            #expect(missing.error.contains("action is required"))
            let badMetadata = try await api.send(
                .post, "/v1/tasks/\(task.uid)/process", as: alice, body: #"{"action":"start","metadata":3}"#)
            #expect(badMetadata.status == .badRequest)
        }
    }

    @Test("every write gets a strictly later timestamp, even within one millisecond", arguments: StoreKind.allCases)
    func monotonicTimestamps(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let note = try await api.create("notes", as: alice, "{}")
            var previous = try #require(Timestamp.parse(note["updatedAt"]?.stringValue ?? ""))
            for step in 0..<15 {
                let patched = try await api.send(.patch, "/v1/notes/\(note.uid)", as: alice, body: #"{"step":\#(step)}"#)
                let current = try #require(Timestamp.parse(patched["updatedAt"]?.stringValue ?? ""))
                #expect(current > previous)
                previous = current
            }
        }
    }

    @Test("concurrent PATCHes of one item all land and each counts in the version", arguments: StoreKind.allCases)
    func concurrentPatchesAllLand(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let note = try await api.create("notes", as: alice, "{}")
            let writers = 20
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for index in 0..<writers {
                    group.addTask {
                        try await api.send(.patch, "/v1/notes/\(note.uid)", as: alice, body: #"{"k\#(index)":\#(index)}"#)
                            .status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == .ok })
            let final = try await api.send(.get, "/v1/notes/\(note.uid)", as: alice)
            #expect(final["version"]?.int64Value == Int64(1 + writers))
            for index in 0..<writers {
                #expect(final["payload"]?["k\(index)"]?.int64Value == Int64(index), "k\(index) was lost")
            }
        }
    }

    @Test("bad input is a clear 400, 404 or 413, and the API keeps serving", arguments: StoreKind.allCases)
    func badInput(store: StoreKind) async throws {
        try await TestAPI.run(store, configure: { $0.maxBodyBytes = 2048 }) { api in
            let alice = try await api.user()
            let malformed = try await api.send(.post, "/v1/notes", as: alice, body: #"{"title": "a",}"#)
            #expect(malformed.status == .badRequest)
            #expect(malformed.error.contains("malformed JSON at byte"))
            let notObject = try await api.send(.post, "/v1/notes", as: alice, body: "[1,2]")
            #expect(notObject.status == .badRequest)
            #expect(notObject.error.contains("must be a JSON object"))
            let empty = try await api.send(.post, "/v1/notes", as: alice, body: "")
            #expect(empty.status == .badRequest)
            let badUID = try await api.send(.get, "/v1/notes/12345", as: alice)
            #expect(badUID.status == .badRequest)
            #expect(badUID.error.contains("not a valid uid"))
            let unknownKind = try await api.send(.get, "/v1/widgets", as: alice)
            #expect(unknownKind.status == .notFound)
            #expect(unknownKind.error.contains("unknown kind 'widgets'"))
            let big = String(repeating: "x", count: 4096)
            let tooLarge = try await api.send(.post, "/v1/notes", as: alice, body: #"{"content":"\#(big)"}"#)
            #expect(tooLarge.status == .contentTooLarge)
            #expect(tooLarge.error.contains("2048 bytes"))
            let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
            let tooDeep = try await api.send(.post, "/v1/notes", as: alice, body: #"{"a":\#(deep)}"#)
            #expect(tooDeep.status == .badRequest)
            let list = try await api.send(.get, "/v1/notes", as: alice)
            #expect(list.status == .ok)
            #expect(list["items"]?.arrayValue?.isEmpty == true, "nothing was stored by the bad requests")
        }
    }

    @Test("the correlation id is honoured, returned and put in error bodies")
    func correlationID() async throws {
        try await TestAPI.run(.sqlite) { api in
            let alice = try await api.user()
            let response = try await api.send(
                .get, "/v1/notes/00000000-0000-4000-8000-000000000000", as: alice,
                headers: [.correlationID: "req-42"])
            #expect(response.headers[.correlationID] == "req-42")
            #expect(response["correlation_id"] == "req-42")
            let generated = try await api.send(.get, "/healthz")
            #expect(generated.headers[.correlationID]?.count == 36)
        }
    }
}
