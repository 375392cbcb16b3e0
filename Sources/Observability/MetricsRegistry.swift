import Metrics
import Prometheus
import Synchronization

/// The metrics of one server (the API or the host; each has its own, also when `serve` runs both
/// in one process, so neither `/metrics` counts the other's work). Instruments are made with the
/// swift-metrics API against this registry's factory, never through `MetricsSystem.bootstrap`:
/// tests run many servers in one process.
///
/// Thread-safe: families cache their instruments under a lock; instruments are atomic.
public final class MetricsRegistry: Sendable {
    public let prometheus: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory
    /// False drops the `tenant` label everywhere (`TOOLBRIDGE_METRICS_TENANT_LABELS=off`), for
    /// operators with so many tenants that a series per tenant would be too many.
    public let tenantLabels: Bool
    /// HELP text per metric name: swift-prometheus takes none through swift-metrics, so the
    /// exposition adds them.
    private let help = Mutex<[String: String]>([:])
    /// Read gauges from their owners' state right before each scrape, instead of on every change.
    private let collectors = Mutex<[@Sendable () -> Void]>([])

    /// Histogram buckets for every duration: 0.5 ms (a cached read, a SQLite statement) to 60 s
    /// (a slow tool call at its deadline).
    public static let durationBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]

    public init(tenantLabels: Bool = true) {
        self.tenantLabels = tenantLabels
        prometheus = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: prometheus)
        factory.defaultDurationHistogramBuckets = Self.durationBuckets
        self.factory = factory
    }

    /// A histogram of durations in seconds, one series per value of `labels` (semantic names).
    public func timers(_ name: String, help text: String, labels: [String]) -> InstrumentFamily<Metrics.Timer> {
        family(name, help: text, labels: labels) { [factory] dimensions in
            Metrics.Timer(label: name, dimensions: dimensions, factory: factory)
        }
    }

    public func counters(_ name: String, help text: String, labels: [String]) -> InstrumentFamily<Metrics.Counter> {
        family(name, help: text, labels: labels) { [factory] dimensions in
            Metrics.Counter(label: name, dimensions: dimensions, factory: factory)
        }
    }

    /// Gauges that go up and down (`increment`, `decrement`, `set`).
    public func gauges(_ name: String, help text: String, labels: [String]) -> InstrumentFamily<Meter> {
        family(name, help: text, labels: labels) { [factory] dimensions in
            Meter(label: name, dimensions: dimensions, factory: factory)
        }
    }

    private func family<Instrument: Sendable>(
        _ name: String, help text: String, labels: [String],
        make: @escaping @Sendable ([(String, String)]) -> Instrument
    ) -> InstrumentFamily<Instrument> {
        help.withLock { $0[name] = text }
        return InstrumentFamily(labels: labels.map(SemanticName.label), dropTenant: !tenantLabels, make: make)
    }

    /// Runs `collect` before every scrape: for gauges read from state their owner keeps anyway.
    public func onScrape(_ collect: @escaping @Sendable () -> Void) {
        collectors.withLock { $0.append(collect) }
    }

    /// The text exposition (format 0.0.4), with a HELP line before each metric's TYPE line.
    public func exposition() -> String {
        for collect in collectors.withLock({ $0 }) { collect() }
        let help = help.withLock { $0 }
        var text = ""
        for line in prometheus.emitToString().split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE ") {
                let name = line.dropFirst("# TYPE ".count).prefix { $0 != " " }
                if let description = help[String(name)] { text += "# HELP \(name) \(description)\n" }
            }
            text += line
            text += "\n"
        }
        return String(text.dropLast())
    }
}

/// The instruments of one metric, one per combination of label values, made on first use and
/// kept, so the hot path does not look them up by name in the Prometheus registry each time.
public final class InstrumentFamily<Instrument: Sendable>: Sendable {
    private let labels: [String]
    /// Per label given, whether it is kept (the tenant label is dropped when tenant labels are off).
    private let kept: [Bool]
    private let make: @Sendable ([(String, String)]) -> Instrument
    private let cache = Mutex<[[String]: Instrument]>([:])

    init(labels: [String], dropTenant: Bool, make: @escaping @Sendable ([(String, String)]) -> Instrument) {
        let tenant = SemanticName.label(SemanticName.tenant)
        kept = labels.map { !(dropTenant && $0 == tenant) }
        self.labels = labels.filter { !(dropTenant && $0 == tenant) }
        self.make = make
    }

    /// The instrument for these label values, given in the order of the family's labels.
    public func callAsFunction(_ values: String...) -> Instrument {
        let key = kept.allSatisfy { $0 } ? values : zip(values, kept).filter(\.1).map(\.0)
        return cache.withLock { cache in
            if let instrument = cache[key] { return instrument }
            let instrument = make(Array(zip(labels, key)))
            cache[key] = instrument
            return instrument
        }
    }
}
