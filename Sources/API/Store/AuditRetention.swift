import Logging
import ServerSupport
import ServiceLifecycle

/// Deletes audit records older than the retention (`TOOLBRIDGE_AUDIT_RETENTION_DAYS`). The API
/// sweeps once at start, after migrating; this service sweeps every hour after that. A failed
/// sweep is logged and tried again at the next.
struct AuditRetention: Service {
    let store: any AuditStore
    let days: Int64
    let logger: Logger
    var interval: Duration = .seconds(3600)

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: interval)
                await sweep()
            }
        }
    }

    /// The oldest time kept at `nowMs`; a retention too long to compute keeps everything.
    static func cutoff(nowMs: Int64, days: Int64) -> Int64 {
        let (span, overflow) = days.multipliedReportingOverflow(by: 86_400_000)
        guard !overflow else { return Int64.min }
        let (cutoff, underflow) = nowMs.subtractingReportingOverflow(span)
        return underflow ? Int64.min : cutoff
    }

    func sweep() async {
        do {
            let deleted = try await store.deleteEvents(before: Self.cutoff(nowMs: Timestamp.nowMilliseconds(), days: days))
            if deleted > 0 {
                logger.info("deleted audit records past the retention", metadata: ["records": "\(deleted)", "days": "\(days)"])
            }
        } catch {
            logger.error("the audit retention sweep failed; retrying in an hour: \(error)")
        }
    }
}
