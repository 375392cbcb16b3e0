import Hummingbird

/// The request context of the API: Hummingbird's core storage plus the correlation id that
/// every log line and error body of the request carries.
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var correlationID: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        correlationID = ""
    }
}
