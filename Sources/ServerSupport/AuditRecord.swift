import ToolBridgeJSON

/// How a tool call ended. A value over its name rather than an enum, so a new outcome is one
/// more static value (and one more entry in `known`) and breaks no `switch` anywhere.
public struct AuditOutcome: Sendable, Hashable, CustomStringConvertible {
    public let name: String

    private init(_ name: String) { self.name = name }

    /// The tool ran and answered a result.
    public static let ok = AuditOutcome("ok")
    /// The tool ran and answered an error result (`isError`), whatever the cause.
    public static let error = AuditOutcome("error")
    /// The tool was never run: unknown, or its plugin is not enabled for the caller's tenant.
    public static let denied = AuditOutcome("denied")
    /// The tool was never run: the caller was over a rate limit.
    public static let rateLimited = AuditOutcome("rate_limited")

    /// Every outcome the host writes and the API accepts.
    public static let known: [AuditOutcome] = [.ok, .error, .denied, .rateLimited]

    public init?(named name: String) {
        guard let outcome = Self.known.first(where: { $0.name == name }) else { return nil }
        self = outcome
    }

    public var description: String { name }
}

/// One tool call as the audit trail keeps it: the host writes it as a JSON line and sends it to
/// the API, the API stores it, `toolbridge audit` prints it — all in this one JSON shape. It
/// never holds the arguments, only a SHA-256 of their JSON.
public struct AuditRecord: Sendable, Equatable {
    /// A UUID the host gives the record, so a batch sent again after a lost answer is stored once.
    public var id: String
    /// Unix milliseconds when the call started.
    public var timeMs: Int64
    public var tenant: String
    public var user: String
    public var tool: String
    /// The plugin that owns the tool; nil for an unknown tool.
    public var plugin: String?
    public var outcome: AuditOutcome
    /// The HTTP status of the last API request the call made; nil when it made none.
    public var apiStatus: Int?
    public var durationMicroseconds: Int64
    public var correlationID: String
    /// Lower-case hex SHA-256 of the arguments as compact JSON (keys and numbers as the client sent them).
    public var argumentsSHA256: String
    /// The host replica that ran the call (`TOOLBRIDGE_REPLICA_ID`), when configured.
    public var replica: String?

    /// The longest text field, in UTF-8 bytes.
    public static let maximumTextBytes = 256

    /// Text fields come from clients (a tool name, a correlation id): `clamped` makes any text
    /// storable, the same rule `parse` enforces.
    public init(
        id: String, timeMs: Int64, tenant: String, user: String, tool: String, plugin: String?, outcome: AuditOutcome,
        apiStatus: Int?, durationMicroseconds: Int64, correlationID: String, argumentsSHA256: String, replica: String?
    ) {
        self.id = id
        self.timeMs = timeMs
        self.tenant = Self.clamped(tenant)
        self.user = Self.clamped(user)
        self.tool = Self.clamped(tool)
        self.plugin = plugin.map(Self.clamped)
        self.outcome = outcome
        self.apiStatus = apiStatus
        self.durationMicroseconds = durationMicroseconds
        self.correlationID = Self.clamped(correlationID)
        self.argumentsSHA256 = argumentsSHA256
        self.replica = replica.map(Self.clamped)
    }

    /// The text with control characters replaced by `?`, cut to `maximumTextBytes` at a character boundary.
    public static func clamped(_ text: String) -> String {
        var result = ""
        var bytes = 0
        for scalar in text.unicodeScalars {
            let kept = isControl(scalar) ? "?" : scalar
            bytes += UTF8.width(kept)
            if bytes > maximumTextBytes { break }
            result.unicodeScalars.append(kept)
        }
        return result
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool { scalar.value < 0x20 || scalar.value == 0x7F }

    /// The record's JSON: every key always present, absent values as `null`.
    public var json: JSONValue {
        [
            "id": .string(id),
            "time_ms": .integer(timeMs),
            "tenant": .string(tenant),
            "user": .string(user),
            "tool": .string(tool),
            "plugin": plugin.map(JSONValue.string) ?? .null,
            "outcome": .string(outcome.name),
            "api_status": apiStatus.map { .integer(Int64($0)) } ?? .null,
            "duration_us": .integer(durationMicroseconds),
            "correlation_id": .string(correlationID),
            "arguments_sha256": .string(argumentsSHA256),
            "replica": replica.map(JSONValue.string) ?? .null,
        ]
    }

    static let keys: Set<String> = [
        "id", "time_ms", "tenant", "user", "tool", "plugin", "outcome", "api_status", "duration_us", "correlation_id",
        "arguments_sha256", "replica",
    ]

    /// A record from its JSON, checked strictly: every required key, no other key, each value of its
    /// type and within its range. The error's message is a sentence naming the field.
    public static func parse(_ value: JSONValue) throws(AuditRecordError) -> AuditRecord {
        guard let object = value.objectValue else { throw AuditRecordError("must be an object, not \(value.typeName)") }
        if let unknown = object.keys.first(where: { !keys.contains($0) }) {
            throw AuditRecordError("has an unknown field '\(clamped(unknown))'")
        }
        guard let id = object["id"]?.stringValue, isUUID(id) else {
            throw AuditRecordError("id must be a lower-case UUID")
        }
        guard let timeMs = object["time_ms"]?.int64Value, timeMs >= 0 else {
            throw AuditRecordError("time_ms must be a whole number of milliseconds since 1970, not negative")
        }
        let tenant = try text(object["tenant"], "tenant", required: true)
        let user = try text(object["user"], "user", required: true)
        let tool = try text(object["tool"], "tool", required: false)
        let plugin = try optional(object["plugin"]).map { value throws(AuditRecordError) in
            try text(value, "plugin", required: true)
        }
        guard let outcomeName = object["outcome"]?.stringValue, let outcome = AuditOutcome(named: outcomeName) else {
            throw AuditRecordError("outcome must be one of \(AuditOutcome.known.map(\.name).joined(separator: ", "))")
        }
        var apiStatus: Int?
        if let status = optional(object["api_status"]) {
            guard let code = status.int64Value, (100...599).contains(code) else {
                throw AuditRecordError("api_status must be an HTTP status from 100 to 599, or null")
            }
            apiStatus = Int(code)
        }
        guard let duration = object["duration_us"]?.int64Value, duration >= 0 else {
            throw AuditRecordError("duration_us must be a whole number of microseconds, not negative")
        }
        let correlationID = try text(object["correlation_id"], "correlation_id", required: false)
        guard let hash = object["arguments_sha256"]?.stringValue, hash.utf8.count == 64,
            hash.utf8.allSatisfy(isLowerHex)
        else { throw AuditRecordError("arguments_sha256 must be 64 lower-case hex digits") }
        let replica = try optional(object["replica"]).map { value throws(AuditRecordError) in
            try text(value, "replica", required: true)
        }
        return AuditRecord(
            id: id, timeMs: timeMs, tenant: tenant, user: user, tool: tool, plugin: plugin, outcome: outcome,
            apiStatus: apiStatus, durationMicroseconds: duration, correlationID: correlationID, argumentsSHA256: hash,
            replica: replica)
    }

    /// Nil for an absent key and for `null`.
    private static func optional(_ value: JSONValue?) -> JSONValue? {
        guard let value, value != .null else { return nil }
        return value
    }

    private static func text(_ value: JSONValue?, _ field: String, required: Bool) throws(AuditRecordError) -> String {
        guard let text = value?.stringValue else { throw AuditRecordError("\(field) must be a string") }
        guard !required || !text.isEmpty else { throw AuditRecordError("\(field) must not be empty") }
        guard text.utf8.count <= maximumTextBytes, !text.unicodeScalars.contains(where: isControl) else {
            throw AuditRecordError(
                "\(field) must be at most \(maximumTextBytes) bytes of UTF-8 without control characters")
        }
        return text
    }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }

    /// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in lower-case hex.
    private static func isUUID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        return bytes.indices.allSatisfy { index in
            [8, 13, 18, 23].contains(index) ? bytes[index] == UInt8(ascii: "-") : isLowerHex(bytes[index])
        }
    }
}

/// Why a record's JSON was refused: a sentence about the record ("tool must be a string").
public struct AuditRecordError: Error, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
