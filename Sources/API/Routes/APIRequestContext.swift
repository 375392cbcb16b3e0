import Hummingbird

/// The request context of the API: Hummingbird's core storage plus the correlation id that
/// every log line and error body of the request carries, and the request's rate-limit charge.
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var correlationID: String
    /// Set by `RateLimitMiddleware` for every request of the API's router.
    public var rateLimit: RateLimitCharge?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        correlationID = ""
    }
}
