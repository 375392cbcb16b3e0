@testable import API
import AsyncHTTPClient
import Foundation
import HTTPTypes
import NIOCore
import ServerSupport
import TestSupport
import Testing

/// Every number, size and string a client sends is either served or refused with a 4xx that
/// names what was wrong; nothing traps, nothing reaches the database that it cannot hold, and
/// the server keeps serving afterwards.
@Suite("Input limits")
struct InputLimitTests {
    static let int64Extremes = [
        "-9223372036854775808", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
        "99999999999999999999999", "1e400", "1.5", "-0.0", "abc", "%00", "",
    ]

    // MARK: Timestamps

    @Test("a pushed updatedTs outside years 1 to 9999 gets an error ack naming updatedTs", arguments: StoreKind.allCases)
    func pushedClockOutsideTheRange(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let refused = [
                "-9223372036854775808", "9223372036854775807", "\(Timestamp.earliest - 1)", "\(Timestamp.latest + 1)",
                "1e400", "1.5", "1e3", "\"0000-12-31T23:59:59Z\"", "\"0001-01-01T00:00:00+00:01\"",
                "\"9999-12-31T23:59:59.999-00:01\"", "\"2023-02-29T00:00:00Z\"", "\"2026-01-01T00:00:00+24:00\"",
                "\"-9223372036854775808\"", "true", "null",
            ]
            for value in refused {
                let acks = try await push(api, alice, #"{"uid":"\#(UUID())","updatedTs":\#(value)}"#)
                #expect(acks.first?["error"]?.stringValue?.contains("updatedTs") == true, "updatedTs \(value): \(acks)")
            }
            for (value, expected) in [
                ("\(Timestamp.earliest)", "0001-01-01T00:00:00.000Z"), ("\(Timestamp.latest)", "9999-12-31T23:59:59.999Z"),
                ("-0", "1970-01-01T00:00:00.000Z"), ("\"2024-02-29T12:00:60.5+05:30\"", "2024-02-29T06:30:59.500Z"),
            ] {
                let uid = UUID().uuidString.lowercased()
                let acks = try await push(api, alice, #"{"uid":"\#(uid)","updatedTs":\#(value)}"#)
                #expect(acks.first?["error"] == nil, "updatedTs \(value): \(acks)")
                let stored = try await api.send(.get, "/v1/notes/\(uid)", as: alice)
                #expect(stored.json?.payload["updatedTs"]?.stringValue == expected, "updatedTs \(value)")
            }
            try await expectServing(api, alice)
        }
    }

    @Test("timestamps format and parse every int64 without trapping, within years 1 to 9999")
    func timestampExtremes() {
        for ms: Int64 in [.min, .min + 1, .min / 2, Timestamp.earliest - 1] {
            #expect(Timestamp.format(milliseconds: ms) == "0001-01-01T00:00:00.000Z", "\(ms)")
        }
        for ms: Int64 in [.max, .max - 1, Timestamp.latest + 1] {
            #expect(Timestamp.format(milliseconds: ms) == "9999-12-31T23:59:59.999Z", "\(ms)")
        }
        for ms in [Timestamp.earliest, -1, 0, 1, 1_764_000_000_123, Timestamp.latest] {
            #expect(Timestamp.parse(Timestamp.format(milliseconds: ms)) == ms, "\(ms)")
        }
        for text in ["0000-01-01T00:00:00Z", "2023-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-01-01T00:00:00+99:00"] {
            #expect(Timestamp.parse(text) == nil, "\(text)")
        }
    }

    // MARK: Query numbers

    @Test("limit, days and cursors outside their ranges are 400s naming them", arguments: StoreKind.allCases)
    func queryNumbers(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            try await api.create("notes", as: alice, #"{"title":"limits"}"#)
            for value in Self.int64Extremes + ["0", "-1", "-0"] where (Int(value) ?? 0) < 1 {
                for path in ["/v1/notes", "/v1/sync/notes/pull", "/v1/search?q=limits"] {
                    let separator = path.contains("?") ? "&" : "?"
                    let response = try await api.send(.get, "\(path)\(separator)limit=\(value)", as: alice)
                    expectRefusal(response, naming: "limit", "\(path) limit=\(value)")
                }
            }
            let clamped = try await api.send(.get, "/v1/notes?limit=9223372036854775807", as: alice)
            #expect(clamped.status == .ok, "\(clamped.text)")
            for value in Self.int64Extremes + ["0", "367"] {
                expectRefusal(try await api.send(.get, "/v1/insights?days=\(value)", as: alice), naming: "days", value)
            }
            let uid = "3b241101-e2bb-4255-8caf-4136c566a962"
            for position in ["9223372036854775808|\(uid)", "1e3|\(uid)", "1|not-a-uid", "1", "|"] {
                let cursor = Base64URL.encode(Array(position.utf8))
                for path in ["/v1/notes", "/v1/sync/notes/pull"] {
                    expectRefusal(try await api.send(.get, "\(path)?cursor=\(cursor)", as: alice), naming: "cursor", position)
                }
            }
            for position in ["-9223372036854775808|\(uid)", "9223372036854775807|\(uid)"] {
                let cursor = Base64URL.encode(Array(position.utf8))
                let response = try await api.send(.get, "/v1/notes?cursor=\(cursor)", as: alice)
                #expect(response.status == .ok, "a cursor at \(position) is only a position: \(response.text)")
            }
            for offset in ["o9223372036854775807", "o-1", "o\(RequestParsing.maximumOffset + 1)", "o1e3", "x"] {
                let cursor = Base64URL.encode(Array(offset.utf8))
                expectRefusal(
                    try await api.send(.get, "/v1/search?q=limits&cursor=\(cursor)", as: alice), naming: "cursor", offset)
            }
            let deepest = Base64URL.encode(Array("o\(RequestParsing.maximumOffset)".utf8))
            let deep = try await api.send(.get, "/v1/search?q=limits&cursor=\(deepest)", as: alice)
            #expect(deep.status == .ok, "\(deep.text)")
            #expect(deep["items"]?.arrayValue?.isEmpty == true)
            try await expectServing(api, alice)
        }
    }

    // MARK: Header and body numbers

    @Test("If-Match, ifMatch and X-Sync-Epoch outside int64 or below 1 are 400s naming them", arguments: StoreKind.allCases)
    func versionNumbers(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let note = try await api.create("notes", as: alice, #"{"title":"v"}"#)
            let path = "/v1/notes/\(note.uid)"
            for value in Self.int64Extremes + ["0", "-1", "-0", "\"0\"", "W/\"-5\""] where value != "9223372036854775807" {
                let response = try await api.send(.patch, path, as: alice, body: "{}", headers: [.ifMatch: value])
                expectRefusal(response, naming: "If-Match", value)
            }
            let stale = try await api.send(.patch, path, as: alice, body: "{}", headers: [.ifMatch: "9223372036854775807"])
            #expect(stale.status == .preconditionFailed, "\(stale.text)")
            for value in ["1e400", "-1", "0", "-0", "1.5", "9223372036854775808", "-9223372036854775808", "\"1\""] {
                let response = try await api.send(
                    .post, "/v1/batch", as: alice,
                    body: #"{"operations":[{"op":"patch","kind":"notes","uid":"\#(note.uid)","fields":{},"ifMatch":\#(value)}]}"#)
                expectRefusal(response, naming: "ifMatch", value)
            }
            for value in ["9223372036854775808", "-9223372036854775809", "1e400", "1.5", "abc"] {
                var user = alice
                user.epoch = 0
                let response = try await api.send(.get, "/v1/notes", headers: Self.headers(user, epoch: value))
                expectRefusal(response, naming: "X-Sync-Epoch", value)
            }
            for value in ["-9223372036854775808", "9223372036854775807", "-0", "0"] {
                let response = try await api.send(.get, "/v1/notes", headers: Self.headers(alice, epoch: value))
                #expect(response.status == .conflict, "X-Sync-Epoch \(value): \(response.text)")
            }
            try await expectServing(api, alice)
        }
    }

    @Test("sync session ids that are not UUIDs are unknown sessions, never a database error", arguments: StoreKind.allCases)
    func sessionIDs(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            for id in ["%00", "a%00b", String(repeating: "x", count: 3000)] {
                let response = try await api.send(.get, "/v1/sync/sessions/\(id)", headers: alice.authOnly)
                #expect(response.status == .notFound, "\(id.prefix(20)): \(response.text)")
                #expect(response.error.contains("sync session"))
            }
            var stranger = alice
            stranger.session = String(repeating: "s", count: 3000)
            let response = try await api.send(.get, "/v1/notes", as: stranger)
            #expect(response.status == .preconditionRequired, "\(response.text)")
            #expect(response.error.contains("sync session"))
            try await expectServing(api, alice)
        }
    }

    // MARK: Indexed columns

    @Test("a status or filter the index cannot hold (too long, NUL) is a 400 naming it", arguments: StoreKind.allCases)
    func indexedValues(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let longest = String(repeating: "é", count: ItemWrites.maximumIndexedBytes / 2)
            let kept = try await api.create("tasks", as: alice, #"{"status":"\#(longest)"}"#)
            #expect(kept.payload["status"]?.stringValue == longest)
            for status in [String(repeating: "s", count: 3000), longest + "s", #"a\u0000b"#] {
                let created = try await api.send(.post, "/v1/tasks", as: alice, body: #"{"status":"\#(status)"}"#)
                expectRefusal(created, naming: "status", "create")
                let patched = try await api.send(.patch, "/v1/tasks/\(kept.uid)", as: alice, body: #"{"status":"\#(status)"}"#)
                expectRefusal(patched, naming: "status", "patch")
                let acks = try await push(
                    api, alice, #"{"uid":"\#(UUID())","updatedTs":1,"status":"\#(status)"}"#, kind: "tasks")
                #expect(acks.first?["error"]?.stringValue?.contains("status") == true, "\(acks)")
                let batch = try await api.send(
                    .post, "/v1/batch", as: alice,
                    body: #"{"operations":[{"op":"create","kind":"tasks","fields":{"status":"\#(status)"}}]}"#)
                expectRefusal(batch, naming: "status", "batch")
            }
            for query in [
                "tasks?status=a%00b", "tasks?status=" + String(repeating: "s", count: 3000), "comments?parentUid=%00",
                "comments?parentUid=nope", "comments?parentType=%00", "chat_messages?chatUid=%00",
            ] {
                let name = String(query.split(separator: "?")[1].split(separator: "=")[0])
                expectRefusal(try await api.send(.get, "/v1/\(query)", as: alice), naming: name, query)
            }
            let filtered = try await api.send(.get, "/v1/tasks?status=\(Self.percentEncoded(longest))", as: alice)
            #expect(filtered["items"]?.arrayValue?.map(\.uid) == [kept.uid], "\(filtered.text)")
            let note = try await api.create("notes", as: alice, "{}")
            try await api.create("comments", as: alice, #"{"parentType":"note","parentUid":"\#(note.uid)"}"#)
            let byParent = try await api.send(.get, "/v1/comments?parentUid=\(note.uid.uppercased())", as: alice)
            #expect(byParent["items"]?.arrayValue?.count == 1, "a uid filter is compared in canonical form")
            try await expectServing(api, alice)
        }
    }

    @Test("a content far larger than a tsvector holds is stored whole and searchable by its start", arguments: StoreKind.allCases)
    func hugeSearchText(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            // Hyphenated pairs of unique words: the densest text for PostgreSQL's tsvector (about 3.3
            // bytes of vector per byte of text), so 600 KB of it would need about 2 MB.
            var words: [String] = ["lighthouse"]
            var counter = 0
            var size = 0
            while size < 600_000 {
                let word = "w\(String(counter, radix: 36))-x\(String(counter, radix: 36))"
                words.append(word)
                size += word.utf8.count + 1
                counter += 1
            }
            let content = words.joined(separator: " ") + " lastword"
            let note = try await api.create("notes", as: alice, JSONValue.object(["content": .string(content)]).serialized)
            #expect(note.payload["content"]?.stringValue == content)
            let first = try await api.send(.get, "/v1/search?q=lighthouse", as: alice)
            #expect(first["items"]?.arrayValue?.map { $0["item"]?.uid } == [note.uid], "\(first.text.prefix(300))")
            let last = try await api.send(.get, "/v1/search?q=lastword", as: alice)
            #expect(last["items"]?.arrayValue?.isEmpty == true, "text past the indexed prefix is not searched")
            try await expectServing(api, alice)
        }
    }

    @Test("the indexed prefix of search text ends between two Unicode scalars")
    func indexedPrefix() {
        let text = String(repeating: "é", count: 10)
        #expect(SearchText.prefix(text, bytes: 5) == "éé")
        #expect(SearchText.prefix(text, bytes: 0) == "")
        #expect(SearchText.prefix("abc", bytes: 5) == "abc")
    }

    // MARK: Search expressions

    @Test("a quote hidden in a grapheme cluster never reaches the engine")
    func quoteInsideACluster() throws {
        // U+0D4E is a letter that joins the next scalar into its grapheme cluster.
        for query in ["\u{0D4E}'x", "\u{0D4E}\"x\"", "x\u{0D4E}'' OR y\u{0D4E}\\"] {
            let expression = try SearchExpression.parse(query)
            for dialect in [SQLDialect.postgres, .sqlite] {
                let rendered = SQLItemStore<SQLiteDatabase>.rendered(expression, for: dialect)
                let quotes = rendered.unicodeScalars.filter { $0 == "'" || $0 == "\"" }.count
                #expect(quotes % 2 == 0 && !rendered.contains("\\"), "\(query) → \(rendered)")
            }
        }
    }

    @Test("queries with hidden quotes or endless combining marks are answered, never a 500", arguments: StoreKind.allCases)
    func searchClusters(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            try await api.create("notes", as: alice, #"{"title":"x marks"}"#)
            for query in ["\u{0D4E}'x", "\u{0D4E}\"x\"", "x\u{0D4E}'' OR y"] {
                let response = try await api.send(.get, "/v1/search?q=\(Self.percentEncoded(query))", as: alice)
                #expect(response.status == .ok, "\(query): \(response.text)")
            }
            for (marks, field) in [(150, "word"), (5000, "query")] {
                let query = "a" + String(repeating: "\u{0301}", count: marks)
                let response = try await api.send(.get, "/v1/search?q=\(Self.percentEncoded(query))", as: alice)
                expectRefusal(response, naming: field, "a word with \(marks) combining marks")
            }
            try await expectServing(api, alice)
        }
    }

    // MARK: Stored payloads

    @Test("no stored payload can make insights or lists fail (1e1000000, NUL, deep nesting)", arguments: StoreKind.allCases)
    func storedPayloadsStayReadable(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user()
            let payloads = [
                #"{"tags":["huge"],"n":1e1000000}"#, #"{"tags":["tiny"],"n":-1e-1000000}"#,
                #"{"tags":["nul","with\u0000nul"],"s":"\u0000"}"#, #"{"tags":"huge","n":123456789012345678901234567890}"#,
                #"{"tags":["deep"],"d":"# + String(repeating: "[", count: 120) + String(repeating: "]", count: 120) + "}",
            ]
            for payload in payloads {
                let created = try await api.send(.post, "/v1/notes", as: alice, body: payload)
                #expect(created.status == .created, "\(payload.prefix(60)): \(created.text)")
            }
            let insights = try await api.send(.get, "/v1/insights", as: alice)
            #expect(insights.status == .ok, "\(insights.text)")
            let tags = Set(insights["tags"]?.arrayValue?.compactMap { $0["tag"]?.stringValue } ?? [])
            #expect(tags == ["huge", "tiny", "nul", "deep"], "a tag holding NUL is not counted; the others are")
            for path in ["/v1/notes", "/v1/sync/notes/pull", "/v1/search?q=huge"] {
                let response = try await api.send(.get, path, as: alice)
                #expect(response.status == .ok, "\(path): \(response.text.prefix(200))")
            }
        }
    }

    // MARK: Bodies

    @Test("a chunked body over the size limit is a 413, like a declared one", arguments: StoreKind.allCases)
    func chunkedBodyOverTheLimit(store: StoreKind) async throws {
        try await TestAPI.run(store, configure: { $0.maxBodyBytes = 1024 }) { api in
            let alice = try await api.user()
            let port = try #require(api.client.port)
            // Its own client, shut down before the server stops, so no idle connection outlives the test.
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            do {
                for (size, expected) in [(4096, HTTPResponse.Status.contentTooLarge), (512, .created)] {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/notes")
                    request.method = .POST
                    for field in alice.headers { request.headers.add(name: field.name.rawName, value: field.value) }
                    request.headers.add(name: "Content-Type", value: "application/json")
                    let text = #"{"content":""# + String(repeating: "x", count: size) + #""}"#
                    let chunks = stride(from: 0, to: text.utf8.count, by: 256).map { start in
                        ByteBuffer(bytes: Array(text.utf8)[start..<min(start + 256, text.utf8.count)])
                    }
                    request.body = .stream(chunks.async, length: .unknown)
                    let response = try await client.execute(request, timeout: .seconds(30))
                    let body = try await response.body.collect(upTo: 1 << 20)
                    #expect(Int(response.status.code) == expected.code, "\(size) bytes: \(String(buffer: body))")
                    if expected == .contentTooLarge {
                        #expect(String(buffer: body).contains("larger than the limit of 1024 bytes"))
                    }
                }
            } catch {
                try await client.shutdown()
                throw error
            }
            try await client.shutdown()
            try await expectServing(api, alice)
        }
    }

    // MARK: Helpers

    private func push(_ api: TestAPI, _ user: TestUser, _ item: String, kind: String = "notes") async throws -> [JSONValue] {
        let response = try await api.send(.post, "/v1/sync/\(kind)/push", as: user, body: #"{"items":[\#(item)]}"#)
        try #require(response.status == .ok, "\(response.text)")
        return response["acks"]?.arrayValue ?? []
    }

    private static func percentEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }

    private static func headers(_ user: TestUser, epoch: String) -> HTTPFields {
        var fields = user.headers
        fields[.syncEpoch] = epoch
        return fields
    }

    private func expectRefusal(
        _ response: APIResponse, naming field: String, _ context: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(
            (400..<500).contains(response.status.code) && response.status.code != 404, "\(context): \(response.status.code)",
            sourceLocation: sourceLocation)
        #expect(response.error.contains(field), "\(context): \(response.text.prefix(300))", sourceLocation: sourceLocation)
    }

    /// The server still answers: liveness, and a list for the user.
    private func expectServing(_ api: TestAPI, _ user: TestUser) async throws {
        #expect(try await api.send(.get, "/healthz").status == .ok)
        #expect(try await api.send(.get, "/v1/notes?limit=1", as: user).status == .ok)
    }
}

extension Array where Element: Sendable {
    /// The elements as an async sequence, for streamed request bodies.
    fileprivate var async: AsyncStream<Element> {
        AsyncStream { continuation in
            for element in self { continuation.yield(element) }
            continuation.finish()
        }
    }
}
