import NIOHTTP1
import Observability
import ToolBridgeJSON
import Tracing

/// The SERVER span of each MCP request, after the OpenTelemetry MCP semantic conventions, for
/// both eras and every transport. Its parent is the trace context the client put in
/// `params._meta` (`traceparent`, `tracestate`, as MCP 2026-07-28 reserves them), else the
/// request's HTTP `traceparent` header (made current by `TraceContextMiddleware`), else none.
/// When tracing is off the span is a no-op and no attribute is computed.
enum MCPTracing {
    /// `network.transport`: HTTP rides on TCP, stdio on a pipe.
    static let tcp = "tcp"
    static let pipe = "pipe"

    /// Starts the span of request `id`; `tool` is the tool of a `tools/call`, `meta` its `params._meta`.
    static func start(
        method: String, id: JSONValue, tool: String?, meta: JSONValue?, transport: String, sessionID: String?,
        protocolVersion: String?
    ) -> any Span {
        var parent = InstrumentationContext.current ?? .topLevel
        if let meta, meta["traceparent"] != nil {
            parent = .topLevel
            InstrumentationSystem.instrument.extract(meta, into: &parent, using: MetaExtractor())
        }
        let span = startSpan(method, context: parent, ofKind: .server)
        guard span.isRecording else { return span }
        if let tool { span.operationName = "\(method) \(tool)" }
        span.updateAttributes { attributes in
            attributes[SemanticName.mcpMethodName] = method
            attributes[SemanticName.jsonRPCRequestID] = id.stringValue ?? id.serialized
            attributes[SemanticName.networkTransport] = transport
            attributes[SemanticName.mcpSessionID] = sessionID
            attributes[SemanticName.mcpProtocolVersion] = protocolVersion
            if let tool {
                attributes[SemanticName.genAIToolName] = tool
                attributes[SemanticName.genAIOperationName] = "execute_tool"
            }
        }
        return span
    }

    /// Ends the span with the request's JSON-RPC response: a JSON-RPC error sets `error.type` to
    /// its code, a tool result with `isError` to `tool_error`; both mark the span as failed.
    static func end(_ span: any Span, response: JSONValue) {
        if span.isRecording {
            if let error = response["error"] {
                let code = error["code"]?.serialized ?? "unknown"
                span.updateAttributes { attributes in
                    attributes[SemanticName.errorType] = code
                    attributes[SemanticName.rpcResponseStatusCode] = code
                }
                span.setStatus(SpanStatus(code: .error, message: error["message"]?.stringValue))
            } else if response["result"]?["isError"] == true {
                span.attributes[SemanticName.errorType] = "tool_error"
                span.setStatus(SpanStatus(code: .error))
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

/// Writes the trace context headers into a REST-proxy request to the API.
struct HTTPHeadersInjector: Injector {
    func inject(_ value: String, forKey key: String, into headers: inout HTTPHeaders) {
        headers.replaceOrAdd(name: key, value: value)
    }
}
