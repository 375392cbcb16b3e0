// The API's public types carry JSON values; users of the API get the JSON module with it.
@_exported import ToolBridgeJSON
// The API's public types name entity kinds, described in their own module.
@_exported import EntityKinds
