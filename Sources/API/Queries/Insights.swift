/// What `GET /v1/insights` asked for: which kinds, and from when the per-day counts start.
public struct InsightsQuery: Sendable {
    public var kinds: [EntityKind]
    public var sinceMs: Int64
    public var tagLimit: Int

    public init(kinds: [EntityKind], sinceMs: Int64, tagLimit: Int) {
        self.kinds = kinds
        self.sinceMs = sinceMs
        self.tagLimit = tagLimit
    }
}

/// Counts over the caller's items, computed by the database.
public struct Insights: Sendable {
    public struct KindCounts: Sendable {
        public var live: Int64 = 0
        public var deleted: Int64 = 0
        /// Live items per status; nil is "no status".
        public var statuses: [(status: String?, count: Int64)] = []
    }

    public var kinds: [EntityKind: KindCounts] = [:]
    /// The most used tags of live items, most used first.
    public var tags: [(tag: String, count: Int64)] = []
    /// Live items by the UTC day of their last update, oldest day first; days without updates are left out.
    public var days: [(dayStartMs: Int64, count: Int64)] = []
}
