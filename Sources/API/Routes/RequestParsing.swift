import Hummingbird
import NIOCore
import ServerSupport

/// Reading requests the same way on every endpoint, with errors that say what was wrong.
struct RequestParsing {
    let maxBodyBytes: Int

    /// The body as JSON, however it arrives: a declared `Content-Length` over the limit is refused
    /// before reading, and a chunked body as soon as its bytes pass the limit.
    func jsonBody(_ request: Request) async throws -> JSONValue {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes {
            throw tooLarge
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw tooLarge
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw tooLarge
        }
        guard buffer.readableBytes > 0 else { throw APIError.badRequest("the request body is empty; send JSON") }
        do {
            return try JSONValue.parse(buffer.readableBytesView)
        } catch {
            throw APIError.badRequest("the request body is \(error)")
        }
    }

    func objectBody(_ request: Request) async throws -> JSONObject {
        let body = try await jsonBody(request)
        guard let object = body.objectValue else {
            throw APIError.badRequest("the request body must be a JSON object, not \(body.typeName == "array" ? "an" : "a") \(body.typeName)")
        }
        return object
    }

    private var tooLarge: APIError {
        APIError(.contentTooLarge, "the request body is larger than the limit of \(maxBodyBytes) bytes")
    }

    static func kind(_ context: APIRequestContext) throws -> EntityKind {
        let name = context.parameters.get("kind") ?? ""
        guard let kind = EntityKind.named(name) else {
            throw APIError.notFound("unknown kind '\(name)'; kinds are \(kindNames)")
        }
        return kind
    }

    private static var kindNames: String { EntityKind.all.map(\.name).joined(separator: ", ") }

    /// A kind by its plural or singular name (`notes`, `note`), outside the path.
    static func kind(named name: String, field: String) throws(APIError) -> EntityKind {
        guard let kind = EntityKind.named(name) ?? EntityKind.all.first(where: { $0.singular == name }) else {
            throw .badRequest("\(field) '\(name)' is not a kind; kinds are \(kindNames)")
        }
        return kind
    }

    /// `kinds=notes,tasks`; every kind when absent.
    static func kinds(_ request: Request) throws -> [EntityKind] {
        guard let text = request.uri.queryParameters.get("kinds"), !text.trimmingWhitespace().isEmpty else {
            return EntityKind.all
        }
        var kinds: [EntityKind] = []
        for name in text.split(separator: ",") {
            let kind = try kind(named: String(name).trimmingWhitespace(), field: "kinds")
            if !kinds.contains(kind) { kinds.append(kind) }
        }
        return kinds
    }

    static func uid(_ context: APIRequestContext, parameter: String = "uid") throws -> String {
        let text = context.parameters.get(parameter) ?? ""
        guard let uid = ItemWrites.canonicalUID(text) else {
            throw APIError.badRequest("'\(text)' is not a valid uid: expected a UUID")
        }
        return uid
    }

    static func flag(_ request: Request, _ name: String) throws -> Bool {
        guard let value = request.uri.queryParameters.get(name) else { return false }
        switch value.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no", "": return false
        default: throw APIError.badRequest("\(name) must be true or false, not '\(value)'")
        }
    }

    static let defaultLimit = 100
    static let maximumLimit = 1000

    /// `limit` defaults to 100; values above 1000 are clamped to 1000 (other endpoints pass their own).
    static func limit(_ request: Request, default fallback: Int = defaultLimit, maximum: Int = maximumLimit) throws -> Int {
        guard let text = request.uri.queryParameters.get("limit") else { return fallback }
        guard let value = Int(text), value >= 1 else {
            throw APIError.badRequest("limit must be a whole number from 1 to \(maximum), not '\(text)'")
        }
        return min(value, maximum)
    }

    /// A whole-number query parameter within `range`, or `fallback` when absent.
    static func integer(_ request: Request, _ name: String, in range: ClosedRange<Int>, default fallback: Int) throws -> Int {
        guard let text = request.uri.queryParameters.get(name) else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw APIError.badRequest(
                "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return value
    }

    /// The furthest a search can page: results are ranked per request, so deep offsets only cost.
    static let maximumOffset = 100_000

    /// The position a search page starts at; results are ranked per request, so the cursor is an offset.
    static func offsetCursor(_ request: Request) throws -> Int {
        guard let text = request.uri.queryParameters.get("cursor"), !text.isEmpty else { return 0 }
        return try offset(fromCursor: text)
    }

    /// The offset in a search cursor (base64url of `o<offset>`), from 0 to `maximumOffset`.
    static func offset(fromCursor text: String) throws(APIError) -> Int {
        guard let bytes = Base64URL.decode(text), let decoded = String(validating: bytes, as: UTF8.self),
            decoded.hasPrefix("o"), let offset = Int(decoded.dropFirst()), (0...maximumOffset).contains(offset)
        else { throw invalidCursor }
        return offset
    }

    static func offsetCursor(_ offset: Int) -> String {
        Base64URL.encode(Array("o\(offset)".utf8))
    }

    static func cursor(_ request: Request) throws -> (updatedMs: Int64, uid: String)? {
        guard let text = request.uri.queryParameters.get("cursor"), !text.isEmpty else { return nil }
        return try position(fromCursor: text)
    }

    /// The list position in a cursor (base64url of `ms|uid`): any int64 and a UUID. The time is
    /// only compared with stored ones, so no value can overflow anything.
    static func position(fromCursor text: String) throws(APIError) -> (updatedMs: Int64, uid: String) {
        guard let bytes = Base64URL.decode(text), let decoded = String(validating: bytes, as: UTF8.self) else {
            throw invalidCursor
        }
        let parts = decoded.split(separator: "|", maxSplits: 1)
        guard parts.count == 2, let ms = Int64(parts[0]), let uid = ItemWrites.canonicalUID(String(parts[1])) else {
            throw invalidCursor
        }
        return (ms, uid)
    }

    static func cursor(after item: StoredItem) -> String {
        Base64URL.encode(Array("\(item.updatedMs)|\(item.uid)".utf8))
    }

    private static let invalidCursor = APIError.badRequest("cursor is not valid: pass back a nextCursor unchanged")

    /// `If-Match: "3"`, `3` or `W/"3"`; nil when absent. Versions start at 1.
    static func ifMatch(_ request: Request) throws -> Int64? {
        guard let text = request.headers[.ifMatch] else { return nil }
        var value = Substring(text.trimmingWhitespace())
        if value.hasPrefix("W/") { value = value.dropFirst(2) }
        if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
        guard let version = Int64(value), version >= 1 else {
            throw APIError.badRequest(
                "If-Match must be an item version from 1 to \(Int64.max), such as \"3\", not '\(text)'")
        }
        return version
    }

    /// A list filter's value, checked as the column it is compared with holds values: a uid
    /// filter (`parentUid`, `chatUid`) must be a UUID; a text filter must fit the index.
    static func filterValue(_ value: String, _ filter: ListFilter) throws(APIError) -> String {
        guard filter.field == .parentUID else {
            try ItemWrites.checkIndexed(value, field: filter.name)
            return value
        }
        guard let uid = ItemWrites.canonicalUID(value) else { throw .badRequest("\(filter.name) must be a UUID") }
        return uid
    }
}
