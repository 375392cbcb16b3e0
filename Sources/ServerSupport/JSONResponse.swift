import HTTPTypes
import Hummingbird

extension HTTPField.Name {
    /// The id a request's log lines and error body carry; the API and the Host pass it on.
    public static let correlationID = HTTPField.Name("X-Correlation-ID")!
}

extension Response {
    /// A JSON body with its content type: every JSON response of the API and the Host.
    package static func json(_ text: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
