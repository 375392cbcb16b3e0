import HTTPTypes
import Hummingbird
import Observability
import ServerSupport
import Synchronization
import ToolBridgeAuth

/// The API's rate limits, per user (the verified `sub`) and per process: behind N replicas a user
/// gets N times as much unless the load balancer pins users to replicas.
public struct APIRateLimits: Sendable, Equatable {
    /// Entity, sync, search, insights and batch endpoints.
    public var requests: RateLimit
    /// Sync-session and auth endpoints (`/v1/sync/sessions*`, `/v1/auth/*`).
    public var sessions: RateLimit

    public init(
        requests: RateLimit = .init(count: 600, periodSeconds: 60, burst: 120),
        sessions: RateLimit = .init(count: 60, periodSeconds: 60, burst: 20)
    ) {
        self.requests = requests
        self.sessions = sessions
    }

    /// Which of the two limits an endpoint counts against.
    public enum Class: Sendable {
        case requests, sessions
    }
}

extension HTTPField.Name {
    static let rateLimitLimit = HTTPField.Name("X-RateLimit-Limit")!
    static let rateLimitRemaining = HTTPField.Name("X-RateLimit-Remaining")!
    static let rateLimitReset = HTTPField.Name("X-RateLimit-Reset")!
}

/// One request's rate-limit charge. The user is known only once the route has verified the
/// token, so the middleware puts this box in the context, the route charges it right after
/// authenticating, and the middleware copies the headers the charge produced onto the response,
/// whether it succeeded or failed. A reference type: contexts passed to `next` are copies.
public final class RateLimitCharge: Sendable {
    private let limiter: RateLimiter
    private let limits: APIRateLimits
    private let metrics: HTTPServerMetrics?
    private let headers = Mutex<HTTPFields>([:])

    init(limiter: RateLimiter, limits: APIRateLimits, metrics: HTTPServerMetrics?) {
        self.limiter = limiter
        self.limits = limits
        self.metrics = metrics
    }

    var responseHeaders: HTTPFields { headers.withLock { $0 } }

    /// Charges one request of `user` (acting in `tenant`) to the limit of `limitClass`; throws
    /// the 429 when the user is over it.
    func charge(user: String, tenant: String, _ limitClass: APIRateLimits.Class) throws(APIError) {
        let (limit, key, name) =
            switch limitClass {
            case .requests: (limits.requests, "requests:" + user, "api_requests")
            case .sessions: (limits.sessions, "sessions:" + user, "api_sessions")
            }
        guard let decision = limiter.take(key, limit) else { return }
        var fields: HTTPFields = [
            .rateLimitLimit: String(decision.limit), .rateLimitRemaining: String(decision.remaining),
            .rateLimitReset: String(decision.resetSeconds),
        ]
        if !decision.allowed { fields[.retryAfter] = String(decision.retryAfterSeconds) }
        headers.withLock { $0 = fields }
        guard decision.allowed else {
            metrics?.rateLimitRejected(limit: name, tenant: tenant)
            throw APIError(
                .tooManyRequests,
                "rate limit exceeded: \(limit) per user for these endpoints; retry in \(decision.retryAfterSeconds) s")
        }
    }
}

/// Gives every request a `RateLimitCharge` and puts the headers of its charge on the response.
/// Outside the envelope middleware, so errors have already become responses when it adds them.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let limiter: RateLimiter
    let limits: APIRateLimits
    let metrics: HTTPServerMetrics?

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        let charge = RateLimitCharge(limiter: limiter, limits: limits, metrics: metrics)
        context.rateLimit = charge
        var response = try await next(request, context)
        response.headers.append(contentsOf: charge.responseHeaders)
        return response
    }
}

extension APIRoutes {
    /// The authenticated caller of a direct API request, charged to its rate limit. The request's
    /// log says who it is and with which kind of credential (the user's own token, or a host's
    /// delegated one), never the token.
    func caller(
        _ request: Request, _ context: APIRequestContext, _ limitClass: APIRateLimits.Class = .requests
    ) async throws -> Caller {
        let caller = try await authenticator.caller(request.headers)
        context.logger.debug(
            "authenticated",
            metadata: ["user": "\(caller.user)", "tenant": "\(caller.tenant)", "credential": "\(caller.credential)"])
        try context.rateLimit?.charge(user: caller.user, tenant: caller.tenant, limitClass)
        return caller
    }
}
