import API
import Foundation
import Host
import Logging
import PluginABI
import ServerSupport
import TestSupport
import Testing

@Suite("REST proxy")
struct RESTProxyTests {
    @Test("one sync session serves many calls of a user, also when they arrive at once", arguments: StoreKind.allCases)
    func reusesOneSession(store: StoreKind) async throws {
        try await HostHarness.run(store) { host in
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    group.addTask { _ = await host.call("create_note", ["title": .string("n\(index)")]) }
                }
            }
            for _ in 0..<5 { _ = await host.call("list_notes") }
            let listed = await host.call("list_notes")
            #expect(listed.value["items"]?.arrayValue?.count == 20)
            #expect(await host.proxy.sessionsCreated == 1)
            _ = await host.call("list_notes", as: "bob")
            #expect(await host.proxy.sessionsCreated == 2, "one session per (tenant, user)")
        }
    }

    @Test("an expired session is renewed transparently", arguments: StoreKind.allCases)
    func renewsExpiredSession(store: StoreKind) async throws {
        try await HostHarness.run(store, configure: { $0.sessionTTLSeconds = 1 }) { host in
            #expect(!(await host.call("create_task", ["title": "first"])).isError)
            try await Task.sleep(for: .milliseconds(1100))
            let after = await host.call("list_tasks")
            #expect(!after.isError, "\(after.value.serialized)")
            #expect(after.value["items"]?.arrayValue?.count == 1)
            #expect(await host.proxy.sessionsCreated == 2)
        }
    }

    @Test("a restarted API with a new store forgets the session; the proxy makes a new one")
    func survivesAPIRestart() async throws {
        let port = try freeLoopbackPort()
        let apiURL = "http://127.0.0.1:\(port)"
        let tenant = uniqueTenant()
        try await HostHarness.withHost(apiURL: apiURL) { runner, proxy in
            let identity = HostHarness.identity(tenant: tenant)
            for _ in 0..<2 {
                var configuration = try TestDatabase.configuration(.sqlite)
                configuration.port = port
                try await APITestServer.runOnFixedPort(configuration: configuration) {
                    let outcome = await runner.call("create_note", arguments: ["title": "x"], identity: identity)
                    #expect(!outcome.isError, "\(outcome.value.serialized)")
                }
            }
            #expect(await proxy.sessionsCreated == 2)
        }
    }

    @Test("after a wipe bumps the epoch, the proxy follows it", arguments: StoreKind.allCases)
    func followsEpochChange(store: StoreKind) async throws {
        try await HostHarness.run(store) { host in
            _ = await host.call("create_note", ["title": "before"])
            let scope = Scope(tenant: host.tenant, owner: "alice")
            let (state, _) = try await host.store.wipe(scope, by: "alice")
            #expect(state.epoch == 2)
            let after = await host.call("create_note", ["title": "after"])
            #expect(!after.isError, "\(after.value.serialized)")
            let listed = await host.call("list_notes")
            #expect(listed.value["items"]?.arrayValue?.map { $0["payload"]?["title"] } == ["after"])
            #expect(await host.proxy.sessionsCreated == 1, "the session stays; only its epoch changed")
        }
    }

    @Test("an unreachable API is a clear tool error, and the host keeps serving")
    func unreachableAPI() async throws {
        let port = try freeLoopbackPort()
        try await HostHarness.withHost(apiURL: "http://127.0.0.1:\(port)") { runner, _ in
            let identity = HostHarness.identity(tenant: "t")
            let outcome = await runner.call("list_notes", arguments: [:], identity: identity)
            #expect(outcome.status == TB_UNAVAILABLE)
            #expect(outcome.message == "the ToolBridge API is unreachable")
            let again = await runner.call("get_note", arguments: ["uid": "nope"], identity: identity)
            #expect(again.status == TB_INVALID_ARGUMENT, "later calls are still served")
        }
    }

    @Test("a host whose delegation key the API does not trust gets the API's 401 as the tool's error")
    func untrustedHost() async throws {
        try await HostHarness.run(.sqlite) { host in
            var logger = Logger(label: "toolbridge.test.host")
            logger.logLevel = .error
            let stranger = RESTProxy(
                configuration: ProxyConfiguration(apiURL: host.apiURL, requestTimeout: .seconds(10)),
                credentials: try await HostHarness.testCredentials(secret: "another-host-secret-0123456789abcdef0123"),
                logger: logger)
            let runner = ToolRunner(plugins: builtPlugins.plugins, proxy: stranger, threads: 2, ownsPlugins: false, logger: logger)
            let outcome = try await withRunningServices([stranger, runner]) {
                await runner.call("list_notes", arguments: [:], identity: HostHarness.identity(tenant: host.tenant))
            }
            #expect(outcome.value["status"] == 401)
            #expect(outcome.message?.contains("signature is invalid") == true)
        }
    }
}
