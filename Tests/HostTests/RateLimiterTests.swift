import ServerSupport
import Synchronization
import Testing

/// The token buckets the API and the host share: exact counts, refill, the headers' numbers,
/// all-or-nothing charges, sweeping and the key cap. Time is a clock the test moves.
@Suite("Rate limiter")
struct RateLimiterTests {
    /// A clock that moves only when the test says so.
    final class ManualClock: Sendable {
        private let now = Mutex<Duration>(.seconds(1000))
        func advance(_ duration: Duration) { now.withLock { $0 += duration } }
        var read: @Sendable () -> Duration { { self.now.withLock { $0 } } }
    }

    static let fivePerMinute = RateLimit(count: 5, periodSeconds: 60, burst: 5)

    @Test("a full bucket allows exactly the burst, counting the remaining requests down")
    func allowsExactlyTheBurst() {
        let clock = ManualClock()
        let limiter = RateLimiter(clock: clock.read)
        let decisions = (0..<7).map { _ in limiter.take("alice", Self.fivePerMinute) }
        #expect(decisions.map { $0?.allowed } == [true, true, true, true, true, false, false])
        #expect(decisions.map { $0?.remaining } == [4, 3, 2, 1, 0, 0, 0])
        #expect(decisions.allSatisfy { $0?.limit == 5 })
    }

    @Test("Reset counts the seconds until the bucket is full; Retry-After until the next request")
    func resetAndRetryAfter() {
        let clock = ManualClock()
        let limiter = RateLimiter(clock: clock.read)
        let first = limiter.take("alice", Self.fivePerMinute)
        // One request's worth of a 5-per-minute bucket is 12 s.
        #expect(first?.resetSeconds == 12)
        for _ in 0..<4 { _ = limiter.take("alice", Self.fivePerMinute) }
        clock.advance(.milliseconds(500))
        let refused = limiter.take("alice", Self.fivePerMinute)
        #expect(refused?.allowed == false)
        #expect(refused?.retryAfterSeconds == 12)  // 11.5 s rounded up
        #expect(refused?.resetSeconds == 60)  // 59.5 s rounded up
    }

    @Test("Retry-After is at least one second")
    func retryAfterIsAtLeastOneSecond() {
        let clock = ManualClock()
        let limiter = RateLimiter(clock: clock.read)
        let fast = RateLimit(count: 1000, periodSeconds: 1, burst: 1)
        _ = limiter.take("alice", fast)
        let refused = limiter.take("alice", fast)
        #expect(refused?.allowed == false)
        #expect(refused?.retryAfterSeconds == 1)
    }

    @Test("the bucket refills at the rate: one request per period/count")
    func refillsAtTheRate() {
        let clock = ManualClock()
        let limiter = RateLimiter(clock: clock.read)
        for _ in 0..<5 { _ = limiter.take("alice", Self.fivePerMinute) }
        clock.advance(.seconds(11))
        #expect(limiter.take("alice", Self.fivePerMinute)?.allowed == false)
        clock.advance(.seconds(1))
        #expect(limiter.take("alice", Self.fivePerMinute)?.allowed == true)
        #expect(limiter.take("alice", Self.fivePerMinute)?.allowed == false)
        clock.advance(.seconds(600))
        let refilled = (0..<6).map { _ in limiter.take("alice", Self.fivePerMinute)?.allowed }
        #expect(refilled == [true, true, true, true, true, false])
    }

    @Test("a period the count does not divide is still exact")
    func unevenPeriodIsExact() {
        let clock = ManualClock()
        let limiter = RateLimiter(clock: clock.read)
        let sevenPerMinute = RateLimit(count: 7, periodSeconds: 60, burst: 1)
        #expect(limiter.take("alice", sevenPerMinute)?.allowed == true)
        // 60/7 s is 8,571,428,571.43 ns: a nanosecond-rounded interval would allow this one.
        clock.advance(.nanoseconds(8_571_428_571))
        #expect(limiter.take("alice", sevenPerMinute)?.allowed == false)
        clock.advance(.nanoseconds(1))
        #expect(limiter.take("alice", sevenPerMinute)?.allowed == true)
    }

    @Test("one user at their limit leaves another user's bucket untouched")
    func usersAreIndependent() {
        let limiter = RateLimiter()
        for _ in 0..<5 { _ = limiter.take("alice", Self.fivePerMinute) }
        #expect(limiter.take("alice", Self.fivePerMinute)?.allowed == false)
        #expect(limiter.take("bob", Self.fivePerMinute)?.remaining == 4)
    }

    @Test("a limit that is off always allows and keeps no bucket")
    func offKeepsNoBucket() {
        let limiter = RateLimiter()
        for _ in 0..<100 { #expect(limiter.take("alice", .off) == nil) }
        #expect(limiter.keyCount == 0)
    }

    @Test("a charge over several buckets costs nothing when one of them refuses")
    func chargesAllOrNothing() {
        let limiter = RateLimiter()
        let tight = RateLimit(count: 1, periodSeconds: 60, burst: 1)
        _ = limiter.take("tenant", tight)
        let decisions = limiter.take([(key: "user", limit: Self.fivePerMinute), (key: "tenant", limit: tight)])
        #expect(decisions.map { $0?.allowed } == [true, false])
        // The refused call did not take one of the user's five.
        #expect(limiter.take("user", Self.fivePerMinute)?.remaining == 4)
    }

    @Test("a changed limit starts a full bucket under the new numbers")
    func changedLimitStartsFull() {
        let limiter = RateLimiter()
        for _ in 0..<5 { _ = limiter.take("alice", Self.fivePerMinute) }
        let ten = RateLimit(count: 10, periodSeconds: 60, burst: 10)
        #expect(limiter.take("alice", ten)?.remaining == 9)
    }

    @Test("buckets that have refilled are swept when new keys arrive")
    func sweepsFullBuckets() {
        let clock = ManualClock()
        let limiter = RateLimiter(shardCount: 1, maximumKeys: 10_000, clock: clock.read)
        for index in 0..<1000 { _ = limiter.take("user-\(index)", Self.fivePerMinute) }
        #expect(limiter.keyCount == 1000)
        clock.advance(.seconds(13))  // every bucket has refilled (one request takes 12 s)
        for index in 0..<1100 { _ = limiter.take("later-\(index)", Self.fivePerMinute) }
        #expect(limiter.keyCount == 1100)
    }

    @Test("a flood of distinct keys never holds more buckets than the cap")
    func capsTheTable() {
        let limiter = RateLimiter(shardCount: 4, maximumKeys: 400)
        for index in 0..<20_000 { _ = limiter.take("flood-\(index)", Self.fivePerMinute) }
        #expect(limiter.keyCount <= 400)
        #expect(limiter.keyCount >= 300)
    }

    @Test("concurrent requests over many keys allow exactly the burst per key")
    func concurrentRequestsAreCountedExactly() async {
        let limiter = RateLimiter()
        let limit = RateLimit(count: 50, periodSeconds: 86_400, burst: 50)
        let allowed = await withTaskGroup(of: Int.self) { group in
            for task in 0..<16 {
                group.addTask {
                    var allowed = 0
                    for request in 0..<800 where limiter.take("user-\((task + request) % 40)", limit)?.allowed == true {
                        allowed += 1
                    }
                    return allowed
                }
            }
            return await group.reduce(0, +)
        }
        // 16 × 800 requests over 40 keys: each key allows its burst of 50, nothing more.
        #expect(allowed == 40 * 50)
    }
}

@Suite("Rate limit text")
struct RateLimitTextTests {
    @Test("the text forms read as their numbers", arguments: [
        ("600/60s burst 120", "600/60s burst 120"),
        ("10/1s", "10/1s burst 10"),
        ("5/1m burst 2", "5/60s burst 2"),
        ("100/1h  burst  3", "100/3600s burst 3"),
        ("off", "off"),
    ])
    func readsTextForms(text: String, expected: String) throws {
        #expect(try RateLimit.parse(text).description == expected)
    }

    @Test("anything else is refused with the reason", arguments: [
        ("", "write it like"),
        ("600", "expected COUNT/PERIOD"),
        ("600/60", "the period needs a unit"),
        ("600/60d", "the period needs a unit"),
        ("600/s", "the period must be a whole number"),
        ("0/60s", "the count must be between 1 and 1000000"),
        ("-1/60s", "the count must be a whole number"),
        ("+5/60s", "the count must be a whole number"),
        ("99999999999999999999/1s", "the count must be between"),
        ("5/25h", "the period is at most 24h"),
        ("5/60s burst 0", "the burst must be between"),
        ("5/60s burst", "write it like"),
        ("5/60s bursts 3", "write it like"),
        ("5/60s burst 3 extra", "write it like"),
        ("Off", "expected COUNT/PERIOD"),
        ("5 / 60s", "write it like"),
    ])
    func refusesOtherText(text: String, reason: String) {
        #expect {
            try RateLimit.parse(text)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }
}
