import HTTPTypes

/// Why a request's caller was refused: the status to answer with (400, 401 or 403) and a sentence
/// safe to show the caller. The API answers it as an `APIError`, the Host as a `HostHTTPError`.
public struct AuthError: Error, Sendable, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let message: String

    public init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "\(status.code) \(message)" }

    static func badRequest(_ message: String) -> AuthError { AuthError(.badRequest, message) }
    static func unauthorized(_ message: String) -> AuthError { AuthError(.unauthorized, message) }
    static func forbidden(_ message: String) -> AuthError { AuthError(.forbidden, message) }
}
