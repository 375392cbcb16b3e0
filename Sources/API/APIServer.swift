import Hummingbird
import Logging
import Observability
import PostgresNIO
import ServerSupport
import ServiceLifecycle
import ToolBridgeAuth

/// The opened storage of the API, and the services (the PostgreSQL pool, the SQLite connections)
/// that must run for it.
public struct APIStorage: Sendable {
    public let store: any ItemStore
    public let audit: any AuditStore
    /// The operator-managed memberships, in the same database as the items.
    public let memberships: any MembershipStore
    public let services: [any Service]
    /// "postgresql" or "sqlite", for logs and `/v1/sync/info`.
    public let name: String

    /// PostgreSQL when `databaseURL` is set, else the SQLite file in the data directory.
    public static func open(_ configuration: APIConfiguration, logger: Logger) async throws -> APIStorage {
        if let url = configuration.databaseURL {
            guard configuration.databaseConnections >= 1 else {
                throw ConfigurationError("TOOLBRIDGE_DB_CONNECTIONS must be at least 1")
            }
            let pool = PostgresConnectionPool(
                configuration: .init(
                    connection: try PostgresDatabase.configuration(url: url), size: configuration.databaseConnections),
                metrics: configuration.metrics, logger: logger)
            let database = PostgresDatabase(
                pool: pool, logger: logger, metrics: configuration.metrics?.database(PostgresDatabase.systemName))
            let store = SQLItemStore(database: database)
            return APIStorage(
                store: store, audit: SQLAuditStore(database: database), memberships: store, services: [pool],
                name: "postgresql")
        }
        let database = try await SQLiteDatabase.open(
            path: configuration.sqlitePath, metrics: configuration.metrics, logger: logger)
        let store = SQLItemStore(database: database)
        return APIStorage(
            store: store, audit: SQLAuditStore(database: database), memberships: store, services: [database],
            name: "sqlite")
    }
}

/// Builds the API's HTTP application: routes, middleware and the storage's services. The schema
/// is migrated before the server accepts its first request. The API takes tenants from the
/// token's claim and from its own membership records, cached per user for
/// `membershipCacheSeconds` (see `CachedMembershipRecords`).
public enum APIServer {
    public static func router(
        configuration: APIConfiguration, storage: APIStorage, authenticator: Authenticator
    ) -> Router<APIRequestContext> {
        let store = storage.store
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: TraceMiddleware())
        let metrics = configuration.metrics?.http
        if let metrics {
            router.add(middleware: HTTPMetricsMiddleware(metrics: metrics))
            if configuration.metricsAccess.port == nil {
                MetricsEndpoint(registry: metrics.registry, token: configuration.metricsAccess.token).register(on: router)
            }
        }
        router.add(middleware: RateLimitMiddleware(limiter: RateLimiter(), limits: configuration.rateLimits, metrics: metrics))
        router.add(middleware: EnvelopeMiddleware(metrics: metrics))
        AuditRoutes(
            audit: storage.audit, authenticator: authenticator,
            parsing: RequestParsing(maxBodyBytes: configuration.maxBodyBytes)
        ).register(on: router)
        APIRoutes(
            items: ItemService(store: store), authenticator: authenticator,
            parsing: RequestParsing(maxBodyBytes: configuration.maxBodyBytes),
            sessionTTLSeconds: configuration.sessionTTLSeconds
        ).register(on: router)
        return router
    }

    public static func application(
        configuration: APIConfiguration, storage: APIStorage, authenticator: Authenticator, logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let retention = AuditRetention(store: storage.audit, days: configuration.auditRetentionDays, logger: logger)
        let records = CachedMembershipRecords(storage.memberships, ttl: .seconds(configuration.membershipCacheSeconds))
        var app = Application(
            router: router(
                configuration: configuration, storage: storage, authenticator: authenticator.with(records: records)),
            server: configuration.limits.server(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            services: storage.services + [retention],
            onServerRunning: onServerRunning,
            logger: logger)
        app.beforeServerStarts {
            try await storage.store.migrate()
            await retention.sweep()
        }
        return app
    }
}
