import Foundation
import Logging
import MCP
import ServerSupport
import ServiceLifecycle
import Synchronization

/// The caller of a session: its user and tenant never change. Every request of the session is
/// authenticated on its own, so a client whose token expired cannot go on using it.
public final class SessionIdentity: Sendable {
    public let current: CallIdentity
    /// When the session last received a request, for closing abandoned sessions.
    let lastActiveMs = Atomic<Int64>(Timestamp.nowMilliseconds())

    init(_ identity: CallIdentity) { current = identity }

    /// Notes an authenticated request of the session.
    func touch() {
        lastActiveMs.store(Timestamp.nowMilliseconds(), ordering: .relaxed)
    }

    /// True when `other` is the same user in the same tenant.
    func matches(_ other: CallIdentity) -> Bool {
        let identity = current
        return identity.user == other.user && identity.tenant == other.tenant
    }
}

/// One MCP session, whatever its transport.
struct MCPSession: Sendable {
    let id: String
    let identity: SessionIdentity
    let server: Server
    /// Set for Streamable HTTP sessions: the transport their requests go through.
    let streamable: StreamableHTTPTransport?
    /// Set for SSE sessions.
    let sse: SSEServerTransport?
    /// Checks and answers the session's messages (see `SessionRouter`).
    let router: SessionRouter
    let started = ContinuousClock.now
}

/// The live MCP sessions. It sends `notifications/tools/list_changed` to the sessions whose
/// tool list changed, closes Streamable HTTP sessions nobody used for `idleTimeout` (clients
/// that vanish never send DELETE), and at shutdown stops every session so long-lived streams end.
public final class MCPSessionRegistry: Service, Sendable {
    private let sessions = Mutex<[String: MCPSession]>([:])
    /// The modern era's `subscriptions/listen` streams, told of the same changes as the sessions.
    public let listeners = ToolListListeners()
    private let idleTimeout: Duration
    private let logger: Logger
    private let metrics: HostMetrics?

    public static let defaultIdleTimeout = Duration.seconds(30 * 60)

    public init(idleTimeout: Duration = defaultIdleTimeout, metrics: HostMetrics? = nil, logger: Logger) {
        self.idleTimeout = idleTimeout
        self.logger = logger
        self.metrics = metrics
        guard let metrics else { return }
        // Counted at scrape time from the sessions kept here anyway; weak, since the registry
        // outlives a registry of sessions in tests.
        let gauges = Dictionary(uniqueKeysWithValues: HostMetrics.Transport.allCases.map { ($0, metrics.sessions($0.rawValue)) })
        metrics.registry.onScrape { [weak self] in
            guard let self else { return }
            var counts = Dictionary(uniqueKeysWithValues: HostMetrics.Transport.allCases.map { ($0, 0) })
            sessions.withLock { sessions in
                for session in sessions.values { counts[session.router.transport, default: 0] += 1 }
            }
            for (transport, gauge) in gauges { gauge.set(counts[transport] ?? 0) }
        }
    }

    /// Stops a session that left the registry, and counts its life.
    private func end(_ session: MCPSession) async {
        await session.server.stop()
        metrics?.sessionEnded(
            version: session.router.protocolVersion.withLock { $0 }, transport: session.router.transport, since: session.started)
    }

    func add(_ session: MCPSession) {
        sessions.withLock { $0[session.id] = session }
    }

    func session(_ id: String) -> MCPSession? {
        sessions.withLock { $0[id] }
    }

    func remove(_ id: String) async {
        guard let session = sessions.withLock({ $0.removeValue(forKey: id) }) else { return }
        await end(session)
    }

    /// Tells each session whose tenant's plugin set differs between `old` and `new`.
    public func configurationChanged(from old: TenantPlugins, to new: TenantPlugins) async {
        await notifyToolListChanged { old.plugins(for: $0) != new.plugins(for: $0) }
    }

    /// Tells each session whose tenant may use a tool of a plugin just loaded.
    public func pluginsAdded(_ plugins: [LoadedPlugin], tenants: TenantPlugins) async {
        let offering = plugins.filter { !$0.tools.isEmpty }.map(\.name)
        await notifyToolListChanged { tenant in offering.contains { tenants.allows(plugin: $0, tenant: tenant) } }
    }

    private func notifyToolListChanged(where changed: (String) -> Bool) async {
        let listening = listeners.toolsChanged(where: changed)
        let affected = sessions.withLock { $0.values.filter { changed($0.identity.current.tenant) } }
        for session in affected {
            do {
                try await session.server.notify(ToolListChangedNotification.message())
            } catch {
                logger.debug("could not notify a session", metadata: ["session": "\(session.id)", "error": "\(error)"])
            }
        }
        logger.info("tool lists changed", metadata: ["sessions notified": "\(affected.count)", "listeners notified": "\(listening)"])
    }

    /// Closes Streamable HTTP sessions idle for longer than the timeout. SSE sessions end with their stream.
    func closeIdleSessions() async {
        let cutoff = Timestamp.nowMilliseconds() - idleTimeout.components.seconds * 1000
        let idle = sessions.withLock { sessions in
            sessions.values.filter { $0.streamable != nil && $0.identity.lastActiveMs.load(ordering: .relaxed) < cutoff }.map(\.id)
        }
        for id in idle { await remove(id) }
        if !idle.isEmpty { logger.info("closed idle sessions", metadata: ["count": "\(idle.count)"]) }
    }

    public func run() async throws {
        let sweepInterval = min(idleTimeout, .seconds(60))
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: sweepInterval) }
            await closeIdleSessions()
        }
        listeners.closeAll()
        let all = sessions.withLock { sessions in
            defer { sessions.removeAll() }
            return Array(sessions.values)
        }
        for session in all { await end(session) }
    }
}

/// Builds the MCP server of a session: `tools/list` and `tools/call` over the catalog, as the
/// session's identity.
struct MCPServerFactory: Sendable {
    let catalog: ToolCatalog
    let logger: Logger

    static let version = "0.1.0"

    func makeServer(identity: SessionIdentity) async -> Server {
        let server = Server(
            name: "toolbridge", version: Self.version, title: "ToolBridge",
            instructions: ModernServer.instructions,
            capabilities: .init(tools: .init(listChanged: true)))
        let catalog = catalog
        await server.withMethodHandler(ListTools.self) { _ in
            ListTools.Result(tools: catalog.tools(for: identity.current.tenant))
        }
        return server
    }

    /// Starts a session's server on `transport` (of `kind`), behind the router that checks every
    /// message and answers `tools/call`. `sessionID` names the session in its requests' spans.
    func start(identity: SessionIdentity, transport: any Transport, sessionID: String, kind: HostMetrics.Transport)
        async throws -> (Server, SessionRouter)
    {
        let server = await makeServer(identity: identity)
        let router = SessionRouter(
            wrapping: transport, catalog: catalog, identity: identity, sessionID: sessionID, transport: kind, logger: logger)
        try await server.start(transport: router)
        return (server, router)
    }
}
