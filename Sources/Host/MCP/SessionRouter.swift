import Foundation
import Logging
import MCP
import Observability
import Synchronization
import ToolBridgeJSON
import Tracing

/// Stands between a session's transport and the SDK's `Server`, so that every request a client
/// sends gets exactly one answer carrying the id exactly as the client sent it.
///
/// - Each message is checked before anything acts on it: a request whose id is not a string or
///   a number, a message that is not an object, lacks a string `method` or has a `jsonrpc` other
///   than "2.0" is answered `-32600` here (with `"id": null` when the id is the problem); so is a
///   request reusing the id of a request of this session still in flight.
/// - `tools/call` is answered here: the fast path. The SDK's typed handlers encode a tool result
///   to JSON, decode it back into `MCP.Value` (checking every string for a `data:` URL) and
///   encode it again; profiled under load that was about 45% of the host's CPU. Here the
///   plugin's JSON goes out as it came, with one parse to check it and one serialization.
/// - Every other request reaches the SDK under an id of ours (`tb-N`) and only in a form the SDK
///   is known to decode, and its response is mapped back to the client's id. The SDK's own id
///   type holds only strings and `Int`s; ids like `1.5`, `1e400`, `-0` or 2^66 would otherwise be
///   dropped or rewritten, and the request never answered.
///
/// Whoever waits for an answer (a Streamable HTTP POST, or the reader of an SSE or stdio
/// stream) stops waiting when the session ends or its own task is cancelled (the client went
/// away); the call behind it is then cancelled too.
actor SessionRouter: Transport {
    /// What became of a message a client POSTed.
    enum Outcome: Sendable {
        /// The response to send back (a JSON-RPC response object).
        case response(String)
        /// The message is no valid request: an error response with `"id": null`.
        case rejected(String)
        /// A notification or a response: nothing to answer.
        case noResponse
        /// The session ended before the request was answered.
        case sessionEnded
    }

    /// The most requests one session may have in flight; more get an error at once, so one
    /// client cannot queue unbounded work (SSE POSTs return before their answer).
    static let maximumInFlight = 256

    nonisolated let logger: Logger
    /// The session's transport, for metrics.
    nonisolated let transport: HostMetrics.Transport
    /// The protocol version `initialize` agreed (empty before), for metrics and the session's end.
    nonisolated let protocolVersion = Mutex<String>("")
    private let inner: any Transport
    private let catalog: ToolCatalog
    private let identity: SessionIdentity
    /// The session's id, for the requests' spans.
    private let sessionID: String
    private let (forServer, forServerContinuation) = AsyncThrowingStream<Data, any Error>.makeStream()
    private var reader: Task<Void, Never>?
    private var ended = false

    private struct InFlight {
        let serial: UInt64
        /// The id as the client sent it.
        let id: JSONValue
        let reply: AsyncStream<String>.Continuation
        /// The tool call answering it (fast path), to cancel it.
        var call: Task<Void, Never>?
        /// The id the SDK knows it by, for the other requests.
        var serverID: String?
        let method: String
        /// What operators see of it, ended with its answer.
        let observation: MCPRequestObservation
    }

    /// The requests in flight by the client's id literal (`"1"` and `1` differ, so do `1` and `1.0`).
    private var inFlight: [String: InFlight] = [:]
    /// The client's id literal of each request handed to the SDK, by the id the SDK knows.
    private var serverRequests: [String: String] = [:]
    private var serial: UInt64 = 0
    private var serverIDs: UInt64 = 0
    private static let serverIDPrefix = "tb-"

    init(
        wrapping inner: any Transport, catalog: ToolCatalog, identity: SessionIdentity, sessionID: String,
        transport: HostMetrics.Transport, logger: Logger
    ) {
        self.inner = inner
        self.catalog = catalog
        self.identity = identity
        self.sessionID = sessionID
        self.transport = transport
        self.logger = logger
    }

    // MARK: Transport (the SDK's side)

    func connect() async throws {
        try await inner.connect()
        let incoming = await inner.receive()
        // Owned by this router: cancelled on disconnect, and it ends with the inner stream.
        reader = Task { await self.route(incoming) }
    }

    func disconnect() async {
        ended = true
        reader?.cancel()
        for request in inFlight.values {
            request.call?.cancel()
            request.observation.span.end()
            request.reply.finish()
        }
        inFlight.removeAll()
        serverRequests.removeAll()
        forServerContinuation.finish()
        await inner.disconnect()
    }

    /// The SDK's messages: responses to the requests it was handed go back under the client's
    /// id; anything else (notifications) goes to the client through the transport.
    func send(_ data: Data) async throws {
        if let message = try? JSONValue.parse(data), message["method"] == nil,
            let serverID = message["id"]?.stringValue, serverID.hasPrefix(Self.serverIDPrefix)
        {
            guard let key = serverRequests.removeValue(forKey: serverID), let request = inFlight.removeValue(forKey: key)
            else { return }  // abandoned: its client went away
            if request.method == "initialize", let version = message["result"]?["protocolVersion"]?.stringValue {
                protocolVersion.withLock { $0 = version }
            }
            request.observation.end(response: message, protocolVersion: agreedVersion, catalog: catalog)
            request.reply.yield(Self.replacingID(of: message, with: request.id))
            request.reply.finish()
            return
        }
        try await inner.send(data)
    }

    func receive() -> AsyncThrowingStream<Data, any Error> { forServer }

    // MARK: The client's side

    /// A message POSTed over Streamable HTTP, answered on that POST. Cancelling the caller (the
    /// client disconnected) abandons the request and cancels its tool call.
    func post(_ message: JSONValue) async -> Outcome {
        guard !ended else { return .sessionEnded }
        switch admit(message) {
        case .answered(let response): return .response(response)
        case .rejected(let response): return .rejected(response)
        case .nothingToAnswer: return .noResponse
        case .waiting(let key, let serial, let reply):
            if let response = await reply.first(where: { _ in true }) { return .response(response) }
            abandon(key, serial: serial)
            return ended ? .sessionEnded : .noResponse
        }
    }

    /// How many requests are in flight, for draining a session at shutdown.
    var inFlightCount: Int { inFlight.count }

    /// Messages arriving on the transport's own stream (SSE, stdio): each request is answered
    /// through the transport when its answer is ready, by a child task of this reader.
    private func route(_ incoming: AsyncThrowingStream<Data, any Error>) async {
        let inner = inner
        await withDiscardingTaskGroup { group in
            do {
                for try await data in incoming {
                    guard let message = try? JSONValue.parse(data) else {
                        try? await inner.send(Data(Self.error(id: .null, code: -32700, "Parse error: the message is not JSON").utf8))
                        continue
                    }
                    switch admit(message) {
                    case .answered(let response), .rejected(let response): try? await inner.send(Data(response.utf8))
                    case .nothingToAnswer: break
                    case .waiting(let key, let serial, let reply):
                        group.addTask {
                            guard let response = await reply.first(where: { _ in true }) else {
                                await self.abandon(key, serial: serial)
                                return
                            }
                            try? await inner.send(Data(response.utf8))
                        }
                    }
                }
            } catch {
                logger.debug("session transport ended", metadata: ["error": "\(error)"])
            }
        }
        forServerContinuation.finish()
    }

    private enum Admission {
        case answered(String)
        case rejected(String)
        case nothingToAnswer
        case waiting(key: String, serial: UInt64, reply: AsyncStream<String>)
    }

    /// Checks a client message and starts what answers it. Synchronous on the actor, so requests
    /// are admitted in the order they arrived. A request answered at once (an error) is counted
    /// here; the others when their answer is ready.
    private func admit(_ message: JSONValue) -> Admission {
        let admission = check(message)
        if case .answered(let response) = admission, let method = message["method"]?.stringValue {
            observe(method: method, id: message["id"] ?? .null, params: message["params"])
                .end(response: (try? JSONValue.parse(response)) ?? .null, protocolVersion: agreedVersion, catalog: catalog)
        }
        return admission
    }

    private func check(_ message: JSONValue) -> Admission {
        guard case .object(let object) = message else {
            return .rejected(Self.error(
                id: .null, code: -32600, "Invalid Request: send one JSON-RPC message, an object (batches are not supported)"))
        }
        let id = object["id"]
        let validID = id.flatMap { id -> JSONValue? in
            switch id {
            case .string, .number: id
            default: nil
            }
        }
        guard let method = object["method"] else {
            // A response to a request of ours: the host sends clients none, so there is nothing to route.
            if object["result"] != nil || object["error"] != nil, validID != nil { return .nothingToAnswer }
            let error = Self.error(id: validID ?? .null, code: -32600, "Invalid Request: the message has no method")
            return validID == nil ? .rejected(error) : .answered(error)
        }
        guard let id else { return notification(object, method: method) }
        guard let id = validID else {
            return .rejected(Self.error(
                id: .null, code: -32600, "Invalid Request: the id must be a string or a number, not \(id.typeName)"))
        }
        guard object["jsonrpc"] == "2.0" else {
            return .answered(Self.error(id: id, code: -32600, "Invalid Request: jsonrpc must be \"2.0\""))
        }
        guard let method = method.stringValue else {
            return .answered(Self.error(id: id, code: -32600, "Invalid Request: the method must be a string"))
        }
        let key = id.serialized
        guard inFlight[key] == nil else {
            return .answered(Self.error(
                id: id, code: -32600, "Invalid Request: id already in use by a request of this session still in flight"))
        }
        guard inFlight.count < Self.maximumInFlight else {
            return .answered(Self.error(
                id: id, code: -32000, "Too many requests in flight in this session (\(Self.maximumInFlight)); wait for answers"))
        }
        let params = object["params"]
        if method == "tools/call" {
            return startCall(key: key, id: id, params: params)
        }
        return handToServer(key: key, id: id, method: method, params: params)
    }

    private func notification(_ object: JSONObject, method: JSONValue) -> Admission {
        guard object["jsonrpc"] == "2.0", let name = method.stringValue else {
            logger.debug("dropped a malformed notification")
            return .nothingToAnswer
        }
        if name == "notifications/cancelled" {
            // Cancels a tool call; the other requests are answered at once, so there is nothing to stop.
            if let requestID = object["params"]?["requestId"] { inFlight[requestID.serialized]?.call?.cancel() }
            return .nothingToAnswer
        }
        let data = Data(JSONValue.object(object).serialized.utf8)
        guard (try? JSONDecoder().decode(Message<ReadableNotification>.self, from: data)) != nil else {
            logger.debug("dropped a notification the server cannot read", metadata: ["method": "\(name)"])
            return .nothingToAnswer
        }
        forServerContinuation.yield(data)
        return .nothingToAnswer
    }

    /// Registers a request in flight and begins its observation; its answer arrives on the returned stream.
    private func register(key: String, id: JSONValue, method: String, params: JSONValue?) -> (
        serial: UInt64, reply: AsyncStream<String>, observation: MCPRequestObservation
    ) {
        serial += 1
        let (reply, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let observation = observe(method: method, id: id, params: params)
        inFlight[key] = InFlight(serial: serial, id: id, reply: continuation, method: method, observation: observation)
        return (serial, reply, observation)
    }

    /// Begins the observation of a request of this session.
    private func observe(method: String, id: JSONValue, params: JSONValue?) -> MCPRequestObservation {
        MCPRequestObservation(
            method: method, id: id, tool: method == "tools/call" ? params?["name"]?.stringValue : nil, meta: params?["_meta"],
            era: .handshake, transport: transport, sessionID: sessionID, protocolVersion: agreedVersion)
    }

    /// The protocol version `initialize` agreed, nil before.
    private nonisolated var agreedVersion: String? {
        let version = protocolVersion.withLock { $0 }
        return version.isEmpty ? nil : version
    }

    private func startCall(key: String, id: JSONValue, params: JSONValue?) -> Admission {
        guard let tool = params?["name"]?.stringValue else {
            return .answered(Self.error(id: id, code: -32602, "Invalid params: tools/call needs params.name, a string"))
        }
        let arguments = params?["arguments"] ?? [:]
        guard arguments.objectValue != nil else {
            return .answered(Self.error(id: id, code: -32602, "Invalid params: arguments must be an object"))
        }
        let (serial, reply, observation) = register(key: key, id: id, method: "tools/call", params: params)
        // Owned by the entry in flight: cancelled on notifications/cancelled, abandon and disconnect.
        // A task inherits the current trace context (the HTTP request's), which the span's parent may be.
        inFlight[key]?.call = Task {
            let response = await InstrumentationContext.$current.withValue(observation.span.context) {
                await self.answer(id: id, tool: tool, arguments: arguments)
            }
            observation.end(response: response, protocolVersion: self.agreedVersion, catalog: self.catalog)
            self.finish(key, serial: serial, response: response.serialized)
        }
        return .waiting(key: key, serial: serial, reply: reply)
    }

    private func handToServer(key: String, id: JSONValue, method: String, params: JSONValue?) -> Admission {
        serverIDs += 1
        let serverID = Self.serverIDPrefix + String(serverIDs)
        var request: JSONObject = ["jsonrpc": "2.0", "id": .string(serverID), "method": .string(method)]
        if let params { request["params"] = params }
        let data = Data(JSONValue.object(request).serialized.utf8)
        guard (try? JSONDecoder().decode(Request<ReadableRequest>.self, from: data)) != nil else {
            return .answered(Self.error(id: id, code: -32602, "Invalid params: the server cannot read them"))
        }
        let (serial, reply, _) = register(key: key, id: id, method: method, params: params)
        inFlight[key]?.serverID = serverID
        serverRequests[serverID] = key
        forServerContinuation.yield(data)
        return .waiting(key: key, serial: serial, reply: reply)
    }

    private func finish(_ key: String, serial: UInt64, response: String) {
        guard let request = inFlight[key], request.serial == serial else { return }
        inFlight[key] = nil
        request.reply.yield(response)
        request.reply.finish()
    }

    /// Forgets a request nobody waits for any more, cancelling its tool call.
    private func abandon(_ key: String, serial: UInt64) {
        guard let request = inFlight[key], request.serial == serial else { return }
        inFlight[key] = nil
        request.call?.cancel()
        request.observation.span.end()
        if let serverID = request.serverID { serverRequests[serverID] = nil }
    }

    /// Runs a tool call and returns its JSON-RPC response. Cancelling the task cancels the call,
    /// down to the plugin's call context.
    private nonisolated func answer(id: JSONValue, tool: String, arguments: JSONValue) async -> JSONValue {
        let caller = identity.current
        let call = CallIdentity(
            user: caller.user, tenant: caller.tenant, correlationID: UUID().uuidString.lowercased())
        guard let result = await catalog.call(tool, arguments: arguments, as: call) else {
            return Self.errorMessage(id: id, code: -32602, "unknown tool '\(tool)'")
        }
        return ["jsonrpc": "2.0", "id": id, "result": result]
    }

    static func error(id: JSONValue, code: Int64, _ message: String) -> String {
        errorMessage(id: id, code: code, message).serialized
    }

    private static func errorMessage(id: JSONValue, code: Int64, _ message: String) -> JSONValue {
        ["jsonrpc": "2.0", "id": id, "error": ["code": .integer(code), "message": .string(message)]]
    }

    private static func replacingID(of message: JSONValue, with id: JSONValue) -> String {
        guard case .object(var object) = message else { return message.serialized }
        object["id"] = id
        return JSONValue.object(object).serialized
    }
}

/// A request as the SDK decodes the ones it has no typed handler for: checked here first, so
/// only requests the SDK reads (and therefore answers) reach it.
private enum ReadableRequest: MCP.Method {
    typealias Parameters = Value
    typealias Result = Value
    static let name = ""
}

private struct ReadableNotification: MCP.Notification {
    typealias Parameters = Value
    static let name = ""
}
