import Logging
import OrderedCollections
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// A fixed number of PostgreSQL connections, each kept open by a slot task of `run()`, leased to
/// one request at a time.
///
/// Why not postgres-nio's `PostgresClient`: with a fixed size (needed because it arms two timer
/// tasks per released connection otherwise) its pool trapped on a precondition when the database
/// restarted, and its reconnect backoff grew to a minute. Here a slot reconnects on a short fixed
/// interval, nothing is armed per query, and while no connection is open a lease fails at once
/// with a 503 instead of queueing.
final class PostgresConnectionPool: Service, Sendable {
    struct Configuration: Sendable {
        var connection: PostgresConnection.Configuration
        /// Connections kept open (`TOOLBRIDGE_DB_CONNECTIONS`).
        var size: Int
        /// Pause between failed connection attempts of one slot. Fixed, so service resumes within
        /// about this long of the database accepting connections again.
        var retryInterval: Duration = .milliseconds(250)
        /// Longest a connection attempt may take, handshake included.
        var connectTimeout: Duration = .seconds(3)
        /// Longest wait for a free connection while the database is reachable.
        var leaseTimeout: Duration = .seconds(10)
        /// Longest wait, on graceful shutdown, for leased connections to come back before closing them.
        var drainTimeout: Duration = .seconds(10)
    }

    /// What a request sees when no connection can serve it: the write was not made or not acknowledged.
    static let unavailable = APIError(.serviceUnavailable, "the database is unavailable; retry shortly")
    static let busy = APIError(.serviceUnavailable, "every database connection stayed busy; retry shortly")
    static let closed = APIError(.serviceUnavailable, "the server is shutting down; retry shortly")

    private struct Waiter {
        let continuation: CheckedContinuation<PostgresConnection, any Error>
        let deadline: ContinuousClock.Instant
    }

    private struct State {
        var idle: [PostgresConnection] = []
        /// Ids of connections that are established and not yet seen closed by their slot.
        var open: Set<PostgresConnection.ID> = []
        var leased = 0
        /// Leases waiting for a connection, oldest first.
        var waiters: OrderedDictionary<Int, Waiter> = [:]
        var nextWaiter = 0
        /// Nil until the first connection attempt ends; false while no connection is open and the
        /// last attempt failed or the last connection closed.
        var reachable: Bool?
        var closing = false

        /// The most recently parked connection still open, counted as leased. Closed ones are
        /// dropped on the way: their slots are already reconnecting.
        mutating func takeIdle() -> PostgresConnection? {
            while let connection = idle.popLast() {
                if !connection.isClosed {
                    leased += 1
                    return connection
                }
            }
            return nil
        }

        /// The oldest waiter, counted as leased, when one is waiting.
        mutating func takeWaiter() -> Waiter? {
            guard !waiters.isEmpty else { return nil }
            leased += 1
            return waiters.removeFirst().value
        }

        /// Marks the database unreachable when no connection is left; returns the waiters to fail.
        mutating func lostLastConnection() -> [Waiter]? {
            guard open.isEmpty, reachable != false else { return nil }
            reachable = false
            defer { waiters.removeAll() }
            return Array(waiters.values)
        }
    }

    private let configuration: Configuration
    private let logger: Logger
    private let metrics: APIMetrics?
    private let state = Mutex(State())
    private let nextConnectionID = Atomic<Int>(0)

    init(configuration: Configuration, metrics: APIMetrics? = nil, logger: Logger) {
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        guard let metrics else { return }
        metrics.connectionMax.set(configuration.size)
        // Read at scrape time from the state the pool keeps anyway; weak, since the registry
        // outlives a pool in tests that open many.
        let idle = metrics.connections("idle")
        let used = metrics.connections("used")
        metrics.registry.onScrape { [weak self] in
            guard let self else { return }
            let (idleCount, usedCount) = state.withLock { ($0.idle.count, $0.leased) }
            idle.set(idleCount)
            used.set(usedCount)
        }
    }

    /// Runs `body` on a leased connection. A connection that closed, or whose failure means the
    /// connection (not the statement) failed, is not leased again, and the caller gets a 503: the
    /// statement may or may not have run, so nothing was acknowledged.
    func withConnection<Result>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        let started = ContinuousClock.now
        let connection = try await lease()
        metrics?.connectionWait.record(duration: started.duration(to: .now))
        let result: Result
        do {
            result = try await body(connection)
        } catch {
            let lost = connection.isClosed || Self.isConnectionFailure(error)
            release(connection, reusable: !lost)
            if lost && !(error is APIError) { throw Self.unavailable }
            throw error
        }
        release(connection, reusable: true)
        return result
    }

    /// True when `error` ended the connection rather than one statement: it closed, the server
    /// shut down or refused the session (SQLSTATE class 08, 57P01–57P05).
    static func isConnectionFailure(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError else { return error is ChannelError || error is IOError }
        switch error.code {
        case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown:
            return true
        case .server:
            guard let state = error.serverInfo?[.sqlState] else { return false }
            return state.hasPrefix("08") || state.hasPrefix("57P")
        default:
            return false
        }
    }

    // MARK: Leases

    private enum LeaseStart {
        case leased(PostgresConnection)
        case failed(APIError)
        case wait(id: Int)
    }

    private func lease() async throws -> PostgresConnection {
        let start = state.withLock { state -> LeaseStart in
            if state.closing { return .failed(Self.closed) }
            if let connection = state.takeIdle() { return .leased(connection) }
            if state.reachable == false { return .failed(Self.unavailable) }
            state.nextWaiter &+= 1
            return .wait(id: state.nextWaiter)
        }
        switch start {
        case .leased(let connection): return connection
        case .failed(let error): throw error
        case .wait(let id): return try await wait(id: id)
        }
    }

    /// Queues behind earlier waiters until a connection is released or opened, the database is
    /// found unreachable, the lease timeout passes (`expireWaiters`) or the task is cancelled.
    private func wait(id: Int) async throws -> PostgresConnection {
        let deadline = ContinuousClock.now + configuration.leaseTimeout
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let immediate = state.withLock { state -> Swift.Result<PostgresConnection, any Error>? in
                    // The cancellation handler may have run before the waiter existed.
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if state.closing { return .failure(Self.closed) }
                    if let connection = state.takeIdle() { return .success(connection) }
                    if state.reachable == false { return .failure(Self.unavailable) }
                    state.waiters[id] = Waiter(continuation: continuation, deadline: deadline)
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Gives the connection to the oldest waiter or back to the idle list, or closes it when it
    /// cannot serve another lease (its slot sees the close and reconnects, or ends when closing).
    private func release(_ connection: PostgresConnection, reusable: Bool) {
        enum Next { case hand(Waiter), park, close }
        let next = state.withLock { state -> Next in
            state.leased -= 1
            guard reusable, !state.closing, state.open.contains(connection.id), !connection.isClosed else { return .close }
            if let waiter = state.takeWaiter() { return .hand(waiter) }
            state.idle.append(connection)
            return .park
        }
        switch next {
        case .hand(let waiter): waiter.continuation.resume(returning: connection)
        case .park: break
        case .close: connection.closeSoon()
        }
    }

    // MARK: Slots

    func run() async {
        await withDiscardingTaskGroup { group in
            for _ in 0..<configuration.size {
                group.addTask { await self.keepConnected() }
            }
            group.addTask { await self.expireWaiters() }
            try? await gracefulShutdown()

            let (idle, waiters) = state.withLock { state in
                state.closing = true
                defer {
                    state.idle.removeAll()
                    state.waiters.removeAll()
                }
                return (state.idle, Array(state.waiters.values))
            }
            for waiter in waiters { waiter.continuation.resume(throwing: Self.closed) }
            for connection in idle { connection.closeSoon() }
            // Leases in flight end first (bounded); then every slot is cancelled, closing its connection.
            let deadline = ContinuousClock.now + configuration.drainTimeout
            while state.withLock({ $0.leased > 0 }), ContinuousClock.now < deadline, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(20))
            }
            group.cancelAll()
        }
    }

    /// One slot: connect, offer the connection, wait for it to close, reconnect. After a failed
    /// attempt it waits `retryInterval`; after a close it reconnects at once.
    private func keepConnected() async {
        while !Task.isCancelled, !state.withLock({ $0.closing }) {
            do {
                let connection = try await connect()
                guard opened(connection) else {
                    try? await connection.close()
                    return
                }
                await withTaskCancellationHandler {
                    try? await connection.closeFuture.get()
                } onCancel: {
                    connection.closeSoon()
                }
                closed(connection)
                continue
            } catch {
                connectFailed(error)
            }
            try? await Task.sleep(for: configuration.retryInterval)
        }
    }

    /// Connects within `connectTimeout`. postgres-nio's own connect timeout does not always end the
    /// attempt: while PostgreSQL restarted under load, a connect it had begun stayed pending for
    /// good. So the deadline is kept here, and a connection that arrives after it is closed.
    private func connect() async throws -> PostgresConnection {
        let eventLoop = PostgresConnection.defaultEventLoopGroup.any()
        let attempt = ConnectAttempt()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                attempt.wait(continuation)
                let timeout = eventLoop.scheduleTask(in: TimeAmount(configuration.connectTimeout)) {
                    attempt.finish(.failure(ConnectTimedOut()))
                }
                PostgresConnection.connect(
                    on: eventLoop, configuration: configuration.connection,
                    id: nextConnectionID.wrappingAdd(1, ordering: .relaxed).newValue, logger: logger
                ).whenComplete { result in
                    timeout.cancel()
                    if !attempt.finish(result.mapError { $0 }), case .success(let late) = result { late.closeSoon() }
                }
            }
        } onCancel: {
            attempt.finish(.failure(CancellationError()))
        }
    }

    /// Offers a new connection to the oldest waiter, else parks it as idle. False when closing.
    private func opened(_ connection: PostgresConnection) -> Bool {
        let (accepted, recovered, waiter) = state.withLock { state -> (Bool, Bool, Waiter?) in
            guard !state.closing else { return (false, false, nil) }
            let recovered = state.reachable == false
            state.reachable = true
            state.open.insert(connection.id)
            if let waiter = state.takeWaiter() { return (true, recovered, waiter) }
            state.idle.append(connection)
            return (true, recovered, nil)
        }
        if recovered { logger.info("connected to PostgreSQL again") }
        waiter?.continuation.resume(returning: connection)
        return accepted
    }

    private func closed(_ connection: PostgresConnection) {
        let waiters = state.withLock { state -> [Waiter]? in
            state.open.remove(connection.id)
            state.idle.removeAll { $0 === connection }
            return state.closing ? nil : state.lostLastConnection()
        }
        guard let waiters else { return }
        logger.warning("every PostgreSQL connection closed; requests get 503 until one reconnects")
        for waiter in waiters { waiter.continuation.resume(throwing: Self.unavailable) }
    }

    private func connectFailed(_ error: any Error) {
        let waiters = state.withLock { state -> [Waiter]? in
            state.closing ? nil : state.lostLastConnection()
        }
        guard let waiters else { return }
        logger.warning(
            "cannot connect to PostgreSQL; requests get 503 until a connection opens",
            metadata: ["error": "\(String(reflecting: error))"])
        for waiter in waiters { waiter.continuation.resume(throwing: Self.unavailable) }
    }

    /// Fails waiters whose lease timeout passed. One task for the pool, ticking, rather than a
    /// timer per wait.
    private func expireWaiters() async {
        let tick = Duration.milliseconds(250)
        while !Task.isCancelled {
            try? await Task.sleep(for: tick)
            let now = ContinuousClock.now
            let expired = state.withLock { state -> [Waiter] in
                let ids = state.waiters.filter { $0.value.deadline <= now }.map(\.key)
                return ids.compactMap { state.waiters.removeValue(forKey: $0) }
            }
            metrics?.connectionTimeouts.increment(by: expired.count)
            for waiter in expired { waiter.continuation.resume(throwing: Self.busy) }
        }
    }
}

private struct ConnectTimedOut: Error, CustomStringConvertible {
    var description: String { "connecting to PostgreSQL timed out" }
}

/// One connection attempt: whichever of the connect, its deadline and cancellation ends it first
/// resumes the waiting slot; the others find it finished.
private final class ConnectAttempt: Sendable {
    private enum State {
        case started
        case waiting(CheckedContinuation<PostgresConnection, any Error>)
        case finished(Result<PostgresConnection, any Error>?)
    }

    private let state = Mutex(State.started)

    func wait(_ continuation: CheckedContinuation<PostgresConnection, any Error>) {
        let early = state.withLock { state -> Result<PostgresConnection, any Error>? in
            guard case .finished(let result) = state else {
                state = .waiting(continuation)
                return nil
            }
            state = .finished(nil)
            return result
        }
        if let early { continuation.resume(with: early) }
    }

    /// False when the attempt had already ended.
    @discardableResult
    func finish(_ result: Result<PostgresConnection, any Error>) -> Bool {
        let (first, continuation) = state.withLock { state -> (Bool, CheckedContinuation<PostgresConnection, any Error>?) in
            switch state {
            case .started:
                state = .finished(result)
                return (true, nil)
            case .waiting(let continuation):
                state = .finished(nil)
                return (true, continuation)
            case .finished:
                return (false, nil)
            }
        }
        continuation?.resume(with: result)
        return first
    }
}

extension PostgresConnection {
    /// Runs `query` and collects its rows, writing it from the connection's event loop only while
    /// the channel is open. postgres-nio drops a query written to a channel that closed a moment
    /// before (its handlers are gone, so nothing ever answers it) and the lease would hang for good;
    /// checked on the event loop, "open" still holds when the write reaches the handler, which
    /// fails the query if the connection closes later.
    func queryWhileOpen(_ query: PostgresQuery, logger: Logger) async throws -> PostgresQueryResult {
        try await eventLoop.flatSubmit {
            guard !self.isClosed else { return self.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
            return self.query(query, logger: logger)
        }.get()
    }

    /// Starts closing without waiting; the connection's slot waits for the close.
    fileprivate func closeSoon() {
        _ = close() as EventLoopFuture<Void>
    }
}
