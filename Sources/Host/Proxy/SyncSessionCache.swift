/// The sync session of each (tenant, user), shared by all of that user's calls. An actor:
/// creation is deduplicated, so a burst of first calls makes one session, not one each.
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
        case ready(Session)
        case creating(Task<Creation, any Error>)
    }

    private var entries: [Key: Entry] = [:]
    private(set) var created = 0

    func session(
        for key: Key, create: @escaping @Sendable () async throws(ProxyError) -> Creation
    ) async throws(ProxyError) -> Creation {
        switch entries[key] {
        case .ready(let session): return .session(session)
        case .creating(let task): return try await Self.value(of: task)
        case nil: return try await start(key, create)
        }
    }

    /// Replaces `stale` with a new session, unless another call already did.
    func renew(
        _ key: Key, replacing stale: Session, create: @escaping @Sendable () async throws(ProxyError) -> Creation
    ) async throws(ProxyError) -> Creation {
        switch entries[key] {
        case .ready(let current) where current != stale: return .session(current)
        case .creating(let task): return try await Self.value(of: task)
        default: return try await start(key, create)
        }
    }

    func update(_ key: Key, session: Session, epoch: Int64) -> Session {
        var updated = session
        updated.epoch = epoch
        entries[key] = .ready(updated)
        return updated
    }

    private func start(
        _ key: Key, _ create: @escaping @Sendable () async throws(ProxyError) -> Creation
    ) async throws(ProxyError) -> Creation {
        // The task is owned by this entry and awaited by every caller that finds it.
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
            entries[key] = .ready(session)
            created += 1
        case .refused:
            entries[key] = nil
        }
        return creation
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
