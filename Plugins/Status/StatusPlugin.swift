import PluginKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `whoami`: answered by the host alone, without the API. It tells an LLM which user and tenant
/// its session acts as, and it is the benchmark's measure of MCP plus plugin dispatch.
private let export = PluginExport(
    PluginDefinition(
        name: "status", version: "1.0.0",
        description: "Status: who the session acts as, answered by the host without the API.",
        tools: [
            Tool(
                name: "whoami", title: "Who am I",
                description: "The user and tenant this session acts as, and the host's clock (Unix milliseconds).",
                inputSchema: ["type": "object", "properties": [:], "additionalProperties": false],
                outputSchema: [
                    "type": "object",
                    "properties": ["user": ["type": "string"], "tenant": ["type": "string"], "hostTimeMs": ["type": "integer"]],
                    "required": ["user", "tenant", "hostTimeMs"],
                ],
                annotations: ["readOnlyHint": true, "openWorldHint": false]
            ) { _, context in
                var now = timespec()
                clock_gettime(CLOCK_REALTIME, &now)
                return [
                    "user": .string(context.value("user") ?? ""), "tenant": .string(context.value("tenant") ?? ""),
                    "hostTimeMs": .integer(Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000),
                ]
            }
        ]))

@_cdecl("toolbridge_plugin_v1")
public func toolbridgePluginV1(_ hostMinor: UInt32) -> UnsafeRawPointer? { export.descriptor }
