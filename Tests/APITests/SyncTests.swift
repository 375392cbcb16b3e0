import API
import ServerSupport
import TestSupport
import HTTPTypes
import Testing

@Suite("Sync sessions")
struct SyncSessionTests {
    @Test("POST /v1/sync/sessions returns the session and X-Sync-Epoch", arguments: StoreKind.allCases)
    func createSession(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let token = TestTokens.hs256(sub: "alice", claims: ["org_id": api.tenant])
            let response = try await api.send(.post, "/v1/sync/sessions", headers: [.authorization: "Bearer \(token)"])
            #expect(response.status == .created)
            #expect(response["userId"] == "alice")
            #expect(response["epoch"] == 1)
            #expect(response.headers[.syncEpoch] == "1")
            let created = try #require(Timestamp.parse(response["createdAt"]?.stringValue ?? ""))
            let expires = try #require(Timestamp.parse(response["expiresAt"]?.stringValue ?? ""))
            #expect(expires - created == 3600 * 1000)
        }
    }

    @Test("GET and DELETE serve own sessions only: 403 for another's, 404 for unknown", arguments: StoreKind.allCases)
    func ownSessionsOnly(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user("alice")
            let bob = try await api.user("bob")
            let own = try await api.send(.get, "/v1/sync/sessions/\(alice.session)", headers: alice.authOnly)
            #expect(own.status == .ok)
            #expect(own["id"]?.stringValue == alice.session)
            let foreign = try await api.send(.get, "/v1/sync/sessions/\(alice.session)", headers: bob.authOnly)
            #expect(foreign.status == .forbidden)
            let foreignDelete = try await api.send(.delete, "/v1/sync/sessions/\(alice.session)", headers: bob.authOnly)
            #expect(foreignDelete.status == .forbidden)
            let unknown = try await api.send(.get, "/v1/sync/sessions/no-such-session", headers: alice.authOnly)
            #expect(unknown.status == .notFound)

            let deleted = try await api.send(.delete, "/v1/sync/sessions/\(alice.session)", headers: alice.authOnly)
            #expect(deleted.status == .noContent)
            #expect(try await api.send(.get, "/v1/sync/sessions/\(alice.session)", headers: alice.authOnly).status == .notFound)
            let afterDelete = try await api.send(.get, "/v1/notes", as: alice)
            #expect(afterDelete.status == .preconditionRequired)
        }
    }

    @Test("entity endpoints need a session (428) of the caller's own (403)", arguments: StoreKind.allCases)
    func entityEndpointsNeedOwnSession(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user("alice")
            let bob = try await api.user("bob")
            var noSession = alice.authOnly
            noSession[.syncEpoch] = "1"
            let missing = try await api.send(.get, "/v1/notes", headers: noSession)
            #expect(missing.status == .preconditionRequired)
            #expect(missing.error.contains("X-Sync-Session"))

            var unknown = alice
            unknown.session = "00000000-0000-4000-8000-000000000000"
            #expect(try await api.send(.get, "/v1/notes", as: unknown).status == .preconditionRequired)

            let now = Timestamp.nowMilliseconds()
            try await api.store.createSession(SyncSession(
                id: "expired-\(alice.session)", tenant: api.tenant, userID: "alice", createdMs: now - 7200_000,
                expiresMs: now - 1000))
            var expired = alice
            expired.session = "expired-\(alice.session)"
            let expiredResponse = try await api.send(.get, "/v1/notes", as: expired)
            #expect(expiredResponse.status == .preconditionRequired)
            #expect(expiredResponse.error.contains("expired"))

            var borrowed = alice
            borrowed.session = bob.session
            let foreign = try await api.send(.get, "/v1/notes", as: borrowed)
            #expect(foreign.status == .forbidden)
            let foreignPush = try await api.send(.post, "/v1/sync/notes/push", as: borrowed, body: #"{"items":[]}"#)
            #expect(foreignPush.status == .forbidden)
        }
    }

    @Test("entity endpoints need X-Sync-Epoch: 428 when missing, 409 epoch_mismatch when wrong", arguments: StoreKind.allCases)
    func epochHeader(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            var headers = alice.headers
            headers[.syncEpoch] = nil
            #expect(try await api.send(.get, "/v1/tasks", headers: headers).status == .preconditionRequired)
            var wrong = alice
            wrong.epoch = 7
            let mismatch = try await api.send(.get, "/v1/tasks", as: wrong)
            #expect(mismatch.status == .conflict)
            #expect(mismatch.error == "epoch_mismatch")
            #expect(mismatch["epoch"] == 1)
        }
    }

    @Test("a session created on one replica works on another sharing the database", arguments: StoreKind.allCases)
    func sessionsSurviveASecondReplica(store: StoreKind) async throws {
        let configuration = try TestDatabase.configuration(store)
        let tenant = uniqueTenant()
        try await TestAPI.run(configuration: configuration, tenant: tenant) { first in
            let alice = try await first.user()
            let note = try await first.create("notes", as: alice, #"{"title":"from replica one"}"#)
            try await TestAPI.run(configuration: configuration, tenant: tenant) { second in
                let fetched = try await second.send(.get, "/v1/notes/\(note.uid)", as: alice)
                #expect(fetched.status == .ok)
                #expect(fetched["payload"]?["title"] == "from replica one")
                let state = try await second.send(.get, "/v1/sync/sessions/\(alice.session)", headers: alice.authOnly)
                #expect(state.status == .ok)
            }
        }
    }
}

@Suite("Push, pull and wipe")
struct PushPullTests {
    @Test("push is last-writer-wins on updatedTs and a replay does not bump the version", arguments: StoreKind.allCases)
    func pushLastWriterWins(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let uid = "3b241101-e2bb-4255-8caf-4136c566a962"
            func push(_ items: String) async throws -> [JSONValue] {
                let response = try await api.send(.post, "/v1/sync/notes/push", as: alice, body: #"{"items":[\#(items)]}"#)
                try #require(response.status == .ok, "\(response.text)")
                return try #require(response["acks"]?.arrayValue)
            }
            let first = try await push(#"{"uid":"\#(uid)","title":"v1","updatedTs":"2026-01-01T10:00:00.000Z"}"#)
            #expect(first.first?["version"] == 1)
            #expect(first.first?["error"] == nil)
            let replay = try await push(#"{"uid":"\#(uid)","title":"v1","updatedTs":"2026-01-01T10:00:00.000Z"}"#)
            #expect(replay.first?["version"] == 1, "a replay does not bump the version")
            let newer = try await push(#"{"uid":"\#(uid)","title":"v2","updatedTs":"2026-01-01T11:00:00Z"}"#)
            #expect(newer.first?["version"] == 2)
            let older = try await push(#"{"uid":"\#(uid)","title":"stale","updatedTs":1735725600000}"#)
            #expect(older.first?["version"] == 2, "an older write loses")
            let item = try await api.send(.get, "/v1/notes/\(uid)", as: alice)
            #expect(item["payload"]?["title"] == "v2")
            #expect(item["payload"]?["updatedTs"] == "2026-01-01T11:00:00.000Z")

            let tombstone = try await push(
                #"{"uid":"\#(uid)","updatedTs":"2026-01-02T00:00:00Z","sync":{"isDeleted":true}}"#)
            #expect(tombstone.first?["version"] == 3)
            #expect(try await api.send(.get, "/v1/notes/\(uid)", as: alice).status == .gone)
        }
    }

    @Test("push acknowledges bad items with an error and stores the good ones", arguments: StoreKind.allCases)
    func pushPerItemErrors(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let good = "9d5ed678-fe57-4cca-b800-b24a3a2a2f7a"
            let response = try await api.send(
                .post, "/v1/sync/comments/push", as: alice,
                body: """
                    {"items":[
                      {"uid":"nope","updatedTs":"2026-01-01T00:00:00Z"},
                      {"uid":"\(good)"},
                      42,
                      {"uid":"\(good)","updatedTs":"2026-01-01T00:00:00Z","parentType":"note",
                       "parentUid":"00000000-0000-4000-8000-000000000000"}
                    ]}
                    """)
            #expect(response.status == .ok)
            let acks = try #require(response["acks"]?.arrayValue)
            #expect(acks.count == 4)
            #expect(acks[0]["error"]?.stringValue?.contains("uid") == true)
            #expect(acks[1]["error"]?.stringValue?.contains("updatedTs") == true)
            #expect(acks[2]["error"] != nil)
            #expect(acks[3]["error"]?.stringValue?.contains("no live note") == true)
            let malformed = try await api.send(.post, "/v1/sync/notes/push", as: alice, body: #"{"things":[]}"#)
            #expect(malformed.status == .badRequest)
        }
    }

    @Test("pull pages through upserts and deletes", arguments: StoreKind.allCases)
    func pull(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            var live: Set<String> = []
            var deleted: Set<String> = []
            for index in 0..<9 {
                let task = try await api.create("tasks", as: alice, #"{"n":\#(index)}"#)
                if index % 3 == 0 {
                    _ = try await api.send(.delete, "/v1/tasks/\(task.uid)", as: alice)
                    deleted.insert(task.uid)
                } else {
                    live.insert(task.uid)
                }
            }
            var upserts: [String] = []
            var deletes: [String] = []
            var cursor: String?
            repeat {
                let page = try await api.send(
                    .get, "/v1/sync/tasks/pull?limit=4" + (cursor.map { "&cursor=\($0)" } ?? ""), as: alice)
                try #require(page.status == .ok)
                upserts += page["upserts"]?.arrayValue?.map(\.uid) ?? []
                deletes += page["deletes"]?.arrayValue?.map(\.uid) ?? []
                #expect(page["deletes"]?.arrayValue?.allSatisfy { $0["deletedAt"] != nil } == true)
                cursor = page["nextCursor"]?.stringValue
            } while cursor != nil
            #expect(upserts.count == live.count && Set(upserts) == live)
            #expect(deletes.count == deleted.count && Set(deletes) == deleted)
        }
    }

    @Test("wipe needs confirmation, deletes the caller's items, bumps the epoch; the old epoch gets 409",
        arguments: StoreKind.allCases)
    func wipe(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            var alice = try await api.user("alice")
            let bob = try await api.user("bob")
            try await api.create("notes", as: alice, "{}")
            try await api.create("notes", as: alice, "{}")
            try await api.create("tasks", as: alice, "{}")
            let bobsNote = try await api.create("notes", as: bob, "{}")

            let unconfirmed = try await api.send(.post, "/v1/sync/wipe", as: alice, body: #"{"confirm":"yes"}"#)
            #expect(unconfirmed.status == .badRequest)

            let wiped = try await api.send(.post, "/v1/sync/wipe", as: alice, body: #"{"confirm":"WIPE"}"#)
            #expect(wiped.status == .ok)
            #expect(wiped["epoch"] == 2)
            #expect(wiped["deleted"]?["notes"] == 2)
            #expect(wiped["deleted"]?["tasks"] == 1)
            #expect(wiped["deleted"]?["chats"] == 0)
            #expect(wiped.headers[.syncEpoch] == "2")

            let stale = try await api.send(.get, "/v1/notes", as: alice)
            #expect(stale.status == .conflict)
            #expect(stale["epoch"] == 2)

            alice.epoch = 2
            let fresh = try await api.send(.get, "/v1/notes?includeDeleted=true", as: alice)
            #expect(fresh.status == .ok)
            #expect(fresh["items"]?.arrayValue?.isEmpty == true)

            let state = try await api.send(.get, "/v1/sync/state", headers: alice.authOnly)
            #expect(state["epoch"] == 2)
            #expect(state["lastWipeBy"] == "alice")
            #expect(state["lastWipeAt"]?.stringValue != nil)

            let bobs = try await api.send(.get, "/v1/notes/\(bobsNote.uid)", as: bob)
            #expect(bobs.status == .ok, "a wipe touches only the caller's items")
            #expect(try await api.send(.get, "/v1/sync/state", headers: bob.authOnly)["epoch"] == 1)
        }
    }
}
