import API
import Host
import Logging
import PluginABI
import TestSupport
import Testing

/// The compatibility promise of the ABI: a 1.x host loads every plugin built for 1.0..1.x, and a
/// later 1.y plugin that only appended. The fixtures are built against a verbatim copy of the 1.0
/// header (`Tests/Fixtures/abi-1.0`), not against the header this host was built with.
@Suite("Plugin ABI compatibility")
struct ABICompatibilityTests {
    static let fixtures = "\(packageRoot)/Tests/Fixtures/abi-1.0"

    /// Compiles one fixture against the 1.0 header and loads it alone.
    static func load(_ fixture: String, named name: String, flags: [String] = []) throws -> PluginLoadReport {
        let directory = try TestDatabase.temporaryDirectory()
        _ = try CCompiler.sharedLibrary(
            "\(fixtures)/\(fixture).c", named: name, into: directory, flags: ["-I", fixtures] + flags)
        return PluginLoader.load(directories: [directory], includeBuilt: false, logger: Logger(label: "toolbridge.test.abi"))
    }

    /// Creates a note, reads it, renames it with the right If-Match and again with the stale one,
    /// through the plugin `prefix`; checks each answer and the stored note.
    static func roundTrip(_ host: HostHarness, prefix: String) async throws -> [JSONValue] {
        let created = await host.call("\(prefix)_create_note", ["title": "first"])
        #expect(!created.isError, "\(created.value.serialized)")
        #expect(created.value["http_status"] == 201)
        let uid = try #require(created.value["body"]?["uid"]?.stringValue)
        #expect(created.value["body"]?["version"] == 1)

        let read = await host.call("\(prefix)_get_note", ["uid": .string(uid)])
        #expect(read.value["http_status"] == 200)
        #expect(read.value["body"]?["payload"]?["title"] == "first")

        let renamed = await host.call("\(prefix)_rename_note", ["uid": .string(uid), "if_match": "1", "title": "second"])
        #expect(renamed.value["http_status"] == 200, "\(renamed.value.serialized)")
        #expect(renamed.value["body"]?["payload"]?["title"] == "second")
        let stale = await host.call("\(prefix)_rename_note", ["uid": .string(uid), "if_match": "1", "title": "third"])
        #expect(stale.value["http_status"] == 412, "If-Match reached the API")

        let stored = try await host.store.item(Scope(tenant: host.tenant, owner: "alice"), kind: .notes, uid: uid)
        #expect(stored?.version == 2)
        return [created.value, read.value, renamed.value, stale.value]
    }

    @Test("a plugin built against the ABI 1.0 header loads and its GET and PATCH with If-Match work", arguments: StoreKind.allCases)
    func builtFor1_0(store: StoreKind) async throws {
        let report = try Self.load("notes", named: "abi_1_0")
        #expect(report.refusals.isEmpty, "\(report.refusals)")
        #expect(report.plugins.map(\.name) == ["abi_1_0"])
        try await HostHarness.run(store, plugins: report.plugins) { host in
            for answer in try await Self.roundTrip(host, prefix: "abi_1_0") {
                #expect(answer["response_size"]?.int64Value == Int64(TB_API_RESPONSE_SIZE_V1_0))
            }
        }
    }

    @Test("a plugin claiming a later minor with larger structs loads, its calls work, its appended fields are ignored", arguments: StoreKind.allCases)
    func laterMinor(store: StoreKind) async throws {
        let report = try Self.load("notes", named: "abi_future", flags: ["-DFUTURE_MINOR"])
        #expect(report.refusals.isEmpty, "\(report.refusals)")
        #expect(report.plugins.map(\.name) == ["abi_future"])
        try await HostHarness.run(store, plugins: report.plugins) { host in
            for answer in try await Self.roundTrip(host, prefix: "abi_future") {
                // The host filled only the response fields it knows, said so, and wrote nothing after them.
                #expect(answer["response_size"]?.int64Value == Int64(MemoryLayout<tb_api_response>.size))
                #expect(answer["tail_untouched"] == true)
                // The plugin found no appended service in this host's table, so it used api_request.
                #expect(answer["future_service"] == false)
            }
        }
    }

    @Test("an api_request whose request or response is smaller than ABI 1.0's gets TB_INVALID_ARGUMENT")
    func requestBelow1_0() async throws {
        let report = try Self.load("notes", named: "abi_1_0")
        // Neither request reaches the API, so none needs to run.
        try await HostHarness.withHost(apiURL: "http://127.0.0.1:9", plugins: report.plugins) { runner, _ in
            let answer = await runner.call(
                "abi_1_0_short_structs", arguments: [:], identity: HostHarness.identity(tenant: "abi"))
            #expect(answer.value["short_request"]?.int64Value == Int64(TB_INVALID_ARGUMENT), "\(answer.value.serialized)")
            #expect(answer.value["short_response"]?.int64Value == Int64(TB_INVALID_ARGUMENT))
        }
    }

    @Test("a descriptor smaller than ABI 1.0's is refused with a message naming both sizes")
    func descriptorBelow1_0() throws {
        let report = try Self.load("below_1_0", named: "below_1_0")
        #expect(report.plugins.isEmpty)
        #expect(report.refusals.map(\.cause) == [.abiMismatch])
        #expect(report.refusals.first?.reason == "its descriptor is 72 bytes, smaller than the 80 of ABI 1.0")
    }
}
