import API
import Foundation
import Logging
import MCP
import Synchronization

/// A transport in front of a session's real transport that answers `tools/call` itself and
/// passes every other message to the SDK's `Server`.
///
/// Why: the SDK's typed handlers encode a tool result to JSON, decode it back into `MCP.Value`
/// (checking every string for a `data:` URL) and encode it again; profiled under load that was
/// about 45% of the host's CPU. Here the plugin's JSON goes out as it came, with one parse to
/// check it and one serialization. `notifications/cancelled` for a call cancels it, down to the
/// plugin's call context.
actor ToolCallFastPath: Transport {
    nonisolated let logger: Logger
    private let inner: any Transport
    private let catalog: ToolCatalog
    private let identity: SessionIdentity
    private let (forServer, forServerContinuation) = AsyncThrowingStream<Data, any Error>.makeStream()
    private var reader: Task<Void, Never>?
    private var calls: [String: Task<String, Never>] = [:]

    init(wrapping inner: any Transport, catalog: ToolCatalog, identity: SessionIdentity, logger: Logger) {
        self.inner = inner
        self.catalog = catalog
        self.identity = identity
        self.logger = logger
    }

    func connect() async throws {
        try await inner.connect()
        let incoming = await inner.receive()
        // Owned by this transport: it ends when the inner stream does, or on disconnect.
        reader = Task { await self.route(incoming) }
    }

    func disconnect() async {
        reader?.cancel()
        for call in calls.values { call.cancel() }
        calls.removeAll()
        forServerContinuation.finish()
        await inner.disconnect()
    }

    func send(_ data: Data) async throws {
        try await inner.send(data)
    }

    func receive() -> AsyncThrowingStream<Data, any Error> { forServer }

    private func route(_ incoming: AsyncThrowingStream<Data, any Error>) async {
        do {
            for try await data in incoming {
                guard let message = try? JSONValue.parse(data), let method = message["method"]?.stringValue else {
                    forServerContinuation.yield(data)
                    continue
                }
                if method == "tools/call", let id = message["id"], id != .null, let name = message["params"]?["name"]?.stringValue {
                    start(id: id, tool: name, arguments: message["params"]?["arguments"] ?? [:])
                    continue
                }
                if method == "notifications/cancelled", let id = message["params"]?["requestId"], let call = calls[id.serialized] {
                    call.cancel()
                }
                forServerContinuation.yield(data)
            }
        } catch {
            logger.debug("session transport ended", metadata: ["error": "\(error)"])
        }
        forServerContinuation.finish()
    }

    /// A call that arrived through the transport's stream: its response goes back the same way.
    private func start(id: JSONValue, tool: String, arguments: JSONValue) {
        Task {
            let response = await self.respond(id: id, tool: tool, arguments: arguments)
            try? await self.inner.send(Data(response.utf8))
        }
    }

    /// Runs a call and returns its JSON-RPC response. The call runs in a task of its own, held
    /// while it runs, so that `notifications/cancelled` for its id can cancel it.
    func respond(id: JSONValue, tool: String, arguments: JSONValue) async -> String {
        let key = id.serialized
        let call = Task { await self.answer(id: id, tool: tool, arguments: arguments) }
        calls[key] = call
        let response = await call.value
        calls[key] = nil
        return response
    }

    private nonisolated func answer(id: JSONValue, tool: String, arguments: JSONValue) async -> String {
        let caller = identity.current
        let call = CallIdentity(
            user: caller.user, tenant: caller.tenant, bearerToken: caller.bearerToken,
            correlationID: UUID().uuidString.lowercased())
        guard let result = await catalog.call(tool, arguments: arguments, as: call) else {
            return JSONValue.object([
                "jsonrpc": "2.0", "id": id,
                "error": ["code": -32602, "message": .string("unknown tool '\(tool)'")],
            ]).serialized
        }
        return JSONValue.object(["jsonrpc": "2.0", "id": id, "result": result]).serialized
    }
}
