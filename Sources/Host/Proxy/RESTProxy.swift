import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Observability
import ServerSupport
import ServiceLifecycle
import ToolBridgeAuth
import ToolBridgeJSON
import Tracing

/// Where the proxy sends requests and how it signs them.
public struct ProxyConfiguration: Sendable {
    /// The API's base URL, e.g. `http://127.0.0.1:8081`.
    public var apiURL: String
    /// Signs `X-TB-Tenant-ID` when the API requires signed tenant headers.
    public var tenantSecret: String?
    /// The longest one API request may take.
    public var requestTimeout: Duration
    /// Pooled keep-alive connections to the API.
    public var maximumConnections: Int
    /// The most sync sessions kept, one per (tenant, user); beyond it the least recently used
    /// is dropped (and made again on that user's next call).
    public var maximumSyncSessions: Int
    /// A sync session unused this long is dropped: the API's session lifetime (its
    /// `sessionTTLSeconds`, one hour by default), after which the API would refuse it anyway.
    public var syncSessionIdleLimit: Duration

    public init(
        apiURL: String = "http://127.0.0.1:8081", tenantSecret: String? = nil, requestTimeout: Duration = .seconds(30),
        maximumConnections: Int = 64, maximumSyncSessions: Int = 10_000, syncSessionIdleLimit: Duration = .seconds(3600)
    ) {
        self.apiURL = apiURL.hasSuffix("/") ? String(apiURL.dropLast()) : apiURL
        self.tenantSecret = tenantSecret
        self.requestTimeout = requestTimeout
        self.maximumConnections = maximumConnections
        self.maximumSyncSessions = maximumSyncSessions
        self.syncSessionIdleLimit = syncSessionIdleLimit
    }
}

/// A request a plugin asked for, before the proxy adds identity, tenant and session.
public struct ProxyRequest: Sendable {
    public var method: String
    public var path: String
    public var body: [UInt8]?
    public var ifMatch: String?

    public init(method: String, path: String, body: [UInt8]? = nil, ifMatch: String? = nil) {
        self.method = method
        self.path = path
        self.body = body
        self.ifMatch = ifMatch
    }
}

public struct ProxyResponse: Sendable {
    public let status: Int
    public let body: [UInt8]
}

/// Why a request never got an HTTP answer.
public struct ProxyError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case unavailable, timedOut, invalidRequest }
    public let kind: Kind
    public let description: String
}

/// The only way plugins reach the API. One pooled HTTP client; every request carries the host's
/// delegated credential for the user and tenant (never the client's token), the (signed) tenant headers, a sync session and the correlation id. The sync
/// session of each (tenant, user) is created on first use, reused, and renewed transparently
/// when the API answers 428 (unknown or expired session) or 409 (epoch changed).
///
/// A `Service`: its HTTP client shuts down when the service group does.
public final class RESTProxy: Service, Sendable {
    public let configuration: ProxyConfiguration
    let credentials: DelegatedCredentials
    let client: HTTPClient
    let sessions: SyncSessionCache
    let logger: Logger
    /// Times every request to the API; nil when metrics are off.
    let metrics: HostMetrics?

    public init(
        configuration: ProxyConfiguration, credentials: DelegatedCredentials, metrics: HostMetrics? = nil, logger: Logger
    ) {
        self.configuration = configuration
        self.credentials = credentials
        self.metrics = metrics
        sessions = SyncSessionCache(
            capacity: configuration.maximumSyncSessions, idleLimit: configuration.syncSessionIdleLimit)
        self.logger = logger
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = configuration.maximumConnections
        clientConfiguration.timeout.connect = .seconds(5)
        // A refused connection means the API is down: say so now instead of retrying until the timeout.
        clientConfiguration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
    }

    public func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }

    /// The number of sync sessions this proxy has created, for tests and diagnostics.
    public var sessionsCreated: Int {
        get async { await sessions.created }
    }

    /// The number of sync sessions kept now, at most `maximumSyncSessions`.
    public var sessionsKept: Int {
        get async { await sessions.count }
    }

    public func send(_ request: ProxyRequest, as identity: CallIdentity) async throws(ProxyError) -> ProxyResponse {
        guard ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(request.method), Self.isAPIPath(request.path) else {
            throw ProxyError(
                kind: .invalidRequest, description: "plugins may only send GET, POST, PUT, PATCH or DELETE to /v1/ paths")
        }
        if let ifMatch = request.ifMatch, !Self.isEntityTag(ifMatch) {
            throw ProxyError(
                kind: .invalidRequest, description: "if_match must be an item version: visible ASCII characters, no quote")
        }
        let key = SyncSessionCache.Key(tenant: identity.tenant, user: identity.user)
        let create: @Sendable () async throws(ProxyError) -> SyncSessionCache.Creation = {
            () async throws(ProxyError) -> SyncSessionCache.Creation in try await self.createSession(identity)
        }
        var session: SyncSessionCache.Session
        switch try await sessions.session(for: key, create: create) {
        case .session(let created): session = created
        case .refused(let response): return response
        }
        var response = try await execute(request, identity: identity, session: session)
        if response.status == 428 {
            // The API no longer knows the session (restart, expiry, deletion): make a new one once.
            switch try await sessions.renew(key, replacing: session, create: create) {
            case .session(let renewed): session = renewed
            case .refused(let refusal): return refusal
            }
            response = try await execute(request, identity: identity, session: session)
        } else if response.status == 409, let epoch = Self.epochMismatch(response.body) {
            session = await sessions.update(key, session: session, epoch: epoch)
            response = try await execute(request, identity: identity, session: session)
        }
        return response
    }

    /// A POST of the host's own (the audit trail's batches), with `identity`'s credentials and
    /// tenant headers like a plugin's request, but no sync session: it writes no entity.
    /// A GET the host makes for itself (no plugin, no sync session), as `identity`'s host.
    func get(_ path: String, as identity: CallIdentity) async throws(ProxyError) -> ProxyResponse {
        var request = HTTPClientRequest(url: configuration.apiURL + path)
        request.method = .GET
        request.headers = try await headers(for: identity)
        return try await perform(request)
    }

    func post(_ path: String, body: [UInt8], as identity: CallIdentity) async throws(ProxyError) -> ProxyResponse {
        var request = HTTPClientRequest(url: configuration.apiURL + path)
        request.method = .POST
        request.headers = try await headers(for: identity)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        return try await perform(request)
    }

    /// A `/v1/` path with no `.` or `..` segment, no empty segment and nothing but visible ASCII
    /// (other characters percent-encoded), so a plugin cannot walk out of the API's surface or
    /// break the request line.
    static func isAPIPath(_ path: String) -> Bool {
        guard path.hasPrefix("/v1/"), path.utf8.allSatisfy({ 0x21...0x7E ~= $0 && $0 != UInt8(ascii: "\\") })
        else { return false }
        let route = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
        let segments = route.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        return segments.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." && !$0.lowercased().contains("%2e") }
    }

    /// The inside of an RFC 9110 entity tag (sent quoted as `If-Match`): visible ASCII but `"`.
    /// Anything else, a line break above all, would break the header.
    static func isEntityTag(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { 0x21...0x7E ~= $0 && $0 != UInt8(ascii: "\"") }
    }

    private static func epochMismatch(_ body: [UInt8]) -> Int64? {
        guard let value = try? JSONValue.parse(body), value["error"] == "epoch_mismatch" else { return nil }
        return value["epoch"]?.int64Value
    }

    private func headers(for identity: CallIdentity) async throws(ProxyError) -> HTTPHeaders {
        let token: String
        do {
            token = try await credentials.token(user: identity.user, tenant: identity.tenant)
        } catch {
            logger.error("cannot sign a delegated credential", metadata: ["error": "\(error)"])
            throw ProxyError(kind: .unavailable, description: "the host could not sign its credential for the API")
        }
        var headers = HTTPHeaders()
        headers.add(name: "Authorization", value: "Bearer \(token)")
        headers.add(name: "X-TB-Tenant-ID", value: identity.tenant)
        if let secret = configuration.tenantSecret {
            let timestamp = Timestamp.nowMilliseconds()
            headers.add(name: "X-TB-Timestamp", value: String(timestamp))
            headers.add(
                name: "X-TB-Signature",
                value: TenantSignature.sign(secret: secret, tenant: identity.tenant, timestampMs: timestamp))
        }
        headers.add(name: "X-Correlation-ID", value: identity.correlationID)
        return headers
    }

    private func execute(
        _ request: ProxyRequest, identity: CallIdentity, session: SyncSessionCache.Session
    ) async throws(ProxyError) -> ProxyResponse {
        var outgoing = HTTPClientRequest(url: configuration.apiURL + request.path)
        outgoing.method = HTTPMethod(rawValue: request.method)
        outgoing.headers = try await headers(for: identity)
        outgoing.headers.add(name: "X-Sync-Session", value: session.id)
        outgoing.headers.add(name: "X-Sync-Epoch", value: String(session.epoch))
        if let ifMatch = request.ifMatch { outgoing.headers.add(name: "If-Match", value: "\"\(ifMatch)\"") }
        if let body = request.body {
            outgoing.headers.add(name: "Content-Type", value: "application/json")
            outgoing.body = .bytes(ByteBuffer(bytes: body))
        }
        return try await tracedPerform(outgoing)
    }

    private func createSession(_ identity: CallIdentity) async throws(ProxyError) -> SyncSessionCache.Creation {
        var request = HTTPClientRequest(url: configuration.apiURL + "/v1/sync/sessions")
        request.method = .POST
        request.headers = try await headers(for: identity)
        let response = try await tracedPerform(request)
        guard response.status == 201, let value = try? JSONValue.parse(response.body),
            let id = value["id"]?.stringValue, let epoch = value["epoch"]?.int64Value
        else { return .refused(response) }
        logger.debug("created a sync session", metadata: ["tenant": "\(identity.tenant)", "user": "\(identity.user)"])
        return .session(SyncSessionCache.Session(id: id, epoch: epoch))
    }

    /// A request of a tool call in a CLIENT span (HTTP client conventions, named after the
    /// method) whose context goes to the API as `traceparent`/`tracestate`, so the API's spans
    /// continue the call's trace.
    private func tracedPerform(_ request: HTTPClientRequest) async throws(ProxyError) -> ProxyResponse {
        let span = startSpan(request.method.rawValue, ofKind: .client)
        defer { span.end() }
        var request = request
        InstrumentationSystem.instrument.inject(span.context, into: &request.headers, using: HTTPHeadersInjector())
        if span.isRecording {
            let url = URLComponents(string: configuration.apiURL)
            span.updateAttributes { attributes in
                attributes[SemanticName.httpRequestMethod] = request.method.rawValue
                attributes[SemanticName.serverAddress] = url?.host
                attributes[SemanticName.serverPort] = url?.port
            }
        }
        do {
            let response = try await perform(request)
            if span.isRecording {
                span.attributes[SemanticName.httpResponseStatusCode] = response.status
                if response.status >= 500 {
                    span.attributes[SemanticName.errorType] = String(response.status)
                    span.setStatus(SpanStatus(code: .error))
                }
            }
            return response
        } catch {
            span.attributes[SemanticName.errorType] = error.kind == .timedOut ? "timeout" : "unavailable"
            span.setStatus(SpanStatus(code: .error, message: error.description))
            throw error
        }
    }

    private func perform(_ request: HTTPClientRequest) async throws(ProxyError) -> ProxyResponse {
        let started = ContinuousClock.now
        do {
            let response = try await client.execute(request, timeout: .init(configuration.requestTimeout))
            let body = try await response.body.collect(upTo: 64 << 20)
            let status = Int(response.status.code)
            // OpenTelemetry's HTTP client rule: a 4xx or 5xx is an error, named by its status code.
            metrics?.clientRequest(
                method: request.method.rawValue, status: status, error: status >= 400 ? String(status) : "", since: started)
            return ProxyResponse(status: status, body: Array(buffer: body))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            metrics?.clientRequest(method: request.method.rawValue, status: nil, error: "timeout", since: started)
            throw ProxyError(kind: .timedOut, description: "the ToolBridge API did not answer in time")
        } catch {
            metrics?.clientRequest(method: request.method.rawValue, status: nil, error: "unavailable", since: started)
            throw ProxyError(
                kind: .unavailable, description: "the ToolBridge API at \(configuration.apiURL) is unreachable")
        }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

extension RESTProxy {
    /// True when the API answers its own readiness check (the Host's `/readyz`).
    public func isAPIReady() async -> Bool {
        var request = HTTPClientRequest(url: configuration.apiURL + "/readyz")
        request.method = .GET
        guard let response = try? await client.execute(request, timeout: .seconds(5)) else { return false }
        _ = try? await response.body.collect(upTo: 1 << 16)
        return response.status == .ok
    }
}

/// Writes the trace context headers into a REST-proxy request to the API.
struct HTTPHeadersInjector: Injector {
    func inject(_ value: String, forKey key: String, into headers: inout HTTPHeaders) {
        headers.replaceOrAdd(name: key, value: value)
    }
}
