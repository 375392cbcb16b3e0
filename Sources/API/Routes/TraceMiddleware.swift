import EntityKinds
import Hummingbird
import Observability
import Tracing

/// The API's SERVER span per request, continuing the caller's trace (its `traceparent` header,
/// which the host's REST proxy sends). Named after the method and route template with the kind
/// filled in (`GET /v1/notes/{uid}`): the kinds are a fixed set, so the name stays low-cardinality.
/// Outermost, so every log line of the request carries the span's ids.
struct TraceMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var parent = InstrumentationContext.topLevel
        InstrumentationSystem.instrument.extract(request.headers, into: &parent, using: HTTPFieldsExtractor())
        let method = request.method.rawValue
        return try await withSpan(method, context: parent, ofKind: .server) { span in
            do {
                let response = try await next(request, context)
                if span.isRecording { Self.describe(span, method: method, context: context, status: Int(response.status.code)) }
                return response
            } catch {
                if span.isRecording {
                    let status = (error as? any HTTPResponseError).map { Int($0.status.code) } ?? 500
                    Self.describe(span, method: method, context: context, status: status)
                }
                throw error
            }
        }
    }

    private static func describe(_ span: any Span, method: String, context: Context, status: Int) {
        let route = Self.route(context)
        span.operationName = route.map { "\(method) \($0)" } ?? method
        span.updateAttributes { attributes in
            attributes[SemanticName.httpRequestMethod] = method
            attributes[SemanticName.httpRoute] = route
            attributes[SemanticName.httpResponseStatusCode] = status
            if status >= 500 { attributes[SemanticName.errorType] = String(status) }
        }
        if status >= 500 { span.setStatus(SpanStatus(code: .error)) }
    }

    /// The matched route template; `{kind}` replaced by a known kind's name. Nil when no route matched.
    private static func route(_ context: Context) -> String? {
        guard let path = context.endpointPath, path != "NotFound" else { return nil }
        guard path.contains("{kind}"), let kind = context.parameters.get("kind"), EntityKind.named(kind) != nil else {
            return path
        }
        return path.replacing("{kind}", with: kind)
    }
}
