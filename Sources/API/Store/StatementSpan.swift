import Observability
import Tracing

extension SQLStatement {
    /// Runs `body` (this statement on `system`'s connection) in a CLIENT span named after the
    /// statement's operation (`SELECT`, `INSERT`, `BEGIN`…), with `db.system.name` and
    /// `db.operation.name`; never the SQL or its parameter values. When tracing is off the span
    /// is a no-op and nothing is computed.
    func traced<Result>(
        _ system: String, _ body: () async throws -> Result, isolation: isolated (any Actor)? = #isolation
    ) async throws -> Result {
        try await withSpan(system, ofKind: .client, isolation: isolation) { span in
            if span.isRecording {
                let operation = String(sql.drop { $0 == " " || $0 == "\n" }.prefix { $0.isLetter }).uppercased()
                span.operationName = operation.isEmpty ? system : operation
                span.updateAttributes { attributes in
                    attributes[SemanticName.dbSystemName] = system
                    attributes[SemanticName.dbOperationName] = operation.isEmpty ? nil : operation
                }
            }
            return try await body()
        }
    }
}
