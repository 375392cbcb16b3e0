import ServiceLifecycle

/// Runs `body` while `services` run, then stops them: for one-off commands (`migrate`,
/// `call`) that need a connection pool or an HTTP client only for a moment.
public func withRunningServices<Result: Sendable>(
    _ services: [any Service], _ body: @Sendable () async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for service in services {
            group.addTask { try await service.run() }
        }
        defer { group.cancelAll() }
        return try await body()
    }
}
