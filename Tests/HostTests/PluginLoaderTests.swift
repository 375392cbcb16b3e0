import API
import Foundation
import Host
import Logging
import PluginABI
import TestSupport
import Testing

@Suite("Plugin loader")
struct PluginLoaderTests {
    /// Builds the C example into one operator directory and the fixtures into a second, loaded after it.
    static func pluginDirectories(fixtures: [String]) throws -> [String] {
        let examples = try TestDatabase.temporaryDirectory()
        _ = try CCompiler.sharedLibrary(
            "\(packageRoot)/examples/plugins/quick_capture/quick_capture.c", named: "quick_capture", into: examples)
        let broken = try TestDatabase.temporaryDirectory()
        for fixture in fixtures {
            _ = try CCompiler.sharedLibrary(
                "\(packageRoot)/Tests/Fixtures/plugins/\(fixture).c", named: fixture, into: broken)
        }
        return [examples, broken]
    }

    static func load(_ directories: [String]) -> PluginLoadReport {
        PluginLoader.load(directories: directories, includeBuilt: false, logger: Logger(label: "toolbridge.test.loader"))
    }

    @Test("each broken library is refused with a reason naming it; the good ones load beside them")
    func refusals() throws {
        let fixtures = [
            "wrong_abi", "no_entry", "duplicate_tool", "short_descriptor", "bad_tools", "init_fails", "null_entry",
            "counter",
        ]
        let directories = try Self.pluginDirectories(fixtures: fixtures)
        let notALibrary = directories[1] + "/libnot_elf.so"
        try "this is not a shared library".write(toFile: notALibrary, atomically: true, encoding: .utf8)
        let report = Self.load(directories + ["/nonexistent/plugins"])

        #expect(Set(report.plugins.map(\.name)) == ["counter", "quick_capture"])
        let reasons = Dictionary(uniqueKeysWithValues: report.refusals.map {
            (URL(fileURLWithPath: $0.path).lastPathComponent, $0.reason)
        })
        let expected: [String: String] = [
            "libwrong_abi.so": "built for ABI major version 99; this host speaks 1",
            "libno_entry.so": "exports no toolbridge_plugin_v1",
            "libduplicate_tool.so": "its tool 'text_stats' is already provided by the plugin 'quick_capture'",
            "libshort_descriptor.so": "its descriptor is 8 bytes",
            "libbad_tools.so": "its tools_json is not valid JSON",
            "libinit_fails.so": "its init failed with status 8: database file missing",
            "libnull_entry.so": "declined this host's ABI",
            "libnot_elf.so": "it cannot be opened",
            "plugins": "the plugin directory cannot be read",
        ]
        #expect(reasons.count == expected.count, "\(reasons)")
        for (file, reason) in expected {
            #expect(reasons[file]?.contains(reason) == true, "\(file): \(reasons[file] ?? "not refused")")
        }
    }

    @Test("a second copy of a plugin is refused by name")
    func duplicatePluginName() throws {
        let first = try Self.pluginDirectories(fixtures: [])[0]
        let second = try TestDatabase.temporaryDirectory()
        _ = try CCompiler.sharedLibrary(
            "\(packageRoot)/examples/plugins/quick_capture/quick_capture.c", named: "quick_capture_copy", into: second)
        let report = Self.load([first, second])
        #expect(report.plugins.map(\.name) == ["quick_capture"])
        #expect(report.refusals.first?.reason.contains("a plugin named 'quick_capture' is already loaded") == true)
    }

    @Test("inspect reads a plugin's tools without initialising it")
    func inspect() throws {
        let directory = try Self.pluginDirectories(fixtures: ["init_fails"])[1]
        let plugin = try PluginLoader.inspect(directory + "/libinit_fails.so").get()
        #expect(plugin.name == "init_fails")
        #expect(plugin.tools.map(\.name) == ["never_called"])
    }

    @Test("the plain C example, built by cc from the shipped headers alone, works through the host", arguments: StoreKind.allCases)
    func cExample(store: StoreKind) async throws {
        let report = Self.load(try Self.pluginDirectories(fixtures: ["counter"]))
        try await HostHarness.run(store, plugins: report.plugins) { host in
            let stats = await host.call("text_stats", ["text": "héllo wörld\nsecond line"])
            #expect(!stats.isError, "\(stats.value.serialized)")
            #expect(stats.value == ["characters": 23, "words": 4, "lines": 2, "bytes": 25])

            let note = await host.call("capture_note", ["text": "Groceries\nmilk\neggs", "tags": ["home"]])
            #expect(!note.isError, "\(note.value.serialized)")
            #expect(note.value["payload"]?["title"] == "Groceries")
            #expect(note.value["payload"]?["content"] == "milk\neggs")
            #expect(note.value["payload"]?["tags"] == ["home"])
            let uid = try #require(note.value["uid"]?.stringValue)
            let stored = try await host.store.item(
                Scope(tenant: host.tenant, owner: "alice"), kind: .notes, uid: uid)
            #expect(stored?.version == 1, "the note really is in the database")

            let task = await host.call("capture_task", ["text": "Call the bank", "due_date": "2026-12-01"])
            #expect(task.value["payload"]?["dueDate"] == "2026-12-01")
            #expect(task.value["payload"]?["status"] == "open")

            let empty = await host.call("capture_note", ["text": ""])
            #expect(empty.status == TB_INVALID_ARGUMENT)
            let missing = await host.call("capture_note", [:])
            #expect(missing.status == TB_INVALID_ARGUMENT)
            #expect(missing.message?.contains("text") == true)

            for expected in 1...3 {
                #expect(await host.call("count_calls", [:]).value["calls"]?.int64Value ?? 0 >= Int64(expected))
            }
        }
    }
}
