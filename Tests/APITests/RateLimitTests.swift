import API
import HTTPTypes
import ServerSupport
import TestSupport
import Testing

/// Per-user rate limits of the API: the headers on every limited response, the 429 past the
/// burst, the two classes of endpoints, and what is never limited.
@Suite("Rate limits")
struct RateLimitTests {
    static let remaining = HTTPField.Name("X-RateLimit-Remaining")!
    static let limit = HTTPField.Name("X-RateLimit-Limit")!
    static let reset = HTTPField.Name("X-RateLimit-Reset")!

    static func configure(_ configuration: inout APIConfiguration) {
        configuration.rateLimits = APIRateLimits(
            requests: RateLimit(count: 5, periodSeconds: 3600, burst: 5),
            sessions: RateLimit(count: 3, periodSeconds: 3600, burst: 3))
    }

    @Test("a user gets exactly the burst, the headers counting down, then 429 with Retry-After", arguments: StoreKind.allCases)
    func burstThen429(store: StoreKind) async throws {
        try await TestAPI.run(store, configure: Self.configure) { api in
            let alice = try await api.user("alice")
            var remaining: [String?] = []
            for _ in 0..<5 {
                let response = try await api.send(.get, "/v1/notes", as: alice)
                #expect(response.status == .ok)
                #expect(response.headers[Self.limit] == "5")
                #expect(response.headers[.retryAfter] == nil)
                remaining.append(response.headers[Self.remaining])
            }
            #expect(remaining == ["4", "3", "2", "1", "0"])
            let refused = try await api.send(.get, "/v1/notes", as: alice)
            #expect(refused.status == .tooManyRequests)
            #expect(refused.headers[Self.remaining] == "0")
            // One request's worth of 5 per hour is 720 s, less the time these requests took.
            let retry = try #require(refused.headers[.retryAfter].flatMap { Int($0) })
            #expect((1...720).contains(retry))
            #expect(refused.headers[Self.reset].flatMap { Int($0) }.map { (retry...3600).contains($0) } == true)
            #expect(refused.error.hasPrefix("rate limit exceeded: 5/3600s burst 5 per user"))
            #expect(refused.error.hasSuffix("retry in \(retry) s"))
            #expect(refused["correlation_id"] != nil)

            let bob = try await api.user("bob")
            let other = try await api.send(.get, "/v1/notes", as: bob)
            #expect(other.status == .ok, "another user is not affected")
            #expect(other.headers[Self.remaining] == "4")
        }
    }

    @Test("errors after authentication carry the headers too")
    func errorsCarryHeaders() async throws {
        try await TestAPI.run(.sqlite, configure: Self.configure) { api in
            let alice = try await api.user("alice")
            let missing = try await api.send(.get, "/v1/notes/00000000-0000-4000-8000-000000000000", as: alice)
            #expect(missing.status == .notFound)
            #expect(missing.headers[Self.remaining] == "4")
        }
    }

    @Test("session and auth endpoints count against their own limit")
    func sessionEndpointsHaveTheirOwnLimit() async throws {
        try await TestAPI.run(.sqlite, configure: Self.configure) { api in
            let alice = try await api.user("alice")  // one session created
            let tenant = try await api.send(.get, "/v1/auth/tenant", headers: alice.authOnly)
            #expect(tenant.headers[Self.remaining] == "1")
            #expect(tenant.headers[Self.limit] == "3")
            #expect(try await api.send(.post, "/v1/sync/sessions", headers: alice.authOnly).status == .created)
            let refused = try await api.send(.post, "/v1/sync/sessions", headers: alice.authOnly)
            #expect(refused.status == .tooManyRequests)
            #expect(refused.headers[.retryAfter].flatMap { Int($0) }.map { (1...1200).contains($0) } == true)
            let entity = try await api.send(.get, "/v1/notes", as: alice)
            #expect(entity.status == .ok, "the entity limit is untouched")
            #expect(entity.headers[Self.remaining] == "4")
        }
    }

    @Test("health, readiness, sync info and refused tokens are not limited and carry no headers")
    func unlimitedEndpoints() async throws {
        try await TestAPI.run(.sqlite, configure: Self.configure) { api in
            for _ in 0..<10 {
                for path in ["/healthz", "/readyz", "/v1/sync/info"] {
                    let response = try await api.send(.get, path)
                    #expect(response.status == .ok, "\(path)")
                    #expect(response.headers[Self.limit] == nil, "\(path)")
                }
                let anonymous = try await api.send(.get, "/v1/notes")
                #expect(anonymous.status == .unauthorized)
                #expect(anonymous.headers[Self.limit] == nil)
            }
        }
    }

    @Test("a limit that is off adds no headers")
    func offAddsNoHeaders() async throws {
        try await TestAPI.run(.sqlite, configure: { $0.rateLimits = APIRateLimits(requests: .off, sessions: .off) }) { api in
            let alice = try await api.user("alice")
            let response = try await api.send(.get, "/v1/notes", as: alice)
            #expect(response.status == .ok)
            #expect(response.headers[Self.limit] == nil)
        }
    }
}
