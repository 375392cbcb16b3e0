// The API's public types carry JSON values; users of the API get the JSON module with it.
@_exported import ToolBridgeJSON
