import API
import ServerSupport
import TestSupport
import Testing

@Suite("Insights")
struct InsightsTests {
    @Test("counts per kind, status, tag and day, for the caller only", arguments: StoreKind.allCases)
    func counts(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user("alice")
            let bob = try await api.user("bob")
            try await api.create("notes", as: alice, #"{"title":"a","tags":["work","urgent"],"status":"active"}"#)
            try await api.create("notes", as: alice, #"{"title":"b","tags":["work"],"status":"archived"}"#)
            try await api.create("notes", as: alice, #"{"title":"c","tags":"not-a-list"}"#)
            let gone = try await api.create("notes", as: alice, #"{"title":"d","tags":["work"]}"#)
            _ = try await api.send(.delete, "/v1/notes/\(gone.uid)", as: alice)
            try await api.create("tasks", as: alice, #"{"title":"t","status":"open","tags":["work",7,"home"]}"#)
            try await api.create("notes", as: bob, #"{"title":"bob's","tags":["work"]}"#)

            let response = try await api.send(.get, "/v1/insights", as: alice)
            try #require(response.status == .ok, "\(response.text)")
            #expect(response["total"]?.int64Value == 4)
            let notes = try #require(response["kinds"]?["notes"])
            #expect(notes["count"]?.int64Value == 3)
            #expect(notes["deleted"]?.int64Value == 1)
            let statuses = notes["statuses"]?.arrayValue ?? []
            #expect(Set(statuses.map { "\($0["status"]?.stringValue ?? "-"):\($0["count"]?.int64Value ?? 0)" })
                == ["active:1", "archived:1", "-:1"])
            #expect(response["kinds"]?["tasks"]?["count"]?.int64Value == 1)
            #expect(response["kinds"]?["chats"]?["count"]?.int64Value == 0)
            let tags = response["tags"]?.arrayValue ?? []
            #expect(tags.first?["tag"] == "work")
            #expect(tags.first?["count"]?.int64Value == 3)
            #expect(Set(tags.compactMap { $0["tag"]?.stringValue }) == ["work", "urgent", "home"])
            let days = response["days"]?.arrayValue ?? []
            #expect(days.count == 1)
            #expect(days.first?["count"]?.int64Value == 4)
            #expect(days.first?["day"]?.stringValue == String(Timestamp.format(milliseconds: Timestamp.nowMilliseconds()).prefix(10)))

            let tasksOnly = try await api.send(.get, "/v1/insights?kinds=tasks&days=7", as: alice)
            #expect(tasksOnly["total"]?.int64Value == 1)
            #expect(tasksOnly["kinds"]?["notes"] == nil)
            #expect(Set(tasksOnly["tags"]?.arrayValue?.compactMap { $0["tag"]?.stringValue } ?? []) == ["work", "home"])
            for bad in ["days=0", "days=400", "days=x", "kinds=ships"] {
                let refused = try await api.send(.get, "/v1/insights?\(bad)", as: alice)
                #expect(refused.status == .badRequest, "\(bad)")
                #expect(!refused.error.isEmpty)
            }
        }
    }

    @Test("a NUL character in a payload is stored and searchable, and insights still answer", arguments: StoreKind.allCases)
    func nulCharacters(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let odd = try await api.create("notes", as: alice, #"{"title":"nul\u0000byte","content":"x\u0000y","tags":["odd"]}"#)
            #expect(odd.payload["title"] == "nul\u{0}byte")
            try await api.create("notes", as: alice, #"{"title":"plain","tags":["odd"]}"#)
            let found = try await api.send(.get, "/v1/search?q=byte", as: alice)
            #expect(found["items"]?.arrayValue?.map { $0["item"]?.uid } == [odd.uid], "\(found.text)")
            let insights = try await api.send(.get, "/v1/insights", as: alice)
            #expect(insights.status == .ok, "\(insights.text)")
            #expect(insights["total"]?.int64Value == 2)
            let tagCount = insights["tags"]?.arrayValue?.first?["count"]?.int64Value
            #expect(tagCount == 2, "the tags are counted whatever else the payload holds")
        }
    }
}
