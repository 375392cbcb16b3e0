import EntityKinds
import PluginKit

private let export = PluginExport(EntityToolset(.tasks).plugin)

@_cdecl("toolbridge_plugin_v1")
public func toolbridgePluginV1(_ hostMinor: UInt32) -> UnsafeRawPointer? { export.descriptor }
