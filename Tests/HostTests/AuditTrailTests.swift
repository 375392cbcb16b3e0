import API
@testable import Host
import Foundation
import Logging
import ServerSupport
import TestSupport
import Testing

@Suite("Audit trail (host)")
struct AuditTrailTests {
    static let logger: Logger = {
        var logger = Logger(label: "toolbridge.test.audit")
        logger.logLevel = .critical
        return logger
    }()

    /// The records in the audit log file, once it holds `count` lines (waiting at most 10 s).
    static func records(in path: String, count: Int) async throws -> [AuditRecord] {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            let lines = text.split(separator: "\n")
            if lines.count >= count || ContinuousClock.now >= deadline {
                return try lines.map { try AuditRecord.parse(try JSONValue.parse(Array($0.utf8))) }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    static func trail(_ proxy: RESTProxy, capacity: Int = 100) throws -> (AuditTrail, String) {
        let path = try TestDatabase.temporaryDirectory() + "/audit.log"
        let configuration = AuditConfiguration(
            logPath: path, replicaID: "r1", capacity: capacity, flushInterval: .milliseconds(100))
        return (AuditTrail(configuration: configuration, file: try AuditLogFile(path: path), proxy: proxy, logger: logger), path)
    }

    @Test("every call through the catalog is recorded with its outcome, plugin and the API's last status")
    func callsAreRecorded() async throws {
        try await HostHarness.run(.sqlite) { host in
            let (trail, path) = try Self.trail(host.proxy)
            let tenants = TenantConfiguration(TenantPlugins(defaultPlugins: ["notes"]), logger: Self.logger)
            let catalog = ToolCatalog(runner: host.runner, tenants: tenants, audit: trail)
            let alice = HostHarness.identity(tenant: host.tenant)
            let marker = "secret-\(UUID().uuidString)"
            try await withRunningServices([trail]) {
                let created = await catalog.call("create_note", arguments: ["title": .string(marker)], as: alice)
                let uid = try #require(created?["structuredContent"]?["uid"]?.stringValue)
                _ = await catalog.call("get_note", arguments: ["uid": .string(uid)], as: alice)
                _ = await catalog.call(
                    "get_note", arguments: ["uid": "00000000-0000-4000-8000-000000000000"], as: alice)
                _ = await catalog.call("create_note", arguments: [:], as: alice)
                #expect(await catalog.call("create_task", arguments: ["title": .string(marker)], as: alice) == nil)
                #expect(await catalog.call("no_such_tool\n", arguments: [:], as: alice) == nil)

                let records = try await Self.records(in: path, count: 6)
                #expect(records.map(\.tool) == ["create_note", "get_note", "get_note", "create_note", "create_task", "no_such_tool?"])
                #expect(records.map(\.outcome) == [.ok, .ok, .error, .error, .denied, .denied])
                #expect(records.map(\.apiStatus) == [201, 200, 404, nil, nil, nil])
                #expect(records.map(\.plugin) == ["notes", "notes", "notes", "notes", "tasks", nil])
                #expect(records.allSatisfy { $0.tenant == host.tenant && $0.user == "alice" && $0.replica == "r1" })
                #expect(Set(records.map(\.id)).count == 6)
                let text = try String(contentsOfFile: path, encoding: .utf8)
                #expect(!text.contains(marker))
            }
            let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(permissions == 0o600)
        }
    }

    @Test("a full audit buffer drops the oldest records and keeps the newest")
    func fullBufferDropsTheOldest() async throws {
        try await HostHarness.withHost(apiURL: "http://127.0.0.1:1") { _, proxy in
            let (trail, path) = try Self.trail(proxy, capacity: 3)
            let caller = HostHarness.identity(tenant: uniqueTenant())
            for index in 1...5 {
                trail.record(
                    tool: "tool_\(index)", plugin: nil, caller: caller, arguments: [:], outcome: .denied, apiStatus: nil,
                    started: .now)
            }
            try await withRunningServices([trail]) {
                let records = try await Self.records(in: path, count: 3)
                #expect(records.map(\.tool) == ["tool_3", "tool_4", "tool_5"])
            }
        }
    }
}
