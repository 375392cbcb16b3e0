import API
import TestSupport
import Testing

@Suite("Lists")
struct ListTests {
    @Test("pages of several sizes cover every item once, in (updatedAt, uid) order", arguments: StoreKind.allCases)
    func paginationLosesAndRepeatsNothing(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            var created: Set<String> = []
            for index in 0..<23 {
                created.insert(try await api.create("notes", as: alice, #"{"n":\#(index)}"#).uid)
            }
            for limit in [1, 7, 23, 50] {
                var seen: [String] = []
                var stamps: [(String, String)] = []
                var cursor: String?
                var pages = 0
                repeat {
                    let query = "limit=\(limit)" + (cursor.map { "&cursor=\($0)" } ?? "")
                    let page = try await api.send(.get, "/v1/notes?\(query)", as: alice)
                    try #require(page.status == .ok, "\(page.text)")
                    let items = try #require(page["items"]?.arrayValue)
                    #expect(items.count <= limit)
                    seen += items.map(\.uid)
                    stamps += items.map { ($0["updatedAt"]?.stringValue ?? "", $0.uid) }
                    cursor = page["nextCursor"]?.stringValue
                    pages += 1
                } while cursor != nil && pages < 100
                #expect(seen.count == created.count, "limit \(limit)")
                #expect(Set(seen) == created, "limit \(limit)")
                #expect(stamps.map { "\($0.0)|\($0.1)" } == stamps.map { "\($0.0)|\($0.1)" }.sorted())
                #expect(pages == (created.count + limit - 1) / limit, "limit \(limit) needs no empty last page")
            }
        }
    }

    @Test("limit defaults to 100, clamps at 1000 and refuses nonsense", arguments: StoreKind.allCases)
    func limits(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            for _ in 0..<3 { try await api.create("tasks", as: alice, "{}") }
            let huge = try await api.send(.get, "/v1/tasks?limit=5000", as: alice)
            #expect(huge.status == .ok)
            #expect(huge["items"]?.arrayValue?.count == 3)
            for bad in ["0", "-1", "abc", "1.5"] {
                let response = try await api.send(.get, "/v1/tasks?limit=\(bad)", as: alice)
                #expect(response.status == .badRequest, "limit=\(bad)")
                #expect(response.error.contains("limit"))
            }
            let badCursor = try await api.send(.get, "/v1/tasks?cursor=bm9wZQ", as: alice)
            #expect(badCursor.status == .badRequest)
            #expect(badCursor.error.contains("cursor"))
            let badFlag = try await api.send(.get, "/v1/tasks?includeDeleted=maybe", as: alice)
            #expect(badFlag.status == .badRequest)
        }
    }

    @Test("deleted items are listed only with includeDeleted", arguments: StoreKind.allCases)
    func includeDeleted(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let kept = try await api.create("chats", as: alice, "{}")
            let removed = try await api.create("chats", as: alice, "{}")
            _ = try await api.send(.delete, "/v1/chats/\(removed.uid)", as: alice)
            let live = try await api.send(.get, "/v1/chats", as: alice)
            #expect(live["items"]?.arrayValue?.map(\.uid) == [kept.uid])
            let all = try await api.send(.get, "/v1/chats?includeDeleted=true", as: alice)
            #expect(Set(all["items"]?.arrayValue?.map(\.uid) ?? []) == [kept.uid, removed.uid])
        }
    }

    @Test("notes and tasks filter by status", arguments: StoreKind.allCases)
    func statusFilter(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let open = try await api.create("tasks", as: alice, #"{"status":"open"}"#)
            let started = try await api.create("tasks", as: alice, #"{"status":"open"}"#)
            _ = try await api.send(.post, "/v1/tasks/\(started.uid)/process", as: alice, body: #"{"action":"start"}"#)
            let inProgress = try await api.send(.get, "/v1/tasks?status=in_progress", as: alice)
            #expect(inProgress["items"]?.arrayValue?.map(\.uid) == [started.uid])
            let stillOpen = try await api.send(.get, "/v1/tasks?status=open", as: alice)
            #expect(stillOpen["items"]?.arrayValue?.map(\.uid) == [open.uid])

            let note = try await api.create("notes", as: alice, "{}")
            _ = try await api.send(.post, "/v1/notes/\(note.uid)/archive", as: alice)
            try await api.create("notes", as: alice, #"{"status":"active"}"#)
            let archived = try await api.send(.get, "/v1/notes?status=archived", as: alice)
            #expect(archived["items"]?.arrayValue?.map(\.uid) == [note.uid])
        }
    }

    @Test("comments filter by parentUid and parentType; chat messages by chatUid", arguments: StoreKind.allCases)
    func parentFilters(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let note = try await api.create("notes", as: alice, "{}")
            let task = try await api.create("tasks", as: alice, "{}")
            let onNote = try await api.create(
                "comments", as: alice, #"{"content":"n","parentType":"note","parentUid":"\#(note.uid)"}"#)
            let onTask = try await api.create(
                "comments", as: alice, #"{"content":"t","parentType":"task","parentUid":"\#(task.uid)"}"#)
            let byNote = try await api.send(.get, "/v1/comments?parentUid=\(note.uid)", as: alice)
            #expect(byNote["items"]?.arrayValue?.map(\.uid) == [onNote.uid])
            let byType = try await api.send(.get, "/v1/comments?parentType=task", as: alice)
            #expect(byType["items"]?.arrayValue?.map(\.uid) == [onTask.uid])

            let first = try await api.create("chats", as: alice, "{}")
            let second = try await api.create("chats", as: alice, "{}")
            let message = try await api.create("chat_messages", as: alice, #"{"content":"hi","chatUid":"\#(first.uid)"}"#)
            try await api.create("chat_messages", as: alice, #"{"content":"yo","chatUid":"\#(second.uid)"}"#)
            let inFirst = try await api.send(.get, "/v1/chat_messages?chatUid=\(first.uid)", as: alice)
            #expect(inFirst["items"]?.arrayValue?.map(\.uid) == [message.uid])
        }
    }
}

@Suite("Parent rules")
struct ParentRuleTests {
    @Test("a comment needs parentType and parentUid naming a live note or task", arguments: StoreKind.allCases)
    func commentNeedsLiveParent(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let note = try await api.create("notes", as: alice, "{}")
            let missingType = try await api.send(.post, "/v1/comments", as: alice, body: #"{"parentUid":"\#(note.uid)"}"#)
            #expect(missingType.status == .badRequest)
            #expect(missingType.error.contains("parentType"))
            let wrongType = try await api.send(
                .post, "/v1/comments", as: alice, body: #"{"parentType":"chat","parentUid":"\#(note.uid)"}"#)
            #expect(wrongType.status == .badRequest)
            #expect(wrongType.error.contains("note, task"))
            let missingUID = try await api.send(.post, "/v1/comments", as: alice, body: #"{"parentType":"note"}"#)
            #expect(missingUID.status == .badRequest)
            #expect(missingUID.error.contains("parentUid"))
            let mismatched = try await api.send(
                .post, "/v1/comments", as: alice, body: #"{"parentType":"task","parentUid":"\#(note.uid)"}"#)
            #expect(mismatched.status == .badRequest, "the uid names a note, not a task")

            let comment = try await api.create(
                "comments", as: alice, #"{"content":"x","parentType":"note","parentUid":"\#(note.uid)"}"#)
            _ = try await api.send(.delete, "/v1/notes/\(note.uid)", as: alice)
            let onDeleted = try await api.send(
                .post, "/v1/comments", as: alice, body: #"{"parentType":"note","parentUid":"\#(note.uid)"}"#)
            #expect(onDeleted.status == .badRequest)
            #expect(onDeleted.error.contains("no live note"))
            let deleteComment = try await api.send(.delete, "/v1/comments/\(comment.uid)", as: alice)
            #expect(deleteComment.status == .ok, "deleting a comment does not need a live parent")
        }
    }

    @Test("a comment on another user's note is rejected", arguments: StoreKind.allCases)
    func commentOnAnotherUsersNote(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user("alice")
            let bob = try await api.user("bob")
            let note = try await api.create("notes", as: alice, "{}")
            let response = try await api.send(
                .post, "/v1/comments", as: bob, body: #"{"content":"hi","parentType":"note","parentUid":"\#(note.uid)"}"#)
            #expect(response.status == .badRequest)
            #expect(response.error.contains("no live note"))
            let bobsComments = try await api.send(.get, "/v1/comments", as: bob)
            #expect(bobsComments["items"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test("a chat message needs chatUid naming a live chat of the same user", arguments: StoreKind.allCases)
    func chatMessageNeedsLiveChat(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let missing = try await api.send(.post, "/v1/chat_messages", as: alice, body: #"{"content":"x"}"#)
            #expect(missing.status == .badRequest)
            #expect(missing.error.contains("chatUid"))
            let unknown = try await api.send(
                .post, "/v1/chat_messages", as: alice, body: #"{"chatUid":"00000000-0000-4000-8000-000000000000"}"#)
            #expect(unknown.status == .badRequest)
            #expect(unknown.error.contains("no live chat"))
            let chat = try await api.create("chats", as: alice, "{}")
            let message = try await api.create("chat_messages", as: alice, #"{"content":"x","chatUid":"\#(chat.uid)"}"#)
            let moved = try await api.send(
                .patch, "/v1/chat_messages/\(message.uid)", as: alice,
                body: #"{"chatUid":"00000000-0000-4000-8000-000000000000"}"#)
            #expect(moved.status == .badRequest, "an update is checked like a create")
        }
    }
}
