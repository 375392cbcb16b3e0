import API
import Foundation
import HTTPTypes
import Logging
import ServerSupport
import TestSupport
import Testing
import ToolBridgeAuth

@Suite("Memberships")
struct MembershipTests {
    /// The membership records of the API's own store.
    private func records(_ api: TestAPI) throws -> any MembershipStore {
        try #require(api.store as? any MembershipStore, "the API's store keeps no membership records")
    }

    private func headers(_ token: String, tenant: String? = nil) -> HTTPFields {
        var fields = HTTPFields()
        fields[.authorization] = "Bearer \(token)"
        if let tenant { fields[.tenantID] = tenant }
        return fields
    }

    @Test("adding a membership is idempotent and says whether it was new", arguments: StoreKind.allCases)
    func addIsIdempotent(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let memberships = try records(api)
            let user = uniqueTenant("user")
            #expect(try await memberships.addMembership(tenant: api.tenant, user: user))
            #expect(try await !memberships.addMembership(tenant: api.tenant, user: user))
            let listed = try await memberships.memberships(tenant: api.tenant, user: user)
            #expect(listed.map(\.userID) == [user], "one record after two adds")
        }
    }

    @Test("removing a membership says whether it existed", arguments: StoreKind.allCases)
    func removeSaysWhetherItExisted(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let memberships = try records(api)
            let user = uniqueTenant("user")
            #expect(try await !memberships.removeMembership(tenant: api.tenant, user: user))
            _ = try await memberships.addMembership(tenant: api.tenant, user: user)
            #expect(try await memberships.removeMembership(tenant: api.tenant, user: user))
            #expect(try await !memberships.removeMembership(tenant: api.tenant, user: user))
            #expect(try await memberships.tenants(of: user).isEmpty)
        }
    }

    @Test("memberships are listed by tenant, by user, by both, and a user's tenants come sorted", arguments: StoreKind.allCases)
    func listFilters(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let memberships = try records(api)
            let (zulu, alpha) = (uniqueTenant("zulu"), uniqueTenant("alpha"))
            let (ann, bob) = (uniqueTenant("ann"), uniqueTenant("bob"))
            for (tenant, user) in [(zulu, ann), (alpha, ann), (zulu, bob)] {
                _ = try await memberships.addMembership(tenant: tenant, user: user)
            }
            let byTenant = try await memberships.memberships(tenant: zulu, user: nil)
            #expect(byTenant.map(\.userID) == [ann, bob].sorted())
            let byUser = try await memberships.memberships(tenant: nil, user: ann)
            #expect(byUser.map(\.tenant) == [alpha, zulu].sorted())
            let both = try await memberships.memberships(tenant: zulu, user: bob)
            #expect(both.map(\.tenant) == [zulu] && both.map(\.userID) == [bob])
            #expect(both.allSatisfy { Timestamp.range.contains($0.createdMs) && $0.createdMs > 0 })
            let all = try await memberships.memberships(tenant: nil, user: nil)
            #expect(all.filter { [ann, bob].contains($0.userID) }.count == 3)
            #expect(try await memberships.tenants(of: ann) == [alpha, zulu].sorted())
        }
    }

    @Test("a tenant or user the auth layer would refuse is refused by the store with a 400", arguments: StoreKind.allCases)
    func invalidNames(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let memberships = try records(api)
            let cases: [(String, String, String)] = [
                ("a tenant with a space", "bad tenant", "alice"), ("an empty tenant", "", "alice"),
                ("a tenant of 129 characters", String(repeating: "t", count: 129), "alice"),
                ("an empty user", api.tenant, ""), ("a user with a newline", api.tenant, "ali\nce"),
            ]
            for (name, tenant, user) in cases {
                let error = await #expect(throws: APIError.self, "\(name)") {
                    try await memberships.addMembership(tenant: tenant, user: user)
                }
                #expect(error?.status == .badRequest, "\(name)")
            }
            #expect(try await memberships.tenants(of: "ali\nce").isEmpty, "an impossible user has no tenants")
        }
    }

    @Test("a user's tenants are the claim's and the records' together, each with its source", arguments: StoreKind.allCases)
    func unionOfClaimAndRecords(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let memberships = try records(api)
            let user = uniqueTenant("user")
            let (claimed, both, recorded) = (uniqueTenant("claimed"), uniqueTenant("both"), uniqueTenant("recorded"))
            _ = try await memberships.addMembership(tenant: both, user: user)
            _ = try await memberships.addMembership(tenant: recorded, user: user)
            let token = TestTokens.hs256(sub: user, claims: ["org_id": [claimed, both]])
            let answer = try await api.send(.get, "/v1/auth/tenant", headers: headers(token))
            #expect(answer.status == .ok, "\(answer.text)")
            #expect(answer["tenants"]?.arrayValue?.compactMap(\.stringValue) == [claimed, both, recorded])
            #expect(answer["source"]?.stringValue == "both")
            #expect(answer["mustChoose"]?.boolValue == true)
            let sources = answer["memberships"]?.arrayValue?.compactMap { entry -> String? in
                guard let tenant = entry["tenant"]?.stringValue, let source = entry["source"]?.stringValue else { return nil }
                return "\(tenant)=\(source)"
            }
            #expect(sources == ["\(claimed)=claim", "\(both)=both", "\(recorded)=record"])
            for tenant in [claimed, both, recorded] {
                let session = try await api.send(.post, "/v1/sync/sessions", headers: headers(token, tenant: tenant))
                #expect(session.status == .created, "\(tenant): \(session.text)")
            }
        }
    }

    @Test("a record lets a user whose token names no tenant into it, and the default tenant no longer applies", arguments: StoreKind.allCases)
    func recordReplacesDefaultTenant(store: StoreKind) async throws {
        let configuration = try TestDatabase.configuration(store)
        let (tenant, user) = (uniqueTenant(), uniqueTenant("user"))
        let token = TestTokens.hs256(sub: user)
        try await TestAPI.run(configuration: configuration, tenant: tenant) { api in
            let before = try await api.send(.get, "/v1/auth/tenant", headers: headers(token))
            #expect(before["tenants"]?.arrayValue?.compactMap(\.stringValue) == ["default"])
            #expect(before["source"]?.stringValue == "default")
            let refused = try await api.send(.post, "/v1/sync/sessions", headers: headers(token, tenant: tenant))
            #expect(refused.status == .forbidden, "\(refused.text)")
            _ = try await records(api).addMembership(tenant: tenant, user: user)
        }
        // A second API on the same database, so the refusal above is not remembered (caching is the next test's).
        try await TestAPI.run(configuration: configuration, tenant: tenant) { api in
            let after = try await api.send(.get, "/v1/auth/tenant", headers: headers(token))
            #expect(after["tenants"]?.arrayValue?.compactMap(\.stringValue) == [tenant])
            #expect(after["source"]?.stringValue == "record")
            #expect(after["mustChoose"]?.boolValue == false)
            let admitted = try await api.send(.post, "/v1/sync/sessions", headers: headers(token, tenant: tenant))
            #expect(admitted.status == .created, "\(admitted.text)")
            let implicit = try await api.send(.post, "/v1/sync/sessions", headers: headers(token))
            #expect(implicit.status == .created, "the only tenant is chosen without a header: \(implicit.text)")
            let defaultTenant = try await api.send(.post, "/v1/sync/sessions", headers: headers(token, tenant: "default"))
            #expect(defaultTenant.status == .forbidden, "\(defaultTenant.text)")
        }
    }

    @Test("records are kept for the cache time, then read again", arguments: StoreKind.allCases)
    func recordsAreCached(store: StoreKind) async throws {
        let user = uniqueTenant("user")
        let token = TestTokens.hs256(sub: user)
        let configure: @Sendable (inout APIConfiguration) -> Void = { $0.membershipCacheSeconds = 3600 }
        try await TestAPI.run(store, configure: configure) { api in
            let memberships = try records(api)
            _ = try await memberships.addMembership(tenant: api.tenant, user: user)
            let first = try await api.send(.post, "/v1/sync/sessions", headers: headers(token, tenant: api.tenant))
            #expect(first.status == .created, "\(first.text)")
            _ = try await memberships.removeMembership(tenant: api.tenant, user: user)
            let cached = try await api.send(.post, "/v1/sync/sessions", headers: headers(token, tenant: api.tenant))
            #expect(cached.status == .created, "within the hour-long cache time the removal is not read yet")
        }
        try await TestAPI.run(store, configure: { $0.membershipCacheSeconds = 1 }) { api in
            let memberships = try records(api)
            _ = try await memberships.addMembership(tenant: api.tenant, user: user)
            let first = try await api.send(.post, "/v1/sync/sessions", headers: headers(token, tenant: api.tenant))
            #expect(first.status == .created, "\(first.text)")
            _ = try await memberships.removeMembership(tenant: api.tenant, user: user)
            var status = first.status
            for _ in 0..<100 where status != .forbidden {
                try await Task.sleep(for: .milliseconds(100))
                status = try await api.send(.post, "/v1/sync/sessions", headers: headers(token, tenant: api.tenant)).status
            }
            #expect(status == .forbidden, "the removal was never read again")
        }
    }

    @Test("records that cannot be read are a 503 with a sentence, never the default tenant", arguments: StoreKind.allCases)
    func unreadableRecords(store: StoreKind) async throws {
        var configuration = try TestDatabase.configuration(store)
        if store == .postgres, var url = URLComponents(string: try TestDatabase.postgresURL()) {
            // The server answers, but every connection is refused: the database does not exist.
            url.path = "/toolbridge_missing_\(UUID().uuidString.prefix(8).lowercased())"
            configuration.databaseURL = url.string
        }
        // SQLite: the file is never migrated, so the memberships table does not exist.
        var logger = Logger(label: "toolbridge.test.memberships")
        logger.logLevel = .critical
        let storage = try await APIStorage.open(configuration, logger: logger)
        let verifier = try await TokenVerifier(configuration: configuration.auth, logger: logger)
        let claimsOnly = Authenticator(configuration: configuration.auth, verifier: verifier)
        let authenticator = claimsOnly.with(records: CachedMembershipRecords(storage.memberships))
        let fields = headers(TestTokens.hs256(sub: uniqueTenant("user")))
        try await withRunningServices(storage.services) {
            let error = await #expect(throws: AuthError.self) { try await authenticator.caller(fields) }
            #expect(error?.status == .serviceUnavailable)
            #expect(error?.message.contains("membership records cannot be read") == true, "\(error?.message ?? "")")
            let again = await #expect(throws: AuthError.self, "a failure is not cached as 'no records'") {
                try await authenticator.caller(fields)
            }
            #expect(again?.status == .serviceUnavailable)
            let withoutRecords = try await claimsOnly.caller(fields)
            #expect(withoutRecords.tenant == "default", "without records the same user is in the default tenant")
        }
    }
}
