import Logging
import NIOPosix
import ServerSupport
import ServiceLifecycle
import Synchronization
import UnixSignals

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The live per-tenant plugin sets. Read on every `tools/list` and `tools/call`; replaced as a
/// whole when the operator's file changes. A file that does not parse leaves the last good
/// configuration in place, and the log says why.
public final class TenantConfiguration: Sendable {
    public let path: String?
    private let state: Mutex<(plugins: TenantPlugins, modified: timespec?)>
    private let logger: Logger

    /// Reads `path` now; a file that cannot be read or parsed at start is an error, so a typo
    /// never starts a host that shows every tenant every tool.
    public init(path: String?, logger: Logger) throws {
        self.path = path
        self.logger = logger
        guard let path else {
            state = Mutex((.everything, nil))
            return
        }
        let (text, modified) = try Self.read(path)
        do {
            state = Mutex((try TenantPlugins.parse(text), modified))
        } catch {
            throw ConfigurationError("the tenants file \(path) is not valid: \(error)")
        }
    }

    /// A fixed configuration, for hosts without a file and for tests.
    public init(_ plugins: TenantPlugins, logger: Logger) {
        path = nil
        self.logger = logger
        state = Mutex((plugins, nil))
    }

    public var current: TenantPlugins { state.withLock { $0.plugins } }

    /// Re-reads the file when it changed (or when `force`d, as on SIGHUP). Returns the previous
    /// and new configuration when the configuration changed.
    func reload(force: Bool) -> (old: TenantPlugins, new: TenantPlugins)? {
        guard let path else { return nil }
        let text: String
        let modified: timespec?
        do {
            (text, modified) = try Self.read(path)
        } catch {
            logger.error("cannot read the tenants file; keeping the last good configuration", metadata: ["path": "\(path)", "reason": "\(error)"])
            return nil
        }
        let previous = state.withLock { $0.modified }
        if !force, let modified, let previous, modified.tv_sec == previous.tv_sec, modified.tv_nsec == previous.tv_nsec {
            return nil
        }
        let parsed: TenantPlugins
        do {
            parsed = try TenantPlugins.parse(text)
        } catch {
            state.withLock { $0.modified = modified }
            logger.error("the tenants file is not valid; keeping the last good configuration", metadata: ["path": "\(path)", "reason": "\(error)"])
            return nil
        }
        let old = state.withLock { state in
            let old = state.plugins
            state = (parsed, modified)
            return old
        }
        guard old != parsed else { return nil }
        logger.info("tenant plugin sets reloaded", metadata: ["path": "\(path)"])
        return (old, parsed)
    }

    private static func read(_ path: String) throws -> (String, timespec?) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw ConfigurationError("cannot read \(path)") }
        guard let file = fopen(path, "r") else { throw ConfigurationError("cannot open \(path)") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return (String(decoding: bytes, as: UTF8.self), info.st_mtim)
    }
}

/// Watches the tenants file: checks its modification time every `interval` and reloads on
/// SIGHUP, then tells `onChange` what changed.
public struct TenantConfigurationWatcher: Service {
    let configuration: TenantConfiguration
    let interval: Duration
    let onChange: @Sendable (TenantPlugins, TenantPlugins) async -> Void

    public init(
        configuration: TenantConfiguration, interval: Duration = .seconds(1),
        onChange: @escaping @Sendable (TenantPlugins, TenantPlugins) async -> Void
    ) {
        self.configuration = configuration
        self.interval = interval
        self.onChange = onChange
    }

    public func run() async throws {
        guard configuration.path != nil else {
            try? await gracefulShutdown()
            return
        }
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
                    await check(force: true)
                }
            }
            group.addTask {
                while !Task.isCancelled, !Task.isShuttingDownGracefully {
                    try? await Task.sleep(for: interval)
                    await check(force: false)
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    /// The file is read on NIO's blocking-I/O pool, not on one of Swift's few cooperative
    /// threads, which a slow disk (a network mount) would otherwise hold up. That pool exists in
    /// every NIO process already; a thread of our own would idle between checks, and NIOFileSystem
    /// would still need a pool hop for `stat`.
    private func check(force: Bool) async {
        let configuration = configuration
        let change = try? await NIOThreadPool.singleton.runIfActive { configuration.reload(force: force) }
        if let (old, new) = change {
            await onChange(old, new)
        }
    }
}
