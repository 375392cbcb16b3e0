import Synchronization

/// Operator-managed membership records (SPEC §4), the second source of a user's tenants beside
/// the token's claim. The API answers them from its database; a throwing source means the records
/// cannot be read now, and the caller is refused with a 503 rather than guessed at.
public protocol MembershipRecords: Sendable {
    /// The tenants the records make `user` a member of, in any order.
    func tenants(of user: String) async throws -> [String]
}

/// Keeps each user's records for `ttl`, so the request path asks the source at most once per user
/// per `ttl`. Changes made elsewhere (the CLI is another process) are seen once the entry expires.
/// Failures are not kept: the next request asks again. Concurrent misses for one user may each ask
/// the source; that costs a query, never a wrong answer.
///
/// A `Mutex` and not an actor: a lookup is a dictionary read that never suspends, and the request
/// path should not hop executors for it.
public final class CachedMembershipRecords: MembershipRecords {
    private struct Entry {
        let tenants: [String]
        let expires: ContinuousClock.Instant
    }

    private let source: any MembershipRecords
    private let ttl: Duration
    private let capacity: Int
    private let entries = Mutex<[String: Entry]>([:])

    /// `capacity` bounds the users remembered: past it, expired entries are dropped, and when none
    /// had expired everything is (the cache only saves queries; forgetting is always correct).
    public init(_ source: any MembershipRecords, ttl: Duration = .seconds(5), capacity: Int = 10_000) {
        self.source = source
        self.ttl = ttl
        self.capacity = max(1, capacity)
    }

    public func tenants(of user: String) async throws -> [String] {
        let now = ContinuousClock.now
        if let cached = entries.withLock({ $0[user] }), cached.expires > now { return cached.tenants }
        let tenants = try await source.tenants(of: user)
        let entry = Entry(tenants: tenants, expires: ContinuousClock.now.advanced(by: ttl))
        entries.withLock { entries in
            if entries.count >= capacity, entries[user] == nil {
                let now = ContinuousClock.now
                entries = entries.filter { $0.value.expires > now }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[user] = entry
        }
        return tenants
    }
}
