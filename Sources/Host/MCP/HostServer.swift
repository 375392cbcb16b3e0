import API
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MCP
import NIOCore

/// The Host's HTTP application: MCP over the 2024-11-05 SSE transport (`GET /sse`,
/// `POST /messages`) and Streamable HTTP (`/mcp`), the protected-resource metadata, and health.
public enum HostServer {
    public static func application(
        configuration: HostConfiguration, catalog: ToolCatalog, authenticator: Authenticator,
        sessions: MCPSessionRegistry, proxy: RESTProxy, logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router(context: HostRequestContext.self)
        router.add(middleware: OriginMiddleware(allowed: configuration.allowedOrigins))
        let edge = EdgeAuth(authenticator: authenticator, publicURL: configuration.publicURL)
        HostRoutes(
            configuration: configuration, factory: MCPServerFactory(catalog: catalog, logger: logger),
            edge: edge, sessions: sessions, proxy: proxy,
            modern: ModernHTTPEndpoint(
                server: ModernServer(catalog: catalog), edge: edge, listeners: sessions.listeners,
                disconnects: ClientDisconnects(), maxBodyBytes: configuration.maxBodyBytes,
                keepAliveInterval: configuration.keepAliveInterval),
            issuer: authenticator.configuration.issuer, logger: logger
        ).register(on: router)
        return Application(
            router: router,
            server: configuration.limits.server(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: onServerRunning, logger: logger)
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
                return try await streamable(request)
            }
        }
        router.get("mcp") { request, _ in await handling { try await streamable(request) } }
        router.delete("mcp") { request, _ in await handling { try await streamable(request) } }
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

    private func body(_ request: Request) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: configuration.maxBodyBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw HostHTTPError(.contentTooLarge, "the message is larger than the limit of \(configuration.maxBodyBytes) bytes")
        }
    }

    /// The body as a JSON-RPC message, or a JSON-RPC parse error the client can read.
    private func message(_ request: Request) async throws -> (data: Data, value: JSONValue) {
        let buffer = try await body(request)
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
        let (server, toolCalls) = try await factory.start(identity: sessionIdentity, transport: transport)
        sessions.add(MCPSession(
            id: id, identity: sessionIdentity, server: server, streamable: nil, sse: transport, toolCalls: toolCalls))
        let sessions = sessions
        return eventStream(transport.outgoing, first: "event: endpoint\ndata: /messages?session_id=\(id)\n\n") {
            await sessions.remove(id)
        }
    }

    /// An SSE response carrying `messages` as `message` events, with keep-alive comments while
    /// idle. `ended` runs when the client goes away or the messages end.
    private func eventStream(
        _ messages: AsyncStream<Data>, first: String? = nil, ended: @escaping @Sendable () async -> Void
    ) -> Response {
        let keepAlive = configuration.keepAliveInterval
        let body = ResponseBody { writer in
            let (events, feed) = AsyncStream<ByteBuffer>.makeStream()
            if let first { feed.yield(ByteBuffer(string: first)) }
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await data in messages {
                        feed.yield(ByteBuffer(string: "event: message\ndata: \(String(decoding: data, as: UTF8.self))\n\n"))
                    }
                    feed.finish()
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: keepAlive)
                        feed.yield(ByteBuffer(string: ": keep-alive\n\n"))
                    }
                }
                do {
                    for await event in events { try await writer.write(event) }
                } catch {
                    // The client closed the stream.
                }
                group.cancelAll()
            }
            await ended()
            try? await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", .connection: "keep-alive"],
            body: body)
    }

    private func postMessage(_ request: Request) async throws -> Response {
        let identity = try await edge.identity(request)
        guard let id = request.uri.queryParameters.get("session_id"), let session = sessions.session(id),
            let transport = session.sse
        else { throw HostHTTPError(.notFound, "unknown session: open one with GET /sse") }
        guard session.identity.matches(identity) else {
            throw HostHTTPError(.forbidden, "this session belongs to another user or tenant")
        }
        session.identity.refresh(token: identity.bearerToken)
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

    private func streamable(_ request: Request) async throws -> Response {
        let identity = try await edge.identity(request)
        if let version = request.headers[Self.versionHeader], !Version.supported.contains(version) {
            let supported = Version.supported.sorted().joined(separator: ", ")
            return jsonRPCError(code: -32600, message: "Unsupported protocol version \(version); supported: \(supported)")
        }
        guard let id = request.headers[Self.sessionHeader] else {
            return try await initialize(request, identity: identity)
        }
        guard let session = sessions.session(id), let transport = session.streamable else {
            return jsonRPCError(code: -32001, message: "Session not found", status: .notFound)
        }
        guard session.identity.matches(identity) else {
            throw HostHTTPError(.forbidden, "this session belongs to another user or tenant")
        }
        session.identity.refresh(token: identity.bearerToken)
        switch request.method {
        case .post:
            let posted: (data: Data, value: JSONValue)
            do {
                posted = try await message(request)
            } catch let malformed as MalformedMessage {
                return malformed.response
            }
            return await answer(posted, on: session)
        case .get:
            return eventStream(await transport.openStream()) {}
        default:
            await sessions.remove(id)
            return Response(status: .ok, headers: [Self.sessionHeader: id])
        }
    }

    /// A POST without a session must be `initialize`; it opens the session.
    private func initialize(_ request: Request, identity: CallIdentity) async throws -> Response {
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
        let (server, toolCalls) = try await factory.start(identity: sessionIdentity, transport: transport)
        let session = MCPSession(
            id: id, identity: sessionIdentity, server: server, streamable: transport, sse: nil, toolCalls: toolCalls)
        sessions.add(session)
        return await answer(posted, on: session)
    }

    private func answer(_ posted: (data: Data, value: JSONValue), on session: MCPSession) async -> Response {
        guard posted.value.objectValue != nil, let transport = session.streamable else {
            return jsonRPCError(code: -32600, message: "Invalid Request: send one JSON-RPC message per POST (batches are not supported)")
        }
        let sessionID = session.id
        // tools/call, the hot path, is answered here rather than through the transport's stream.
        if posted.value["method"] == "tools/call", let id = posted.value["id"], id != .null,
            let tool = posted.value["params"]?["name"]?.stringValue
        {
            let response = await session.toolCalls.respond(id: id, tool: tool, arguments: posted.value["params"]?["arguments"] ?? [:])
            return .json(response, headers: [Self.sessionHeader: sessionID])
        }
        guard let response = await transport.post(posted.data, message: posted.value) else {
            if await transport.isTerminated { return jsonRPCError(code: -32001, message: "Session not found", status: .notFound) }
            return Response(status: .accepted, headers: [Self.sessionHeader: sessionID])
        }
        return .json(String(decoding: response, as: UTF8.self), headers: [Self.sessionHeader: sessionID])
    }
}
