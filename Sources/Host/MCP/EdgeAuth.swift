import Foundation
import Hummingbird
import ServerSupport
import ToolBridgeAuth
import ToolBridgeJSON

/// Authentication at the MCP edge: the host verifies the bearer JWT itself (same verifier as the
/// API) and takes the tenant from the token, or from a plain `X-TB-Tenant-ID` naming one of the
/// token's tenants; the REST proxy signs the tenant headers toward the API. Failures carry the
/// response the MCP authorization spec asks for.
struct EdgeAuth: Sendable {
    let authenticator: Authenticator
    /// Every authenticated request is charged to its user's request limit.
    let limits: EdgeLimits
    /// The host's external URL (`TOOLBRIDGE_PUBLIC_URL`), when set; else each request's `Host`.
    let publicURL: String?

    func identity(_ request: Request) async throws(HostHTTPError) -> CallIdentity {
        let caller: Caller
        do {
            caller = try await authenticator.edgeCaller(request.headers)
        } catch {
            limits.metrics?.http.authFailure(error.reason.description)
            if error.status == .unauthorized {
                let metadata = baseURL(request) + "/.well-known/oauth-protected-resource"
                throw HostHTTPError(
                    .unauthorized, error.message,
                    headers: [.wwwAuthenticate: "Bearer resource_metadata=\"\(metadata)\", error=\"invalid_token\""])
            }
            throw HostHTTPError(error.status, error.message)
        }
        try limits.admitRequest(user: caller.user, tenant: caller.tenant)
        return CallIdentity(
            user: caller.user, tenant: caller.tenant,
            correlationID: request.headers[.correlationID] ?? UUID().uuidString.lowercased())
    }

    /// Where clients reach the host: the configured public URL (behind a proxy or TLS terminator
    /// the request's `Host` is not what clients use), else the request's own authority.
    func baseURL(_ request: Request) -> String {
        publicURL ?? "http://" + (request.head.authority ?? "127.0.0.1")
    }
}

/// An HTTP-level failure of the Host, rendered as `{"error": "..."}` with its status and headers,
/// or as a JSON-RPC error body when it has a JSON-RPC code.
struct HostHTTPError: Error, Sendable {
    let status: HTTPResponse.Status
    let message: String
    let headers: HTTPFields
    let jsonRPCCode: Int64?

    init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:], jsonRPCCode: Int64? = nil) {
        self.status = status
        self.message = message
        self.headers = headers
        self.jsonRPCCode = jsonRPCCode
    }

    var response: Response {
        guard let jsonRPCCode else {
            return .json(JSONValue.object(["error": .string(message)]).serialized, status: status, headers: headers)
        }
        var response = jsonRPCError(code: jsonRPCCode, message: message, status: status)
        response.headers.append(contentsOf: headers)
        return response
    }
}

/// A JSON-RPC error response body, for messages that never reach an MCP server.
func jsonRPCError(code: Int64, message: String, status: HTTPResponse.Status = .badRequest) -> Response {
    .json(SessionRouter.error(id: .null, code: code, message), status: status)
}
