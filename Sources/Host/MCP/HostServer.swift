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
        let router = Router()
        router.add(middleware: OriginMiddleware(allowed: configuration.allowedOrigins))
        HostRoutes(
            configuration: configuration, factory: MCPServerFactory(catalog: catalog, logger: logger),
            edge: EdgeAuth(authenticator: authenticator), sessions: sessions, proxy: proxy,
            issuer: authenticator.configuration.issuer, logger: logger
        ).register(on: router)
        return Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: onServerRunning, logger: logger)
    }
}

extension HostServer {
    /// Serves one stdio session (one client, one identity) until stdin closes.
    public static func serveStdio(catalog: ToolCatalog, identity: CallIdentity, logger: Logger) async throws {
        let server = try await MCPServerFactory(catalog: catalog, logger: logger)
            .start(identity: SessionIdentity(identity), transport: StdioTransport(logger: logger))
        await server.waitUntilCompleted()
    }
}

/// DNS-rebinding protection: a browser request (it has an `Origin`) must come from localhost or
/// an origin the operator allowed.
struct OriginMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
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
    let issuer: String?
    let logger: Logger

    func register(on router: Router<BasicRequestContext>) {
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
        router.post("mcp") { request, _ in await handling { try await streamable(request) } }
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

    private static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: value.serialized)))
    }

    /// RFC 9728 protected-resource metadata, where the 401's `WWW-Authenticate` points.
    private func metadata(_ request: Request) -> Response {
        var object: JSONObject = [
            "resource": .string(EdgeAuth.baseURL(request) + "/mcp"), "bearer_methods_supported": ["header"],
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
    private func message(_ request: Request) async throws -> Data {
        let buffer = try await body(request)
        do {
            _ = try JSONValue.parse(buffer.readableBytesView)
        } catch {
            throw MalformedMessage(response: jsonRPCError(code: -32700, message: "Parse error: \(error)"))
        }
        return Data(buffer: buffer)
    }

    private struct MalformedMessage: Error {
        let response: Response
    }

    // MARK: SSE (2024-11-05)

    private func openSSE(_ request: Request) async throws -> Response {
        let identity = try await edge.identity(request)
        let id = UUID().uuidString.lowercased()
        let transport = SSEServerTransport(logger: logger)
        let sessionIdentity = SessionIdentity(identity)
        let server = try await factory.start(identity: sessionIdentity, transport: transport)
        sessions.add(MCPSession(id: id, identity: sessionIdentity, server: server, streamable: nil, sse: transport))
        let keepAlive = configuration.keepAliveInterval
        let sessions = sessions
        let logger = logger
        let body = ResponseBody { writer in
            let (events, feed) = AsyncStream<ByteBuffer>.makeStream()
            feed.yield(ByteBuffer(string: "event: endpoint\ndata: /messages?session_id=\(id)\n\n"))
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await data in transport.outgoing {
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
                    logger.debug("SSE stream closed by the client", metadata: ["session": "\(id)"])
                }
                group.cancelAll()
            }
            await sessions.remove(id)
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
            transport.deliver(try await message(request))
        } catch let malformed as MalformedMessage {
            return malformed.response
        }
        return Response(status: .accepted)
    }

    // MARK: Streamable HTTP

    private func streamable(_ request: Request) async throws -> Response {
        let identity = try await edge.identity(request)
        var data: Data?
        if request.method == .post {
            do {
                data = try await message(request)
            } catch let malformed as MalformedMessage {
                return malformed.response
            }
        }
        let mcpRequest = MCP.HTTPRequest(
            method: request.method.rawValue, headers: Self.headers(request.headers), body: data, path: request.uri.path)

        if let id = request.headers[HTTPField.Name("Mcp-Session-Id")!] {
            guard let session = sessions.session(id), let transport = session.streamable else {
                return jsonRPCError(code: -32001, message: "Session not found", status: .notFound)
            }
            guard session.identity.matches(identity) else {
                throw HostHTTPError(.forbidden, "this session belongs to another user or tenant")
            }
            session.identity.refresh(token: identity.bearerToken)
            let response = await transport.handleRequest(mcpRequest)
            if request.method == .delete, response.statusCode < 300 { await sessions.remove(id) }
            return Self.response(response)
        }
        guard request.method == .post else {
            return jsonRPCError(code: -32000, message: "Bad Request: Mcp-Session-Id header is required", status: .badRequest)
        }
        // A new session: the SDK's transport assigns its id while answering `initialize`.
        let transport = StatefulHTTPServerTransport(
            validationPipeline: StandardValidationPipeline(validators: [
                AcceptHeaderValidator(mode: .sseRequired), ContentTypeValidator(), ProtocolVersionValidator(),
                SessionValidator(),
            ]),
            logger: logger)
        let sessionIdentity = SessionIdentity(identity)
        let server = try await factory.start(identity: sessionIdentity, transport: transport)
        let response = await transport.handleRequest(mcpRequest)
        if let id = response.headers[HTTPHeaderName.sessionID], response.statusCode < 300 {
            sessions.add(MCPSession(id: id, identity: sessionIdentity, server: server, streamable: transport, sse: nil))
        } else {
            await server.stop()
        }
        return Self.response(response)
    }

    private static func headers(_ fields: HTTPFields) -> [String: String] {
        var headers: [String: String] = [:]
        for field in fields {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { $0 + ", " + field.value } ?? field.value
        }
        return headers
    }

    private static func response(_ response: MCP.HTTPResponse) -> Response {
        var headers = HTTPFields()
        for (name, value) in response.headers {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        let status = HTTPResponse.Status(code: response.statusCode)
        if case .stream(let stream, _) = response {
            return Response(status: status, headers: headers, body: ResponseBody { writer in
                do {
                    for try await chunk in stream { try await writer.write(ByteBuffer(data: chunk)) }
                } catch {}
                try? await writer.finish(nil)
            })
        }
        let body = response.bodyData.map { ByteBuffer(data: $0) } ?? ByteBuffer()
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }
}
