import API
import HTTPTypes
import Observability
import TestSupport
import Testing

/// The metrics registry and the API's `/metrics`: the exposition, the tenant-label switch, route
/// templates as labels, authentication failures by reason and database statements by keyword.
@Suite("Metrics")
struct MetricsTests {
    /// The value of the sample `name{labels}` in an exposition (labels in the family's order);
    /// nil when absent.
    static func sample(_ exposition: String, _ name: String, _ labels: String = "") -> Double? {
        let prefix = labels.isEmpty ? name + " " : name + "{" + labels + "} "
        return exposition.split(separator: "\n").first { $0.hasPrefix(prefix) }
            .flatMap { Double($0.dropFirst(prefix.count)) }
    }

    static func scrape(_ api: TestAPI) async throws -> String {
        let response = try await api.send(.get, "/metrics")
        try #require(response.status == .ok)
        #expect(response.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
        return response.text
    }

    @Test("the exposition carries HELP and TYPE lines and the samples of every instrument kind")
    func exposition() {
        let registry = MetricsRegistry()
        let calls = registry.counters("demo_calls_total", help: "Calls made.", labels: [SemanticName.genAIToolName])
        calls("get_note").increment()
        calls("get_note").increment()
        registry.timers("demo_duration_seconds", help: "How long.", labels: [])().record(duration: .milliseconds(3))
        registry.gauges("demo_open", help: "Open now.", labels: [])().increment(by: 2.0)
        let text = registry.exposition()
        #expect(text.contains("# HELP demo_calls_total Calls made.\n# TYPE demo_calls_total counter\n"))
        #expect(Self.sample(text, "demo_calls_total", #"gen_ai_tool_name="get_note""#) == 2)
        #expect(text.contains("# HELP demo_duration_seconds How long.\n# TYPE demo_duration_seconds histogram\n"))
        #expect(Self.sample(text, "demo_duration_seconds_count") == 1)
        #expect(Self.sample(text, "demo_duration_seconds_bucket", #"le="0.0005""#) == 0)
        #expect(Self.sample(text, "demo_duration_seconds_bucket", #"le="0.005""#) == 1)
        #expect(Self.sample(text, "demo_duration_seconds_sum").map { abs($0 - 0.003) < 1e-9 } == true)
        #expect(Self.sample(text, "demo_open") == 2)
    }

    @Test("with tenant labels off no series has a tenant label, and tenants share one series")
    func tenantLabelsOff() {
        let registry = MetricsRegistry(tenantLabels: false)
        let calls = registry.counters("demo_calls_total", help: "Calls.", labels: ["outcome", SemanticName.tenant])
        calls("ok", "acme").increment()
        calls("ok", "globex").increment()
        let text = registry.exposition()
        #expect(!text.contains("tenant="))
        #expect(Self.sample(text, "demo_calls_total", #"outcome="ok""#) == 2)

        let labelled = MetricsRegistry(tenantLabels: true)
        labelled.counters("demo_calls_total", help: "Calls.", labels: ["outcome", SemanticName.tenant])("ok", "acme")
            .increment()
        #expect(Self.sample(labelled.exposition(), "demo_calls_total", #"outcome="ok",tenant="acme""#) == 1)
    }

    @Test("a request is labelled with its route template, never its path; an unknown path with one fixed value")
    func routeTemplate() async throws {
        try await TestAPI.run(.sqlite) { api in
            let alice = try await api.user("alice")
            let uid = "0b7e6a6c-9a57-4b8e-9d4e-3f3b8f1c2d11"
            #expect(try await api.send(.get, "/v1/notes/\(uid)", as: alice).status == .notFound)
            #expect(try await api.send(.get, "/no/such/path-\(uid)", as: alice).status == .notFound)
            let text = try await Self.scrape(api)
            #expect(!text.contains(uid))
            #expect(
                Self.sample(
                    text, "http_server_request_duration_seconds_count",
                    #"http_request_method="GET",http_route="/v1/{kind}/{uid}",http_response_status_code="404""#) == 1)
            #expect(
                Self.sample(
                    text, "http_server_request_duration_seconds_count",
                    #"http_request_method="GET",http_route="unmatched",http_response_status_code="404""#) == 1)
        }
    }

    @Test("authentication failures are counted by reason", arguments: StoreKind.allCases)
    func authFailures(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let expired = TestTokens.hs256(claims: ["org_id": api.tenant, "exp": TestTokens.now() - 3600])
            let forged = TestTokens.hs256(claims: ["org_id": api.tenant], secret: "another-secret-0123456789abcdef0123")
            for headers: HTTPFields in [
                [:], [.authorization: "Bearer \(expired)"], [.authorization: "Bearer \(forged)"],
                [.authorization: "Bearer \(forged)"], [.authorization: "Bearer \(TestTokens.unsigned())"],
            ] {
                #expect(try await api.send(.get, "/v1/notes", headers: headers).status == .unauthorized)
            }
            let text = try await Self.scrape(api)
            #expect(Self.sample(text, "toolbridge_auth_failures_total", #"reason="missing_token""#) == 1)
            #expect(Self.sample(text, "toolbridge_auth_failures_total", #"reason="expired""#) == 1)
            #expect(Self.sample(text, "toolbridge_auth_failures_total", #"reason="bad_signature""#) == 2)
            #expect(Self.sample(text, "toolbridge_auth_failures_total", #"reason="algorithm_refused""#) == 1)
        }
    }

    @Test("database statements are timed by their first keyword on both stores", arguments: StoreKind.allCases)
    func databaseOperations(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user("alice")
            try await api.create("notes", as: alice, #"{"title": "counted"}"#)
            let text = try await Self.scrape(api)
            let system = store == .sqlite ? "sqlite" : "postgresql"
            for operation in ["SELECT", "INSERT", "BEGIN", "COMMIT"] {
                let count = Self.sample(
                    text, "db_client_operation_duration_seconds_count",
                    #"db_system_name="\#(system)",db_operation_name="\#(operation)""#)
                #expect((count ?? 0) >= 1, "\(operation) on \(system)")
            }
            #expect(Self.sample(text, "db_client_connection_max") == (store == .sqlite ? 3 : 2))
            #expect((Self.sample(text, "db_client_connection_wait_time_seconds_count") ?? 0) >= 1)
            if store == .postgres {
                let idle = Self.sample(text, "db_client_connections", #"db_client_connection_state="idle""#)
                let used = Self.sample(text, "db_client_connections", #"db_client_connection_state="used""#)
                #expect(used == 0)
                #expect(idle.map { (0...2).contains($0) } == true)
            }
        }
    }

    @Test("with a metrics token, /metrics needs it; with a metrics port, the API port has no /metrics")
    func access() async throws {
        try await TestAPI.run(.sqlite, configure: { $0.metricsAccess = MetricsAccess(token: "scrape-token") }) { api in
            #expect(try await api.send(.get, "/metrics").status == .unauthorized)
            #expect(try await api.send(.get, "/metrics", headers: [.authorization: "Bearer wrong-token!"]).status == .unauthorized)
            let allowed = try await api.send(.get, "/metrics", headers: [.authorization: "Bearer scrape-token"])
            #expect(allowed.status == .ok)
            #expect(allowed.text.contains("# TYPE http_server_request_duration_seconds histogram"))
        }
        try await TestAPI.run(.sqlite, configure: { $0.metricsAccess = MetricsAccess(port: 0) }) { api in
            let response = try await api.send(.get, "/metrics")
            #expect(response.status == .notFound)
        }
    }
}
