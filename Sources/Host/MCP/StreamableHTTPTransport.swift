import API
import Foundation
import Logging
import MCP

/// One Streamable HTTP session on the SDK's `Transport` protocol. A POSTed request waits for its
/// response and gets it as `application/json`; server-initiated messages (list_changed) go to
/// the session's `GET` stream when one is open.
///
/// Why not the SDK's `StatefulHTTPServerTransport`: it answers each POST with its own SSE stream
/// and keeps every event it sent until the session ends (for `Last-Event-ID` replay). Under load
/// that held 270 MB after 100,000 calls and cost latency; this keeps nothing once answered.
actor StreamableHTTPTransport: Transport {
    nonisolated let logger: Logger
    private nonisolated let incoming: AsyncThrowingStream<Data, any Error>
    private nonisolated let incomingContinuation: AsyncThrowingStream<Data, any Error>.Continuation
    private var waiting: [String: CheckedContinuation<Data?, Never>] = [:]
    private var stream: AsyncStream<Data>.Continuation?
    private var terminated = false

    init(logger: Logger) {
        self.logger = logger
        (incoming, incomingContinuation) = AsyncThrowingStream<Data, any Error>.makeStream()
    }

    func connect() async throws {}

    func disconnect() async {
        terminated = true
        incomingContinuation.finish()
        for waiter in waiting.values { waiter.resume(returning: nil) }
        waiting.removeAll()
        stream?.finish()
        stream = nil
    }

    /// Responses go to the POST waiting for them; anything else to the GET stream, if open.
    func send(_ data: Data) async throws {
        if let message = try? JSONValue.parse(data), message["method"] == nil, let id = message["id"],
            let waiter = waiting.removeValue(forKey: id.serialized)
        {
            waiter.resume(returning: data)
            return
        }
        stream?.yield(data)
    }

    func receive() -> AsyncThrowingStream<Data, any Error> { incoming }

    /// A POSTed message. For a request, the response (nil when the session ended first).
    func post(_ data: Data, message: JSONValue) async -> Data? {
        guard !terminated else { return nil }
        guard message["method"] != nil, let id = message["id"], id != .null else {
            incomingContinuation.yield(data)
            return nil
        }
        return await withCheckedContinuation { continuation in
            waiting[id.serialized] = continuation
            incomingContinuation.yield(data)
        }
    }

    /// The session's stream of server-initiated messages; a new GET replaces an older stream.
    func openStream() -> AsyncStream<Data> {
        stream?.finish()
        let (messages, continuation) = AsyncStream<Data>.makeStream()
        stream = continuation
        return messages
    }

    var isTerminated: Bool { terminated }
}
