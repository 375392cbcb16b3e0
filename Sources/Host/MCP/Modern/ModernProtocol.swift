import HTTPTypes
import MCP
import ToolBridgeJSON
import Tracing

/// MCP 2026-07-28, the stateless revision: no `initialize`, no session; every request carries its
/// protocol version and client capabilities in `params._meta`, every result a `resultType`.
/// The transports (Streamable HTTP, stdio) parse and answer with these pieces; the handshake era
/// (2024-11-05 … 2025-11-25) stays with the SDK's `Server`.
enum ModernProtocol {
    /// The modern revisions served.
    static let versions = ["2026-07-28"]
    /// Every revision served, newest first: the modern ones and the handshake era's.
    static let supportedVersions = versions + Version.supported.sorted(by: >)

    static let versionKey = "io.modelcontextprotocol/protocolVersion"
    static let capabilitiesKey = "io.modelcontextprotocol/clientCapabilities"
    static let logLevelKey = "io.modelcontextprotocol/logLevel"
    static let serverInfoKey = "io.modelcontextprotocol/serverInfo"
    static let subscriptionKey = "io.modelcontextprotocol/subscriptionId"

    static let logLevels: Set<String> = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]

    /// The params key mirrored into `Mcp-Name`, per method that has one.
    static let nameKeys = ["tools/call": "name", "prompts/get": "name", "resources/read": "uri"]

    /// True when a message body says it is modern: `params._meta` names a protocol version.
    static func isModern(_ message: JSONValue) -> Bool {
        message["params"]?["_meta"]?[versionKey] != nil
    }

    static let serverInfo: JSONValue = [
        "name": "toolbridge", "title": "ToolBridge", "version": .string(MCPServerFactory.version),
    ]
}

/// A JSON-RPC error of the modern era, with the HTTP status the Streamable HTTP binding gives it.
struct ModernError: Error, Sendable {
    let code: Int64
    let message: String
    var data: JSONValue?
    /// The request's id; null when it could not be read.
    var id: JSONValue = .null

    static func parse(_ reason: String) -> ModernError { .init(code: -32700, message: "Parse error: \(reason)") }
    static func invalidRequest(_ message: String, id: JSONValue = .null) -> ModernError {
        .init(code: -32600, message: "Invalid Request: \(message)", id: id)
    }
    static func invalidParams(_ message: String, id: JSONValue) -> ModernError {
        .init(code: -32602, message: message, id: id)
    }
    static func headerMismatch(_ message: String, id: JSONValue) -> ModernError {
        .init(code: -32020, message: "Header mismatch: \(message)", id: id)
    }
    static func unsupportedVersion(_ requested: String, id: JSONValue) -> ModernError {
        .init(
            code: -32022, message: "Unsupported protocol version \(requested); supported: \(ModernProtocol.supportedVersions.joined(separator: ", "))",
            data: ["supported": .array(ModernProtocol.supportedVersions.map(JSONValue.string)), "requested": .string(requested)],
            id: id)
    }
    static func methodNotFound(_ method: String, id: JSONValue) -> ModernError {
        .init(code: -32601, message: "Method not found: \(method)", id: id)
    }

    /// 404 for an unknown method, 400 for a malformed or refused request (the transport spec's
    /// MUSTs and the official SDK's table); other errors ride a 200.
    var status: HTTPTypes.HTTPResponse.Status {
        switch code {
        case -32601: .notFound
        case -32700, -32600, -32602, -32020, -32021, -32022: .badRequest
        default: .ok
        }
    }

    var response: JSONValue {
        var error: JSONObject = ["code": .integer(code), "message": .string(message)]
        if let data { error["data"] = data }
        return ["jsonrpc": "2.0", "id": id, "error": .object(error)]
    }
}

/// One message of the modern era as read from the wire: a request (with its checked envelope) or
/// a notification, which is acknowledged and dropped (the revision defines none from clients on HTTP).
enum ModernMessage: Sendable {
    case request(ModernRequest)
    case notification(method: String)

    /// Reads a JSON-RPC message. Ids are strings or numbers, echoed as sent (a number keeps its
    /// literal); anything else is an invalid request answered with a null id.
    static func read(_ value: JSONValue) throws(ModernError) -> ModernMessage {
        guard let object = value.objectValue else {
            throw .invalidRequest("send one JSON-RPC request object per message (batches are not supported)")
        }
        guard let rawID = object["id"] else {
            guard object["jsonrpc"] == "2.0", let method = object["method"]?.stringValue else {
                throw .invalidRequest("a notification needs \"jsonrpc\": \"2.0\" and a method")
            }
            return .notification(method: method)
        }
        let id: JSONValue
        switch rawID {
        case .string, .number: id = rawID
        default: throw .invalidRequest("the id must be a string or a number, not \(rawID.typeName)")
        }
        guard object["jsonrpc"] == "2.0" else { throw .invalidRequest("\"jsonrpc\" must be \"2.0\"", id: id) }
        guard let method = object["method"]?.stringValue else {
            throw .invalidRequest(object["method"] == nil ? "no method" : "the method must be a string", id: id)
        }
        let params: JSONObject
        switch object["params"] {
        case nil: params = [:]
        case .object(let given)?: params = given
        case let other?: throw .invalidRequest("params must be an object, not \(other.typeName)", id: id)
        }
        return .request(try ModernRequest(id: id, method: method, params: params))
    }
}

/// A request whose `_meta` envelope carries the required keys. The version is checked apart
/// (`checkVersion`) because on HTTP the routing headers are compared first: a client whose
/// header and body disagree is told so rather than told its version is unsupported.
struct ModernRequest: Sendable {
    let id: JSONValue
    let method: String
    let params: JSONObject
    let meta: JSONObject

    init(id: JSONValue, method: String, params: JSONObject) throws(ModernError) {
        self.id = id
        self.method = method
        self.params = params
        guard let meta = params["_meta"]?.objectValue else {
            throw .invalidParams(
                "params._meta must be an object carrying \(ModernProtocol.versionKey) and \(ModernProtocol.capabilitiesKey)", id: id)
        }
        let missing = [ModernProtocol.versionKey, ModernProtocol.capabilitiesKey].filter { meta[$0] == nil }
        guard missing.isEmpty else {
            throw .invalidParams("params._meta is missing the required key(s): \(missing.joined(separator: ", "))", id: id)
        }
        self.meta = meta
    }

    /// The version must be one served; capabilities an object; a log level, if any, a known one.
    func checkVersion() throws(ModernError) {
        guard let version = meta[ModernProtocol.versionKey]?.stringValue else {
            throw .invalidParams("\(ModernProtocol.versionKey) must be a string", id: id)
        }
        guard ModernProtocol.versions.contains(version) else { throw .unsupportedVersion(version, id: id) }
        guard meta[ModernProtocol.capabilitiesKey]?.objectValue != nil else {
            throw .invalidParams("\(ModernProtocol.capabilitiesKey) must be an object", id: id)
        }
        if let level = meta[ModernProtocol.logLevelKey], !ModernProtocol.logLevels.contains(level.stringValue ?? "") {
            throw .invalidParams(
                "\(ModernProtocol.logLevelKey) must be one of \(ModernProtocol.logLevels.sorted().joined(separator: ", "))", id: id)
        }
    }

    var version: String { meta[ModernProtocol.versionKey]?.stringValue ?? "" }
}

/// Answers the modern era's request/response methods for one caller; the transports add
/// `subscriptions/listen`, which is a stream.
struct ModernServer: Sendable {
    let catalog: ToolCatalog
    /// The transport it answers on, for metrics and spans.
    let transport: HostMetrics.Transport

    static let instructions = "Tools for the user's notes, tasks, comments, chats and chat messages."
    /// How long a client may reuse a `tools/list` or `server/discover` answer. Changes also reach
    /// listeners at once (`notifications/tools/list_changed`), which invalidates their copy.
    static let listTTLMilliseconds: Int64 = 60_000

    /// The JSON-RPC response to `request` (already checked) made as `caller`.
    func respond(to request: ModernRequest, as caller: CallIdentity) async -> JSONValue {
        let observation = MCPRequestObservation(
            method: request.method, id: request.id,
            tool: request.method == "tools/call" ? request.params["name"]?.stringValue : nil,
            meta: request.params["_meta"], era: .stateless, transport: transport, sessionID: nil,
            protocolVersion: request.version)
        let response: JSONValue = await InstrumentationContext.$current.withValue(observation.span.context) {
            do throws(ModernError) {
                return ["jsonrpc": "2.0", "id": request.id, "result": try await result(of: request, as: caller)]
            } catch {
                return error.response
            }
        }
        observation.end(response: response, protocolVersion: request.version, catalog: catalog)
        return response
    }

    /// Counts one request of this era that was not answered by `respond`, from its method and
    /// params as sent: refused before it was answered, or a subscription that ended. A message
    /// without a method is no request.
    func record(method: String?, params: JSONValue?, error: String, since started: ContinuousClock.Instant) {
        guard let metrics = catalog.metrics, let method else { return }
        metrics.operation(
            method: method, version: params?["_meta"]?[ModernProtocol.versionKey]?.stringValue ?? "", era: .stateless,
            transport: transport, tool: catalog.toolLabel(params?["name"]?.stringValue ?? ""), error: error, since: started)
    }

    private func result(of request: ModernRequest, as caller: CallIdentity) async throws(ModernError) -> JSONValue {
        switch request.method {
        case "server/discover":
            return Self.complete([
                "supportedVersions": .array(ModernProtocol.supportedVersions.map(JSONValue.string)),
                "capabilities": ["tools": ["listChanged": true]],
                "instructions": .string(Self.instructions),
                "ttlMs": .integer(Self.listTTLMilliseconds), "cacheScope": "public",
            ])
        case "tools/list":
            if request.params["cursor"] != nil {
                throw .invalidParams("invalid cursor: tools/list is a single page", id: request.id)
            }
            return Self.complete([
                "tools": .array(catalog.toolsJSON(for: caller.tenant)),
                "ttlMs": .integer(Self.listTTLMilliseconds), "cacheScope": "private",
            ])
        case "tools/call":
            guard let name = request.params["name"]?.stringValue else {
                throw .invalidParams("tools/call needs the tool's name as a string", id: request.id)
            }
            let arguments = request.params["arguments"] ?? [:]
            guard arguments.objectValue != nil else {
                throw .invalidParams("arguments must be an object, not \(arguments.typeName)", id: request.id)
            }
            guard let result = await catalog.call(name, arguments: arguments, as: caller) else {
                throw .invalidParams("unknown tool '\(name)'", id: request.id)
            }
            return Self.complete(result.objectValue ?? [:])
        default:
            throw .methodNotFound(request.method, id: request.id)
        }
    }

    /// A result marked complete and signed with the server's identity; a `_meta` already in `fields` is kept.
    static func complete(_ fields: JSONObject, meta: JSONObject = [:]) -> JSONValue {
        var result = fields
        result["resultType"] = "complete"
        var stamped = meta.merging(fields["_meta"]?.objectValue ?? [:]) { given, _ in given }
        stamped[ModernProtocol.serverInfoKey] = ModernProtocol.serverInfo
        result["_meta"] = .object(stamped)
        return .object(result)
    }

    /// What a `subscriptions/listen` request asks for, checked; the acknowledged filter.
    static func listenFilter(_ request: ModernRequest) throws(ModernError) -> JSONObject {
        guard let filter = request.params["notifications"]?.objectValue else {
            throw .invalidParams("subscriptions/listen needs a notifications filter object", id: request.id)
        }
        return filter["toolsListChanged"]?.boolValue == true ? ["toolsListChanged": true] : [:]
    }

    static func notification(_ method: String, subscription: JSONValue, fields: JSONObject = [:]) -> JSONValue {
        var params = fields
        params["_meta"] = [ModernProtocol.subscriptionKey: subscription]
        return ["jsonrpc": "2.0", "method": .string(method), "params": .object(params)]
    }

    /// The response that ends a subscription gracefully (server shutdown).
    static func listenClosed(_ id: JSONValue) -> JSONValue {
        ["jsonrpc": "2.0", "id": id, "result": complete([:], meta: [ModernProtocol.subscriptionKey: id])]
    }
}
