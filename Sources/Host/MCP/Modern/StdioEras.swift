import Foundation
import Logging
import MCP
import Synchronization
import ToolBridgeJSON

extension HostServer {
    /// Serves one stdio client (one identity) until stdin closes, in the era its first message
    /// selects: a request with modern `_meta` (dual-era clients probe with `server/discover`)
    /// makes the process a stateless 2026-07-28 server; anything else (`initialize`) a
    /// handshake-era session of the SDK's `Server`. The session or the subscriptions are known
    /// to `sessions` meanwhile, so they are told when their tool list changes.
    static func serveStdio(
        catalog: ToolCatalog, identity: CallIdentity, sessions: MCPSessionRegistry, logger: Logger
    ) async throws {
        let stdio = StdioTransport(logger: logger)
        try await stdio.connect()
        var messages = await stdio.receive().makeAsyncIterator()
        guard let first = try await messages.next() else { return }
        if let message = try? JSONValue.parse(first), message["method"] != "initialize", ModernProtocol.isModern(message) {
            let modern = ModernStdio(
                server: ModernServer(catalog: catalog, transport: .stdio), caller: identity, listeners: sessions.listeners, stdio: stdio)
            await modern.serve(first: first, rest: &messages)
        } else {
            try await serveHandshakeEra(
                first: first, rest: &messages, stdio: stdio, catalog: catalog, identity: identity, sessions: sessions, logger: logger)
        }
        await stdio.disconnect()
    }

    /// The handshake era on stdio: the messages relayed to a session's SDK `Server`, its
    /// messages relayed back to stdout.
    private static func serveHandshakeEra(
        first: Data, rest: inout AsyncThrowingStream<Data, any Error>.Iterator, stdio: StdioTransport,
        catalog: ToolCatalog, identity: CallIdentity, sessions: MCPSessionRegistry, logger: Logger
    ) async throws {
        let relay = SSEServerTransport(logger: logger)
        let sessionIdentity = SessionIdentity(identity)
        let id = "stdio"
        let (server, router) = try await MCPServerFactory(catalog: catalog, logger: logger)
            .start(identity: sessionIdentity, transport: relay, sessionID: id, kind: .stdio)
        sessions.add(MCPSession(id: id, identity: sessionIdentity, server: server, streamable: nil, sse: nil, router: router))
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await data in relay.outgoing { try? await stdio.send(data) }
            }
            relay.deliver(first)
            while let next = try? await rest.next() { relay.deliver(next) }
            relay.endInput()
            await server.waitUntilCompleted()
            await sessions.remove(id)
        }
    }
}

/// The modern era on stdio: each line one request, answered on its own and concurrently;
/// `subscriptions/listen` notifications interleave on stdout, tagged with their subscription's
/// id; `notifications/cancelled` cancels a call or ends a subscription.
final class ModernStdio: Sendable {
    let server: ModernServer
    let caller: CallIdentity
    let listeners: ToolListListeners
    let stdio: StdioTransport

    /// Per request in progress (by id), the signal that cancels it.
    private let inProgress = Mutex<[String: AsyncStream<Void>.Continuation]>([:])

    init(server: ModernServer, caller: CallIdentity, listeners: ToolListListeners, stdio: StdioTransport) {
        self.server = server
        self.caller = caller
        self.listeners = listeners
        self.stdio = stdio
    }

    func serve(first: Data, rest: inout AsyncThrowingStream<Data, any Error>.Iterator) async {
        await withTaskGroup(of: Void.self) { group in
            handle(first, in: &group)
            while let next = try? await rest.next() { handle(next, in: &group) }
            // Stdin closed: the client is gone, so is everything it asked for.
            for signal in inProgress.withLock({ Array($0.values) }) { signal.finish() }
        }
    }

    private func handle(_ data: Data, in group: inout TaskGroup<Void>) {
        let started = ContinuousClock.now
        let request: ModernRequest
        var value: JSONValue?
        do throws(ModernError) {
            do {
                value = try JSONValue.parse(data)
            } catch {
                throw ModernError.parse("\(error)")
            }
            switch try ModernMessage.read(value ?? .null) {
            case .notification(let method):
                if method == "notifications/cancelled", let id = value?["params"]?["requestId"] {
                    inProgress.withLock { $0.removeValue(forKey: id.serialized) }?.finish()
                }
                return
            case .request(let read):
                request = read
            }
            try request.checkVersion()
        } catch {
            server.record(method: value?["method"]?.stringValue, params: value?["params"], error: String(error.code), since: started)
            group.addTask { await self.write(error.response) }
            return
        }
        let (cancelled, signal) = AsyncStream<Void>.makeStream()
        let key = request.id.serialized
        let duplicate = inProgress.withLock { inProgress in
            guard inProgress[key] == nil else { return true }
            inProgress[key] = signal
            return false
        }
        guard !duplicate else {
            group.addTask {
                await self.write(ModernError.invalidRequest("request id \(key) is already in use", id: request.id).response)
            }
            return
        }
        group.addTask {
            defer { self.inProgress.withLock { _ = $0.removeValue(forKey: key) } }
            if request.method == "subscriptions/listen" {
                await self.listen(request, until: cancelled)
            } else if let response = await cancellable(
                { await self.server.respond(to: request, as: self.caller) }, until: cancelled)
            {
                await self.write(response)
            }
        }
    }

    /// A subscription on the shared channel: acknowledged, then its tool-list changes, until
    /// the client cancels it, stdin closes, or the host ends it (answered with the result).
    private func listen(_ request: ModernRequest, until cancelled: AsyncStream<Void>) async {
        let filter: JSONObject
        do {
            filter = try ModernServer.listenFilter(request)
        } catch {
            await write(error.response)
            return
        }
        let subscription = listeners.open(tenant: caller.tenant, toolsListChanged: filter["toolsListChanged"] == true)
        let started = ContinuousClock.now
        let streams = server.catalog.metrics?.openStreams(.stdio)
        streams?.increment()
        defer {
            listeners.remove(subscription.id)
            streams?.decrement()
            server.record(method: request.method, params: .object(request.params), error: "", since: started)
        }
        await write(ModernServer.notification(
            "notifications/subscriptions/acknowledged", subscription: request.id, fields: ["notifications": .object(filter)]))
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in cancelled {}
                subscription.feed.finish()
            }
            for await event in subscription.events {
                switch event {
                case .toolsChanged:
                    await write(ModernServer.notification("notifications/tools/list_changed", subscription: request.id))
                case .keepAlive:
                    continue
                case .close:
                    await write(ModernServer.listenClosed(request.id))
                    subscription.feed.finish()
                }
            }
            group.cancelAll()
        }
    }

    private func write(_ message: JSONValue) async {
        try? await stdio.send(Data(message.serialized.utf8))
    }
}
