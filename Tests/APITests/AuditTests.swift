@testable import API
import Foundation
import HTTPTypes
import Logging
import ServerSupport
import TestSupport
import Testing
import ToolBridgeAuth

@Suite("Audit trail (API)")
struct AuditTests {
    static let logger: Logger = {
        var logger = Logger(label: "toolbridge.test.audit")
        logger.logLevel = .critical
        return logger
    }()

    static func record(
        tenant: String, user: String = "alice", tool: String = "get_note", timeMs: Int64 = Timestamp.nowMilliseconds(),
        outcome: AuditOutcome = .ok, apiStatus: Int? = 200
    ) -> AuditRecord {
        AuditRecord(
            id: UUID().uuidString.lowercased(), timeMs: timeMs, tenant: tenant, user: user, tool: tool, plugin: "notes",
            outcome: outcome, apiStatus: apiStatus, durationMicroseconds: 1234, correlationID: "c-1",
            argumentsSHA256: String(repeating: "ab", count: 32), replica: nil)
    }

    /// The storage of `configuration`, opened and migrated, while `body` runs: what the CLI does.
    static func withStorage(
        _ configuration: APIConfiguration, _ body: @Sendable (APIStorage) async throws -> Void
    ) async throws {
        let storage = try await APIStorage.open(configuration, logger: logger)
        try await withRunningServices(storage.services) {
            try await storage.store.migrate()
            try await body(storage)
        }
    }

    @Test("stored audit records read back newest first, filtered by tenant, user and time", arguments: StoreKind.allCases)
    func recordsReadBackFiltered(store: StoreKind) async throws {
        try await Self.withStorage(try TestDatabase.configuration(store)) { storage in
            let tenant = uniqueTenant()
            let now = Timestamp.nowMilliseconds()
            let records = [
                Self.record(tenant: tenant, user: "alice", timeMs: now - 3_600_000),
                Self.record(tenant: tenant, user: "bob", tool: "create_task", timeMs: now - 60_000, outcome: .denied, apiStatus: nil),
                Self.record(tenant: tenant, user: "alice", tool: "get_note", timeMs: now - 1000, outcome: .error, apiStatus: 404),
                Self.record(tenant: uniqueTenant(), user: "alice", timeMs: now),
            ]
            try await storage.audit.insert(records)
            #expect(try await storage.audit.events(AuditQuery(tenant: tenant)) == [records[2], records[1], records[0]])
            #expect(try await storage.audit.events(AuditQuery(tenant: tenant, user: "alice")) == [records[2], records[0]])
            #expect(try await storage.audit.events(AuditQuery(tenant: tenant, sinceMs: now - 120_000)) == [records[2], records[1]])
            #expect(try await storage.audit.events(AuditQuery(tenant: tenant, limit: 1)) == [records[2]])
        }
    }

    @Test("an audit record sent twice is stored once", arguments: StoreKind.allCases)
    func duplicateRecordsAreStoredOnce(store: StoreKind) async throws {
        try await Self.withStorage(try TestDatabase.configuration(store)) { storage in
            let tenant = uniqueTenant()
            let record = Self.record(tenant: tenant)
            try await storage.audit.insert([record, record])
            try await storage.audit.insert([record])
            #expect(try await storage.audit.events(AuditQuery(tenant: tenant)) == [record])
        }
    }

    @Test("the retention sweep deletes audit records older than the retention and keeps the rest",
          arguments: StoreKind.allCases)
    func retentionDeletesOldRecords(store: StoreKind) async throws {
        try await Self.withStorage(try TestDatabase.configuration(store)) { storage in
            let tenant = uniqueTenant()
            let day: Int64 = 86_400_000
            let now = Timestamp.nowMilliseconds()
            let old = Self.record(tenant: tenant, timeMs: now - 31 * day)
            let kept = Self.record(tenant: tenant, timeMs: now - 29 * day)
            try await storage.audit.insert([old, kept])
            await AuditRetention(store: storage.audit, days: 30, logger: Self.logger).sweep()
            #expect(try await storage.audit.events(AuditQuery(tenant: tenant)) == [kept])
        }
    }

    @Test("a retention too long to count in milliseconds deletes nothing")
    func hugeRetentionKeepsEverything() {
        #expect(AuditRetention.cutoff(nowMs: Timestamp.nowMilliseconds(), days: Int64.max) == Int64.min)
        #expect(AuditRetention.cutoff(nowMs: 3 * 86_400_000, days: 1) == 2 * 86_400_000)
    }

    /// The headers of a test host calling with its delegated credential.
    private static func host(_ tenant: String) async throws -> HTTPFields {
        let credentials = try await DelegatedCredentials(
            key: .secret(TestTokens.delegationSecret), actor: "test-host", userSecret: TestTokens.secret)
        return [.authorization: "Bearer \(try await credentials.token(user: "alice", tenant: tenant))"]
    }

    @Test("POST /v1/audit/events stores a batch from a host; a user's own token is refused", arguments: StoreKind.allCases)
    func batchIsStored(store: StoreKind) async throws {
        let configuration = try TestDatabase.configuration(store)
        let tenant = uniqueTenant()
        let records = [Self.record(tenant: tenant), Self.record(tenant: tenant, outcome: .rateLimited, apiStatus: nil)]
        try await TestAPI.run(configuration: configuration, tenant: tenant) { api in
            let alice = try await api.user("alice")
            let body = JSONValue.object(["events": .array(records.map(\.json))]).serialized
            let own = try await api.send(.post, "/v1/audit/events", headers: alice.authOnly, body: body)
            #expect(own.status == .forbidden, "a user's own token may not write the trail")
            let response = try await api.send(.post, "/v1/audit/events", headers: try await Self.host(tenant), body: body)
            #expect(response.status == .ok, "\(response.text)")
            #expect(response["received"] == 2)
        }
        try await Self.withStorage(configuration) { storage in
            let stored = try await storage.audit.events(AuditQuery(tenant: tenant))
            #expect(Set(stored.map(\.id)) == Set(records.map(\.id)))
        }
    }

    @Test("POST /v1/audit/events refuses a malformed batch with a sentence and stores none of it")
    func malformedBatchesAreRefused() async throws {
        let configuration = try TestDatabase.configuration(.sqlite)
        let tenant = uniqueTenant()
        let good = Self.record(tenant: tenant).json
        func with(_ key: String, _ value: JSONValue?) -> JSONValue {
            var object = good.objectValue ?? [:]
            object[key] = value
            return .object(object)
        }
        let cases: [(JSONValue, String)] = [
            (["events": []], "events must hold 1 to 1000 records, not 0"),
            (["events": .array(Array(repeating: good, count: 1001))], "events must hold 1 to 1000 records, not 1001"),
            (["records": [good]], "the body must be {\"events\": [ ... ]}"),
            (["events": [good, with("outcome", "maybe")]], "events[1] outcome must be one of ok, error, denied, rate_limited"),
            (["events": [with("arguments", ["title": "secret"])]], "events[0] has an unknown field 'arguments'"),
            (["events": [with("tenant", nil)]], "events[0] tenant must be a string"),
            (["events": [with("api_status", 99)]], "events[0] api_status must be an HTTP status from 100 to 599, or null"),
            (["events": [with("duration_us", -1)]], "events[0] duration_us must be a whole number of microseconds"),
            (["events": [with("arguments_sha256", "ABC")]], "events[0] arguments_sha256 must be 64 lower-case hex digits"),
            (["events": [with("tool", .string("a\u{1}b"))]], "events[0] tool must be at most 256 bytes"),
            (["events": [with("id", "not-a-uuid")]], "events[0] id must be a lower-case UUID"),
        ]
        try await TestAPI.run(configuration: configuration, tenant: tenant) { api in
            let host = try await Self.host(tenant)
            for (body, sentence) in cases {
                let response = try await api.send(.post, "/v1/audit/events", headers: host, body: body.serialized)
                #expect(response.status == .badRequest, "\(sentence): \(response.text)")
                #expect(response.error.hasPrefix(sentence), "\(response.error)")
            }
            let anonymous = try await api.send(
                .post, "/v1/audit/events", body: JSONValue.object(["events": [good]]).serialized)
            #expect(anonymous.status == .unauthorized)
        }
        try await Self.withStorage(configuration) { storage in
            let stored = try await storage.audit.events(AuditQuery(tenant: tenant))
            #expect(stored.isEmpty)
        }
    }

    @Test("an audit record's JSON reads back as the same record, and clamped client text always passes the check")
    func recordJSONRoundTrips() throws {
        var record = Self.record(tenant: "t", outcome: .denied, apiStatus: nil)
        record.tool = AuditRecord.clamped("tool\r\n" + String(repeating: "é", count: 300))
        #expect(record.tool.utf8.count <= AuditRecord.maximumTextBytes)
        #expect(record.tool.hasPrefix("tool??é"))
        #expect(try AuditRecord.parse(try JSONValue.parse(Array(record.json.serialized.utf8))) == record)
    }
}
