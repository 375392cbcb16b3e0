// Plugin authors import PluginKit alone; the JSON values tools take and return come with it.
@_exported import ToolBridgeJSON
