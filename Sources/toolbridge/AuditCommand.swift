import API
import ArgumentParser
import Foundation
import Logging
import ServerSupport

/// `toolbridge audit`: the audit trail of tool calls, read from the database directly (like
/// `migrate`, it opens the storage `DATABASE_URL` or the data directory names).
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Print the audit trail of tool calls, newest first, from the database.")

    @OptionGroup var common: CommonOptions

    @Option(help: "Only calls in this tenant.")
    var tenant: String?

    @Option(help: "Only calls by this user.")
    var user: String?

    @Option(help: "Only calls this recent: a whole number and a unit, s, m, h or d (30m, 1h, 7d).")
    var since: String?

    @Option(help: "The most calls printed (1 to \(Self.maximumLimit)).")
    var limit = 100

    @Flag(help: "One JSON object per line, in the shape of the host's audit log file.")
    var json = false

    static let maximumLimit = 100_000

    func validate() throws {
        guard (1...Self.maximumLimit).contains(limit) else {
            throw ValidationError("--limit must be from 1 to \(Self.maximumLimit), not \(limit)")
        }
        if let since { _ = try Self.milliseconds(since) }
    }

    /// `30m` → 1 800 000. Refuses anything else, and spans too long to count in milliseconds.
    static func milliseconds(_ text: String) throws -> Int64 {
        let units: [Character: Int64] = ["s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000]
        guard let unit = text.last.flatMap({ units[$0] }), let count = Int64(text.dropLast()), count >= 0 else {
            throw ValidationError("--since must be a whole number and a unit, s, m, h or d (30m, 1h, 7d), not '\(text)'")
        }
        let (span, overflow) = count.multipliedReportingOverflow(by: unit)
        guard !overflow else { throw ValidationError("--since '\(text)' is too long a span") }
        return span
    }

    func run() async throws {
        let logger = Logger(label: "toolbridge.audit")
        let configuration = try common.settings(quiet: true).apiConfiguration(logger: logger)
        let sinceMs = try since.map { text in
            let (start, overflow) = Timestamp.nowMilliseconds().subtractingReportingOverflow(try Self.milliseconds(text))
            return overflow ? Int64.min : start
        }
        let query = AuditQuery(tenant: tenant, user: user, sinceMs: sinceMs, limit: limit)
        let storage = try await APIStorage.open(configuration, logger: logger)
        let records: [AuditRecord]
        do {
            records = try await withRunningServices(storage.services) { try await storage.audit.events(query) }
        } catch {
            throw ValidationError(
                "could not read the audit trail from \(storage.name) (\(error)); if the database predates it, run `toolbridge migrate`")
        }
        var output = ""
        if json {
            for record in records { output += record.json.serialized + "\n" }
        } else {
            output = Self.table(records)
        }
        FileHandle.standardOutput.write(Data(output.utf8))
    }

    /// Aligned columns for people; the correlation id last, since it is the longest.
    static func table(_ records: [AuditRecord]) -> String {
        let header = ["TIME", "TENANT", "USER", "TOOL", "OUTCOME", "API", "MS", "CORRELATION ID"]
        let rows = records.map { record in
            [
                Timestamp.format(milliseconds: record.timeMs), record.tenant, record.user, record.tool, record.outcome.name,
                record.apiStatus.map(String.init) ?? "-", String(record.durationMicroseconds / 1000), record.correlationID,
            ]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            row.enumerated().map { column, text in
                column == row.count - 1 ? text : text.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
