import Crypto
import DequeModule
import Foundation
import Logging
import NIOPosix
import ServerSupport
import ServiceLifecycle
import Synchronization
import ToolBridgeJSON

/// How the audit trail writes and sends. The CLI fills it from `TOOLBRIDGE_AUDIT_LOG` and
/// `TOOLBRIDGE_REPLICA_ID`; the bounds have defaults.
public struct AuditConfiguration: Sendable {
    /// The JSON-lines file, appended to.
    public var logPath: String
    /// Named in every record (`replica`) when set.
    public var replicaID: String?
    /// The most records waiting, both for the file and for the API; beyond it the oldest are dropped.
    public var capacity: Int
    /// Records waiting that wake the writer before its next tick.
    public var batchSize: Int
    public var flushInterval: Duration

    /// The most records in one POST to the API (the API's own limit).
    public static let maximumBatch = 1000

    public init(
        logPath: String, replicaID: String? = nil, capacity: Int = 10_000, batchSize: Int = 500,
        flushInterval: Duration = .seconds(1)
    ) {
        self.logPath = logPath
        self.replicaID = replicaID
        self.capacity = max(capacity, 1)
        self.batchSize = min(max(batchSize, 1), self.capacity)
        self.flushInterval = flushInterval
    }
}

/// The audit log file, opened once (append-only, created 0600) before any service starts, so a
/// path that cannot be written is a configuration error at start rather than lost records later.
public final class AuditLogFile: Sendable {
    let path: String
    private let descriptor: Int32

    public init(path: String) throws {
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw ConfigurationError(
                "TOOLBRIDGE_AUDIT_LOG: cannot open '\(path)' for appending: \(String(cString: strerror(errno)))")
        }
        // A file that existed before keeps no wider permissions than a new one.
        _ = fchmod(descriptor, 0o600)
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// Appends `bytes` whole (retrying short writes and interrupts). Blocks: call it off the
    /// cooperative threads.
    func append(_ bytes: [UInt8]) throws {
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress! + written, buffer.count - written)
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw ConfigurationError("cannot write to the audit log '\(path)': \(String(cString: strerror(errno)))")
            }
            written += count
        }
    }
}

/// The host's audit trail: one record per tool call, of both eras (`ToolCatalog.call` records).
///
/// `record` only appends to a bounded buffer under a mutex (no I/O, no await), so a call never
/// waits for the trail. The service's `run` takes the buffer every `flushInterval` (sooner when
/// `batchSize` records wait), appends them to the log file as JSON lines, and sends them to the
/// API's `POST /v1/audit/events` in batches of at most 1000, one POST per caller (each with that
/// caller's credentials through the REST proxy, like the calls themselves). A batch the API did
/// not answer, or answered 408, 429 or 5xx, is sent again at the next tick; one it refused
/// otherwise (a 4xx: the record or credential is wrong and will stay so) is logged and dropped.
/// Both queues are bounded by `capacity`: when full, the oldest records go and the count is
/// logged. Graceful shutdown flushes the file and tries the API once more.
public final class AuditTrail: Service, Sendable {
    /// A record and whose credentials send it.
    struct Entry: Sendable {
        let record: AuditRecord
        let identity: CallIdentity
    }

    private struct Waiting {
        var entries = Deque<Entry>()
        var dropped = 0
    }

    public let configuration: AuditConfiguration
    private let file: AuditLogFile
    private let proxy: RESTProxy
    private let logger: Logger
    private let waiting = Mutex(Waiting())
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    public init(configuration: AuditConfiguration, file: AuditLogFile, proxy: RESTProxy, logger: Logger) {
        self.configuration = configuration
        self.file = file
        self.proxy = proxy
        self.logger = logger
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// When a call started: the wall clock for the record's time, the monotonic one for its duration.
    public struct Start: Sendable {
        let instant: ContinuousClock.Instant
        let milliseconds: Int64

        public static var now: Start { Start(instant: .now, milliseconds: Timestamp.nowMilliseconds()) }
    }

    /// Records one finished (or refused) tool call. `arguments` is hashed here and not kept.
    public func record(
        tool: String, plugin: String?, caller: CallIdentity, arguments: JSONValue, outcome: AuditOutcome,
        apiStatus: Int?, started: Start
    ) {
        var bytes: [UInt8] = []
        arguments.write(to: &bytes)
        let elapsed = ContinuousClock.now - started.instant
        let record = AuditRecord(
            id: UUID().uuidString.lowercased(), timeMs: started.milliseconds, tenant: caller.tenant, user: caller.user,
            tool: tool, plugin: plugin, outcome: outcome, apiStatus: apiStatus,
            durationMicroseconds: elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000,
            correlationID: caller.correlationID,
            argumentsSHA256: SHA256.hash(data: bytes).map { Self.hexDigits[Int($0 >> 4)] + Self.hexDigits[Int($0 & 0xF)] }
                .joined(),
            replica: configuration.replicaID)
        append(Entry(record: record, identity: caller))
    }

    private static let hexDigits = (0..<16).map { String($0, radix: 16) }

    func append(_ entry: Entry) {
        let count = waiting.withLock { waiting in
            if waiting.entries.count >= configuration.capacity {
                waiting.entries.removeFirst()
                waiting.dropped += 1
            }
            waiting.entries.append(entry)
            return waiting.entries.count
        }
        if count == configuration.batchSize { wake.yield() }
    }

    public func run() async throws {
        var unsent = Deque<Entry>()
        await withDiscardingTaskGroup { group in
            group.addTask { [wake, interval = configuration.flushInterval] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    wake.yield()
                }
            }
            for await _ in wakeups.cancelOnGracefulShutdown() {
                await flush(&unsent)
            }
            group.cancelAll()
        }
        await flush(&unsent)
        if !unsent.isEmpty {
            logger.warning("\(unsent.count) audit records were not sent to the API before shutdown (they are in the log file)")
        }
    }

    /// Writes what waits to the file, then sends what the API has not stored yet.
    private func flush(_ unsent: inout Deque<Entry>) async {
        let (taken, dropped) = waiting.withLock { waiting in
            defer { waiting = Waiting() }
            return (waiting.entries, waiting.dropped)
        }
        if dropped > 0 {
            logger.warning(
                "the audit buffer was full: dropped the \(dropped) oldest records (in neither the log file nor the API)")
        }
        if !taken.isEmpty {
            var lines: [UInt8] = []
            for entry in taken {
                entry.record.json.write(to: &lines)
                lines.append(UInt8(ascii: "\n"))
            }
            do {
                try await NIOThreadPool.singleton.runIfActive { [file, lines] in try file.append(lines) }
            } catch {
                logger.error("audit records were not written to the log file: \(error)", metadata: ["records": "\(taken.count)"])
            }
            unsent.append(contentsOf: taken)
            let overflow = unsent.count - configuration.capacity
            if overflow > 0 {
                unsent.removeFirst(overflow)
                logger.warning(
                    "the API did not take audit records fast enough: \(overflow) oldest records were not sent (they are in the log file)")
            }
        }
        await send(&unsent)
    }

    /// Sends batches until the queue is empty or the API is unavailable (the rest wait for the next tick).
    private func send(_ unsent: inout Deque<Entry>) async {
        while !unsent.isEmpty, !Task.isCancelled {
            let batch = Array(unsent.prefix(AuditConfiguration.maximumBatch))
            var retry: [Entry] = []
            for group in Self.byCaller(batch) {
                // After one failure the API is likely down: keep the rest for the next tick.
                if !retry.isEmpty {
                    retry += group
                } else if !(await deliver(group)) {
                    retry = group
                }
            }
            unsent.removeFirst(batch.count)
            unsent.insert(contentsOf: retry, at: 0)
            if !retry.isEmpty { return }
        }
    }

    /// The entries grouped by whose credentials send them, in order of first appearance.
    static func byCaller(_ entries: [Entry]) -> [[Entry]] {
        var groups: [[Entry]] = []
        var index: [CallIdentity: Int] = [:]
        for entry in entries {
            let key = CallIdentity(user: entry.identity.user, tenant: entry.identity.tenant, correlationID: "")
            if let position = index[key] {
                groups[position].append(entry)
            } else {
                index[key] = groups.count
                groups.append([entry])
            }
        }
        return groups
    }

    /// POSTs one caller's records. False when they should be sent again later.
    private func deliver(_ group: [Entry]) async -> Bool {
        var body: [UInt8] = []
        JSONValue.object(["events": .array(group.map(\.record.json))]).write(to: &body)
        var metadata: Logger.Metadata = ["records": "\(group.count)", "tenant": "\(group[0].identity.tenant)"]
        do {
            let response = try await proxy.post("/v1/audit/events", body: body, as: group[0].identity)
            metadata["status"] = "\(response.status)"
            switch response.status {
            case 200..<300:
                return true
            case 408, 429, 500...:
                logger.warning("the API did not store audit records; retrying", metadata: metadata)
                return false
            default:
                let sentence = (try? JSONValue.parse(response.body))?["error"]?.stringValue ?? "no reason given"
                logger.error("the API refused audit records; they are only in the log file: \(sentence)", metadata: metadata)
                return true
            }
        } catch {
            logger.warning("audit records not sent: \(error.description); retrying", metadata: metadata)
            return false
        }
    }
}
