/// The sync session of each (tenant, user), shared by all of that user's calls. An actor:
/// creation is deduplicated, so a burst of first calls makes one session, not one each.
///
/// Bounded: at most `capacity` sessions are kept; making room drops the least recently used
/// ready session (a session being created is never dropped: its callers wait for it). A session
/// unused for longer than `idleLimit` is dropped when next looked at or when room is made, and
/// a new one made on its next use (the API would have expired it by then anyway).
actor SyncSessionCache {
    struct Key: Hashable, Sendable {
        let tenant: String
        let user: String
    }

    struct Session: Sendable, Equatable {
        let id: String
        var epoch: Int64
    }

    /// A created session, or the API's answer when it refused to make one (401, 403…).
    enum Creation: Sendable {
        case session(Session)
        case refused(ProxyResponse)
    }

    private enum Entry {
        case ready(Session, lastUsed: ContinuousClock.Instant)
        case creating(Task<Creation, any Error>)
    }

    let capacity: Int
    let idleLimit: Duration
    private var entries: [Key: Entry] = [:]
    private(set) var created = 0

    init(capacity: Int, idleLimit: Duration) {
        self.capacity = max(1, capacity)
        self.idleLimit = idleLimit
    }

    /// How many sessions are kept now (ready or being created).
    var count: Int { entries.count }

    func session(
        for key: Key, create: @escaping @Sendable () async throws(ProxyError) -> Creation
    ) async throws(ProxyError) -> Creation {
        switch entries[key] {
        case .ready(let session, let lastUsed) where !isIdle(since: lastUsed):
            entries[key] = .ready(session, lastUsed: .now)
            return .session(session)
        case .creating(let task): return try await Self.value(of: task)
        default: return try await start(key, create)
        }
    }

    /// Replaces `stale` with a new session, unless another call already did.
    func renew(
        _ key: Key, replacing stale: Session, create: @escaping @Sendable () async throws(ProxyError) -> Creation
    ) async throws(ProxyError) -> Creation {
        switch entries[key] {
        case .ready(let current, _) where current != stale: return .session(current)
        case .creating(let task): return try await Self.value(of: task)
        default: return try await start(key, create)
        }
    }

    func update(_ key: Key, session: Session, epoch: Int64) -> Session {
        var updated = session
        updated.epoch = epoch
        store(updated, for: key)
        return updated
    }

    private func start(
        _ key: Key, _ create: @escaping @Sendable () async throws(ProxyError) -> Creation
    ) async throws(ProxyError) -> Creation {
        // Owned by this entry and awaited by every caller that finds it; it ends with `create`,
        // which the proxy's request timeout bounds.
        let task = Task<Creation, any Error> { try await create() }
        entries[key] = .creating(task)
        let creation: Creation
        do {
            creation = try await Self.value(of: task)
        } catch {
            entries[key] = nil
            throw error
        }
        switch creation {
        case .session(let session):
            store(session, for: key)
            created += 1
        case .refused:
            entries[key] = nil
        }
        return creation
    }

    /// Keeps `session` as just used, making room first when the cache is full.
    private func store(_ session: Session, for key: Key) {
        entries[key] = nil
        if entries.count >= capacity { makeRoom() }
        entries[key] = .ready(session, lastUsed: .now)
    }

    /// Drops every idle session, then least recently used ones until one more fits. Linear in
    /// the number kept, and only run when a session is added to a full cache.
    private func makeRoom() {
        var ready: [(key: Key, lastUsed: ContinuousClock.Instant)] = []
        for (key, entry) in entries {
            guard case .ready(_, let lastUsed) = entry else { continue }
            if isIdle(since: lastUsed) {
                entries[key] = nil
            } else {
                ready.append((key, lastUsed))
            }
        }
        guard entries.count >= capacity else { return }
        ready.sort { $0.lastUsed < $1.lastUsed }
        for oldest in ready.prefix(entries.count - capacity + 1) { entries[oldest.key] = nil }
    }

    private func isIdle(since lastUsed: ContinuousClock.Instant) -> Bool {
        lastUsed.duration(to: .now) > idleLimit
    }

    private static func value(of task: Task<Creation, any Error>) async throws(ProxyError) -> Creation {
        do {
            return try await task.value
        } catch let error as ProxyError {
            throw error
        } catch {
            throw ProxyError(kind: .unavailable, description: "creating a sync session failed")
        }
    }
}
