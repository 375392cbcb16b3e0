import HTTPTypes
import Hummingbird
import Metrics

/// What both HTTP servers count: requests by route and status, requests in progress,
/// authentication failures by reason and rate-limit rejections by limit.
public final class HTTPServerMetrics: Sendable {
    public let registry: MetricsRegistry
    let requestDuration: InstrumentFamily<Metrics.Timer>
    let activeRequests: Meter
    private let authFailures: InstrumentFamily<Metrics.Counter>
    private let rateLimitRejections: InstrumentFamily<Metrics.Counter>

    /// The route label of a request that matched no route: one value, so probing clients cannot
    /// create a series per path.
    public static let unmatchedRoute = "unmatched"

    public init(registry: MetricsRegistry) {
        self.registry = registry
        requestDuration = registry.timers(
            "http_server_request_duration_seconds",
            help: "Time from a request's arrival until its response head is ready (event streams: until the stream opens).",
            labels: [SemanticName.httpRequestMethod, SemanticName.httpRoute, SemanticName.httpResponseStatusCode])
        activeRequests = registry.gauges(
            "http_server_active_requests", help: "Requests being answered now.", labels: [])()
        authFailures = registry.counters(
            "toolbridge_auth_failures_total", help: "Requests refused because of their credentials, by reason.",
            labels: ["reason"])
        rateLimitRejections = registry.counters(
            "toolbridge_rate_limit_rejections_total", help: "Requests and tool calls refused by a rate limit.",
            labels: ["limit", SemanticName.tenant])
    }

    /// One request refused for its credentials; `reason` is one of `AuthError.Reason`'s values.
    public func authFailure(_ reason: String) {
        authFailures(reason).increment()
    }

    /// One request or call refused by `limit`; `tenant` empty when not known yet.
    public func rateLimitRejected(limit: String, tenant: String) {
        rateLimitRejections(limit, tenant).increment()
    }

    /// OpenTelemetry's rule for `http.request.method`: known methods as they are, any other
    /// `_OTHER`, so a client cannot create series with invented methods.
    static func methodLabel(_ method: HTTPRequest.Method) -> String {
        switch method {
        case .get, .head, .post, .put, .delete, .patch, .options, .connect, .trace: method.rawValue
        default: "_OTHER"
        }
    }
}

/// Records every request's duration by method, matched route template and status, and the
/// requests in progress. Outermost, so it sees the status the client gets.
public struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: HTTPServerMetrics

    public init(metrics: HTTPServerMetrics) {
        self.metrics = metrics
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let started = ContinuousClock.now
        metrics.activeRequests.increment()
        defer { metrics.activeRequests.decrement() }
        do {
            let response = try await next(request, context)
            record(request, context, response.status, since: started)
            return response
        } catch {
            record(request, context, (error as? any HTTPResponseError)?.status ?? .internalServerError, since: started)
            throw error
        }
    }

    private func record(_ request: Request, _ context: Context, _ status: HTTPResponse.Status, since started: ContinuousClock.Instant) {
        // The router writes the matched route's template (`/v1/{kind}/{uid}`); "NotFound" when none matched.
        let route = context.endpointPath.flatMap { $0 == "NotFound" ? nil : $0 } ?? HTTPServerMetrics.unmatchedRoute
        metrics.requestDuration(HTTPServerMetrics.methodLabel(request.method), route, String(status.code))
            .record(duration: started.duration(to: .now))
    }
}

/// Where `/metrics` is served and who may read it.
public struct MetricsAccess: Sendable {
    /// A separate listener for `/metrics` (a private network); the main port then has none.
    public var port: Int?
    /// When set, `/metrics` needs `Authorization: Bearer <token>`.
    public var token: String?

    public init(port: Int? = nil, token: String? = nil) {
        self.port = port
        self.token = token
    }
}

/// `GET /metrics`: the registry's text exposition, behind the bearer token when one is set.
public struct MetricsEndpoint: Sendable {
    let registry: MetricsRegistry
    let token: String?

    public init(registry: MetricsRegistry, token: String?) {
        self.registry = registry
        self.token = token
    }

    public func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("metrics") { request, _ in response(request) }
    }

    public func response(_ request: Request) -> Response {
        if let token {
            guard let given = request.headers[.authorization], Self.constantTimeEqual(given, "Bearer " + token) else {
                return Response(
                    status: .unauthorized,
                    headers: [.contentType: "application/json", .wwwAuthenticate: "Bearer"],
                    body: .init(byteBuffer: ByteBuffer(string: #"{"error":"/metrics needs Authorization: Bearer <TOOLBRIDGE_METRICS_TOKEN>"}"#)))
            }
        }
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: registry.exposition())))
    }

    /// Compares every byte whatever differs first, so the time taken tells nothing about the
    /// token but its length.
    static func constantTimeEqual(_ given: String, _ expected: String) -> Bool {
        let given = Array(given.utf8)
        let expected = Array(expected.utf8)
        guard given.count == expected.count else { return false }
        var difference: UInt8 = 0
        for index in expected.indices { difference |= given[index] ^ expected[index] }
        return difference == 0
    }
}
