/// A token-bucket limit: `count` requests per `periodSeconds`, at most `burst` at once; or off.
/// Its text form, used in the environment and the tenants file, is `600/60s burst 120`
/// (periods in `s`, `m` or `h`; without `burst`, the burst is `count`), or `off`.
public struct RateLimit: Sendable, Hashable, CustomStringConvertible {
    /// The numbers of a limit that is on.
    public struct Rate: Sendable, Hashable {
        public let count: Int
        public let periodSeconds: Int
        public let burst: Int
    }

    /// nil when the limit is off.
    public let rate: Rate?

    public static let off = RateLimit(rate: nil)

    /// The largest count and burst. With the longest period (a day) and nanosecond times, the
    /// limiter's arithmetic stays far inside `Int128`.
    public static let maximumCount = 1_000_000
    public static let maximumPeriodSeconds = 86_400

    private init(rate: Rate?) {
        self.rate = rate
    }

    /// A limit that is on. Values outside the supported ranges (count and burst 1…1,000,000,
    /// the period 1 s…24 h) are clamped into them; `parse` refuses such values instead.
    public init(count: Int, periodSeconds: Int, burst: Int) {
        rate = Rate(
            count: min(max(count, 1), Self.maximumCount),
            periodSeconds: min(max(periodSeconds, 1), Self.maximumPeriodSeconds),
            burst: min(max(burst, 1), Self.maximumCount))
    }

    public var description: String {
        guard let rate else { return "off" }
        return "\(rate.count)/\(rate.periodSeconds)s burst \(rate.burst)"
    }

    /// Reads the text form strictly: `COUNT/PERIOD` (`PERIOD` a whole number and one of `s`,
    /// `m`, `h`), optionally followed by `burst BURST`, separated by spaces; or `off`.
    public static func parse(_ text: String) throws(RateLimitSyntaxError) -> RateLimit {
        if text == "off" { return .off }
        let words = text.split(separator: " ", omittingEmptySubsequences: true)
        guard words.count == 1 || (words.count == 3 && words[1] == "burst") else {
            throw RateLimitSyntaxError(text, "write it like '600/60s burst 120' or 'off'")
        }
        let parts = words[0].split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw RateLimitSyntaxError(text, "expected COUNT/PERIOD, like 600/60s") }
        let count = try number(parts[0], "the count", in: text)
        let period = parts[1]
        guard let unit = period.last, let multiplier = ["s": 1, "m": 60, "h": 3600][unit] else {
            throw RateLimitSyntaxError(text, "the period needs a unit: s, m or h (like 60s, 1m, 1h)")
        }
        let (seconds, overflow) = try number(period.dropLast(), "the period", in: text).multipliedReportingOverflow(
            by: multiplier)
        guard !overflow, seconds <= maximumPeriodSeconds else {
            throw RateLimitSyntaxError(text, "the period is at most 24h")
        }
        let burst = words.count == 3 ? try number(words[2], "the burst", in: text) : count
        return RateLimit(count: count, periodSeconds: seconds, burst: burst)
    }

    /// A whole number in 1…`maximumCount`, digits only.
    private static func number(_ digits: Substring, _ name: String, in text: String) throws(RateLimitSyntaxError) -> Int {
        guard !digits.isEmpty, digits.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            throw RateLimitSyntaxError(text, "\(name) must be a whole number")
        }
        guard digits.count <= 7, let value = Int(digits), (1...maximumCount).contains(value) else {
            throw RateLimitSyntaxError(text, "\(name) must be between 1 and \(maximumCount)")
        }
        return value
    }
}

/// A limit's text that does not parse, with the reason.
public struct RateLimitSyntaxError: Error, Sendable, CustomStringConvertible {
    public let text: String
    public let reason: String

    init(_ text: String, _ reason: String) {
        self.text = text
        self.reason = reason
    }

    public var description: String { "'\(text)' is not a rate limit: \(reason)" }
}
