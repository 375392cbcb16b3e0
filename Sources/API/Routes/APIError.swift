import Hummingbird
import OrderedCollections
import ServerSupport
import ToolBridgeAuth

/// An error the API answers with: its status, a sentence safe to show the caller, and extra
/// fields some errors carry (`deletedAt` on 410, `epoch` on 409).
public struct APIError: Error, Sendable, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let message: String
    public let extra: JSONObject

    public init(_ status: HTTPResponse.Status, _ message: String, extra: JSONObject = [:]) {
        self.status = status
        self.message = message
        self.extra = extra
    }

    /// A refused caller, answered with the authenticator's status and sentence.
    public init(_ error: AuthError) {
        self.init(error.status, error.message)
    }

    public var description: String { "\(status.code) \(message)" }

    public static func badRequest(_ message: String) -> APIError { APIError(.badRequest, message) }
    public static func unauthorized(_ message: String) -> APIError { APIError(.unauthorized, message) }
    public static func forbidden(_ message: String) -> APIError { APIError(.forbidden, message) }
    public static func notFound(_ message: String) -> APIError { APIError(.notFound, message) }

    static func gone(_ message: String, deletedMs: Int64) -> APIError {
        APIError(.gone, message, extra: ["deletedAt": .string(Timestamp.format(milliseconds: deletedMs))])
    }

    static func sessionRequired(_ message: String) -> APIError { APIError(.preconditionRequired, message) }

    /// The JSON body every non-2xx response carries.
    func body(correlationID: String) -> String {
        var object: JSONObject = ["error": .string(message)]
        for (key, value) in extra { object[key] = value }
        object["correlation_id"] = .string(correlationID)
        return JSONValue.object(object).serialized
    }
}
