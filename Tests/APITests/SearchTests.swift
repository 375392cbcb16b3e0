import API
import TestSupport
import Testing

@Suite("Search")
struct SearchTests {
    private func search(_ api: TestAPI, _ user: TestUser, _ query: String) async throws -> APIResponse {
        try await api.send(.get, "/v1/search?" + query, as: user)
    }

    private func uids(_ response: APIResponse) -> [String] {
        response["items"]?.arrayValue?.compactMap { $0["item"]?.uid } ?? []
    }

    @Test("a title match outranks a body match, and snippets mark the matched words", arguments: StoreKind.allCases)
    func rankingAndSnippets(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let inBody = try await api.create(
                "notes", as: alice,
                #"{"title":"Misc","content":"We went over the Quarterly numbers with the whole team on Monday."}"#)
            let inTitle = try await api.create(
                "notes", as: alice, #"{"title":"Quarterly budget","content":"Numbers for the team."}"#)
            let task = try await api.create(
                "tasks", as: alice, #"{"title":"Send report","description":"quarterly report for finance"}"#)
            _ = try await api.create("notes", as: alice, #"{"title":"Unrelated","content":"nothing to see"}"#)

            let response = try await search(api, alice, "q=quarterly")
            try #require(response.status == .ok, "\(response.text)")
            let hits = try #require(response["items"]?.arrayValue)
            #expect(Set(uids(response)) == [inBody.uid, inTitle.uid, task.uid])
            #expect(hits.first?["item"]?.uid == inTitle.uid, "the title match comes first: \(response.text)")
            let scores = hits.compactMap { $0["score"]?.doubleValue }
            #expect(scores == scores.sorted(by: >))
            #expect(hits.first?["kind"] == "notes")
            #expect(hits.first?["item"]?.payload["title"] == "Quarterly budget")
            let bodySnippet = hits.first { $0["item"]?.uid == inBody.uid }?["snippet"]?.stringValue ?? ""
            #expect(bodySnippet.contains("**Quarterly**"), "snippet: \(bodySnippet)")
            #expect(!bodySnippet.contains("**the**"))
        }
    }

    @Test("words match as prefixes; phrases, OR and exclusions behave", arguments: StoreKind.allCases)
    func querySyntax(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let pie = try await api.create("notes", as: alice, #"{"title":"Apple pie","content":"bake at noon"}"#)
            let juice = try await api.create("notes", as: alice, #"{"title":"Apple juice","content":"meeting at noon"}"#)
            let banana = try await api.create("notes", as: alice, #"{"title":"Banana bread"}"#)
            #expect(Set(uids(try await search(api, alice, "q=meet"))) == [juice.uid])
            #expect(Set(uids(try await search(api, alice, "q=apple%20-pie"))) == [juice.uid])
            #expect(Set(uids(try await search(api, alice, "q=apple%20NOT%20juice"))) == [pie.uid])
            #expect(Set(uids(try await search(api, alice, "q=pie%20OR%20banana"))) == [pie.uid, banana.uid])
            #expect(Set(uids(try await search(api, alice, "q=%22apple%20juice%22"))) == [juice.uid])
            #expect(Set(uids(try await search(api, alice, "q=%22juice%20apple%22"))).isEmpty)
            #expect(Set(uids(try await search(api, alice, "q=apple%20noon"))) == [pie.uid, juice.uid])
        }
    }

    @Test("the kinds filter limits the kinds searched", arguments: StoreKind.allCases)
    func kindsFilter(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let note = try await api.create("notes", as: alice, #"{"title":"Harbor trip"}"#)
            let task = try await api.create("tasks", as: alice, #"{"title":"Book harbor tour"}"#)
            let chat = try await api.create("chats", as: alice, #"{"title":"Harbor plans"}"#)
            let message = try await api.create(
                "chat_messages", as: alice, #"{"chatUid":"\#(chat.uid)","content":"see you at the harbor","role":"user"}"#)
            let comment = try await api.create(
                "comments", as: alice, #"{"parentType":"task","parentUid":"\#(task.uid)","content":"harbor closes at six"}"#)
            #expect(Set(uids(try await search(api, alice, "q=harbor"))) == [note.uid, task.uid, chat.uid, message.uid, comment.uid])
            #expect(uids(try await search(api, alice, "q=harbor&kinds=tasks")) == [task.uid])
            #expect(Set(uids(try await search(api, alice, "q=harbor&kinds=note,chat_messages"))) == [note.uid, message.uid])
            let kinds = try await search(api, alice, "q=harbor&kinds=comments")
            #expect(kinds["items"]?.arrayValue?.first?["kind"] == "comments")
            let unknown = try await search(api, alice, "q=harbor&kinds=notes,boats")
            #expect(unknown.status == .badRequest)
            #expect(unknown.error.contains("boats"))
        }
    }

    @Test("deleted items never match, and edits are searchable at once", arguments: StoreKind.allCases)
    func indexFollowsWrites(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let kept = try await api.create("notes", as: alice, #"{"title":"Lighthouse keeper"}"#)
            let removed = try await api.create("notes", as: alice, #"{"title":"Lighthouse tour"}"#)
            let edited = try await api.create("tasks", as: alice, #"{"title":"Lighthouse visit"}"#)
            _ = try await api.send(.delete, "/v1/notes/\(removed.uid)", as: alice)
            _ = try await api.send(.patch, "/v1/tasks/\(edited.uid)", as: alice, body: #"{"title":"Museum visit"}"#)
            #expect(Set(uids(try await search(api, alice, "q=lighthouse"))) == [kept.uid])
            #expect(uids(try await search(api, alice, "q=museum")) == [edited.uid])
            let wipe = try await api.send(.post, "/v1/sync/wipe", as: alice, body: #"{"confirm":"WIPE"}"#)
            #expect(wipe.status == .ok)
            #expect(uids(try await search(api, alice, "q=lighthouse")).isEmpty)
        }
    }

    @Test("a user finds only their own items in their own tenant", arguments: StoreKind.allCases)
    func isolation(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user("alice")
            let bob = try await api.user("bob")
            let otherTenant = uniqueTenant()
            let aliceElsewhere = try await api.user("alice", tenants: [otherTenant])
            let mine = try await api.create("notes", as: alice, #"{"title":"Secret recipe"}"#)
            let bobs = try await api.create("notes", as: bob, #"{"title":"Secret recipe"}"#)
            let elsewhere = try await api.create("notes", as: aliceElsewhere, #"{"title":"Secret recipe"}"#)
            #expect(uids(try await search(api, alice, "q=secret")) == [mine.uid])
            #expect(uids(try await search(api, bob, "q=secret")) == [bobs.uid])
            #expect(uids(try await search(api, aliceElsewhere, "q=secret")) == [elsewhere.uid])
            let anonymous = try await api.send(.get, "/v1/search?q=secret")
            #expect(anonymous.status == .unauthorized)
        }
    }

    @Test("unicode text: accents, other scripts and case", arguments: StoreKind.allCases)
    func unicode(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let zurich = try await api.create("notes", as: alice, #"{"title":"Café in Zürich","content":"Grüße"}"#)
            let tokyo = try await api.create("notes", as: alice, #"{"title":"東京タワー","content":"夜景"}"#)
            let greek = try await api.create("notes", as: alice, #"{"title":"ΩΜΈΓΑ project"}"#)
            let emoji = try await api.create("notes", as: alice, #"{"title":"Party 🎉 plans"}"#)
            #expect(uids(try await search(api, alice, "q=z%C3%BCrich")) == [zurich.uid])
            #expect(uids(try await search(api, alice, "q=CAF%C3%89")) == [zurich.uid])
            #expect(uids(try await search(api, alice, "q=%E6%9D%B1%E4%BA%AC")) == [tokyo.uid])
            #expect(uids(try await search(api, alice, "q=%CF%89%CE%BC%CE%AD%CE%B3%CE%B1")) == [greek.uid])
            #expect(uids(try await search(api, alice, "q=%F0%9F%8E%89%20party")) == [emoji.uid])
            let snippet = try await search(api, alice, "q=z%C3%BCrich")
            #expect(snippet["items"]?.arrayValue?.first?["snippet"]?.stringValue?.contains("**Zürich**") == true)
        }
    }

    @Test("hostile queries get a 200 or a 400 with a sentence, never a 500", arguments: StoreKind.allCases)
    func hostileQueries(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let note = try await api.create("notes", as: alice, #"{"title":"Plain note","content":"o'brien said 1=1"}"#)
            let queries = [
                "%22", "%22%22", "a%22%20OR%20%22b", "*", "NEAR(a%20b)", "title:plain", "a%20AND%20OR%20NOT",
                "%27%20OR%201%3D1%20--", "%5C", "!!!", "(((", "a%20%26%20b%20%7C%20!c", "-", "--", "NOT", "OR",
                "x:*", "plain%00note", "%F0%9F%92%A9", "%E2%80%8B", "%27plain%27:*%20%26%20!%27x%27", "%5E%20plain",
                "plain%20NEAR/2%20note", "%7Bplain%7D", "o%27brien", String(repeating: "a", count: 150),
                Array(repeating: "word", count: 40).joined(separator: "%20"), String(repeating: "x%20", count: 600),
            ]
            for query in queries {
                let response = try await search(api, alice, "q=" + query)
                #expect(response.status == .ok || response.status == .badRequest, "q=\(query): \(response.text)")
                if response.status == .badRequest { #expect(!response.error.isEmpty, "q=\(query)") }
            }
            let obrien = try await search(api, alice, "q=o%27brien")
            #expect(uids(obrien) == [note.uid])
            let unclosed = try await search(api, alice, "q=%22plain%20note")
            #expect(unclosed.status == .badRequest)
            #expect(unclosed.error.contains("never closes"))
            let long = try await search(api, alice, "q=" + String(repeating: "x%20", count: 600))
            #expect(long.status == .badRequest)
            #expect(long.error.contains("1000"))
            let empty = try await search(api, alice, "q=%20%26%26%20")
            #expect(empty.status == .badRequest)
            #expect(empty.error.contains("no words"))
            let onlyExcluded = try await search(api, alice, "q=-plain")
            #expect(onlyExcluded.error.contains("only excludes"))
            let missing = try await search(api, alice, "kinds=notes")
            #expect(missing.status == .badRequest)
            #expect(missing.error.contains("q is required"))
            #expect(uids(try await search(api, alice, "q=plain")) == [note.uid], "the API still serves")
        }
    }

    @Test("pages follow the ranking without repeats", arguments: StoreKind.allCases)
    func pagination(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            var created: Set<String> = []
            for index in 0..<25 {
                created.insert(try await api.create("notes", as: alice, #"{"title":"Garden log \#(index)"}"#).uid)
            }
            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let response = try await search(api, alice, "q=garden&limit=10" + (cursor.map { "&cursor=\($0)" } ?? ""))
                try #require(response.status == .ok, "\(response.text)")
                seen += uids(response)
                cursor = response["nextCursor"]?.stringValue
                pages += 1
            } while cursor != nil && pages < 10
            #expect(pages == 3)
            #expect(seen.count == 25)
            #expect(Set(seen) == created)
            let bad = try await search(api, alice, "q=garden&cursor=bm9wZQ")
            #expect(bad.status == .badRequest)
            #expect(bad.error.contains("cursor"))
        }
    }
}
