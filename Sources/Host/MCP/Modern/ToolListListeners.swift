import Synchronization

/// The open `subscriptions/listen` streams of the modern era. `MCPSessionRegistry` tells it when
/// a tenant's tool list changes (tenants file edit, plugin hot-added) and ends every stream when
/// the host stops. A stream is one request; nothing here outlives it.
public final class ToolListListeners: Sendable {
    enum Event: Sendable {
        case toolsChanged
        case keepAlive
        /// The server ends the subscription: it answers the listen request, then closes.
        case close
    }

    /// One open stream: its events, and the way to feed them.
    struct Subscription: Sendable {
        let id: Int
        let events: AsyncStream<Event>
        let feed: AsyncStream<Event>.Continuation
    }

    private struct Listener {
        let tenant: String
        let toolsListChanged: Bool
        let feed: AsyncStream<Event>.Continuation
    }

    private let state = Mutex<(next: Int, open: [Int: Listener])>((0, [:]))

    init() {}

    func open(tenant: String, toolsListChanged: Bool) -> Subscription {
        let (events, feed) = AsyncStream<Event>.makeStream()
        let id = state.withLock { state in
            state.next += 1
            state.open[state.next] = Listener(tenant: tenant, toolsListChanged: toolsListChanged, feed: feed)
            return state.next
        }
        return Subscription(id: id, events: events, feed: feed)
    }

    func remove(_ id: Int) {
        state.withLock { $0.open.removeValue(forKey: id) }?.feed.finish()
    }

    /// Sends `notifications/tools/list_changed` to the streams that asked for it whose tenant
    /// `changed`; returns how many.
    func toolsChanged(where changed: (String) -> Bool) -> Int {
        let affected = state.withLock { $0.open.values.filter { $0.toolsListChanged && changed($0.tenant) } }
        for listener in affected { listener.feed.yield(.toolsChanged) }
        return affected.count
    }

    /// Ends every stream gracefully.
    func closeAll() {
        for listener in state.withLock({ Array($0.open.values) }) { listener.feed.yield(.close) }
    }

    /// Streams open now.
    public var count: Int { state.withLock { $0.open.count } }
}
