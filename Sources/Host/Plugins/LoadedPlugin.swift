import PluginABI
import ToolBridgeJSON

/// A tool as a plugin described it: its name and the MCP definition to list.
public struct ToolDefinition: Sendable {
    public let name: String
    /// `{name, title?, description?, inputSchema, outputSchema?, annotations?}` as declared.
    public let definition: JSONValue

    public var title: String? { definition["title"]?.stringValue }
    public var description: String? { definition["description"]?.stringValue }
}

/// A plugin library the loader opened and checked. Its descriptor and state stay valid for
/// the life of the process: the host never unloads a library.
///
/// Immutable: every field is a `let`. The loader makes one without state when it inspects a
/// library and a second one, `initialised(state:)`, once the plugin's `init` ran. Unchecked
/// `Sendable` only for the two pointers: the descriptor is the plugin's static data, the state
/// belongs to the plugin, and the ABI makes `call` safe to invoke from many threads.
public final class LoadedPlugin: @unchecked Sendable {
    public let name: String
    public let version: String
    public let summary: String
    public let path: String
    public let tools: [ToolDefinition]
    let descriptor: UnsafePointer<tb_plugin_descriptor>
    /// What the plugin's `init` returned; nil before it ran (`toolbridge plugins inspect`).
    let state: UnsafeMutableRawPointer?

    init(
        name: String, version: String, summary: String, path: String, tools: [ToolDefinition],
        descriptor: UnsafePointer<tb_plugin_descriptor>, state: UnsafeMutableRawPointer? = nil
    ) {
        self.name = name
        self.version = version
        self.summary = summary
        self.path = path
        self.tools = tools
        self.descriptor = descriptor
        self.state = state
    }

    /// This plugin with the state its `init` returned.
    func initialised(state: UnsafeMutableRawPointer?) -> LoadedPlugin {
        LoadedPlugin(
            name: name, version: version, summary: summary, path: path, tools: tools, descriptor: descriptor, state: state)
    }
}

/// A library the loader would not use, and why, in a sentence naming the file.
public struct PluginRefusal: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let reason: String
    /// The kind of refusal, for metrics: a closed set, unlike `reason`, which names paths and tools.
    public let cause: Cause

    public enum Cause: String, Sendable {
        case unreadableDirectory = "unreadable_directory", alreadyOpen = "already_open", truncated
        case notLoadable = "not_loadable", notAPlugin = "not_a_plugin", abiDeclined = "abi_declined"
        case abiMismatch = "abi_mismatch", incompleteDescriptor = "incomplete_descriptor", invalidName = "invalid_name"
        case invalidTools = "invalid_tools", duplicatePlugin = "duplicate_plugin", duplicateTool = "duplicate_tool"
        case initFailed = "init_failed"
    }

    public init(path: String, reason: String, cause: Cause) {
        self.path = path
        self.reason = reason
        self.cause = cause
    }

    public var description: String { "\(path): \(reason)" }
}

/// What a load found: the plugins now usable and the files refused.
public struct PluginLoadReport: Sendable {
    public var plugins: [LoadedPlugin] = []
    public var refusals: [PluginRefusal] = []

    public var toolCount: Int { plugins.reduce(0) { $0 + $1.tools.count } }
}
