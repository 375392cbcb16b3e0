import Foundation
import Logging
import MCP

/// The 2024-11-05 HTTP+SSE transport on the SDK's `Transport` protocol: messages POSTed to
/// `/messages` go in through `deliver`, the server's messages come out of `outgoing` as SSE
/// `message` events on the session's `GET /sse` stream. Stdio's handshake era relays through
/// it too, since it already reads stdin itself to choose the era.
actor SSEServerTransport: Transport {
    nonisolated let logger: Logger
    nonisolated let outgoing: AsyncStream<Data>
    private nonisolated let outgoingContinuation: AsyncStream<Data>.Continuation
    private nonisolated let incoming: AsyncThrowingStream<Data, any Error>
    private nonisolated let incomingContinuation: AsyncThrowingStream<Data, any Error>.Continuation

    init(logger: Logger) {
        self.logger = logger
        (outgoing, outgoingContinuation) = AsyncStream<Data>.makeStream()
        (incoming, incomingContinuation) = AsyncThrowingStream<Data, any Error>.makeStream()
    }

    func connect() async throws {}

    func disconnect() async {
        incomingContinuation.finish()
        outgoingContinuation.finish()
    }

    func send(_ data: Data) async throws {
        outgoingContinuation.yield(data)
    }

    func receive() -> AsyncThrowingStream<Data, any Error> { incoming }

    /// A message the client POSTed.
    nonisolated func deliver(_ data: Data) {
        incomingContinuation.yield(data)
    }

    /// The client sends no more (stdin closed); the server finishes and stops.
    nonisolated func endInput() {
        incomingContinuation.finish()
    }
}
