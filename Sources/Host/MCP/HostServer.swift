import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MCP
import NIOCore
import Observability
import ServerSupport
import ServiceLifecycle
import ToolBridgeAuth
import ToolBridgeJSON

/// The Host's HTTP application: MCP over the 2024-11-05 SSE transport (`GET /sse`,
/// `POST /messages`) and Streamable HTTP (`/mcp`), the protected-resource metadata, and health.
public enum HostServer {
    public static func application(
        configuration: HostConfiguration, catalog: ToolCatalog, authenticator: Authenticator,
        sessions: MCPSessionRegistry, proxy: RESTProxy, logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router(context: HostRequestContext.self)
        if let metrics = catalog.metrics {
            router.add(middleware: HTTPMetricsMiddleware(metrics: metrics.http))
            if configuration.metricsAccess.port == nil {
                MetricsEndpoint(registry: metrics.registry, token: configuration.metricsAccess.token).register(on: router)
            }
        }
        router.add(middleware: OriginMiddleware(allowed: configuration.allowedOrigins))
        router.add(middleware: TraceContextMiddleware())
        let edge = EdgeAuth(authenticator: authenticator, limits: catalog.limits, publicURL: configuration.publicURL)
        let connections = ConnectionWatch()
        HostRoutes(
            configuration: configuration, factory: MCPServerFactory(catalog: catalog, logger: logger),
            edge: edge, sessions: sessions, proxy: proxy,
            modern: ModernHTTPEndpoint(
                server: ModernServer(catalog: catalog, transport: .statelessHTTP), edge: edge, listeners: sessions.listeners,
                connections: connections, maxBodyBytes: configuration.maxBodyBytes,
                keepAliveInterval: configuration.keepAliveInterval),
            issuer: authenticator.configuration.issuer, logger: logger, connections: connections
        ).register(on: router)
        return Application(
            router: router,
            server: configuration.limits.server(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: onServerRunning, logger: logger)
    }
}

/// One stdio client (one identity), as a `Service`: it ends when stdin closes, or on graceful
/// shutdown (SIGTERM), which ends the session.
public struct StdioSession: Service {
    let catalog: ToolCatalog
    let identity: CallIdentity
    let sessions: MCPSessionRegistry
    let logger: Logger

    public init(catalog: ToolCatalog, identity: CallIdentity, sessions: MCPSessionRegistry, logger: Logger) {
        self.catalog = catalog
        self.identity = identity
        self.sessions = sessions
        self.logger = logger
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await HostServer.serveStdio(catalog: catalog, identity: identity, sessions: sessions, logger: logger)
        }
    }
}

extension Request {
    /// The body of a JSON-RPC message, at most `limit` bytes however it arrives (declared or
    /// chunked), kept in the request so that the other era's handler can read it again.
    mutating func collectMessage(limit: Int) async throws(HostHTTPError) -> ByteBuffer {
        let tooLarge = HostHTTPError(.contentTooLarge, "the message is larger than the limit of \(limit) bytes")
        if let declared = headers[.contentLength].flatMap({ Int($0) }), declared > limit { throw tooLarge }
        do {
            return try await collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw tooLarge
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw tooLarge
        } catch {
            throw HostHTTPError(.badRequest, "the request body could not be read")
        }
    }
}

/// DNS-rebinding protection: a browser request (it has an `Origin`) must come from localhost or
/// an origin the operator allowed.
struct OriginMiddleware: RouterMiddleware {
    typealias Context = HostRequestContext
    let allowed: [String]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let origin = request.headers[.origin], !isAllowed(origin) {
            return HostHTTPError(.forbidden, "the Origin \(origin) is not allowed to use this server").response
        }
        return try await next(request, context)
    }

    private func isAllowed(_ origin: String) -> Bool {
        if allowed.contains(origin) { return true }
        guard let url = URL(string: origin), let host = url.host?.lowercased() else { return false }
        return ["localhost", "127.0.0.1", "[::1]", "::1"].contains(host)
    }
}

struct HostRoutes: Sendable {
    let configuration: HostConfiguration
    let factory: MCPServerFactory
    let edge: EdgeAuth
    let sessions: MCPSessionRegistry
    let proxy: RESTProxy
    let modern: ModernHTTPEndpoint
    let issuer: String?
    let logger: Logger
    let connections: ConnectionWatch

    func register(on router: Router<HostRequestContext>) {
        router.get("healthz") { _, _ in Self.json(["status": "ok"]) }
        router.get("readyz") { _, _ in
            guard await proxy.isAPIReady() else {
                return HostHTTPError(.serviceUnavailable, "the ToolBridge API is not reachable").response
            }
            return Self.json(["status": "ready", "api": "ok"])
        }
        router.get(".well-known/oauth-protected-resource") { request, _ in metadata(request) }
        router.get(".well-known/oauth-protected-resource/mcp") { request, _ in metadata(request) }
        router.get("sse") { request, _ in await handling { try await openSSE(request) } }
        router.post("messages") { request, _ in await handling { try await postMessage(request) } }
        router.post("mcp") { request, context in
            await handling {
                var request = request
                if try await modern.claims(&request) { return try await modern.respond(to: request, context: context) }
                return try await streamable(request, channel: context.channel)
            }
        }
        router.get("mcp") { request, context in await handling { try await streamable(request, channel: context.channel) } }
        router.delete("mcp") { request, context in await handling { try await streamable(request, channel: context.channel) } }
    }

    private func handling(_ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch let error as HostHTTPError {
            return error.response
        } catch {
            logger.error("MCP request failed", metadata: ["error": "\(error)"])
            return HostHTTPError(.internalServerError, "internal error").response
        }
    }

    private static func json(_ value: JSONValue) -> Response {
        .json(value.serialized)
    }

    /// RFC 9728 protected-resource metadata, where the 401's `WWW-Authenticate` points.
    private func metadata(_ request: Request) -> Response {
        var object: JSONObject = [
            "resource": .string(edge.baseURL(request) + "/mcp"), "bearer_methods_supported": ["header"],
            "resource_name": "ToolBridge",
        ]
        if let issuer { object["authorization_servers"] = [.string(issuer)] }
        return Self.json(.object(object))
    }

    /// The body, up to the limit whether its size is declared (`Content-Length`) or not (chunked).
    /// The body as a JSON-RPC message, or a JSON-RPC parse error the client can read.
    private func message(_ request: Request) async throws -> (data: Data, value: JSONValue) {
        var request = request
        let buffer = try await request.collectMessage(limit: configuration.maxBodyBytes)
        do {
            return (Data(buffer: buffer), try JSONValue.parse(buffer.readableBytesView))
        } catch {
            throw MalformedMessage(response: jsonRPCError(code: -32700, message: "Parse error: \(error)"))
        }
    }

    private struct MalformedMessage: Error {
        let response: Response
    }

    // MARK: SSE (2024-11-05)

    private func openSSE(_ request: Request) async throws -> Response {
        let identity = try await edge.identity(request)
        let id = configuration.newSessionID()
        let transport = SSEServerTransport(logger: logger)
        let sessionIdentity = SessionIdentity(identity)
        let (server, router) = try await factory.start(identity: sessionIdentity, transport: transport, sessionID: id, kind: .sse)
        sessions.add(MCPSession(
            id: id, identity: sessionIdentity, server: server, streamable: nil, sse: transport, router: router))
        let sessions = sessions
        return eventStream(
            transport.outgoing, first: "event: endpoint\ndata: /messages?session_id=\(id)\n\n", request: request,
            transport: .sse,
            drain: { await Self.drain(router) }, end: { await sessions.remove(id) })
    }

    /// The comment that ends every event stream at graceful shutdown; clients ignore comments, and
    /// people reading the stream see why it closed.
    static let shutdownEvent = ": the server is shutting down\n\n"

    /// An SSE response carrying `messages` as `message` events, with keep-alive comments while
    /// idle. `end` ends `messages` (and, for SSE, the session); it runs however the stream ends:
    /// the messages end; the client goes away (it closes its side of the connection, or a write
    /// fails, which is how a keep-alive finds a peer that vanished without a word); or the server
    /// shuts down gracefully, where `drain` first lets the session's requests in flight be
    /// answered on the stream and the last event is `shutdownEvent`. The connection closes after.
    private func eventStream(
        _ messages: AsyncStream<Data>, first: String? = nil, request: Request, transport: HostMetrics.Transport,
        drain: @escaping @Sendable () async -> Void = {}, end: @escaping @Sendable () async -> Void
    ) -> Response {
        let keepAlive = configuration.keepAliveInterval
        let streams = factory.catalog.metrics?.openStreams(transport)
        let body = ResponseBody { writer in
            streams?.increment()
            defer { streams?.decrement() }
            let (events, feed) = AsyncStream<ByteBuffer>.makeStream()
            if let first { feed.yield(ByteBuffer(string: first)) }
            // Hummingbird allows half-closed connections, so a client's close is seen on the
            // request's side, not as the connection closing.
            try? await request.body.consumeWithInboundCloseHandler(
                { _ in
                    await Self.pump(
                        messages, into: feed, events: events, writer: &writer, keepAlive: keepAlive, drain: drain, end: end)
                }, onInboundClosed: { feed.finish() })
            await end()
            try? await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", .connection: "keep-alive"],
            body: body)
    }

    /// Writes the events of a stream until `events` ends: `messages` as `message` events,
    /// keep-alive comments, and at graceful shutdown `drain`, `end` and the final comment.
    private static func pump(
        _ messages: AsyncStream<Data>, into feed: AsyncStream<ByteBuffer>.Continuation, events: AsyncStream<ByteBuffer>,
        writer: inout any ResponseBodyWriter, keepAlive: Duration, drain: @escaping @Sendable () async -> Void,
        end: @escaping @Sendable () async -> Void
    ) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await data in messages {
                    feed.yield(ByteBuffer(string: "event: message\ndata: \(String(decoding: data, as: UTF8.self))\n\n"))
                }
                if Task.isShuttingDownGracefully { feed.yield(ByteBuffer(string: Self.shutdownEvent)) }
                feed.finish()
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: keepAlive)
                    feed.yield(ByteBuffer(string: ": keep-alive\n\n"))
                }
            }
            group.addTask {
                // Throws when cancelled, that is when the stream ended first.
                guard (try? await gracefulShutdown()) != nil else { return }
                await drain()
                await end()
            }
            do {
                for await event in events { try await writer.write(event) }
            } catch {
                // The client is gone.
            }
            group.cancelAll()
        }
    }

    /// Waits until the session has answered every request it was sent (or the wait is cancelled).
    private static func drain(_ router: SessionRouter) async {
        while await router.inFlightCount > 0, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    private func postMessage(_ request: Request) async throws -> Response {
        let identity = try await edge.identity(request)
        guard let id = request.uri.queryParameters.get("session_id"), let session = sessions.session(id),
            let transport = session.sse
        else { throw HostHTTPError(.notFound, "unknown session: open one with GET /sse") }
        guard session.identity.matches(identity) else {
            throw HostHTTPError(.forbidden, "this session belongs to another user or tenant")
        }
        session.identity.touch()
        do {
            transport.deliver(try await message(request).data)
        } catch let malformed as MalformedMessage {
            return malformed.response
        }
        return Response(status: .accepted)
    }

    // MARK: Streamable HTTP

    private static let sessionHeader = HTTPField.Name("Mcp-Session-Id")!
    private static let versionHeader = HTTPField.Name("MCP-Protocol-Version")!

    private func streamable(_ request: Request, channel: any Channel) async throws -> Response {
        let identity = try await edge.identity(request)
        if let version = request.headers[Self.versionHeader], !Version.supported.contains(version) {
            let supported = Version.supported.sorted().joined(separator: ", ")
            return jsonRPCError(code: -32600, message: "Unsupported protocol version \(version); supported: \(supported)")
        }
        guard let id = request.headers[Self.sessionHeader] else {
            return try await initialize(request, identity: identity, channel: channel)
        }
        guard let session = sessions.session(id), let transport = session.streamable else {
            return Self.sessionNotFound
        }
        guard session.identity.matches(identity) else {
            throw HostHTTPError(.forbidden, "this session belongs to another user or tenant")
        }
        session.identity.touch()
        switch request.method {
        case .post:
            let posted: (data: Data, value: JSONValue)
            do {
                posted = try await message(request)
            } catch let malformed as MalformedMessage {
                return malformed.response
            }
            return await answer(posted.value, on: session, channel: channel)
        case .get:
            guard let (messages, continuation) = await transport.openStream() else { return Self.sessionNotFound }
            return eventStream(messages, request: request, transport: .streamableHTTP) { continuation.finish() }
        default:
            await sessions.remove(id)
            return Response(status: .ok, headers: [Self.sessionHeader: id])
        }
    }

    private static var sessionNotFound: Response {
        jsonRPCError(code: -32001, message: "Session not found", status: .notFound)
    }

    /// A POST without a session must be `initialize`; it opens the session.
    private func initialize(_ request: Request, identity: CallIdentity, channel: any Channel) async throws -> Response {
        guard request.method == .post else {
            return jsonRPCError(code: -32000, message: "Bad Request: Mcp-Session-Id header is required")
        }
        let posted: (data: Data, value: JSONValue)
        do {
            posted = try await message(request)
        } catch let malformed as MalformedMessage {
            return malformed.response
        }
        guard posted.value["method"] == "initialize" else {
            return jsonRPCError(code: -32000, message: "Bad Request: Mcp-Session-Id header is required")
        }
        let id = configuration.newSessionID()
        let transport = StreamableHTTPTransport(logger: logger)
        let sessionIdentity = SessionIdentity(identity)
        let (server, router) = try await factory.start(
            identity: sessionIdentity, transport: transport, sessionID: id, kind: .streamableHTTP)
        let session = MCPSession(
            id: id, identity: sessionIdentity, server: server, streamable: transport, sse: nil, router: router)
        sessions.add(session)
        return await answer(posted.value, on: session, channel: channel)
    }

    /// Answers a POSTed message on its POST, through the session's router. The wait ends with the
    /// answer, with the session, or when the client's connection closes.
    private func answer(_ message: JSONValue, on session: MCPSession, channel: any Channel) async -> Response {
        let router = session.router
        let headers: HTTPFields = [Self.sessionHeader: session.id]
        switch await connections.untilClosed(channel, { await router.post(message) }) {
        case .response(let response): return .json(response, headers: headers)
        case .rejected(let response): return .json(response, status: .badRequest, headers: headers)
        case .noResponse: return Response(status: .accepted, headers: headers)
        case .sessionEnded: return Self.sessionNotFound
        }
    }
}
