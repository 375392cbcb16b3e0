import NIOConcurrencyHelpers

/// Keyed token buckets, shared by the API and the host (one per process).
///
/// Each bucket is kept as one number, its "theoretical arrival time" (the generic cell rate
/// algorithm, equivalent to a token bucket): the time at which the bucket will be full again.
/// A request is allowed when, after adding one request's worth of time, that point is at most
/// `burst` requests' worth ahead of now. Times are nanoseconds of a monotonic clock multiplied by
/// the limit's count, so a period that the count does not divide evenly is still exact; with
/// the limits `RateLimit` allows, every value stays far inside `Int128`.
///
/// Nothing waits: a refused request is answered at once, so a user at their limit never slows
/// anyone else. The table is split into shards by key hash, each with its own lock, so requests
/// of different users rarely meet on a lock. A bucket that has refilled is the same as no bucket,
/// so full buckets are swept whenever a shard has grown to twice its size since its last sweep;
/// and a shard never holds more than its share of `maximumKeys`: past that, the bucket closest
/// to full gives way (a flood of distinct keys costs memory only up to the cap).
public final class RateLimiter: Sendable {
    /// What a limit says about one request.
    public struct Decision: Sendable, Equatable {
        public let allowed: Bool
        /// The burst: how many requests a full bucket allows at once (`X-RateLimit-Limit`).
        public let limit: Int
        /// Requests left right now (`X-RateLimit-Remaining`).
        public let remaining: Int
        /// Whole seconds, rounded up, until the bucket is full again (`X-RateLimit-Reset`).
        public let resetSeconds: Int
        /// Whole seconds, rounded up and at least 1, until the next request would be allowed
        /// (`Retry-After`); meaningful when the request was refused.
        public let retryAfterSeconds: Int
    }

    private let shards: [Shard]
    private let maximumKeysPerShard: Int
    private let clock: @Sendable () -> Duration

    /// - Parameters:
    ///   - maximumKeys: the most buckets kept at once, over all shards.
    ///   - clock: the time since some fixed start; tests pass their own. Defaults to a
    ///     monotonic clock, which never jumps with the wall clock.
    public init(shardCount: Int = 16, maximumKeys: Int = 100_000, clock: (@Sendable () -> Duration)? = nil) {
        let count = max(shardCount, 1)
        shards = (0..<count).map { _ in Shard() }
        maximumKeysPerShard = max(maximumKeys / count, 1)
        if let clock {
            self.clock = clock
        } else {
            let start = ContinuousClock.now
            self.clock = { ContinuousClock.now - start }
        }
    }

    /// Charges one request to `key`'s bucket under `limit`, if the bucket allows it. Nil when the
    /// limit is off. A key's limit may change between calls (a reloaded configuration); the
    /// bucket then starts full under the new limit.
    public func take(_ key: String, _ limit: RateLimit) -> Decision? {
        take([(key: key, limit: limit)])[0]
    }

    /// Charges one request to every bucket named, only if every one of them allows it: a request
    /// refused by one limit costs nothing under the others. One decision per request, in order
    /// (nil for a limit that is off); the request is allowed when all are.
    public func take(_ requests: [(key: String, limit: RateLimit)]) -> [Decision?] {
        let now = Self.nanoseconds(clock())
        let indices = requests.map { shardIndex($0.key) }
        // Locks are always taken in ascending shard order, so two requests can never each hold
        // a lock the other waits for.
        let locked = Array(Set(indices)).sorted()
        for index in locked { shards[index].lock.lock() }
        defer { for index in locked.reversed() { shards[index].lock.unlock() } }

        var updated: [(key: String, shard: Int, bucket: Bucket)] = []
        var decisions: [Decision?] = []
        for (request, index) in zip(requests, indices) {
            guard let rate = request.limit.rate else {
                decisions.append(nil)
                continue
            }
            let stored = updated.last { $0.key == request.key }?.bucket ?? shards[index].buckets[request.key]
            let (decision, bucket) = Self.charge(stored?.rate == rate ? stored : nil, rate: rate, now: now)
            decisions.append(decision)
            updated.append((request.key, index, bucket))
        }
        guard decisions.allSatisfy({ $0?.allowed ?? true }) else { return decisions }
        for (key, index, bucket) in updated {
            shards[index].store(key, bucket, now: now, maximumKeys: maximumKeysPerShard)
        }
        return decisions
    }

    /// The buckets kept now, over all shards.
    public var keyCount: Int {
        shards.reduce(0) { total, shard in total + shard.lock.withLock { shard.buckets.count } }
    }

    private func shardIndex(_ key: String) -> Int {
        Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))
    }

    /// One request against a bucket (nil: full) at `now`: the decision, and the bucket after it.
    private static func charge(_ bucket: Bucket?, rate: RateLimit.Rate, now: Int128) -> (Decision, Bucket) {
        let count = Int128(rate.count)
        let scaledNow = now * count
        // In scaled units, one request's worth of time is the period in nanoseconds.
        let interval = Int128(rate.periodSeconds) * nanosecondsPerSecond
        let tolerance = Int128(rate.burst) * interval
        let full = max(bucket?.full ?? scaledNow, scaledNow)
        let next = full + interval
        let second = count * nanosecondsPerSecond
        if next - scaledNow <= tolerance {
            let decision = Decision(
                allowed: true, limit: rate.burst, remaining: Int((scaledNow + tolerance - next) / interval),
                resetSeconds: Int(ceilingDivision(next - scaledNow, second)),
                retryAfterSeconds: Int(max(ceilingDivision(next + interval - tolerance - scaledNow, second), 1)))
            return (decision, Bucket(full: next, rate: rate))
        }
        let decision = Decision(
            allowed: false, limit: rate.burst, remaining: 0, resetSeconds: Int(ceilingDivision(full - scaledNow, second)),
            retryAfterSeconds: Int(max(ceilingDivision(next - tolerance - scaledNow, second), 1)))
        return (decision, Bucket(full: full, rate: rate))
    }

    private static let nanosecondsPerSecond: Int128 = 1_000_000_000

    private static func ceilingDivision(_ value: Int128, _ divisor: Int128) -> Int128 {
        value <= 0 ? 0 : (value + divisor - 1) / divisor
    }

    private static func nanoseconds(_ duration: Duration) -> Int128 {
        let (seconds, attoseconds) = duration.components
        return max(Int128(seconds) * nanosecondsPerSecond + Int128(attoseconds / 1_000_000_000), 0)
    }

    /// A bucket: the time it is full again, scaled by its rate's count, and that rate.
    fileprivate struct Bucket {
        let full: Int128
        let rate: RateLimit.Rate

        /// Nanoseconds from `now` until the bucket is full.
        func untilFull(now: Int128) -> Int128 {
            full / Int128(rate.count) - now
        }
    }

    /// One lock and the buckets it guards. `@unchecked Sendable`: every access to `buckets` and
    /// `sweepAt` holds `lock` (explicit lock and unlock, since one request may hold several
    /// shards' locks at once, taken in order).
    private final class Shard: @unchecked Sendable {
        let lock = NIOLock()
        var buckets: [String: Bucket] = [:]
        /// Sweep when a new key would make the shard this large.
        var sweepAt = Shard.smallestSweep

        static let smallestSweep = 64

        /// Keeps `bucket` for `key`; a new key may first sweep full buckets, or push out the one
        /// closest to full when the shard is at its cap. Called with `lock` held.
        func store(_ key: String, _ bucket: Bucket, now: Int128, maximumKeys: Int) {
            if buckets[key] == nil, buckets.count >= min(sweepAt, maximumKeys) {
                buckets = buckets.filter { $0.value.untilFull(now: now) > 0 }
                sweepAt = max(buckets.count * 2, Self.smallestSweep)
                if buckets.count >= maximumKeys,
                    let closest = buckets.min(by: { $0.value.untilFull(now: now) < $1.value.untilFull(now: now) })
                {
                    buckets[closest.key] = nil
                }
            }
            buckets[key] = bucket
        }
    }
}
