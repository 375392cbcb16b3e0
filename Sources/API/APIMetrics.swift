import Metrics
import Observability

/// The API's metrics: the HTTP server's, its database statements and its PostgreSQL pool. Made
/// once per server from its own registry (`APIConfiguration.metrics`; nil when metrics are off).
public final class APIMetrics: Sendable {
    public let http: HTTPServerMetrics
    private let operations: InstrumentFamily<Metrics.Timer>
    let connections: InstrumentFamily<Meter>
    let connectionMax: Meter
    let connectionWait: Metrics.Timer
    let connectionTimeouts: Metrics.Counter

    public var registry: MetricsRegistry { http.registry }

    public init(registry: MetricsRegistry) {
        http = HTTPServerMetrics(registry: registry)
        operations = registry.timers(
            "db_client_operation_duration_seconds", help: "Time of one database statement, by its first keyword.",
            labels: [SemanticName.dbSystemName, SemanticName.dbOperationName])
        connections = registry.gauges(
            "db_client_connections", help: "PostgreSQL connections of the pool, idle or used.",
            labels: ["db_client_connection_state"])
        connectionMax = registry.gauges(
            "db_client_connection_max", help: "Connections the pool (PostgreSQL) or the SQLite file (writer and readers) keeps open.",
            labels: [])()
        connectionWait = registry.timers(
            "db_client_connection_wait_time_seconds",
            help: "Time a statement waited for a connection: PostgreSQL's pool lease, SQLite's writer lock.", labels: [])()
        connectionTimeouts = registry.counters(
            "db_client_connection_timeouts_total",
            help: "Leases that waited the pool's lease timeout (10 s) without a connection and got a 503.", labels: [])()
    }

    /// The statement timers of one database system, made up front: the hot path only indexes.
    func database(_ system: String) -> DatabaseMetrics {
        DatabaseMetrics(timers: DatabaseOperation.allCases.map { operations(system, $0.rawValue) })
    }
}

/// A statement's `db.operation.name`: its first keyword, from a fixed list (`OTHER` otherwise).
enum DatabaseOperation: String, CaseIterable, Sendable {
    case select = "SELECT", insert = "INSERT", update = "UPDATE", delete = "DELETE", with = "WITH"
    case begin = "BEGIN", commit = "COMMIT", rollback = "ROLLBACK"
    case create = "CREATE", alter = "ALTER", drop = "DROP", pragma = "PRAGMA", other = "OTHER"

    init(sql: String) {
        let keyword = sql.utf8.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x09 || $0 == 0x0D || $0 == 0x28 }
            .prefix { ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7A }
        self = Self.allCases.first { operation in
            operation.rawValue.utf8.elementsEqual(keyword.lazy.map { $0 & ~0x20 })
        } ?? .other
    }
}

/// The statement timers of one database system, one per operation.
struct DatabaseMetrics: Sendable {
    let timers: [Metrics.Timer]

    func record(_ operation: DatabaseOperation, duration: Duration) {
        let index = DatabaseOperation.allCases.firstIndex(of: operation) ?? timers.count - 1
        timers[index].record(duration: duration)
    }
}
