import API
import ServerSupport
import TestSupport
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import Testing
import _CryptoExtras
import ToolBridgeAuth

@Suite("Authentication")
struct AuthTests {
    private func status(_ api: TestAPI, token: String?, headers extra: HTTPFields = [:]) async throws -> APIResponse {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await api.send(.post, "/v1/sync/sessions", headers: headers)
    }

    @Test("every broken token is a 401 with a sentence saying what is wrong", arguments: StoreKind.allCases)
    func brokenTokens(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let now = TestTokens.now()
            let cases: [(String, String?, String)] = [
                ("no token", nil, "missing bearer token"),
                ("not a JWT", "abc.def", "not a JWT"),
                ("bad signature", TestTokens.hs256(secret: "some-other-secret-that-is-long-enough"), "signature is invalid"),
                ("expired", TestTokens.hs256(claims: ["exp": now - 3600]), "expired"),
                ("alg none", TestTokens.unsigned(), "alg 'none'"),
                ("not yet valid", TestTokens.hs256(claims: ["nbf": now + 3600]), "not valid yet"),
                ("no expiry", TestTokens.hs256(claims: ["exp": NSNull()]), "no 'exp'"),
                ("unconfigured algorithm", TestTokens.hs256(header: ["alg": "HS512", "typ": "JWT"]), "not accepted"),
                ("RS256 without a JWKS", TestTokens.hs256(header: ["alg": "RS256", "typ": "JWT"]), "no JWKS"),
                ("no subject", TestTokens.hs256(sub: "", claims: [:]), "'sub'"),
            ]
            for (name, token, message) in cases {
                let response = try await status(api, token: token)
                #expect(response.status == .unauthorized, "\(name)")
                #expect(response.error.contains(message), "\(name): \(response.error)")
            }
            let basic = try await api.send(.post, "/v1/sync/sessions", headers: [.authorization: "Basic YWxpY2U6eA=="])
            #expect(basic.status == .unauthorized)
            let withinLeeway = try await status(api, token: TestTokens.hs256(claims: ["exp": now - 20]))
            #expect(withinLeeway.status == .created, "exp within the leeway is accepted")
        }
    }

    @Test("issuer and audience are checked when configured")
    func issuerAndAudience() async throws {
        try await TestAPI.run(.sqlite, configure: {
            $0.auth.issuer = "https://id.example"
            $0.auth.audience = "toolbridge"
        }) { api in
            let good = TestTokens.hs256(claims: ["iss": "https://id.example", "aud": ["other", "toolbridge"]])
            #expect(try await status(api, token: good).status == .created)
            let wrongIssuer = TestTokens.hs256(claims: ["iss": "https://evil.example", "aud": "toolbridge"])
            let issuerResponse = try await status(api, token: wrongIssuer)
            #expect(issuerResponse.status == .unauthorized)
            #expect(issuerResponse.error.contains("issuer"))
            let wrongAudience = TestTokens.hs256(claims: ["iss": "https://id.example", "aud": "other"])
            let audienceResponse = try await status(api, token: wrongAudience)
            #expect(audienceResponse.status == .unauthorized)
            #expect(audienceResponse.error.contains("audience"))
        }
    }

    @Test("signed tenant headers: valid is accepted; missing, forged, stale and replayed are 401", arguments: StoreKind.allCases)
    func signedTenantHeaders(store: StoreKind) async throws {
        let secret = "tenant-secret-for-tests"
        try await TestAPI.run(store, configure: { $0.auth.tenantSecret = secret }) { api in
            let tenant = api.tenant
            let token = TestTokens.hs256(claims: ["org_id": [tenant, "other"]])
            func headers(tenant: String, timestamp: Int64, signature: String? = nil) -> HTTPFields {
                [
                    .tenantID: tenant, .tenantTimestamp: String(timestamp),
                    .tenantSignature: signature
                        ?? TenantSignature.sign(secret: secret, tenant: tenant, timestampMs: timestamp),
                ]
            }
            let now = Timestamp.nowMilliseconds()
            let valid = try await status(api, token: token, headers: headers(tenant: tenant, timestamp: now))
            #expect(valid.status == .created)

            let missing = try await status(api, token: token)
            #expect(missing.status == .unauthorized)
            #expect(missing.error.contains("signed tenant headers are required"))

            let forged = try await status(
                api, token: token, headers: headers(tenant: tenant, timestamp: now, signature: String(repeating: "ab", count: 32)))
            #expect(forged.status == .unauthorized)
            #expect(forged.error.contains("X-TB-Signature"))

            let stale = try await status(api, token: token, headers: headers(tenant: tenant, timestamp: now - 301_000))
            #expect(stale.status == .unauthorized)
            #expect(stale.error.contains("window"))

            let otherSignature = TenantSignature.sign(secret: secret, tenant: "other", timestampMs: now)
            let replayed = try await status(
                api, token: token, headers: headers(tenant: tenant, timestamp: now, signature: otherSignature))
            #expect(replayed.status == .unauthorized, "a signature for another tenant does not transfer")

            for extreme in [Int64.min, Int64.min + 1, Int64.max, Int64.max - 1] {
                let response = try await status(
                    api, token: token, headers: headers(tenant: tenant, timestamp: extreme, signature: String(repeating: "ab", count: 32)))
                #expect(response.status == .unauthorized, "X-TB-Timestamp \(extreme) is refused, not a crash")
                #expect(response.error.contains("window"))
            }

            let wrongSecret = TenantSignature.sign(secret: "guess", tenant: tenant, timestampMs: now)
            let guessed = try await status(
                api, token: token, headers: headers(tenant: tenant, timestamp: now, signature: wrongSecret))
            #expect(guessed.status == .unauthorized)
        }
    }

    @Test("a tenant the user is not a member of is 403, even with a valid signature", arguments: StoreKind.allCases)
    func nonMemberTenant(store: StoreKind) async throws {
        let secret = "tenant-secret-for-tests"
        try await TestAPI.run(store, configure: { $0.auth.tenantSecret = secret }) { api in
            let token = TestTokens.hs256(claims: ["org_id": api.tenant])
            let now = Timestamp.nowMilliseconds()
            let response = try await status(
                api, token: token,
                headers: [
                    .tenantID: "acme", .tenantTimestamp: String(now),
                    .tenantSignature: TenantSignature.sign(secret: secret, tenant: "acme", timestampMs: now),
                ])
            #expect(response.status == .forbidden)
            #expect(response.error.contains("not a member of tenant 'acme'"))
        }
    }

    @Test("membership: claim string or list, the default tenant without one, a choice among several")
    func membership() async throws {
        try await TestAPI.run(.sqlite, configure: { $0.auth.defaultTenant = "consumers" }) { api in
            let single = try await api.send(
                .get, "/v1/auth/tenant", headers: [.authorization: "Bearer \(TestTokens.hs256(claims: ["org_id": "acme"]))"])
            #expect(single["tenants"] == ["acme"])
            #expect(single["mustChoose"] == false)
            #expect(single["source"] == "claim")

            let none = try await api.send(.get, "/v1/auth/tenant", headers: [.authorization: "Bearer \(TestTokens.hs256())"])
            #expect(none["tenants"] == ["consumers"])
            #expect(none["source"] == "default")

            let several = TestTokens.hs256(claims: ["org_id": ["acme", "globex"]])
            let listed = try await api.send(.get, "/v1/auth/tenant", headers: [.authorization: "Bearer \(several)"])
            #expect(listed["tenants"] == ["acme", "globex"])
            #expect(listed["mustChoose"] == true)
            let unchosen = try await status(api, token: several)
            #expect(unchosen.status == .badRequest)
            #expect(unchosen.error.contains("X-TB-Tenant-ID"))
            let chosen = try await status(api, token: several, headers: [.tenantID: "globex"])
            #expect(chosen.status == .created)

            let defaultUser = try await status(api, token: TestTokens.hs256(), headers: [.tenantID: "acme"])
            #expect(defaultUser.status == .forbidden, "a default-tenant user cannot name another tenant")
            let badTenant = try await status(api, token: several, headers: [.tenantID: "acme globex"])
            #expect(badTenant.status == .badRequest)
        }
    }

    @Test("a configurable claim name carries the tenants")
    func tenantClaimName() async throws {
        try await TestAPI.run(.sqlite, configure: { $0.auth.tenantClaim = "tenants" }) { api in
            let token = TestTokens.hs256(claims: ["tenants": ["blue"], "org_id": "ignored"])
            let response = try await api.send(.get, "/v1/auth/tenant", headers: [.authorization: "Bearer \(token)"])
            #expect(response["tenants"] == ["blue"])
        }
    }
}

/// Claims for tokens the tests sign with JWKS keys.
private struct SignedClaims: JWTPayload {
    var sub: String
    var exp: Int
    var org_id: String?
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

@Suite("JWKS")
struct JWKSTests {
    struct Keys {
        let ec = ES256PrivateKey()
        let rsa: JWTKit.Insecure.RSA.PrivateKey

        init() throws {
            rsa = try JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
        }

        var jwks: String {
            let parameters = ec.parameters!
            let (modulus, exponent) = try! rsa.publicKey.getKeyPrimitives()
            return """
                {"keys":[
                  {"kty":"EC","crv":"P-256","kid":"ec-1","alg":"ES256","x":"\(parameters.x)","y":"\(parameters.y)"},
                  {"kty":"RSA","kid":"rsa-1","alg":"RS256","n":"\(TestTokens.base64URL(modulus))","e":"\(TestTokens.base64URL(exponent))"}
                ]}
                """
        }

        func token(kid: String, tenant: String) async throws -> String {
            let keys = JWTKeyCollection()
            await keys.add(ecdsa: ec, kid: "ec-1")
            await keys.add(rsa: rsa, digestAlgorithm: .sha256, kid: "rsa-1")
            let claims = SignedClaims(sub: "carol", exp: TestTokens.now() + 600, org_id: tenant)
            return try await keys.sign(claims, kid: JWKIdentifier(string: kid))
        }
    }

    private func assertJWKS(_ api: TestAPI, _ keys: Keys) async throws {
        for kid in ["ec-1", "rsa-1"] {
            let token = try await keys.token(kid: kid, tenant: api.tenant)
            let response = try await api.send(.post, "/v1/sync/sessions", headers: [.authorization: "Bearer \(token)"])
            #expect(response.status == .created, "\(kid): \(response.text)")
            #expect(response["userId"] == "carol")
        }
        let hs256 = try await api.send(
            .post, "/v1/sync/sessions", headers: [.authorization: "Bearer \(TestTokens.hs256())"])
        #expect(hs256.status == .unauthorized, "HS256 is refused when only a JWKS is configured")
        let stranger = try Keys()
        let foreign = try await stranger.token(kid: "ec-1", tenant: api.tenant)
        let response = try await api.send(.post, "/v1/sync/sessions", headers: [.authorization: "Bearer \(foreign)"])
        #expect(response.status == .unauthorized, "a key that is not in the JWKS is refused")
    }

    @Test("RS256 and ES256 tokens verify against a JWKS file")
    func jwksFile() async throws {
        let keys = try Keys()
        let path = try TestDatabase.temporaryDirectory() + "/jwks.json"
        try keys.jwks.write(toFile: path, atomically: true, encoding: .utf8)
        var configuration = try TestDatabase.configuration(.sqlite)
        configuration.auth = AuthConfiguration(jwksFile: path)
        try await TestAPI.run(configuration: configuration) { api in try await assertJWKS(api, keys) }
    }

    @Test("RS256 and ES256 tokens verify against a JWKS URL")
    func jwksURL() async throws {
        let keys = try Keys()
        let jwks = keys.jwks
        let router = Router()
        router.get("jwks.json") { _, _ in jwks }
        let identityProvider = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await identityProvider.test(.live) { provider in
            let port = try #require(provider.port)
            var configuration = try TestDatabase.configuration(.sqlite)
            configuration.auth = AuthConfiguration(jwksURL: "http://127.0.0.1:\(port)/jwks.json")
            try await TestAPI.run(configuration: configuration) { api in try await assertJWKS(api, keys) }
        }
    }
}

@Suite("Isolation")
struct IsolationTests {
    @Test("another user's uid is 404 for every operation", arguments: StoreKind.allCases)
    func otherUser(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let alice = try await api.user("alice")
            let bob = try await api.user("bob")
            let note = try await api.create("notes", as: alice, #"{"title":"private"}"#)
            let path = "/v1/notes/\(note.uid)"
            for (method, suffix, body) in [
                (HTTPRequest.Method.get, "", nil), (.put, "", "{}"), (.patch, "", "{}"), (.delete, "", nil),
                (.post, "/archive", nil), (.post, "/process", #"{"action":"pin"}"#),
            ] as [(HTTPRequest.Method, String, String?)] {
                let response = try await api.send(method, path + suffix, as: bob, body: body)
                #expect(response.status == .notFound, "\(method) \(suffix)")
            }
            let bobsList = try await api.send(.get, "/v1/notes?includeDeleted=true", as: bob)
            #expect(bobsList["items"]?.arrayValue?.isEmpty == true)
            let pushed = try await api.send(
                .post, "/v1/sync/notes/push", as: bob,
                body: #"{"items":[{"uid":"\#(note.uid)","title":"mine now","updatedTs":"2099-01-01T00:00:00Z"}]}"#)
            #expect(pushed.status == .ok)
            let untouched = try await api.send(.get, path, as: alice)
            #expect(untouched["payload"]?["title"] == "private", "a push under the same uid never reaches alice's item")
            #expect(untouched["version"] == 1)
        }
    }

    @Test("the same user in another tenant sees nothing of the first", arguments: StoreKind.allCases)
    func sameUserOtherTenant(store: StoreKind) async throws {
        try await TestAPI.run(store) { api in
            let other = uniqueTenant("other")
            let inFirst = try await api.user("alice", tenants: [api.tenant, other], tenantHeader: api.tenant)
            let inSecond = try await api.user("alice", tenants: [api.tenant, other], tenantHeader: other)
            let note = try await api.create("notes", as: inFirst, "{}")
            #expect(try await api.send(.get, "/v1/notes/\(note.uid)", as: inSecond).status == .notFound)
            #expect(try await api.send(.get, "/v1/notes", as: inSecond)["items"]?.arrayValue?.isEmpty == true)

            var crossed = inSecond
            crossed.session = inFirst.session
            let response = try await api.send(.get, "/v1/notes", as: crossed)
            #expect(response.status == .forbidden, "a session is bound to its tenant")
        }
    }
}
