import API
import ArgumentParser
import Foundation
import Logging
import ServerSupport
import ToolBridgeAuth

/// `toolbridge members`: the operator-managed membership records (SPEC §4). Each subcommand opens
/// the storage as `migrate` does (DATABASE_URL, else the SQLite file in the data directory),
/// migrates it (idempotent), does its one thing and exits, so it works beside a running server:
/// on SQLite a write waits for the server's writer (busy timeout) instead of failing. A running
/// API sees a change within its membership cache time (TOOLBRIDGE_MEMBERSHIP_CACHE_SECONDS).
struct MembersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "members",
        abstract: "Add, remove and list operator-managed tenant memberships.",
        discussion: """
            Exit codes: 0 done (also for adding a membership that already exists); \
            \(MembersRemoveCommand.notFound.rawValue) when remove finds no such membership; \
            64 for an invalid tenant or user name; 1 on other errors (database unreachable).
            """,
        subcommands: [MembersAddCommand.self, MembersRemoveCommand.self, MembersListCommand.self])

    /// Runs `body` on the migrated membership store of the configured storage.
    static func withStore<Result: Sendable>(
        _ common: CommonOptions, _ body: @Sendable (any MembershipStore) async throws -> Result
    ) async throws -> Result {
        let logger = Logger(label: "toolbridge.members")
        let configuration = try common.settings(quiet: true).apiConfiguration(logger: logger)
        let storage = try await APIStorage.open(configuration, logger: logger)
        return try await withRunningServices(storage.services) {
            try await storage.store.migrate()
            return try await body(storage.memberships)
        }
    }
}

/// The tenant and user a change names.
struct MembershipOptions: ParsableArguments {
    @Option(help: "The tenant.")
    var tenant: String

    @Option(help: "The user (the tokens' sub claim).")
    var user: String

    func validate() throws {
        try validateNames(tenant: tenant, user: user)
    }
}

/// The auth layer's rules for names, checked before the storage is opened.
func validateNames(tenant: String?, user: String?) throws {
    if let tenant, !Identifiers.isValidTenant(tenant) {
        throw ValidationError("--tenant must be \(Identifiers.tenantRule)")
    }
    if let user, !Identifiers.isValidUser(user) {
        throw ValidationError("--user must be \(Identifiers.userRule)")
    }
}

struct MembersAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Make a user a member of a tenant (no change when it already is).")

    @OptionGroup var common: CommonOptions
    @OptionGroup var membership: MembershipOptions

    func run() async throws {
        let (tenant, user) = (membership.tenant, membership.user)
        let added = try await MembersCommand.withStore(common) { try await $0.addMembership(tenant: tenant, user: user) }
        print(added ? "added: \(user) is a member of \(tenant)" : "unchanged: \(user) was already a member of \(tenant)")
    }
}

struct MembersRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove a user's membership record of a tenant (exit \(notFound.rawValue) when there was none).")

    /// Distinct from 1 (an error), so a script can tell "nothing to remove" from "could not remove".
    static let notFound = ExitCode(3)

    @OptionGroup var common: CommonOptions
    @OptionGroup var membership: MembershipOptions

    func run() async throws {
        let (tenant, user) = (membership.tenant, membership.user)
        let removed = try await MembersCommand.withStore(common) {
            try await $0.removeMembership(tenant: tenant, user: user)
        }
        guard removed else {
            FileHandle.standardError.write(Data("nothing to remove: \(user) has no membership record in \(tenant)\n".utf8))
            throw Self.notFound
        }
        print("removed: the record making \(user) a member of \(tenant)")
    }
}

struct MembersListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List membership records, optionally of one tenant and/or one user.")

    @OptionGroup var common: CommonOptions

    @Option(help: "Only this tenant's memberships.")
    var tenant: String?

    @Option(help: "Only this user's memberships.")
    var user: String?

    @Flag(help: "One JSON object per line: {tenant, userId, createdAt}.")
    var json = false

    func validate() throws {
        try validateNames(tenant: tenant, user: user)
    }

    func run() async throws {
        let (tenant, user) = (tenant, user)
        let records = try await MembersCommand.withStore(common) { try await $0.memberships(tenant: tenant, user: user) }
        if json {
            for record in records {
                print(JSONValue.object([
                    "tenant": .string(record.tenant), "userId": .string(record.userID),
                    "createdAt": .string(Timestamp.format(milliseconds: record.createdMs)),
                ]).serialized)
            }
            return
        }
        let rows = [("TENANT", "USER", "CREATED")]
            + records.map { ($0.tenant, $0.userID, Timestamp.format(milliseconds: $0.createdMs)) }
        let tenantWidth = rows.map { $0.0.count }.max() ?? 0
        let userWidth = rows.map { $0.1.count }.max() ?? 0
        for row in rows {
            print(row.0.padding(toLength: tenantWidth, withPad: " ", startingAt: 0) + "  "
                + row.1.padding(toLength: userWidth, withPad: " ", startingAt: 0) + "  " + row.2)
        }
        if records.isEmpty { print("(no membership records)") }
    }
}
