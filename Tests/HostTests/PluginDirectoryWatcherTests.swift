import API
import Foundation
import Host
import Logging
import TestSupport
import Testing

@Suite("Plugin directory watcher")
struct PluginDirectoryWatcherTests {
    static let example = "\(packageRoot)/examples/plugins/quick_capture/quick_capture.c"
    static let logger = Logger(label: "toolbridge.test.watcher")

    /// Builds `source` outside `directory`, then renames it in as `fileName`, as an operator
    /// should: the watcher never sees a half-written file.
    static func install(_ source: String, as fileName: String, into directory: String) throws -> String {
        let built = try CCompiler.sharedLibrary(source, named: "staged", into: try TestDatabase.temporaryDirectory())
        let target = "\(directory)/\(fileName)"
        guard rename(built, target) == 0 else { throw TestSetupError("cannot rename \(built) to \(target)") }
        return target
    }

    static func watcher(_ directories: [String], runner: ToolRunner) -> PluginDirectoryWatcher {
        PluginDirectoryWatcher(directories: directories, runner: runner, logger: logger)
    }

    /// A runner with no plugins; nothing here calls the API.
    static func withRunner(_ body: @Sendable (ToolRunner) async throws -> Void) async throws {
        try await HostHarness.withHost(apiURL: "http://127.0.0.1:9", plugins: []) { runner, _ in try await body(runner) }
    }

    static func reasons(_ scan: PluginScan) -> [String: String] {
        Dictionary(uniqueKeysWithValues: scan.refusals.map { ($0.path, $0.reason) })
    }

    @Test("a plugin renamed into a watched directory is loaded by the next pass, listed and callable")
    func pluginAppears() async throws {
        let watched = try TestDatabase.temporaryDirectory()
        try await HostHarness.run(.sqlite, plugins: []) { host in
            let catalog = ToolCatalog(runner: host.runner, tenants: TenantConfiguration(.everything, logger: Self.logger))
            let watcher = Self.watcher([watched], runner: host.runner)
            #expect(watcher.scan().added.isEmpty)
            #expect(catalog.tools(for: host.tenant).isEmpty)

            _ = try Self.install(Self.example, as: "libquick_capture.so", into: watched)
            let scan = watcher.scan()
            #expect(scan.added.map(\.name) == ["quick_capture"])
            #expect(scan.refusals.isEmpty)
            #expect(catalog.tools(for: host.tenant).map(\.name) == ["capture_note", "capture_task", "text_stats"])
            #expect(catalog.allows(tool: "capture_note", tenant: host.tenant))

            let stats = await host.call("text_stats", ["text": "two words"])
            #expect(stats.value == ["characters": 9, "words": 2, "lines": 1, "bytes": 9])
            let note = await host.call("capture_note", ["text": "Found while running\nno restart"])
            #expect(!note.isError, "\(note.value.serialized)")
            #expect(note.value["payload"]?["title"] == "Found while running")

            let again = watcher.scan()
            #expect(again.added.isEmpty && again.refusals.isEmpty, "a loaded file is not loaded twice")
        }
    }

    @Test("a half-copied file is refused once, not tried again until it changes, and loaded once complete")
    func halfCopiedFile() async throws {
        let watched = try TestDatabase.temporaryDirectory()
        let built = try CCompiler.sharedLibrary(Self.example, named: "quick_capture", into: try TestDatabase.temporaryDirectory())
        let bytes = try Data(contentsOf: URL(fileURLWithPath: built))
        let target = "\(watched)/libquick_capture.so"
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: target))
        try await Self.withRunner { runner in
            let watcher = Self.watcher([watched], runner: runner)
            let first = watcher.scan()
            #expect(first.added.isEmpty)
            #expect(Self.reasons(first)[target]?.contains("still being copied?") == true, "\(first.refusals)")

            let unchanged = watcher.scan()
            #expect(unchanged.refusals.isEmpty && unchanged.added.isEmpty, "an unchanged file is not tried again")

            let file = try FileHandle(forWritingTo: URL(fileURLWithPath: target))
            try file.seekToEnd()
            try file.write(contentsOf: bytes.suffix(from: bytes.count / 2))
            try file.close()
            let completed = watcher.scan()
            #expect(completed.added.map(\.name) == ["quick_capture"], "\(completed.refusals)")
            #expect(await runner.call("text_stats", arguments: ["text": "a b c"], identity: HostHarness.identity(tenant: "t"))
                .value["words"] == 3)
        }
    }

    @Test("a plugin dropped in later with a loaded plugin's name or tool name is refused, naming the file")
    func laterDuplicates() async throws {
        let watched = try TestDatabase.temporaryDirectory()
        try await Self.withRunner { runner in
            let watcher = Self.watcher([watched], runner: runner)
            let first = try Self.install(Self.example, as: "libquick_capture.so", into: watched)
            #expect(watcher.scan().added.map(\.name) == ["quick_capture"])

            let copy = try Self.install(Self.example, as: "libquick_capture_copy.so", into: watched)
            let clash = try Self.install(
                "\(packageRoot)/Tests/Fixtures/plugins/duplicate_tool.c", as: "libduplicate_tool.so", into: watched)
            let later = watcher.scan()
            #expect(later.added.isEmpty)
            let reasons = Self.reasons(later)
            #expect(reasons[copy] == "a plugin named 'quick_capture' is already loaded from \(first)", "\(reasons)")
            #expect(reasons[clash] == "its tool 'text_stats' is already provided by the plugin 'quick_capture'", "\(reasons)")
            #expect(runner.plugins.map(\.name) == ["quick_capture"])
        }
    }

    @Test("a directory that does not exist yet is watched until it appears")
    func directoryAppearsLater() async throws {
        let watched = try TestDatabase.temporaryDirectory() + "/plugins"
        try await Self.withRunner { runner in
            let watcher = Self.watcher([watched], runner: runner)
            let before = watcher.scan()
            #expect(before.added.isEmpty && before.refusals.isEmpty)

            try FileManager.default.createDirectory(atPath: watched, withIntermediateDirectories: false)
            _ = try Self.install(Self.example, as: "libquick_capture.so", into: watched)
            #expect(watcher.scan().added.map(\.name) == ["quick_capture"])
        }
    }

    @Test("a loaded file replaced or removed keeps its tools, and each change is reported once")
    func loadedFileChanges() async throws {
        let watched = try TestDatabase.temporaryDirectory()
        try await Self.withRunner { runner in
            let watcher = Self.watcher([watched], runner: runner)
            let path = try Self.install(Self.example, as: "libquick_capture.so", into: watched)
            #expect(watcher.scan().added.map(\.name) == ["quick_capture"])

            _ = try Self.install("\(packageRoot)/Tests/Fixtures/plugins/counter.c", as: "libquick_capture.so", into: watched)
            let replaced = watcher.scan()
            #expect(replaced.changedAfterLoading == [path])
            #expect(replaced.added.isEmpty && replaced.refusals.isEmpty, "a replacement is not loaded")
            #expect(watcher.scan().changedAfterLoading.isEmpty)

            try FileManager.default.removeItem(atPath: path)
            #expect(watcher.scan().changedAfterLoading == [path])
            #expect(watcher.scan().changedAfterLoading.isEmpty)

            #expect(runner.plugins.map(\.name) == ["quick_capture"])
            let stats = await runner.call("text_stats", arguments: ["text": "still here"], identity: HostHarness.identity(tenant: "t"))
            #expect(stats.value["words"] == 2)
        }
    }

    @Test("a refused library replaced under the same name is refused again, since dlopen would hand back the old one")
    func replacedRefusedLibrary() async throws {
        let watched = try TestDatabase.temporaryDirectory()
        try await Self.withRunner { runner in
            let watcher = Self.watcher([watched], runner: runner)
            let path = try Self.install(
                "\(packageRoot)/Tests/Fixtures/plugins/init_fails.c", as: "libcapture.so", into: watched)
            #expect(Self.reasons(watcher.scan())[path]?.contains("its init failed") == true)

            _ = try Self.install(Self.example, as: "libcapture.so", into: watched)
            let retried = watcher.scan()
            #expect(retried.added.isEmpty)
            #expect(Self.reasons(retried)[path]?.contains("give it a new file name, or restart the host") == true, "\(retried.refusals)")

            _ = try Self.install(Self.example, as: "libcapture2.so", into: watched)
            #expect(watcher.scan().added.map(\.name) == ["quick_capture"])
        }
    }
}
