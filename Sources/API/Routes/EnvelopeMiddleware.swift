import Hummingbird
import Logging
import Observability
import ServerSupport
import ToolBridgeAuth

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The outermost middleware: gives the request a correlation id (the caller's `X-Correlation-ID`
/// when it is sane), returns it on every response, and turns every error into the API's JSON
/// error shape, so nothing a handler throws reaches the client unformatted.
struct EnvelopeMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    /// Counts authentication failures by reason; nil when metrics are off.
    let metrics: HTTPServerMetrics?

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        let correlationID = request.headers[.correlationID].flatMap(Self.sanitized) ?? UUID().uuidString.lowercased()
        context.correlationID = correlationID
        context.logger[metadataKey: "correlation_id"] = "\(correlationID)"

        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as APIError {
            response = Self.errorResponse(error, correlationID: correlationID)
        } catch let error as AuthError {
            metrics?.authFailure(error.reason.description)
            response = Self.errorResponse(APIError(error), correlationID: correlationID)
        } catch let error as HTTPError {
            let message = error.body ?? Self.defaultMessage(error.status, request)
            response = Self.errorResponse(APIError(error.status, message), correlationID: correlationID)
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
            response = Self.errorResponse(
                APIError(.internalServerError, "internal error; quote correlation id \(correlationID) when reporting it"),
                correlationID: correlationID)
        }
        response.headers[.correlationID] = correlationID
        if response.status.code >= 500 {
            context.logger.error("\(request.method) \(request.uri.path) \(response.status.code)")
        } else {
            context.logger.debug("\(request.method) \(request.uri.path) \(response.status.code)")
        }
        return response
    }

    static func errorResponse(_ error: APIError, correlationID: String) -> Response {
        .json(error.body(correlationID: correlationID), status: error.status)
    }

    private static func defaultMessage(_ status: HTTPResponse.Status, _ request: Request) -> String {
        switch status {
        case .notFound: "no such endpoint: \(request.method) \(request.uri.path)"
        case .methodNotAllowed: "\(request.method) is not allowed on \(request.uri.path)"
        default: status.reasonPhrase
        }
    }

    /// Correlation ids reach logs and other services: accept only short token characters.
    private static func sanitized(_ value: String) -> String? {
        guard (1...128).contains(value.utf8.count),
            value.utf8.allSatisfy({ (0x21...0x7E).contains($0) && $0 != UInt8(ascii: "\"") })
        else { return nil }
        return value
    }
}
