#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Hummingbird
import HummingbirdCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import ToolBridgeJSON

/// The limits every HTTP listener of ToolBridge (the API and the MCP Host) puts on its
/// connections, so that no client, authenticated or not, can hold the process's descriptors or
/// keep a connection open forever.
public struct HTTPServerLimits: Sendable {
    /// A connection with no request in progress — idle between requests, or still sending its
    /// request head or body — is closed after this long without a complete HTTP part. A request
    /// being answered (a tool call, an SSE stream) is never timed out by it.
    public var idleTimeout: Duration
    /// Connections open at once on one listener. A new connection above it closes the
    /// longest-idle connection to make room, or is closed itself when every connection is busy.
    public var maxConnections: Int
    /// Requests one connection may carry; the last response says `Connection: close`.
    public var maxRequestsPerConnection: Int

    public init(idleTimeout: Duration = .seconds(30), maxConnections: Int = 2048, maxRequestsPerConnection: Int = 10_000) {
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.maxRequestsPerConnection = maxRequestsPerConnection
    }

    /// A Hummingbird HTTP/1.1 server that applies these limits.
    public func server() -> HTTPServerBuilder {
        let tracker = ConnectionTracker(limit: maxConnections)
        let maxRequests = maxRequestsPerConnection
        let (seconds, attoseconds) = idleTimeout.components
        let idle = TimeAmount.nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        return .http1(configuration: .init(
            additionalChannelHandlers: [ConnectionGuard(tracker: tracker, maxRequests: maxRequests)],
            idleTimeout: idle))
    }

    /// Raises the process's open-file limit to its hard limit, and returns these limits with
    /// `maxConnections` lowered, if needed, so that `listeners` listeners at their cap still leave
    /// descriptors for database connections, the REST proxy and plugin files.
    public func fitted(toListeners listeners: Int, logger: Logger) -> HTTPServerLimits {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return self }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        let reserved: UInt64 = 256
        let available = UInt64(limit.rlim_cur) > reserved ? UInt64(limit.rlim_cur) - reserved : 0
        let perListener = Int(min(available / UInt64(max(listeners, 1)), UInt64(Int32.max)))
        guard perListener < maxConnections else { return self }
        logger.warning(
            "the open-file limit allows only \(perListener) connections per listener; lowering the connection cap",
            metadata: ["configured": "\(maxConnections)", "openFileLimit": "\(limit.rlim_cur)"])
        var fitted = self
        fitted.maxConnections = max(perListener, 1)
        return fitted
    }
}

/// The connections of one listener and when each became idle, shared by their guards.
final class ConnectionTracker: Sendable {
    private struct Entry {
        let channel: any Channel
        /// Nil while a request is in progress.
        var idleSince: NIODeadline?
    }

    private let limit: Int
    private let connections = NIOLockedValueBox<[ObjectIdentifier: Entry]>([:])

    init(limit: Int) {
        self.limit = limit
    }

    /// Admits a new connection, closing the longest-idle one when the listener is full. False
    /// when every open connection is busy: the new one must be closed.
    func admit(_ channel: any Channel) -> Bool {
        let evicted: (any Channel)?? = connections.withLockedValue { connections in
            var evicted: (any Channel)?
            if connections.count >= limit {
                let idle = connections.compactMap { key, entry in entry.idleSince.map { (key, $0) } }
                guard let oldest = idle.min(by: { $0.1 < $1.1 }) else { return .none }
                evicted = connections.removeValue(forKey: oldest.0)?.channel
            }
            connections[ObjectIdentifier(channel)] = Entry(channel: channel, idleSince: .now())
            return .some(evicted)
        }
        guard let evicted else { return false }
        evicted?.close(promise: nil)
        return true
    }

    func busy(_ channel: any Channel) {
        connections.withLockedValue { $0[ObjectIdentifier(channel)]?.idleSince = nil }
    }

    func idle(_ channel: any Channel) {
        connections.withLockedValue { $0[ObjectIdentifier(channel)]?.idleSince = .now() }
    }

    func remove(_ channel: any Channel) {
        _ = connections.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }
}

/// One connection's guard: admission under the cap, idle bookkeeping, the keep-alive request
/// limit, and a readable JSON answer to requests the HTTP parser rejects (two Content-Lengths,
/// an oversized head…), which otherwise get an empty 400.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let tracker: ConnectionTracker
    private let maxRequests: Int
    private var requests = 0
    private var admitted = false
    /// Set when the response being written says `Connection: close`.
    private var closing = false

    init(tracker: ConnectionTracker, maxRequests: Int) {
        self.tracker = tracker
        self.maxRequests = maxRequests
    }

    func handlerAdded(context: ChannelHandlerContext) {
        admitted = tracker.admit(context.channel)
        if !admitted { context.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if admitted { tracker.remove(context.channel) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if admitted { tracker.remove(context.channel) }
        admitted = false
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            requests += 1
            tracker.busy(context.channel)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var response) where requests >= maxRequests && response.status.kind != .informational:
            response.headerFields[.connection] = "close"
            closing = true
            context.write(wrapOutboundOut(.head(response)), promise: promise)
        case .end:
            tracker.idle(context.channel)
            context.write(data, promise: promise)
            if closing {
                // Output only: anything the client still sends is read and dropped until it closes
                // its side, so it reads the response rather than a reset.
                context.flush()
                context.close(mode: .output, promise: nil)
            }
        default:
            context.write(data, promise: promise)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        let (status, sentence) = Self.answer(to: parserError)
        let body = ByteBuffer(string: JSONValue.object(["error": .string(sentence)]).serialized)
        let head = HTTPResponse(
            status: status,
            headerFields: [.contentType: "application/json", .contentLength: "\(body.readableBytes)", .connection: "close"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    private static func answer(to error: HTTPParserError) -> (HTTPResponse.Status, String) {
        switch error {
        case .headerOverflow:
            return (.init(code: 431), "the request's head (URL and headers) is larger than the server accepts")
        case .unexpectedContentLength:
            return (.badRequest, "the request has more than one Content-Length, or a Content-Length with chunked encoding")
        case .invalidContentLength:
            return (.badRequest, "the request's Content-Length is not a valid length")
        case .invalidChunkSize:
            return (.badRequest, "the request's chunked body has an invalid chunk size")
        default:
            return (.badRequest, "the request is not valid HTTP/1.1 (\(error))")
        }
    }
}
