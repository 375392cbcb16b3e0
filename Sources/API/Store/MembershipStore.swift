import ServerSupport
import ToolBridgeAuth

/// One operator-managed membership: `userID` may act in `tenant`.
public struct MembershipRecord: Sendable, Equatable {
    public let tenant: String
    public let userID: String
    /// Unix milliseconds of the `add` that created it.
    public let createdMs: Int64

    public init(tenant: String, userID: String, createdMs: Int64) {
        self.tenant = tenant
        self.userID = userID
        self.createdMs = createdMs
    }
}

/// The operator-managed membership records (SPEC §4), kept apart from `ItemStore`, which is about
/// items. Tenants and users are checked with the auth layer's own rules (`Identifiers`), so the
/// records hold nothing a token could not name; a bad one is a 400 `APIError`. Its
/// `tenants(of:)` is the API's `MembershipRecords` source.
public protocol MembershipStore: MembershipRecords {
    /// Records the membership; true when it is new, false when it already existed (unchanged).
    func addMembership(tenant: String, user: String) async throws -> Bool
    /// Deletes the membership; true when it existed.
    func removeMembership(tenant: String, user: String) async throws -> Bool
    /// The memberships matching both filters (nil matches every value), by tenant then user.
    func memberships(tenant: String?, user: String?) async throws -> [MembershipRecord]
    /// The tenants the records make `user` a member of, sorted.
    func tenants(of user: String) async throws -> [String]
}

extension SQLItemStore: MembershipStore {
    func addMembership(tenant: String, user: String) async throws -> Bool {
        try Self.check(tenant: tenant, user: user)
        let statement = SQLStatement(
            """
            INSERT INTO memberships (tenant, user_id, created_at) VALUES ($1, $2, $3)
            ON CONFLICT (tenant, user_id) DO NOTHING RETURNING 1
            """,
            [.text(tenant), .text(user), .integer(Timestamp.nowMilliseconds())])
        return try await database.transaction { !(try await $0.rows(statement)).isEmpty }
    }

    func removeMembership(tenant: String, user: String) async throws -> Bool {
        try Self.check(tenant: tenant, user: user)
        let statement = SQLStatement(
            "DELETE FROM memberships WHERE tenant = $1 AND user_id = $2 RETURNING 1", [.text(tenant), .text(user)])
        return try await database.transaction { !(try await $0.rows(statement)).isEmpty }
    }

    func memberships(tenant: String?, user: String?) async throws -> [MembershipRecord] {
        if let tenant { try Self.check(tenant: tenant) }
        if let user { try Self.check(user: user) }
        var statement = SQLStatement("")
        var conditions: [String] = []
        if let tenant { conditions.append("tenant = \(statement.bind(.text(tenant)))") }
        if let user { conditions.append("user_id = \(statement.bind(.text(user)))") }
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        statement.sql = "SELECT tenant, user_id, created_at FROM memberships\(filter) ORDER BY tenant, user_id"
        let query = statement
        return try await database.read { try await $0.rows(query) }.compactMap { row in
            guard row.count == 3, let tenant = row[0].text, let user = row[1].text, let created = row[2].integer
            else { return nil }
            return MembershipRecord(tenant: tenant, userID: user, createdMs: created)
        }
    }

    /// A user no token could name has no records, so it is answered without a query.
    func tenants(of user: String) async throws -> [String] {
        guard Identifiers.isValidUser(user) else { return [] }
        let statement = SQLStatement("SELECT tenant FROM memberships WHERE user_id = $1 ORDER BY tenant", [.text(user)])
        return try await database.read { try await $0.rows(statement) }.compactMap { $0.first?.text }
    }

    private static func check(tenant: String? = nil, user: String? = nil) throws {
        if let tenant, !Identifiers.isValidTenant(tenant) {
            throw APIError.badRequest("the tenant must be \(Identifiers.tenantRule)")
        }
        if let user, !Identifiers.isValidUser(user) {
            throw APIError.badRequest("the user must be \(Identifiers.userRule)")
        }
    }
}
