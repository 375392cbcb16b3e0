import Logging
import PluginABI
import ToolBridgeJSON

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds plugin libraries, opens them with `dlopen(RTLD_NOW | RTLD_LOCAL)`, checks the ABI
/// before reading anything else, and initialises them. A file that fails any check is refused
/// with a reason and never stops the others from loading.
public enum PluginLoader {
    /// File names of the core plugins `swift build` puts beside the executable.
    public static let builtPluginPrefix = "libtoolbridge-plugin-"

    /// The directory of the running executable, where `swift build` and `swift test` put the
    /// core plugins.
    public static func executableDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let path = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return nil }
        return String(path[..<slash])
    }

    /// Loads the built core plugins, then every `.so` in each operator directory in name order.
    /// A directory that cannot be read is reported as a refusal, not skipped silently.
    public static func load(directories: [String], includeBuilt: Bool = true, logger: Logger) -> PluginLoadReport {
        var paths: [String] = []
        var unreadable: [PluginRefusal] = []
        if includeBuilt, let directory = executableDirectory() {
            paths += (sharedLibraries(in: directory) ?? [])
                .filter { $0.split(separator: "/").last?.hasPrefix(builtPluginPrefix) == true }
        }
        for directory in directories {
            guard let found = sharedLibraries(in: directory) else {
                unreadable.append(PluginRefusal(path: directory, reason: "the plugin directory cannot be read", cause: .unreadableDirectory))
                continue
            }
            paths += found
        }
        var report = load(paths: paths, logger: logger)
        report.refusals = unreadable + report.refusals
        return report
    }

    /// The `.so` files directly in `directory`, in name order; nil when it cannot be read.
    static func sharedLibraries(in directory: String) -> [String]? {
        guard let handle = opendir(directory) else { return nil }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name.hasSuffix(".so") { names.append(name) }
        }
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        return names.sorted().map { base + "/" + $0 }
    }

    /// Opens, checks and initialises every path. Plugin and tool names must be unique, among these
    /// files and against the plugins `alongside` (those a running host already has); a file that
    /// repeats one is refused.
    public static func load(paths: [String], alongside loaded: [LoadedPlugin] = [], logger: Logger) -> PluginLoadReport {
        var report = PluginLoadReport()
        var pluginPaths: [String: String] = [:]
        var toolOwners: [String: String] = [:]
        for plugin in loaded {
            pluginPaths[plugin.name] = plugin.path
            for tool in plugin.tools { toolOwners[tool.name] = plugin.name }
        }
        for path in paths {
            var plugin: LoadedPlugin
            switch inspect(path) {
            case .failure(let refusal):
                report.refusals.append(refusal)
                continue
            case .success(let inspected):
                plugin = inspected
            }
            if let other = pluginPaths[plugin.name] {
                report.refusals.append(PluginRefusal(
                    path: path, reason: "a plugin named '\(plugin.name)' is already loaded from \(other)", cause: .duplicatePlugin))
                continue
            }
            if let clash = plugin.tools.first(where: { toolOwners[$0.name] != nil }) {
                let owner = toolOwners[clash.name]!
                report.refusals.append(PluginRefusal(
                    path: path, reason: "its tool '\(clash.name)' is already provided by the plugin '\(owner)'",
                    cause: .duplicateTool))
                continue
            }
            switch initialise(plugin) {
            case .failure(let refusal):
                report.refusals.append(refusal)
                continue
            case .success(let initialised):
                plugin = initialised
            }
            pluginPaths[plugin.name] = path
            for tool in plugin.tools { toolOwners[tool.name] = plugin.name }
            report.plugins.append(plugin)
            logger.info("loaded plugin", metadata: ["plugin": "\(plugin.name)", "tools": "\(plugin.tools.count)", "path": "\(path)"])
        }
        for refusal in report.refusals {
            logger.warning("refused plugin", metadata: ["path": "\(refusal.path)", "reason": "\(refusal.reason)"])
        }
        return report
    }

    /// Opens a library and reads its descriptor without initialising it (`toolbridge plugins inspect`).
    public static func inspect(_ path: String) -> Result<LoadedPlugin, PluginRefusal> {
        func refuse(_ cause: PluginRefusal.Cause, _ reason: String) -> Result<LoadedPlugin, PluginRefusal> {
            .failure(PluginRefusal(path: path, reason: reason, cause: cause))
        }
        // dlopen answers a path it opened before with that library, even when the file has been
        // replaced since, so a second open would silently use the old code.
        if dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD) != nil {
            return refuse(.alreadyOpen, "a library is already open from this path (or this file under another name), and a changed file cannot be reopened under the same name: give it a new file name, or restart the host")
        }
        // dlopen maps a truncated library and then dies of SIGBUS touching the missing pages.
        if let extent = ELFExtent(path), extent.needed > extent.size {
            return refuse(.truncated, "it is shorter (\(extent.size) bytes) than its ELF headers say (\(extent.needed) bytes): is it still being copied?")
        }
        // Never dlclose: a library's initialisers have run, and unloading Swift or C++ code is unsafe.
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            return refuse(.notLoadable, "it cannot be opened: \(dlerror().map { String(cString: $0) } ?? "unknown error")")
        }
        guard let symbol = dlsym(handle, TOOLBRIDGE_PLUGIN_ENTRY_V1) else {
            return refuse(.notAPlugin, "it is not a ToolBridge plugin: it exports no \(TOOLBRIDGE_PLUGIN_ENTRY_V1) function")
        }
        let entry = unsafeBitCast(symbol, to: tb_plugin_entry_v1.self)
        guard let descriptor = entry(UInt32(TOOLBRIDGE_ABI_MINOR)) else {
            return refuse(.abiDeclined, "it declined this host's ABI 1.\(TOOLBRIDGE_ABI_MINOR) (it needs a newer host)")
        }
        // Read the size and version first: nothing beyond them is trusted before they check out.
        // Any size from ABI 1.0's up is accepted, whatever minor the plugin claims: this host
        // reads only the fields of its own layout, and a later minor's appended fields are ignored.
        let size = UnsafeRawPointer(descriptor).load(as: UInt32.self)
        let required = Int(TB_PLUGIN_DESCRIPTOR_SIZE_V1_0)
        guard size >= required else {
            return refuse(.abiMismatch, "its descriptor is \(size) bytes, smaller than the \(required) of ABI 1.0")
        }
        let major = descriptor.pointee.abi_major
        guard major == TOOLBRIDGE_ABI_MAJOR else {
            return refuse(.abiMismatch, "it was built for ABI major version \(major); this host speaks \(TOOLBRIDGE_ABI_MAJOR)")
        }
        guard descriptor.pointee.call != nil, descriptor.pointee.free_output != nil, descriptor.pointee.`init` != nil
        else { return refuse(.incompleteDescriptor, "its descriptor lacks init, call or free_output") }
        guard let name = descriptor.pointee.name.map({ String(cString: $0) }), isValidName(name) else {
            return refuse(.invalidName, "its name must be 1 to 64 lowercase letters, digits or '_'")
        }
        let tools: [ToolDefinition]
        switch parseTools(descriptor.pointee.tools_json) {
        case .success(let parsed): tools = parsed
        case .failure(let refusal): return refuse(.invalidTools, refusal.reason)
        }
        return .success(LoadedPlugin(
            name: name, version: descriptor.pointee.version.map { String(cString: $0) } ?? "",
            summary: descriptor.pointee.description.map { String(cString: $0) } ?? "", path: path, tools: tools,
            descriptor: descriptor))
    }

    private static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }
    }

    private static func parseTools(_ text: UnsafePointer<CChar>?) -> Result<[ToolDefinition], PluginRefusal> {
        func refuse(_ reason: String) -> Result<[ToolDefinition], PluginRefusal> {
            .failure(PluginRefusal(path: "", reason: reason, cause: .invalidTools))
        }
        guard let text else { return refuse("its tools_json is missing") }
        let value: JSONValue
        do {
            value = try JSONValue.parse(String(cString: text))
        } catch {
            return refuse("its tools_json is not valid JSON: \(error)")
        }
        guard let array = value.arrayValue else { return refuse("its tools_json is not a JSON array") }
        var tools: [ToolDefinition] = []
        var seen: Set<String> = []
        for (index, tool) in array.enumerated() {
            guard let name = tool["name"]?.stringValue, !name.isEmpty, tool["inputSchema"]?.objectValue != nil else {
                return refuse("tool \(index) in its tools_json needs a \"name\" and an \"inputSchema\" object")
            }
            guard seen.insert(name).inserted else { return refuse("it declares the tool '\(name)' twice") }
            tools.append(ToolDefinition(name: name, definition: tool))
        }
        return .success(tools)
    }

    /// Calls the plugin's `init` with the host's services: the plugin with its state, or why it failed.
    private static func initialise(_ plugin: LoadedPlugin) -> Result<LoadedPlugin, PluginRefusal> {
        var state: UnsafeMutableRawPointer?
        var message: UnsafePointer<CChar>?
        let status = plugin.descriptor.pointee.`init`!(HostServicesTable.pointer, &state, &message)
        guard status == TB_OK else {
            let reason = message.map { String(cString: $0) } ?? "no reason given"
            return .failure(PluginRefusal(
                path: plugin.path, reason: "its init failed with status \(status): \(reason)", cause: .initFailed))
        }
        return .success(plugin.initialised(state: state))
    }
}
