import Hummingbird
import ServerSupport
import ToolBridgeAuth

/// Every endpoint of the API. Entity endpoints take the kind from the path and serve all five
/// kinds with the same handlers.
struct APIRoutes: Sendable {
    let items: ItemService
    let authenticator: Authenticator
    let parsing: RequestParsing
    let sessionTTLSeconds: Int64

    var store: any ItemStore { items.store }

    func register(on router: Router<APIRequestContext>) {
        router.get("healthz") { _, _ in Response.json("{\"status\":\"ok\"}") }
        router.get("readyz") { _, _ in try await readiness() }

        let v1 = router.group("v1")
        v1.get("sync/info") { _, _ in Response.json(info()) }
        v1.get("auth/tenant") { request, context in try await tenantInfo(request, context) }
        v1.post("sync/sessions") { request, context in try await createSession(request, context) }
        v1.get("sync/sessions/:id") { request, context in try await ownSession(request, context, delete: false) }
        v1.delete("sync/sessions/:id") { request, context in try await ownSession(request, context, delete: true) }
        v1.get("sync/state") { request, context in try await state(request, context) }
        v1.post("sync/wipe") { request, context in try await wipe(request, context) }
        v1.post("sync/:kind/push") { request, context in try await push(request, context) }
        v1.get("sync/:kind/pull") { request, context in try await pull(request, context) }

        v1.get("search") { request, context in try await search(request, context) }
        v1.get("insights") { request, context in try await insights(request, context) }
        v1.post("batch") { request, context in try await batch(request, context) }

        v1.get(":kind") { request, context in try await list(request, context) }
        v1.post(":kind") { request, context in
            let (caller, kind) = try await entityRequest(request, context)
            let item = try await items.create(caller.scope, kind, fields: try await parsing.objectBody(request))
            return Response.json(item.json, status: .created)
        }
        v1.get(":kind/:uid") { request, context in
            let (caller, kind) = try await entityRequest(request, context)
            let item = try await items.get(
                caller.scope, kind, uid: try RequestParsing.uid(context),
                includeDeleted: try RequestParsing.flag(request, "includeDeleted"))
            return Response.json(item.json)
        }
        v1.put(":kind/:uid") { request, context in try await update(request, context, merge: false) }
        v1.patch(":kind/:uid") { request, context in try await update(request, context, merge: true) }
        v1.delete(":kind/:uid") { request, context in
            let (caller, kind) = try await entityRequest(request, context)
            return Response.json(try await items.delete(caller.scope, kind, uid: try RequestParsing.uid(context)).json)
        }
        v1.post(":kind/:uid/archive") { request, context in
            let (caller, kind) = try await entityRequest(request, context)
            return Response.json(try await items.archive(caller.scope, kind, uid: try RequestParsing.uid(context)).json)
        }
        v1.post(":kind/:uid/process") { request, context in try await process(request, context) }
    }

    // MARK: Entities

    /// Authenticates, checks the sync session and epoch, and resolves the kind.
    private func entityRequest(_ request: Request, _ context: APIRequestContext) async throws -> (Caller, EntityKind) {
        let kind = try RequestParsing.kind(context)
        let caller = try await self.caller(request, context)
        try await requireSync(request, caller)
        return (caller, kind)
    }

    /// One round trip for the session and the epoch: this runs before every entity request.
    func requireSync(_ request: Request, _ caller: Caller) async throws {
        let (session, epoch) = try await store.sessionAndEpoch(id: try sessionID(request), scope: caller.scope)
        try check(session, caller)
        guard let text = request.headers[.syncEpoch] else {
            throw APIError.sessionRequired("X-Sync-Epoch header is required (the current epoch is \(epoch))")
        }
        guard let given = Int64(text.trimmingWhitespace()) else {
            throw APIError.badRequest("X-Sync-Epoch must be a whole number, not '\(text)'")
        }
        guard given == epoch else {
            throw APIError(.conflict, "epoch_mismatch", extra: ["epoch": .integer(epoch)])
        }
    }

    /// The session named by `X-Sync-Session`. Sessions are UUIDs; anything else cannot name one,
    /// so it is answered like an unknown session without asking the database.
    private func sessionID(_ request: Request) throws -> String {
        guard let id = request.headers[.syncSession]?.trimmingWhitespace(), !id.isEmpty else {
            throw APIError.sessionRequired(
                "X-Sync-Session header is required: create a session with POST /v1/sync/sessions")
        }
        guard let uid = ItemWrites.canonicalUID(id) else { throw Self.unknownSession }
        return uid
    }

    private static let unknownSession = APIError.sessionRequired(
        "the sync session is unknown or expired: create a new one")

    /// A session must exist, be unexpired and belong to the caller in the caller's tenant.
    private func check(_ session: SyncSession?, _ caller: Caller) throws {
        guard let session, session.expiresMs > Timestamp.nowMilliseconds() else { throw Self.unknownSession }
        guard session.userID == caller.user, session.tenant == caller.tenant else {
            throw APIError.forbidden("the sync session belongs to another user or tenant")
        }
    }

    private func list(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let (caller, kind) = try await entityRequest(request, context)
        var filters: [(field: IndexedField, value: String)] = []
        for filter in kind.filters {
            if let value = request.uri.queryParameters.get(filter.name) {
                filters.append((filter.field, try RequestParsing.filterValue(value, filter)))
            }
        }
        let limit = try RequestParsing.limit(request)
        let page = try await store.list(
            caller.scope, kind: kind,
            query: ListQuery(
                limit: limit + 1, after: try RequestParsing.cursor(request),
                includeDeleted: try RequestParsing.flag(request, "includeDeleted"), filters: filters))
        let shown = page.prefix(limit)
        var text = "{\"items\":[" + shown.map(\.json).joined(separator: ",") + "]"
        if page.count > limit, let last = shown.last {
            text += ",\"nextCursor\":\"" + RequestParsing.cursor(after: last) + "\""
        }
        return Response.json(text + "}")
    }

    private func update(_ request: Request, _ context: APIRequestContext, merge: Bool) async throws -> Response {
        let (caller, kind) = try await entityRequest(request, context)
        let uid = try RequestParsing.uid(context)
        let item = try await items.update(
            caller.scope, kind, uid: uid, fields: try await parsing.objectBody(request), merge: merge,
            ifMatch: try RequestParsing.ifMatch(request))
        return Response.json(item.json)
    }

    private func process(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let (caller, kind) = try await entityRequest(request, context)
        let uid = try RequestParsing.uid(context)
        let body = try await parsing.objectBody(request)
        guard let action = body["action"]?.stringValue else {
            throw APIError.badRequest(
                "action is required; valid actions for \(kind.name): \(ItemService.actionList(kind))")
        }
        var metadata: JSONObject?
        if let value = body["metadata"], value != .null {
            guard let object = value.objectValue else { throw APIError.badRequest("metadata must be a JSON object") }
            metadata = object
        }
        let item = try await items.process(caller.scope, kind, uid: uid, action: action, metadata: metadata)
        return Response.json(item.json)
    }

    // MARK: Sync

    private func createSession(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let caller = try await self.caller(request, context, .sessions)
        let now = Timestamp.nowMilliseconds()
        let session = SyncSession(
            id: ItemWrites.newUID(), tenant: caller.tenant, userID: caller.user, createdMs: now,
            expiresMs: Self.adding(seconds: sessionTTLSeconds, to: now))
        try await store.createSession(session)
        let epoch = try await store.epochState(caller.scope).epoch
        var headers = HTTPFields()
        headers[.syncEpoch] = String(epoch)
        return Response.json(Self.sessionJSON(session, epoch: epoch), status: .created, headers: headers)
    }

    private func ownSession(_ request: Request, _ context: APIRequestContext, delete: Bool) async throws -> Response {
        let caller = try await self.caller(request, context, .sessions)
        let text = context.parameters.get("id") ?? ""
        guard let id = ItemWrites.canonicalUID(text), let session = try await store.session(id: id),
            session.expiresMs > Timestamp.nowMilliseconds()
        else {
            throw APIError.notFound("no sync session '\(text)' (unknown or expired)")
        }
        guard session.userID == caller.user, session.tenant == caller.tenant else {
            throw APIError.forbidden("the sync session belongs to another user or tenant")
        }
        if delete {
            try await store.deleteSession(id: id)
            return Response(status: .noContent)
        }
        let epoch = try await store.epochState(caller.scope).epoch
        return Response.json(Self.sessionJSON(session, epoch: epoch))
    }

    /// `milliseconds` plus `seconds`, at most `Timestamp.latest` (the TTL is the operator's number).
    private static func adding(seconds: Int64, to milliseconds: Int64) -> Int64 {
        let (span, spanOverflow) = seconds.multipliedReportingOverflow(by: 1000)
        let (sum, sumOverflow) = milliseconds.addingReportingOverflow(span)
        return spanOverflow || sumOverflow ? Timestamp.latest : min(sum, Timestamp.latest)
    }

    private static func sessionJSON(_ session: SyncSession, epoch: Int64) -> String {
        JSONValue.object([
            "id": .string(session.id), "userId": .string(session.userID),
            "createdAt": .string(Timestamp.format(milliseconds: session.createdMs)),
            "expiresAt": .string(Timestamp.format(milliseconds: session.expiresMs)), "epoch": .integer(epoch),
        ]).serialized
    }

    private func state(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let caller = try await self.caller(request, context)
        return Response.json(Self.epochJSON(try await store.epochState(caller.scope)).serialized)
    }

    private static func epochJSON(_ state: EpochState) -> JSONValue {
        var object: JSONObject = ["epoch": .integer(state.epoch)]
        if let ms = state.lastWipeMs { object["lastWipeAt"] = .string(Timestamp.format(milliseconds: ms)) }
        if let user = state.lastWipeBy { object["lastWipeBy"] = .string(user) }
        return .object(object)
    }

    private func wipe(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let caller = try await self.caller(request, context)
        try check(try await store.session(id: try sessionID(request)), caller)
        let body = try await parsing.objectBody(request)
        guard body["confirm"] == "WIPE" else {
            throw APIError.badRequest("a wipe deletes all your items: confirm with {\"confirm\": \"WIPE\"}")
        }
        let (state, deleted) = try await store.wipe(caller.scope, by: caller.user)
        var counts = JSONObject()
        for kind in EntityKind.all { counts[kind.name] = .integer(Int64(deleted[kind.name] ?? 0)) }
        var headers = HTTPFields()
        headers[.syncEpoch] = String(state.epoch)
        return Response.json(
            JSONValue.object(["epoch": .integer(state.epoch), "deleted": .object(counts)]).serialized, headers: headers)
    }

    static let maximumPushItems = 1000

    private func push(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let (caller, kind) = try await entityRequest(request, context)
        let body = try await parsing.objectBody(request)
        guard let pushed = body["items"]?.arrayValue else {
            throw APIError.badRequest("the push body must be {\"items\": [ ... ]}")
        }
        guard pushed.count <= Self.maximumPushItems else {
            throw APIError.badRequest("a push carries at most \(Self.maximumPushItems) items, not \(pushed.count)")
        }
        var acks: [JSONValue] = []
        acks.reserveCapacity(pushed.count)
        for payload in pushed {
            acks.append(.object(await items.push(caller.scope, kind, payload: payload)))
        }
        return Response.json(JSONValue.object(["acks": .array(acks)]).serialized)
    }

    private func pull(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let (caller, kind) = try await entityRequest(request, context)
        let limit = try RequestParsing.limit(request)
        let page = try await store.list(
            caller.scope, kind: kind,
            query: ListQuery(limit: limit + 1, after: try RequestParsing.cursor(request), includeDeleted: true))
        let shown = page.prefix(limit)
        var deletes: [String] = []
        var upserts: [String] = []
        for item in shown {
            if let deletedMs = item.deletedMs {
                deletes.append(
                    "{\"uid\":\"\(item.uid)\",\"deletedAt\":\"\(Timestamp.format(milliseconds: deletedMs))\"}")
            } else {
                upserts.append(item.payload)
            }
        }
        var text = "{\"upserts\":[" + upserts.joined(separator: ",") + "],\"deletes\":["
        text += deletes.joined(separator: ",") + "]"
        if page.count > limit, let last = shown.last {
            text += ",\"nextCursor\":\"" + RequestParsing.cursor(after: last) + "\""
        }
        return Response.json(text + "}")
    }

    // MARK: Service

    private func readiness() async throws -> Response {
        do {
            try await store.ping()
        } catch {
            throw APIError(.serviceUnavailable, "the database is not reachable")
        }
        return Response.json("{\"status\":\"ready\",\"database\":\"ok\"}")
    }

    private func info() -> String {
        JSONValue.object([
            "apiVersion": "1",
            "kinds": .array(EntityKind.all.map { kind in
                .object([
                    "name": .string(kind.name),
                    "actions": .array(kind.actions.map { .string($0.name) }),
                    "filters": .array(kind.filters.map { .string($0.name) }),
                ])
            }),
            "limits": .object([
                "maxBodyBytes": .integer(Int64(parsing.maxBodyBytes)),
                "defaultListLimit": .integer(Int64(RequestParsing.defaultLimit)),
                "maxListLimit": .integer(Int64(RequestParsing.maximumLimit)),
                "maxPushItems": .integer(Int64(Self.maximumPushItems)),
                "maxBatchOperations": .integer(Int64(Self.maximumBatchOperations)),
                "maxSearchLimit": .integer(Int64(Self.maximumSearchLimit)),
                "sessionTTLSeconds": .integer(sessionTTLSeconds),
            ]),
            "auth": .object([
                "tenantHeadersRequired": .bool(authenticator.configuration.tenantSecret != nil),
                "tenantClaim": .string(authenticator.configuration.tenantClaim),
            ]),
        ]).serialized
    }

    /// The user's tenants from both sources: `source` for the whole (claim, record, both, default)
    /// and each tenant's own in `memberships`.
    private func tenantInfo(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let token = try await authenticator.token(request.headers)
        // No tenant yet: this endpoint is how a user learns theirs.
        try context.rateLimit?.charge(user: token.subject, tenant: "", .sessions)
        let membership = try await authenticator.membership(of: token)
        return Response.json(JSONValue.object([
            "userId": .string(token.subject),
            "tenants": .array(membership.tenants.map(JSONValue.string)),
            "source": .string(membership.source.rawValue),
            "memberships": .array(membership.entries.map { entry in
                .object(["tenant": .string(entry.tenant), "source": .string(entry.source.rawValue)])
            }),
            "mustChoose": .bool(membership.entries.count > 1),
        ]).serialized)
    }
}
