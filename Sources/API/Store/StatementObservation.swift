import Observability
import Tracing

extension SQLStatement {
    /// Runs `body` (this statement on `system`'s connection) timed by its operation when metrics
    /// are on, in a CLIENT span named after the operation (`SELECT`, `INSERT`, `BEGIN`…) with
    /// `db.system.name` and `db.operation.name`; never the SQL or its parameter values. When
    /// tracing is off the span is a no-op.
    func observed<Result>(
        on system: String, metrics: DatabaseMetrics?, _ body: () async throws -> Result,
        isolation: isolated (any Actor)? = #isolation
    ) async throws -> Result {
        let operation = DatabaseOperation(sql: sql)
        let started = ContinuousClock.now
        defer { metrics?.record(operation, duration: started.duration(to: .now)) }
        return try await withSpan(operation.rawValue, ofKind: .client, isolation: isolation) { span in
            if span.isRecording {
                span.updateAttributes { attributes in
                    attributes[SemanticName.dbSystemName] = system
                    attributes[SemanticName.dbOperationName] = operation.rawValue
                }
            }
            return try await body()
        }
    }
}
