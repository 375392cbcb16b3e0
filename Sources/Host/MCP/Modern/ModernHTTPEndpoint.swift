import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MCP
import NIOCore
import ServerSupport
import ServiceLifecycle
import Synchronization
import ToolBridgeJSON

/// MCP 2026-07-28 on `POST /mcp`, beside the handshake era on the same endpoint. Each request is
/// authenticated and answered on its own; nothing is kept between requests, so any replica in
/// front of the same API can answer any request.
struct ModernHTTPEndpoint: Sendable {
    let server: ModernServer
    let edge: EdgeAuth
    let listeners: ToolListListeners
    let connections: ConnectionWatch
    let maxBodyBytes: Int
    let keepAliveInterval: Duration

    static let versionHeader = HTTPField.Name("MCP-Protocol-Version")!
    static let methodHeader = HTTPField.Name("Mcp-Method")!
    static let nameHeader = HTTPField.Name("Mcp-Name")!
    static let sessionHeader = HTTPField.Name("Mcp-Session-Id")!

    /// Whether a POST belongs to the modern era. A session header or a handshake-era version
    /// header means the handshake era; any other version header means modern. Without either,
    /// the body decides (its `_meta` names a version), so the body is read into `request` for
    /// whichever era answers. `initialize` always selects the handshake era.
    func claims(_ request: inout Request) async throws(HostHTTPError) -> Bool {
        guard request.headers[Self.sessionHeader] == nil else { return false }
        if let version = request.headers[Self.versionHeader] {
            return !Version.supported.contains(version)
        }
        let buffer = try await request.collectMessage(limit: maxBodyBytes)
        guard let message = try? JSONValue.parse(buffer.readableBytesView) else { return false }
        return message["method"] != "initialize" && ModernProtocol.isModern(message)
    }

    func respond(to request: Request, context: HostRequestContext) async throws(HostHTTPError) -> Response {
        let caller = try await edge.identity(request)
        let started = ContinuousClock.now
        var request = request
        let buffer = try await request.collectMessage(limit: maxBodyBytes)
        var message: JSONValue?
        do throws(ModernError) {
            do {
                message = try JSONValue.parse(buffer.readableBytesView)
            } catch {
                throw ModernError.parse("\(error)")
            }
            switch try ModernMessage.read(message ?? .null) {
            case .notification:
                return Response(status: .accepted)
            case .request(let posted):
                try Self.checkHeaders(request.headers, against: posted)
                try posted.checkVersion()
                if posted.method == "subscriptions/listen" {
                    return listen(posted, filter: try ModernServer.listenFilter(posted), caller: caller, channel: context.channel)
                }
                // On Streamable HTTP, closing the response is how a 2026-07-28 client cancels.
                let response = await connections.cancellingOnClose(context.channel) {
                    await server.respond(to: posted, as: caller)
                }
                guard let response else { return Response(status: .noContent) }
                return Self.json(response, status: ModernError.httpStatus(of: response))
            }
        } catch {
            server.record(
                method: message?["method"]?.stringValue, params: message?["params"], error: String(error.code), since: started)
            return Self.json(error.response, status: error.status)
        }
    }

    /// `MCP-Protocol-Version`, `Mcp-Method` and, where the method names something, `Mcp-Name`
    /// must be present once and equal the body's values (a Base64-sentinel `Mcp-Name` decoded
    /// first): a load balancer may have routed on them.
    static func checkHeaders(_ headers: HTTPFields, against request: ModernRequest) throws(ModernError) {
        func single(_ name: HTTPField.Name) throws(ModernError) -> String? {
            let values = headers[values: name]
            guard values.count <= 1 else { throw .headerMismatch("\(name) appears more than once", id: request.id) }
            return values.first
        }
        guard let version = try single(versionHeader) else {
            throw .headerMismatch("the \(versionHeader) header is required", id: request.id)
        }
        guard version == request.meta[ModernProtocol.versionKey]?.stringValue else {
            throw .headerMismatch("\(versionHeader) '\(version)' does not match the body's protocol version", id: request.id)
        }
        guard let method = try single(methodHeader) else {
            throw .headerMismatch("the \(methodHeader) header is required", id: request.id)
        }
        guard method == request.method else {
            throw .headerMismatch("\(methodHeader) '\(method)' does not match the body's method '\(request.method)'", id: request.id)
        }
        let name = try single(nameHeader)
        guard let key = ModernProtocol.nameKeys[request.method], let value = request.params[key], value != .null else {
            return
        }
        guard let name else { throw .headerMismatch("the \(nameHeader) header is required for \(request.method)", id: request.id) }
        guard let decoded = decodeHeaderValue(name), .string(decoded) == value else {
            throw .headerMismatch("\(nameHeader) does not match the body's \(key)", id: request.id)
        }
    }

    /// A header value, with the `=?base64?…?=` sentinel decoded; nil when the sentinel holds
    /// non-canonical Base64 or invalid UTF-8, so it can never match.
    static func decodeHeaderValue(_ value: String) -> String? {
        guard value.hasPrefix("=?base64?"), value.hasSuffix("?="), value.count >= "=?base64??=".count else { return value }
        let payload = String(value.dropFirst("=?base64?".count).dropLast(2))
        guard let data = Data(base64Encoded: payload), data.base64EncodedString() == payload else { return nil }
        return String(validating: data, as: UTF8.self)
    }

    /// A `subscriptions/listen` stream: the acknowledgement first, then the tenant's tool-list
    /// changes, keep-alive comments while quiet. It ends when the client goes away, or, answered
    /// with the listen request's result, when the host shuts down.
    private func listen(_ request: ModernRequest, filter: JSONObject, caller: CallIdentity, channel: any Channel) -> Response {
        let subscription = listeners.open(tenant: caller.tenant, toolsListChanged: filter["toolsListChanged"] == true)
        let feed = subscription.feed
        channel.closeFuture.whenComplete { _ in feed.finish() }
        let listeners = listeners
        let keepAlive = keepAliveInterval
        let id = request.id
        let server = server
        let body = ResponseBody { writer in
            let started = ContinuousClock.now
            let streams = server.catalog.metrics?.openStreams(.statelessHTTP)
            streams?.increment()
            defer {
                streams?.decrement()
                server.record(method: request.method, params: .object(request.params), error: "", since: started)
            }
            let acknowledged = ModernServer.notification(
                "notifications/subscriptions/acknowledged", subscription: id, fields: ["notifications": .object(filter)])
            do {
                try await writer.write(Self.event(acknowledged))
                try await withGracefulShutdownHandler {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            while !Task.isCancelled {
                                try await Task.sleep(for: keepAlive)
                                feed.yield(.keepAlive)
                            }
                        }
                        defer { group.cancelAll() }
                        for await event in subscription.events {
                            switch event {
                            case .toolsChanged:
                                try await writer.write(Self.event(
                                    ModernServer.notification("notifications/tools/list_changed", subscription: id)))
                            case .keepAlive:
                                try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                            case .close:
                                try await writer.write(Self.event(ModernServer.listenClosed(id)))
                                return
                            }
                        }
                    }
                } onGracefulShutdown: {
                    feed.yield(.close)
                }
            } catch {
                // The client went away; nothing more can be sent.
            }
            listeners.remove(subscription.id)
            try? await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/event-stream", .cacheControl: "no-cache",
                HTTPField.Name("X-Accel-Buffering")!: "no",
            ],
            body: body)
    }

    private static func event(_ message: JSONValue) -> ByteBuffer {
        ByteBuffer(string: "event: message\ndata: \(message.serialized)\n\n")
    }

    private static func json(_ value: JSONValue, status: HTTPTypes.HTTPResponse.Status) -> Response {
        .json(value.serialized, status: status)
    }
}

extension ModernError {
    /// The HTTP status of a JSON-RPC response body: its error's, or 200 for a result.
    static func httpStatus(of response: JSONValue) -> HTTPTypes.HTTPResponse.Status {
        guard let code = response["error"]?["code"]?.int64Value else { return .ok }
        return ModernError(code: code, message: "").status
    }
}

/// `operation`'s value, or nil when `cancel` ends first; the operation is then cancelled.
func cancellable<T: Sendable>(
    _ operation: @escaping @Sendable () async -> T, until cancel: AsyncStream<Void>
) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { await operation() }
        group.addTask {
            for await _ in cancel {}
            return nil
        }
        let value = await group.next() ?? nil
        group.cancelAll()
        return value
    }
}
