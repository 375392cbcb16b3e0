import Hummingbird
import NIOCore
import Synchronization

/// The request context of the Host's routes: Hummingbird's basic context plus the client's
/// connection, so work done for a request can end when the client goes away.
struct HostRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Ends work when the client's connection closes (reset by the peer, or closed by the server).
/// A client that only half-closes (sends FIN) does not close the connection, since Hummingbird
/// allows half-closure; its request runs to its end, bounded by the call timeout, and the
/// connection closes then. Event streams see half-closure through the request body instead.
///
/// NIO announces a close once, through the connection's `closeFuture`, whose callbacks cannot be
/// removed: so this registers one callback per connection (not per request, which on a keep-alive
/// connection serving many requests would be a list that only grows) and keeps the handlers of
/// the requests now running beside it.
final class ConnectionWatch: Sendable {
    private struct Watched {
        var next = 0
        var handlers: [Int: @Sendable () -> Void] = [:]
    }

    /// The open connections someone watches, by the channel's identity (stable while it is
    /// open; an entry goes when its connection closes).
    private let connections = Mutex<[ObjectIdentifier: Watched]>([:])

    /// Runs `operation` in a task that is cancelled when `channel` closes or the caller is
    /// cancelled, and returns its value.
    func untilClosed<Value: Sendable>(
        _ channel: any Channel, _ operation: @escaping @Sendable () async -> Value
    ) async -> Value {
        // Awaited right here: owned by this call.
        let task = Task { await operation() }
        let token = onClose(of: channel) { task.cancel() }
        defer { remove(token, of: channel) }
        return await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
    }

    /// `operation`'s value, or nil when `channel` closed first (the operation is then cancelled).
    func cancellingOnClose<Value: Sendable>(
        _ channel: any Channel, _ operation: @escaping @Sendable () async -> Value
    ) async -> Value? {
        let (closed, signal) = AsyncStream<Void>.makeStream()
        let token = onClose(of: channel) { signal.finish() }
        defer { remove(token, of: channel) }
        return await cancellable(operation, until: closed)
    }

    /// Calls `handler` when `channel` closes (at once if it already has), unless removed first.
    func onClose(of channel: any Channel, _ handler: @escaping @Sendable () -> Void) -> Int {
        let key = ObjectIdentifier(channel)
        let (token, isFirst) = connections.withLock { connections in
            var watched = connections[key] ?? Watched()
            let token = watched.next
            watched.next += 1
            watched.handlers[token] = handler
            defer { connections[key] = watched }
            return (token, connections[key] == nil)
        }
        if isFirst {
            channel.closeFuture.whenComplete { _ in self.closed(key) }
        }
        return token
    }

    func remove(_ token: Int, of channel: any Channel) {
        _ = connections.withLock { $0[ObjectIdentifier(channel)]?.handlers.removeValue(forKey: token) }
    }

    private func closed(_ key: ObjectIdentifier) {
        guard let watched = connections.withLock({ $0.removeValue(forKey: key) }) else { return }
        for handler in watched.handlers.values { handler() }
    }
}
