import Hummingbird
import ServerSupport

/// The endpoints over all kinds at once: full-text search, insights and batches. Search and
/// insights only read, so they need a token but no sync session; a batch writes like the entity
/// endpoints and checks the session and epoch like them.
extension APIRoutes {
    static let defaultSearchLimit = 20
    static let maximumSearchLimit = 100
    static let maximumBatchOperations = 1000

    // MARK: Search

    func search(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let caller = try await self.caller(request, context)
        guard let text = request.uri.queryParameters.get("q") else {
            throw APIError.badRequest("q is required: the words to search for")
        }
        let limit = try RequestParsing.limit(request, default: Self.defaultSearchLimit, maximum: Self.maximumSearchLimit)
        let offset = try RequestParsing.offsetCursor(request)
        let query = SearchQuery(
            expression: try SearchExpression.parse(text), kinds: try RequestParsing.kinds(request), limit: limit + 1,
            offset: offset)
        let hits = try await store.search(caller.scope, query)
        let shown = hits.prefix(limit)
        var body = "{\"items\":[" + shown.map(Self.hitJSON).joined(separator: ",") + "]"
        if hits.count > limit, offset + limit <= RequestParsing.maximumOffset {
            body += ",\"nextCursor\":\"" + RequestParsing.offsetCursor(offset + limit) + "\""
        }
        return Response.json(body + "}")
    }

    private static func hitJSON(_ hit: SearchHit) -> String {
        // JSON has no NaN or infinity; an engine's odd score ranks last rather than breaking the answer.
        let score = hit.score.isFinite ? (hit.score * 1_000_000).rounded() / 1_000_000 : 0
        return "{\"kind\":\"\(hit.kind.name)\",\"score\":\(score),\"snippet\":"
            + JSONValue.string(hit.snippet).serialized + ",\"item\":" + hit.item.json + "}"
    }

    // MARK: Insights

    func insights(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let caller = try await self.caller(request, context)
        let days = try RequestParsing.integer(request, "days", in: 1...366, default: 30)
        let today = Timestamp.nowMilliseconds() / 86_400_000
        let sinceMs = (today - Int64(days - 1)) * 86_400_000
        let kinds = try RequestParsing.kinds(request)
        let insights = try await store.insights(caller.scope, InsightsQuery(kinds: kinds, sinceMs: sinceMs, tagLimit: 100))
        var byKind = JSONObject()
        var total: Int64 = 0
        for kind in kinds {
            let counts = insights.kinds[kind] ?? Insights.KindCounts()
            total += counts.live
            byKind[kind.name] = .object([
                "count": .integer(counts.live), "deleted": .integer(counts.deleted),
                "statuses": .array(counts.statuses.map { ["status": $0.status.map(JSONValue.string) ?? .null, "count": .integer($0.count)] }),
            ])
        }
        return Response.json(JSONValue.object([
            "total": .integer(total),
            "kinds": .object(byKind),
            "tags": .array(insights.tags.map { ["tag": .string($0.tag), "count": .integer($0.count)] }),
            "days": .array(insights.days.map { ["day": .string(Self.day($0.dayStartMs)), "count": .integer($0.count)] }),
            "since": .string(Self.day(sinceMs)),
        ]).serialized)
    }

    /// `2026-11-24`: the UTC date of a time.
    private static func day(_ milliseconds: Int64) -> String {
        String(Timestamp.format(milliseconds: milliseconds).prefix(10))
    }

    // MARK: Batch

    func batch(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let caller = try await self.caller(request, context)
        try await requireSync(request, caller)
        let body = try await parsing.objectBody(request)
        guard let listed = body["operations"]?.arrayValue else {
            throw APIError.badRequest("the batch body must be {\"operations\": [ ... ]}")
        }
        guard !listed.isEmpty else { throw APIError.badRequest("the batch has no operations") }
        guard listed.count <= Self.maximumBatchOperations else {
            throw APIError.badRequest(
                "a batch carries at most \(Self.maximumBatchOperations) operations, not \(listed.count)")
        }
        var prepared = BatchPlan()
        for (index, value) in listed.enumerated() {
            do {
                try prepared.add(value, using: items)
            } catch {
                throw APIError(
                    .badRequest, "operation \(index): \(error.message)", extra: ["failedOperation": .integer(Int64(index))])
            }
        }
        let stored: [StoredItem]
        do {
            stored = try await items.apply(caller.scope, prepared.operations)
        } catch let failure as BatchFailure {
            throw Self.batchError(failure, prepared.summaries[failure.index])
        }
        var text = "{\"results\":["
        for (index, item) in stored.enumerated() {
            if index > 0 { text += "," }
            text += prepared.summaries[index].prefix + ",\"item\":" + item.json + "}"
        }
        return Response.json(text + "]}")
    }

    /// The failed operation's own error (its status, sentence and fields), naming the operation.
    private static func batchError(_ failure: BatchFailure, _ summary: BatchPlan.Summary) -> Error {
        guard let error = failure.error as? APIError else { return failure.error }
        var extra = error.extra
        extra["failedOperation"] = .integer(Int64(failure.index))
        return APIError(
            error.status,
            "operation \(failure.index) (\(summary.op) \(summary.kind.singular)) failed, so no operation was applied: \(error.message)",
            extra: extra)
    }
}

/// A batch's operations, prepared in order: each checked, its `{"$ref": name}` values replaced
/// by the uid an earlier create in the batch was given.
struct BatchPlan {
    struct Summary {
        let op: String
        let kind: EntityKind
        /// The start of the operation's result object, up to where its item goes.
        let prefix: String
    }

    private(set) var operations: [ItemOperation] = []
    private(set) var summaries: [Summary] = []
    private var references: [String: String] = [:]

    private static let keys: [String: Set<String>] = [
        "create": ["op", "kind", "ref", "uid", "fields"],
        "update": ["op", "kind", "uid", "fields", "ifMatch"],
        "patch": ["op", "kind", "uid", "fields", "ifMatch"],
        "delete": ["op", "kind", "uid"],
        "archive": ["op", "kind", "uid"],
        "process": ["op", "kind", "uid", "action", "metadata"],
    ]
    private static let opNames = "create, update, patch, delete, archive, process"

    mutating func add(_ value: JSONValue, using items: ItemService) throws(APIError) {
        guard let spec = value.objectValue else { throw .badRequest("each operation must be a JSON object") }
        guard let op = spec["op"]?.stringValue, let accepted = Self.keys[op] else {
            throw .badRequest("op must be one of \(Self.opNames)")
        }
        if let unknown = spec.keys.first(where: { !accepted.contains($0) }) {
            throw .badRequest("'\(unknown)' is not a key of a \(op) operation; its keys are \(accepted.sorted().joined(separator: ", "))")
        }
        guard let kindName = spec["kind"]?.stringValue else { throw .badRequest("kind is required") }
        let kind = try RequestParsing.kind(named: kindName, field: "kind")
        let operation: ItemOperation
        switch op {
        case "create":
            var fields = try self.fields(spec)
            if let uid = spec["uid"] { fields["uid"] = try resolved(uid) }
            operation = try items.createOperation(kind, fields: fields)
            if let ref = spec["ref"] {
                guard let name = ref.stringValue, Self.isValidReference(name) else {
                    throw .badRequest("ref must be 1 to 64 letters, digits, '_' or '-'")
                }
                guard references[name] == nil else { throw .badRequest("ref '\(name)' is used by an earlier operation") }
                references[name] = operation.uid
            }
        case "update", "patch":
            guard spec["ifMatch"] == nil || (spec["ifMatch"]?.int64Value ?? 0) >= 1 else {
                throw .badRequest("ifMatch must be an item version: a whole number from 1 to \(Int64.max)")
            }
            operation = try items.updateOperation(
                kind, uid: try uid(spec), fields: try fields(spec), merge: op == "patch",
                ifMatch: spec["ifMatch"]?.int64Value)
        case "delete":
            operation = items.deleteOperation(kind, uid: try uid(spec))
        case "archive":
            operation = items.archiveOperation(kind, uid: try uid(spec))
        default:
            guard let action = spec["action"]?.stringValue else {
                throw .badRequest("action is required; valid actions for \(kind.name): \(ItemService.actionList(kind))")
            }
            var metadata: JSONObject?
            if let value = spec["metadata"], value != .null {
                guard let object = value.objectValue else { throw .badRequest("metadata must be a JSON object") }
                metadata = object
            }
            operation = try items.processOperation(kind, uid: try uid(spec), action: action, metadata: metadata)
        }
        var prefix = "{\"index\":\(operations.count),\"op\":\"\(op)\",\"kind\":\"\(kind.name)\""
        if let ref = spec["ref"] { prefix += ",\"ref\":" + ref.serialized }
        operations.append(operation)
        summaries.append(Summary(op: op, kind: kind, prefix: prefix))
    }

    private func fields(_ spec: JSONObject) throws(APIError) -> JSONObject {
        guard let fields = spec["fields"]?.objectValue else {
            throw .badRequest("fields is required and must be a JSON object")
        }
        var resolved = JSONObject()
        for (key, value) in fields { resolved[key] = try self.resolved(value) }
        return resolved
    }

    private func uid(_ spec: JSONObject) throws(APIError) -> String {
        guard let value = spec["uid"] else { throw .badRequest("uid is required") }
        guard let text = try resolved(value).stringValue, let uid = ItemWrites.canonicalUID(text) else {
            throw .badRequest("uid must be a UUID string or {\"$ref\": \"name\"} naming an earlier create")
        }
        return uid
    }

    /// `{"$ref": "name"}` → the uid of the earlier create with that ref; any other value unchanged.
    private func resolved(_ value: JSONValue) throws(APIError) -> JSONValue {
        guard let object = value.objectValue, object.count == 1, let reference = object["$ref"] else { return value }
        guard let name = reference.stringValue, let uid = references[name] else {
            throw .badRequest("\(value.serialized) names no earlier create operation with that ref")
        }
        return .string(uid)
    }

    private static func isValidReference(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || byte == 0x5F || byte == 0x2D
            }
    }
}
