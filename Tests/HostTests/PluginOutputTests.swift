import API
import Foundation
import Host
import Logging
import PluginABI
import TestSupport
import Testing

@Suite("The host checks what plugins return and ask for")
struct PluginOutputTests {
    /// The named fixtures, compiled with cc into a directory of their own and loaded.
    static func load(_ fixtures: [String]) throws -> [LoadedPlugin] {
        let directory = try TestDatabase.temporaryDirectory()
        for fixture in fixtures {
            _ = try CCompiler.sharedLibrary(
                "\(packageRoot)/Tests/Fixtures/plugins/\(fixture).c", named: fixture, into: directory)
        }
        let report = PluginLoader.load(
            directories: [directory], includeBuilt: false, logger: Logger(label: "toolbridge.test.loader"))
        #expect(report.refusals.isEmpty, "\(report.refusals)")
        return report.plugins
    }

    @Test(
        "a TB_OK result that is not a JSON object becomes an error result naming the plugin",
        arguments: ["returns_array", "returns_string", "returns_number", "returns_invalid_json"])
    func resultNotAnObject(tool: String) async throws {
        let plugins = try Self.load(["malformed_output"])
        // No API: these tools never call it.
        try await HostHarness.withHost(apiURL: "http://127.0.0.1:9", plugins: plugins) { runner, _ in
            let outcome = await runner.call(tool, arguments: [:], identity: HostHarness.identity(tenant: "t"))
            #expect(outcome.isError)
            #expect(outcome.status == TB_INTERNAL)
            #expect(outcome.message == "the plugin 'malformed_output' returned a malformed result")
            #expect(outcome.value.objectValue?.keys.elementsEqual(["error"]) == true, "\(outcome.value.serialized)")
        }
    }

    @Test(
        "an error status with a malformed error object becomes a generic error keeping the status",
        arguments: ["fails_with_array", "fails_with_bad_status"])
    func malformedErrorObject(tool: String) async throws {
        let plugins = try Self.load(["malformed_output"])
        try await HostHarness.withHost(apiURL: "http://127.0.0.1:9", plugins: plugins) { runner, _ in
            let outcome = await runner.call(tool, arguments: [:], identity: HostHarness.identity(tenant: "t"))
            #expect(outcome.status == TB_TOOL_ERROR)
            #expect(outcome.value == ["error": "the tool failed"])
        }
    }

    @Test(
        "a malformed api_request is TB_INVALID_ARGUMENT while the API is up, not TB_UNAVAILABLE",
        arguments: StoreKind.allCases)
    func malformedRequests(store: StoreKind) async throws {
        let plugins = try Self.load(["bad_request"])
        try await HostHarness.run(store, plugins: plugins) { host in
            let good = await host.call("good_request")
            #expect(good.value == ["api_request": .integer(Int64(TB_OK)), "http_status": 200], "the API is up")
            for tool in ["crlf_if_match", "crlf_method", "non_ascii_path"] {
                let outcome = await host.call(tool)
                #expect(
                    outcome.value == ["api_request": .integer(Int64(TB_INVALID_ARGUMENT)), "http_status": 0],
                    "\(tool): \(outcome.value.serialized)")
            }
        }
    }
}
