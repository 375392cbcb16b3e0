import API
import Foundation
import Host
import Logging
import ServerSupport
import TestSupport
import Testing

@Suite("REST proxy sync session bound")
struct SyncSessionBoundTests {
    /// A runner whose proxy keeps at most `maximumSyncSessions` sessions, against an API on SQLite.
    private static func withProxy(
        _ configure: @escaping @Sendable (inout ProxyConfiguration) -> Void,
        _ body: @Sendable (ToolRunner, RESTProxy, String) async throws -> Void
    ) async throws {
        let tenant = uniqueTenant()
        try await APITestServer.run(configuration: try TestDatabase.configuration(.sqlite)) { client, _ in
            var logger = Logger(label: "toolbridge.test.host")
            logger.logLevel = .error
            var configuration = ProxyConfiguration(apiURL: "http://127.0.0.1:\(client.port!)", requestTimeout: .seconds(10))
            configure(&configuration)
            let proxy = RESTProxy(
                configuration: configuration, credentials: try await HostHarness.testCredentials(), logger: logger)
            let runner = ToolRunner(plugins: builtPlugins.plugins, proxy: proxy, threads: 4, ownsPlugins: false, logger: logger)
            try await withRunningServices([proxy, runner]) { try await body(runner, proxy, tenant) }
        }
    }

    private static func listNotes(_ runner: ToolRunner, as user: String, tenant: String) async -> ToolOutcome {
        await runner.call("list_notes", arguments: [:], identity: HostHarness.identity(user, tenant: tenant))
    }

    @Test("the proxy keeps at most maximumSyncSessions sessions, dropping the least recently used")
    func keepsAtMostTheCapacity() async throws {
        try await Self.withProxy({ $0.maximumSyncSessions = 2 }) { runner, proxy, tenant in
            for user in ["ann", "ben", "cid", "dee", "eve"] {
                let outcome = await Self.listNotes(runner, as: user, tenant: tenant)
                #expect(!outcome.isError, "\(outcome.value.serialized)")
                #expect(await proxy.sessionsKept <= 2)
            }
            #expect(await proxy.sessionsKept == 2)
            #expect(await proxy.sessionsCreated == 5)
        }
    }

    @Test("a session used since the others were made survives when room is made")
    func usedSessionSurvives() async throws {
        try await Self.withProxy({ $0.maximumSyncSessions = 2 }) { runner, proxy, tenant in
            _ = await Self.listNotes(runner, as: "ann", tenant: tenant)
            _ = await Self.listNotes(runner, as: "ben", tenant: tenant)
            _ = await Self.listNotes(runner, as: "ann", tenant: tenant)
            _ = await Self.listNotes(runner, as: "cid", tenant: tenant)  // drops ben's, not ann's
            #expect(await proxy.sessionsCreated == 3)
            _ = await Self.listNotes(runner, as: "ann", tenant: tenant)
            #expect(await proxy.sessionsCreated == 3, "ann's session was kept")
            _ = await Self.listNotes(runner, as: "ben", tenant: tenant)
            #expect(await proxy.sessionsCreated == 4, "ben's session was dropped and made again")
        }
    }

    @Test("a session unused for longer than the idle limit is dropped and made again on next use")
    func idleSessionIsDropped() async throws {
        try await Self.withProxy({ $0.syncSessionIdleLimit = .milliseconds(200) }) { runner, proxy, tenant in
            _ = await Self.listNotes(runner, as: "ann", tenant: tenant)
            try await Task.sleep(for: .milliseconds(400))
            let outcome = await Self.listNotes(runner, as: "ann", tenant: tenant)
            #expect(!outcome.isError, "\(outcome.value.serialized)")
            #expect(await proxy.sessionsCreated == 2)
        }
    }
}
