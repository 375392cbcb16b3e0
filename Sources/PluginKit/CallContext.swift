import PluginABI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An API response as a tool sees it.
public struct APIResponse: Sendable {
    public let status: Int
    public let body: JSONValue?

    public var isSuccess: Bool { (200..<300).contains(status) }

    /// The body of a 2xx response, else the API's sentence as a tool error carrying its status.
    public func result() throws(ToolError) -> JSONValue {
        guard isSuccess else {
            let sentence = body?["error"]?.stringValue ?? "the ToolBridge API answered \(status)"
            throw ToolError(.toolError, sentence, httpStatus: status)
        }
        return body ?? .object([:])
    }
}

/// The host's services for one call: requests to the API as the calling user, the log,
/// cancellation. Valid only while the tool's handler runs.
public struct CallContext: @unchecked Sendable {
    // The host's table is immutable and thread-safe by the ABI's rules; the context pointer
    // is valid for the duration of the call.
    let services: UnsafePointer<tb_host_services>
    let context: OpaquePointer?

    /// Sends a request to the ToolBridge REST API through the host's proxy.
    public func request(
        _ method: String, _ path: String, body: JSONValue? = nil, ifMatch: String? = nil
    ) throws(ToolError) -> APIResponse {
        guard let apiRequest = services.pointee.api_request else {
            throw ToolError(.unimplemented, "the host offers no API requests")
        }
        var bodyBytes: [UInt8] = []
        body?.write(to: &bodyBytes)
        var response = tb_api_response()
        response.struct_size = UInt32(MemoryLayout<tb_api_response>.size)
        let status: Int32 = method.withCString { methodPointer in
            path.withCString { pathPointer in
                bodyBytes.withUnsafeBufferPointer { bodyPointer in
                    withOptionalCString(ifMatch) { ifMatchPointer in
                        var request = tb_api_request()
                        request.struct_size = UInt32(MemoryLayout<tb_api_request>.size)
                        request.method = methodPointer
                        request.path = pathPointer
                        request.path_length = path.utf8.count
                        request.body = bodyBytes.isEmpty ? nil : bodyPointer.baseAddress
                        request.body_length = bodyBytes.count
                        request.if_match = ifMatchPointer
                        return apiRequest(context, &request, &response)
                    }
                }
            }
        }
        defer { if let pointer = response.body { services.pointee.free?(pointer) } }
        guard status == TB_OK else {
            // Only the call's own fate passes through; anything else is this plugin's bug.
            let kind: ToolError.Kind =
                switch status {
                case TB_UNAVAILABLE: .unavailable
                case TB_CANCELLED: .cancelled
                case TB_DEADLINE_EXCEEDED: .deadlineExceeded
                default: .internalError
                }
            throw ToolError(kind, Self.sentence(for: kind))
        }
        var parsed: JSONValue?
        if let pointer = response.body, response.body_length > 0 {
            do {
                parsed = try JSONValue.parse(UnsafeBufferPointer(start: pointer, count: response.body_length))
            } catch {
                throw ToolError(.internalError, "the ToolBridge API answered \(response.http_status) with a body that is not JSON")
            }
        }
        return APIResponse(status: Int(response.http_status), body: parsed)
    }

    private static func sentence(for kind: ToolError.Kind) -> String {
        switch kind {
        case .unavailable: "the ToolBridge API is unreachable"
        case .cancelled: "the call was cancelled"
        case .deadlineExceeded: "the call ran out of time"
        default: "the request to the ToolBridge API failed"
        }
    }

    /// True once the client has cancelled the call.
    public var isCancelled: Bool { services.pointee.is_cancelled?(context) == 1 }

    public enum LogLevel: Int32, Sendable {
        case debug = 0, info, warning, error
    }

    public func log(_ level: LogLevel, _ message: String) {
        var message = message
        message.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { characters in
                services.pointee.log?(context, level.rawValue, characters.baseAddress, characters.count)
            }
        }
    }

    /// `user`, `tenant` or `correlation_id` of the call.
    public func value(_ key: String) -> String? {
        var pointer: UnsafeMutablePointer<UInt8>?
        var length = 0
        guard services.pointee.context_value?(context, key, &pointer, &length) == TB_OK, let pointer else {
            return nil
        }
        defer { services.pointee.free?(pointer) }
        return String(decoding: UnsafeBufferPointer(start: pointer, count: length), as: UTF8.self)
    }
}

private func withOptionalCString<Result>(_ text: String?, _ body: (UnsafePointer<CChar>?) -> Result) -> Result {
    guard let text else { return body(nil) }
    return text.withCString { body($0) }
}
