import Observability
import ToolBridgeJSON
import Tracing

/// One MCP request as operators see it, from its admission to its answer, in both eras and on
/// every transport: a SERVER span after the OpenTelemetry MCP semantic conventions and a sample
/// of `mcp_server_operation_duration_seconds`. The span's parent is the trace context the client
/// put in `params._meta` (`traceparent`, `tracestate`, as MCP 2026-07-28 reserves them), else the
/// request's HTTP `traceparent` header (made current by `TraceContextMiddleware`), else none.
/// When tracing is off the span is a no-op and no attribute is computed.
struct MCPRequestObservation: Sendable {
    let span: any Span
    private let started: ContinuousClock.Instant
    private let method: String
    private let tool: String?
    private let era: HostMetrics.Era
    private let transport: HostMetrics.Transport

    /// Begins request `id`; `tool` is the tool of a `tools/call`, `meta` its `params._meta`.
    init(
        method: String, id: JSONValue, tool: String?, meta: JSONValue?, era: HostMetrics.Era,
        transport: HostMetrics.Transport, sessionID: String?, protocolVersion: String?
    ) {
        started = .now
        self.method = method
        self.tool = tool
        self.era = era
        self.transport = transport
        var parent = InstrumentationContext.current ?? .topLevel
        if let meta, meta["traceparent"] != nil {
            parent = .topLevel
            InstrumentationSystem.instrument.extract(meta, into: &parent, using: MetaExtractor())
        }
        span = startSpan(method, context: parent, ofKind: .server)
        guard span.isRecording else { return }
        if let tool { span.operationName = "\(method) \(tool)" }
        span.updateAttributes { attributes in
            attributes[SemanticName.mcpMethodName] = method
            attributes[SemanticName.jsonRPCRequestID] = id.stringValue ?? id.serialized
            attributes[SemanticName.networkTransport] = transport.networkTransport
            attributes[SemanticName.mcpTransport] = transport.rawValue
            attributes[SemanticName.mcpSessionID] = sessionID
            attributes[SemanticName.mcpProtocolVersion] = protocolVersion
            if let tool {
                attributes[SemanticName.genAIToolName] = tool
                attributes[SemanticName.genAIOperationName] = "execute_tool"
            }
        }
    }

    /// Ends with the request's JSON-RPC response, under `protocolVersion` (the one known by now):
    /// a JSON-RPC error sets `error.type` to its code, a tool result with `isError` to
    /// `tool_error`; both mark the span as failed.
    func end(response: JSONValue, protocolVersion: String?, catalog: ToolCatalog) {
        let error = HostMetrics.errorType(of: response)
        catalog.metrics?.operation(
            method: method, version: protocolVersion ?? "", era: era, transport: transport,
            tool: catalog.toolLabel(tool ?? ""), error: error, since: started)
        if span.isRecording {
            if let protocolVersion { span.attributes[SemanticName.mcpProtocolVersion] = protocolVersion }
            if !error.isEmpty {
                span.attributes[SemanticName.errorType] = error
                if let code = response["error"]?["code"] {
                    span.attributes[SemanticName.rpcResponseStatusCode] = code.serialized
                }
                span.setStatus(SpanStatus(code: .error, message: response["error"]?["message"]?.stringValue))
            }
        }
        span.end()
    }
}

/// Reads `traceparent` and `tracestate` from a request's `params._meta`.
private struct MetaExtractor: Extractor {
    func extract(key: String, from meta: JSONValue) -> String? {
        meta[key]?.stringValue
    }
}
