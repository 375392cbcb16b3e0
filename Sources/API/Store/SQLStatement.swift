import ServerSupport

/// A value bound to a statement parameter, neutral between the two databases.
enum SQLValue: Sendable, Equatable {
    case text(String)
    case integer(Int64)
    /// A floating-point value: relevance scores.
    case real(Double)
    case null

    init(_ text: String?) { self = text.map(SQLValue.text) ?? .null }
    init(_ number: Int64?) { self = number.map(SQLValue.integer) ?? .null }

    var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    var text: String? {
        if case .text(let value) = self { return value }
        return nil
    }

    var real: Double? {
        switch self {
        case .real(let value): value
        case .integer(let value): Double(value)
        default: nil
        }
    }
}

enum SQLDialect: Sendable {
    case sqlite
    case postgres
}

/// SQL text with numbered parameters (`$1`, which both PostgreSQL and SQLite accept) and its values.
struct SQLStatement: Sendable {
    var sql: String
    var binds: [SQLValue]

    init(_ sql: String, _ binds: [SQLValue] = []) {
        self.sql = sql
        self.binds = binds
    }

    /// Appends `value` to the binds and returns its placeholder (`$3`), for SQL built piece by piece.
    mutating func bind(_ value: SQLValue) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }
}

/// A connection inside a transaction or a read, as the shared store code sees it.
protocol SQLConnection {
    func execute(_ statement: SQLStatement) async throws
    /// Rows of a statement that selects `ItemColumns.list`, in that order.
    func items(_ statement: SQLStatement) async throws -> [StoredItem]
    /// Rows of text and integer columns, for the small queries (sessions, epochs, counts).
    func rows(_ statement: SQLStatement) async throws -> [[SQLValue]]
}

/// A database the shared store runs on: how to read, how to run a transaction, which dialect.
protocol SQLDatabase: Sendable {
    var dialect: SQLDialect { get }
    func read<Result: Sendable>(_ body: (any SQLConnection) async throws -> Result) async throws -> Result
    /// Runs `body` in a transaction that serializes against other writers of the same rows.
    func transaction<Result: Sendable>(_ body: (any SQLConnection) async throws -> Result) async throws -> Result
}

enum ItemColumns {
    static let list = "uid, version, updated_ms, deleted_ms, clock_ms, payload, status, parent_uid, parent_type"
    /// `list` qualified by the table alias `i`, for joins.
    static let aliasedList = list.split(separator: ",").map { "i." + String($0).trimmingWhitespace() }
        .joined(separator: ", ")

    static func item(from values: [SQLValue]) -> StoredItem? {
        guard values.count == 9, let uid = values[0].text, let version = values[1].integer,
            let updatedMs = values[2].integer, let clockMs = values[4].integer, let payload = values[5].text
        else { return nil }
        return StoredItem(
            uid: uid, version: version, updatedMs: updatedMs, deletedMs: values[3].integer, clockMs: clockMs,
            payload: payload, status: values[6].text, parentUID: values[7].text, parentType: values[8].text)
    }
}
