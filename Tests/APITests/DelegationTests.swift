import API
import Foundation
import HTTPTypes
import Logging
import ServerSupport
import TestSupport
import Testing
import ToolBridgeAuth

@Suite("Delegated credentials (host → API)")
struct DelegationTests {
    private static let logger = Logger(label: "toolbridge.test.delegation")

    private static func credentials(_ key: DelegationKey = .secret(TestTokens.delegationSecret)) async throws
        -> DelegatedCredentials
    {
        try await DelegatedCredentials(key: key, actor: "host-a", userSecret: TestTokens.secret)
    }

    /// A token shaped like a delegated credential, built by hand so the broken ones can be made.
    private static func forged(
        secret: String = TestTokens.delegationSecret, claims: [String: Any] = [:], typ: String = Delegation.tokenType
    ) -> String {
        let now = TestTokens.now()
        var payload: [String: Any] = [
            "iss": Delegation.issuer, "aud": Delegation.audience, "tenant": "t1", "act": ["sub": "host-a"],
            "iat": now, "exp": now + 300,
        ]
        for (key, value) in claims { payload[key] = value }
        return TestTokens.hs256(
            sub: "alice", claims: payload, secret: secret,
            header: ["alg": "HS256", "typ": typ, "kid": DelegationKey.secret(secret).keyID])
    }

    @Test("the API accepts a host's credential: the user and tenant it carries, and the host as actor", arguments: StoreKind.allCases)
    func accepted(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let token = try await Self.credentials().token(user: "alice", tenant: api.tenant)
            let response = try await api.send(.post, "/v1/sync/sessions", headers: [.authorization: "Bearer \(token)"])
            #expect(response.status == .created, "\(response.text)")
            #expect(response["userId"] == "alice")
            let other = try await api.send(
                .post, "/v1/sync/sessions", headers: [.authorization: "Bearer \(token)", .tenantID: "somewhere-else"])
            #expect(other.status == .forbidden, "tenant headers must name the delegated tenant")
        }
    }

    @Test("the verifier reports the actor; the edge (no trusted host keys) refuses delegated credentials")
    func actorAndEdge() async throws {
        let token = try await Self.credentials().token(user: "alice", tenant: "t1")
        let api = try await TokenVerifier(
            configuration: AuthConfiguration(
                jwtSecret: TestTokens.secret, delegation: DelegationTrust(secret: TestTokens.delegationSecret)),
            logger: Self.logger)
        let verified = try await api.verify(token)
        #expect(verified.delegation?.actor == "host-a")
        #expect(verified.delegation?.tenant == "t1")
        #expect(verified.subject == "alice")

        let edge = try await TokenVerifier(configuration: AuthConfiguration(jwtSecret: TestTokens.secret), logger: Self.logger)
        await #expect(throws: AuthError.self) { try await edge.verify(token) }
        let userToken = try await edge.verify(TestTokens.hs256(sub: "bob"))
        #expect(userToken.delegation == nil)
    }

    @Test("forged, long-lived, foreign and mistyped delegated credentials are refused with a sentence")
    func refused() async throws {
        let verifier = try await TokenVerifier(
            configuration: AuthConfiguration(
                jwtSecret: TestTokens.secret, delegation: DelegationTrust(secret: TestTokens.delegationSecret)),
            logger: Self.logger)
        let now = TestTokens.now()
        let cases: [(String, String, String)] = [
            ("valid shape, other host's secret", Self.forged(secret: "another-host-secret-0123456789abcdef0123"), "signature is invalid"),
            ("a user's secret with the delegation type", TestTokens.hs256(header: ["alg": "HS256", "typ": Delegation.tokenType]), "signature is invalid"),
            ("signed by the host but typed as a user token", Self.forged(typ: "JWT"), "signature is invalid"),
            ("lives an hour", Self.forged(claims: ["exp": now + 3600]), "at most"),
            ("no iat", Self.forged(claims: ["iat": NSNull()]), "at most"),
            ("another audience", Self.forged(claims: ["aud": "somebody-else"]), "not a ToolBridge host's credential"),
            ("no actor", Self.forged(claims: ["act": NSNull()]), "actor"),
            ("no tenant", Self.forged(claims: ["tenant": NSNull()]), "tenant"),
            ("expired", Self.forged(claims: ["iat": now - 1000, "exp": now - 700]), "expired"),
        ]
        for (name, token, message) in cases {
            do {
                _ = try await verifier.verify(token)
                Issue.record("\(name): accepted")
            } catch {
                #expect(error.status == .unauthorized, "\(name)")
                #expect(error.message.contains(message), "\(name): \(error.message)")
            }
        }
        #expect(try await verifier.verify(Self.forged()).delegation?.actor == "host-a", "the valid one passes")
    }

    @Test("ES256: the host signs with its private key, the API trusts the public key from a JWKS file")
    func ecdsa() async throws {
        let key = DelegationKey.generated()
        let path = try TestDatabase.temporaryDirectory() + "/hosts.jwks"
        try JSONValue.object(["keys": [key.publicJWK!]]).serialized.write(toFile: path, atomically: true, encoding: .utf8)
        let verifier = try await TokenVerifier(
            configuration: AuthConfiguration(jwtSecret: TestTokens.secret, delegation: DelegationTrust(jwksFile: path)),
            logger: Self.logger)
        let token = try await Self.credentials(key).token(user: "alice", tenant: "t1")
        #expect(try await verifier.verify(token).delegation?.tenant == "t1")
        let stranger = try await Self.credentials(.generated()).token(user: "alice", tenant: "t1")
        await #expect(throws: AuthError.self) { try await verifier.verify(stranger) }
    }

    @Test("a credential is signed once and reused until it nears expiry; each (tenant, user) has its own")
    func cached() async throws {
        let credentials = try await Self.credentials()
        let first = try await credentials.token(user: "alice", tenant: "t1")
        #expect(try await credentials.token(user: "alice", tenant: "t1") == first)
        #expect(try await credentials.token(user: "alice", tenant: "t2") != first)
        #expect(try await credentials.token(user: "bob", tenant: "t1") != first)
    }

    @Test("a delegation secret must be long and must not be the users' JWT secret")
    func secretRules() async throws {
        await #expect(throws: ConfigurationError.self) {
            try await DelegatedCredentials(key: .secret(TestTokens.secret), actor: "h", userSecret: TestTokens.secret)
        }
        await #expect(throws: ConfigurationError.self) {
            try await DelegatedCredentials(key: .secret("short"), actor: "h", userSecret: nil)
        }
        await #expect(throws: ConfigurationError.self) {
            try await TokenVerifier(
                configuration: AuthConfiguration(jwtSecret: TestTokens.secret, delegation: DelegationTrust(secret: TestTokens.secret)),
                logger: Self.logger)
        }
    }
}
