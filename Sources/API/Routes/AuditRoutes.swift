import Hummingbird
import ServerSupport
import ToolBridgeAuth

/// `POST /v1/audit/events`: hosts send the audit records of their tool calls here, in batches.
struct AuditRoutes: Sendable {
    let audit: any AuditStore
    let authenticator: Authenticator
    let parsing: RequestParsing

    /// The most records one request may carry (the host sends at most this many).
    static let maximumBatch = 1000

    func register(on router: Router<APIRequestContext>) {
        router.group("v1").post("audit/events") { request, _ in try await receive(request) }
    }

    /// The one place that decides who may write audit records: a ToolBridge host, calling with its
    /// delegated credential. A user's own token may not, so nobody can forge their own trail.
    private func requireAuditWriter(_ request: Request) async throws {
        guard try await authenticator.caller(request.headers).actor != nil else {
            throw APIError(.forbidden, "only a ToolBridge host, with its delegated credential, may write audit records")
        }
    }

    /// `{"events": [record, …]}`, 1 to 1000 records, each checked strictly; all are stored or none.
    private func receive(_ request: Request) async throws -> Response {
        try await requireAuditWriter(request)
        let body = try await parsing.objectBody(request)
        guard let events = body["events"]?.arrayValue else {
            throw APIError.badRequest("the body must be {\"events\": [ ... ]}, an array of audit records")
        }
        guard (1...Self.maximumBatch).contains(events.count) else {
            throw APIError.badRequest("events must hold 1 to \(Self.maximumBatch) records, not \(events.count)")
        }
        if let unknown = body.keys.first(where: { $0 != "events" }) {
            throw APIError.badRequest("the body has an unknown field '\(AuditRecord.clamped(unknown))'; send only events")
        }
        var records: [AuditRecord] = []
        records.reserveCapacity(events.count)
        for (index, event) in events.enumerated() {
            do {
                records.append(try AuditRecord.parse(event))
            } catch {
                throw APIError.badRequest("events[\(index)] \(error.message)")
            }
        }
        try await audit.insert(records)
        return Response.json(JSONValue.object(["received": .integer(Int64(records.count))]).serialized)
    }
}
