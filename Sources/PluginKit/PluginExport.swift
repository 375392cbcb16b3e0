import PluginABI
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns a `PluginDefinition` into the C descriptor the host reads. A Swift plugin keeps one in
/// a global and returns its pointer from its entry symbol:
///
/// ```swift
/// private let export = PluginExport(myPlugin)
///
/// @_cdecl("toolbridge_plugin_v1")
/// public func toolbridgePluginV1(_ hostMinor: UInt32) -> UnsafeRawPointer? { export.descriptor }
/// ```
///
/// Each plugin library links its own copy of PluginKit, so the one registered definition below
/// is that library's.
public final class PluginExport: @unchecked Sendable {  // immutable once built
    /// The `tb_plugin_descriptor`, allocated once and never freed: the host may read it for as
    /// long as the library is loaded.
    public let descriptor: UnsafeRawPointer

    public init(_ definition: PluginDefinition) {
        registeredDefinition.withLock { $0 = definition }
        let pointer = UnsafeMutablePointer<tb_plugin_descriptor>.allocate(capacity: 1)
        var value = tb_plugin_descriptor()
        value.struct_size = UInt32(MemoryLayout<tb_plugin_descriptor>.size)
        value.abi_major = UInt32(TOOLBRIDGE_ABI_MAJOR)
        value.abi_minor = UInt32(TOOLBRIDGE_ABI_MINOR)
        value.name = UnsafePointer(strdup(definition.name))
        value.version = UnsafePointer(strdup(definition.version))
        value.description = UnsafePointer(strdup(definition.description))
        value.tools_json = UnsafePointer(strdup(definition.toolsJSON))
        value.`init` = pluginInit
        value.deinit = pluginDeinit
        value.call = pluginCall
        value.free_output = { pointer in free(pointer) }
        pointer.initialize(to: value)
        descriptor = UnsafeRawPointer(pointer)
    }
}

private let registeredDefinition = Mutex<PluginDefinition?>(nil)

/// What `init` hands back to the host as the plugin's state.
private final class PluginRuntime: @unchecked Sendable {
    // Immutable after init; the services table is thread-safe by the ABI's rules.
    let services: UnsafePointer<tb_host_services>
    let tools: [String: Tool]

    init(services: UnsafePointer<tb_host_services>, definition: PluginDefinition) {
        self.services = services
        tools = Dictionary(definition.tools.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    func call(_ name: String, input: UnsafeBufferPointer<UInt8>, context: OpaquePointer?) -> (Int32, JSONValue) {
        guard let tool = tools[name] else {
            return (TB_UNKNOWN_TOOL, ToolError(.unknownTool, "this plugin has no tool named '\(name)'").output)
        }
        do throws(ToolError) {
            let arguments = try ArgumentCheck.arguments(input, schema: tool.inputSchema)
            let result = try tool.handler(arguments, CallContext(services: services, context: context))
            return (TB_OK, result)
        } catch {
            return (error.kind.rawValue, error.output)
        }
    }
}

private let pluginInit:
    @convention(c) (
        UnsafePointer<tb_host_services>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
        UnsafeMutablePointer<UnsafePointer<CChar>?>?
    ) -> Int32 = { services, state, errorMessage in
        guard let services, let state, services.pointee.struct_size >= TB_HOST_SERVICES_SIZE_V1_0 else {
            errorMessage?.pointee = staticCString("the host's services table is older than ABI 1.0")
            return TB_INVALID_ARGUMENT
        }
        guard let definition = registeredDefinition.withLock({ $0 }) else {
            errorMessage?.pointee = staticCString("no plugin definition was registered")
            return TB_INTERNAL
        }
        state.pointee = Unmanaged.passRetained(PluginRuntime(services: services, definition: definition)).toOpaque()
        return TB_OK
    }

private let pluginDeinit: @convention(c) (UnsafeMutableRawPointer?) -> Void = { state in
    guard let state else { return }
    Unmanaged<PluginRuntime>.fromOpaque(state).release()
}

private let pluginCall:
    @convention(c) (
        UnsafeMutableRawPointer?, OpaquePointer?, UnsafePointer<CChar>?, Int, UnsafePointer<UInt8>?, Int,
        UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?, UnsafeMutablePointer<Int>?
    ) -> Int32 = { state, context, tool, toolLength, input, inputLength, output, outputLength in
        guard let state, let tool, let output, let outputLength else { return TB_INVALID_ARGUMENT }
        let runtime = Unmanaged<PluginRuntime>.fromOpaque(state).takeUnretainedValue()
        let name = tool.withMemoryRebound(to: UInt8.self, capacity: toolLength) {
            String(decoding: UnsafeBufferPointer(start: $0, count: toolLength), as: UTF8.self)
        }
        let (status, result) = runtime.call(
            name, input: UnsafeBufferPointer(start: input, count: input == nil ? 0 : inputLength), context: context)
        var bytes: [UInt8] = []
        result.write(to: &bytes)
        let buffer = malloc(max(bytes.count, 1))!.assumingMemoryBound(to: UInt8.self)
        bytes.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: bytes.count) }
        output.pointee = buffer
        outputLength.pointee = bytes.count
        return status
    }

/// A string literal's bytes are static and NUL-terminated: what `init`'s error message must be.
private func staticCString(_ text: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
}
