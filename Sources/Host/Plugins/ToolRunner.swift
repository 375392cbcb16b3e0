import Logging
import NIOPosix
import Observability
import PluginABI
import ServiceLifecycle
import Synchronization
import ToolBridgeJSON
import Tracing

/// What a tool call produced: the ABI status and the JSON the plugin returned (the result on
/// success, `{"error", "status"?}` otherwise).
public struct ToolOutcome: Sendable {
    public let status: Int32
    public let value: JSONValue
    /// The HTTP status of the last API request the call made (for the audit trail); nil when it made none.
    public var apiStatus: Int?

    public var isError: Bool { status != TB_OK }
    /// The error sentence of a failed call.
    public var message: String? { isError ? value["error"]?.stringValue ?? "the tool failed" : nil }

    static func failure(_ status: Int32, _ message: String) -> ToolOutcome {
        ToolOutcome(status: status, value: ["error": .string(message)])
    }
}

/// The tools of the loaded plugins by name, and the calls into them. Plugin calls block (the
/// ABI is synchronous), so they run on a dedicated thread pool, never on Swift's cooperative
/// threads. A `Service`: at shutdown it stops the pool and, when it owns the plugins,
/// deinitialises them (no call can be in flight then).
///
/// The plugin set only grows while the host runs (`load(paths:)`; a library is never unloaded).
/// The set is a value behind a lock: a call takes its tool's plugin out under the lock and runs
/// with no lock held.
public final class ToolRunner: Service, Sendable {
    private struct PluginSet: Sendable {
        var plugins: [LoadedPlugin] = []
        /// The plugin of each tool name.
        var tools: [String: LoadedPlugin] = [:]

        mutating func add(_ added: [LoadedPlugin]) {
            plugins += added
            for plugin in added {
                for tool in plugin.tools { tools[tool.name] = plugin }
            }
        }
    }

    private let loaded: Mutex<PluginSet>
    /// Held while plugins are checked and added, so two loads cannot both accept the same name.
    /// Separate from `loaded` so tool lookups never wait for a `dlopen` or a plugin's `init`.
    private let additions = Mutex(())
    private let ownsPlugins: Bool
    private let proxy: RESTProxy
    private let threads: NIOThreadPool
    private let logger: Logger

    /// `ownsPlugins: false` leaves the plugins initialised at shutdown, for plugins shared by
    /// several runners in one process (tests).
    public init(plugins: [LoadedPlugin], proxy: RESTProxy, threads: Int = 64, ownsPlugins: Bool = true, logger: Logger) {
        var set = PluginSet()
        set.add(plugins)
        loaded = Mutex(set)
        self.ownsPlugins = ownsPlugins
        self.proxy = proxy
        self.logger = logger
        self.threads = NIOThreadPool(numberOfThreads: threads)
        self.threads.start()
    }

    public func run() async throws {
        try? await gracefulShutdown()
        try await threads.shutdownGracefully()
        guard ownsPlugins else { return }
        for plugin in plugins {
            plugin.descriptor.pointee.deinit?(plugin.state)
        }
    }

    /// The loaded plugins in load order. Only ever appended to.
    public var plugins: [LoadedPlugin] { loaded.withLock { $0.plugins } }

    public func plugin(ofTool name: String) -> LoadedPlugin? { loaded.withLock { $0.tools[name] } }

    /// Loads plugin files into the running runner with the loader's rules, checking names and tool
    /// names against the plugins already here, and adds the ones that pass.
    public func load(paths: [String]) -> PluginLoadReport {
        additions.withLock { _ in
            let report = PluginLoader.load(paths: paths, alongside: plugins, logger: logger)
            loaded.withLock { $0.add(report.plugins) }
            return report
        }
    }

    /// Runs a tool as `identity`. Never throws: unknown tools, bad arguments, API errors and an
    /// unreachable API all come back as an outcome with an error sentence.
    public func call(
        _ name: String, arguments: JSONValue, identity: CallIdentity, timeout: Duration? = .seconds(60)
    ) async -> ToolOutcome {
        guard let plugin = plugin(ofTool: name) else {
            return .failure(TB_UNKNOWN_TOOL, "unknown tool '\(name)'")
        }
        let input: [UInt8] = {
            var bytes: [UInt8] = []
            arguments.write(to: &bytes)
            return bytes
        }()
        // The plugin's span. Task-locals do not reach the pool thread: the call context carries
        // the span's context there, bound for the plugin's call so its log lines carry the ids.
        return await withSpan("execute_tool \(name)", ofKind: .internal) { span in
            if span.isRecording {
                span.updateAttributes { attributes in
                    attributes[SemanticName.plugin] = plugin.name
                    attributes[SemanticName.genAIToolName] = name
                }
            }
            let context = CallContext(
                identity: identity, plugin: plugin.name, proxy: proxy, logger: logger, timeout: timeout, trace: span.context)
            let outcome: ToolOutcome
            do {
                outcome = try await withTaskCancellationHandler {
                    try await threads.runIfActive { [logger] in
                        InstrumentationContext.$current.withValue(context.trace) {
                            let (status, output) = Self.invoke(plugin, tool: name, input: input, context: context)
                            var outcome = Self.checked(status, output, plugin: plugin, tool: name, logger: logger)
                            outcome.apiStatus = context.lastAPIStatus
                            return outcome
                        }
                    }
                } onCancel: {
                    context.cancel()
                }
            } catch {
                outcome = .failure(TB_UNAVAILABLE, "the host is shutting down")
            }
            if outcome.isError, span.isRecording {
                span.attributes[SemanticName.errorType] = "tool_error"
                span.setStatus(SpanStatus(code: .error, message: outcome.message))
            }
            return outcome
        }
    }

    /// What a plugin's call gave back, before it is checked.
    private enum Output {
        case none
        case notJSON
        case json(JSONValue)

        var description: String {
            switch self {
            case .none: "no output"
            case .notJSON: "output that is not JSON"
            case .json(let value): "a JSON \(value.typeName), not an object"
            }
        }
    }

    /// What a plugin returned, checked against the ABI's promise: on `TB_OK` a JSON object (MCP's
    /// `structuredContent` must be one; the official SDKs reject a whole response otherwise), on
    /// an error status nothing or `{"error": "<sentence>", "status"?: <HTTP status>}`. Breaking it
    /// is a plugin bug: logged with the plugin's name, and the client gets an error result.
    private static func checked(
        _ status: Int32, _ output: Output, plugin: LoadedPlugin, tool: String, logger: Logger
    ) -> ToolOutcome {
        let metadata: Logger.Metadata = ["plugin": "\(plugin.name)", "tool": "\(tool)", "status": "\(status)"]
        if status == TB_OK {
            if case .json(let value) = output, value.objectValue != nil { return ToolOutcome(status: status, value: value) }
            logger.error("a plugin returned a malformed result: \(output.description)", metadata: metadata)
            return .failure(TB_INTERNAL, "the plugin '\(plugin.name)' returned a malformed result")
        }
        switch output {
        case .none:
            return .failure(status, "the tool failed")
        case .json(let value) where value["error"]?.stringValue != nil && isHTTPStatus(value["status"]):
            return ToolOutcome(status: status, value: value)
        default:
            logger.error("a plugin returned a malformed error object: \(output.description)", metadata: metadata)
            return .failure(status, "the tool failed")
        }
    }

    /// True for no value or an integer HTTP status.
    private static func isHTTPStatus(_ value: JSONValue?) -> Bool {
        guard let value else { return true }
        return value.int64Value.map { (100...599).contains($0) } ?? false
    }

    /// The C call itself, on a pool thread. `context` stays alive until it returns.
    private static func invoke(
        _ plugin: LoadedPlugin, tool: String, input: [UInt8], context: CallContext
    ) -> (status: Int32, output: Output) {
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        let status = withExtendedLifetime(context) {
            tool.withCString { name in
                input.withUnsafeBufferPointer { bytes in
                    plugin.descriptor.pointee.call!(
                        plugin.state, context.toOpaque(), name, tool.utf8.count, bytes.baseAddress, bytes.count,
                        &output, &length)
                }
            }
        }
        guard let output else { return (status, .none) }
        defer { plugin.descriptor.pointee.free_output?(output) }
        guard let value = try? JSONValue.parse(UnsafeBufferPointer(start: output, count: length)) else {
            return (status, .notJSON)
        }
        return (status, .json(value))
    }
}
