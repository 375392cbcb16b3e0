import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What one pass over the plugin directories did.
public struct PluginScan: Sendable {
    /// The plugins this pass loaded; they are in the runner now.
    public var added: [LoadedPlugin] = []
    /// The files this pass tried and refused. Each is tried again only once it changes.
    public var refusals: [PluginRefusal] = []
    /// Loaded files removed or replaced since they were loaded. Their plugins keep running the
    /// code loaded first until the host restarts.
    public var changedAfterLoading: [String] = []
}

/// Loads the plugin files that appear in the operator's plugin directories while the host runs,
/// so adding a plugin needs neither a rebuild nor a restart.
///
/// Every `interval` it lists the directories and hands each `.so` file it has not tried yet to
/// the runner, which applies the loader's checks against the plugins already loaded; then it tells
/// `onAdded` what loaded. A refused file (a half-copied one, say) is tried again only when its
/// size, modification time or inode changes. A loaded file is never loaded again, since a library
/// is never unloaded: removing or replacing it only logs that a restart is needed. A directory
/// that does not exist yet is looked for on every pass.
///
/// It does not trap SIGHUP: the tenants file watcher does, and a pass every second is soon enough.
public final class PluginDirectoryWatcher: Service, Sendable {
    /// What identifies one version of a file: a rename replaces the inode, a copy in place
    /// changes the size or modification time.
    private struct FileVersion: Equatable {
        let device: UInt64
        let inode: UInt64
        let size: Int64
        let modifiedSeconds: Int
        let modifiedNanoseconds: Int

        init?(_ path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            modifiedSeconds = info.st_mtim.tv_sec
            modifiedNanoseconds = info.st_mtim.tv_nsec
        }
    }

    private struct TriedFile {
        /// Nil once the file is gone.
        var version: FileVersion?
        let loaded: Bool
    }

    private struct State {
        var files: [String: TriedFile] = [:]
        var unreadableDirectories: Set<String> = []
    }

    public let directories: [String]
    private let runner: ToolRunner
    private let interval: Duration
    private let logger: Logger
    private let onAdded: @Sendable ([LoadedPlugin]) async -> Void
    /// Counts what each file's load did; nil when metrics are off.
    private let metrics: HostMetrics?
    /// Held for a whole pass: passes never overlap, and only the run loop (and the host's first
    /// pass, before it serves) makes them.
    private let state = Mutex(State())

    public init(
        directories: [String], runner: ToolRunner, interval: Duration = .seconds(1), metrics: HostMetrics? = nil,
        logger: Logger, onAdded: @escaping @Sendable ([LoadedPlugin]) async -> Void = { _ in }
    ) {
        self.metrics = metrics
        self.directories = directories
        self.runner = runner
        self.interval = interval
        self.logger = logger
        self.onAdded = onAdded
    }

    public func run() async throws {
        guard !directories.isEmpty else {
            try? await gracefulShutdown()
            return
        }
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
            guard !Task.isCancelled, !Task.isShuttingDownGracefully else { return }
            // Listing directories, `dlopen` and a plugin's `init` block: they run on NIO's
            // blocking-I/O pool, not on one of Swift's few cooperative threads. NIOFileSystem has
            // no `dlopen`, and a thread of our own would idle between passes.
            let added = (try? await NIOThreadPool.singleton.runIfActive { self.scan().added }) ?? []
            if !added.isEmpty { await onAdded(added) }
        }
    }

    /// One pass over the directories, in order, each in name order. Blocks while a new file is
    /// opened and initialised.
    @discardableResult
    public func scan() -> PluginScan {
        state.withLock { state in
            var scan = PluginScan()
            var present: Set<String> = []
            for directory in directories {
                guard let paths = PluginLoader.sharedLibraries(in: directory) else {
                    if state.unreadableDirectories.insert(directory).inserted {
                        logger.warning(
                            "the plugin directory cannot be read; it is checked again every pass",
                            metadata: ["directory": "\(directory)"])
                    }
                    continue
                }
                if state.unreadableDirectories.remove(directory) != nil {
                    logger.info("the plugin directory can be read now", metadata: ["directory": "\(directory)"])
                }
                for path in paths {
                    guard let version = FileVersion(path) else { continue }
                    present.insert(path)
                    let tried = state.files[path]
                    if tried?.version == version { continue }
                    if tried?.loaded == true {
                        state.files[path]?.version = version
                        scan.changedAfterLoading.append(path)
                        continue
                    }
                    let report = runner.load(paths: [path])
                    metrics?.pluginsLoaded(report)
                    state.files[path] = TriedFile(version: version, loaded: !report.plugins.isEmpty)
                    scan.added += report.plugins
                    scan.refusals += report.refusals
                }
            }
            for (path, tried) in state.files where !present.contains(path) {
                if !tried.loaded {
                    state.files[path] = nil
                } else if tried.version != nil {
                    state.files[path]?.version = nil
                    scan.changedAfterLoading.append(path)
                }
            }
            for path in scan.changedAfterLoading {
                logger.warning(
                    "a loaded plugin file was removed or replaced: its plugin keeps the code loaded first until the host restarts (libraries are never unloaded)",
                    metadata: ["path": "\(path)"])
            }
            return scan
        }
    }
}
