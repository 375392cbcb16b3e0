import HTTPTypes
import Hummingbird
import Tracing

/// Reads trace context headers (W3C `traceparent` and `tracestate` with the default
/// propagator) from a request for the tracer's propagator.
public struct HTTPFieldsExtractor: Extractor {
    public init() {}

    public func extract(key: String, from fields: HTTPFields) -> String? {
        HTTPField.Name(key).flatMap { fields[$0] }
    }
}

/// Makes the caller's trace context (its `traceparent` header) the current one for the rest of
/// the request, without a span of its own: the host's MCP request spans are its children, and a
/// long-lived stream does not become one span that lasts as long as the stream.
public struct TraceContextMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var trace = InstrumentationContext.topLevel
        InstrumentationSystem.instrument.extract(request.headers, into: &trace, using: HTTPFieldsExtractor())
        return try await InstrumentationContext.$current.withValue(trace) { try await next(request, context) }
    }
}
