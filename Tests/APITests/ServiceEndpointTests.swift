import API
import TestSupport
import Testing

@Suite("Service endpoints")
struct ServiceEndpointTests {
    @Test("healthz and readyz answer without a token", arguments: StoreKind.allCases)
    func healthAndReadiness(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let health = try await api.send(.get, "/healthz")
            #expect(health.status == .ok)
            #expect(health["status"] == "ok")
            let ready = try await api.send(.get, "/readyz")
            #expect(ready.status == .ok)
            #expect(ready["database"] == "ok")
        }
    }

    @Test("sync/info lists kinds, actions and limits without a token")
    func syncInfo() async throws {
        try await TestAPI.run(.sqlite) { api in
            let info = try await api.send(.get, "/v1/sync/info")
            #expect(info.status == .ok)
            let kinds = info["kinds"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
            #expect(kinds == EntityKind.all.map(\.name))
            #expect(info["limits"]?["maxListLimit"]?.int64Value == 1000)
            #expect(info["limits"]?["maxBodyBytes"]?.int64Value == Int64(10 * 1024 * 1024))
        }
    }

    @Test("an unknown path is a JSON 404 that names it")
    func unknownPath() async throws {
        try await TestAPI.run(.sqlite) { api in
            let response = try await api.send(.get, "/nothing/here")
            #expect(response.status == .notFound)
            #expect(response.error.contains("/nothing/here"))
            #expect(response["correlation_id"]?.stringValue?.isEmpty == false)
        }
    }
}
