"""End-to-end: OpenTelemetry traces. An OTLP/HTTP receiver written here (Python's http.server,
decoding `ExportTraceServiceRequest` with the official opentelemetry-proto package) receives the
spans of real `toolbridge` processes; a tool call whose client sent a trace context (in
`params._meta` or as the HTTP `traceparent` header) arrives as one connected trace with the
client's trace id: MCP request → plugin call → REST-proxy request → API request → database."""
import asyncio
import os
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest, ExportTraceServiceResponse)

from conftest import DELEGATION_SECRET, SECRET, TENANT_SECRET, Server, start_process, token

SERVER, INTERNAL, CLIENT = 2, 1, 3


class Receiver:
    """An OTLP/HTTP trace receiver on loopback: keeps every span it is sent, by trace id."""

    def __init__(self, port=0):
        self.spans = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.add(request, self.path, self.headers.get("Content-Type"))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *arguments):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add(self, request, path, content_type):
        for resource_spans in request.resource_spans:
            service = attributes(resource_spans.resource.attributes).get("service.name")
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    with self.lock:
                        self.spans.append({
                            "trace": span.trace_id.hex(), "id": span.span_id.hex(), "parent": span.parent_span_id.hex(),
                            "name": span.name, "kind": span.kind, "attributes": attributes(span.attributes),
                            "error": span.status.code == 2, "service": service, "path": path,
                            "content_type": content_type,
                        })

    def trace(self, trace_id):
        with self.lock:
            return [span for span in self.spans if span["trace"] == trace_id]

    def count(self):
        with self.lock:
            return len(self.spans)

    def wait_for(self, trace_id, predicate, seconds=30):
        """The trace's spans once `predicate` holds for them (bounded wait)."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            spans = self.trace(trace_id)
            if predicate(spans):
                return spans
            time.sleep(0.1)
        raise AssertionError(f"trace {trace_id} incomplete after {seconds} s: {[s['name'] for s in self.trace(trace_id)]}")

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def attributes(key_values):
    values = {}
    for pair in key_values:
        kind = pair.value.WhichOneof("value")
        values[pair.key] = getattr(pair.value, kind) if kind else None
    return values


def tracing_settings(receiver):
    # A short batch delay so spans arrive within a test's bounded wait.
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "100",
            "TOOLBRIDGE_LOG_LEVEL": "debug"}


def new_trace():
    """A client's trace context: (trace id, its span's id, the traceparent)."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


async def call_tool(mcp_url, bearer, name, arguments, meta=None, headers=None):
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {bearer}", **(headers or {})}, timeout=30) as client:
        async with streamable_http_client(mcp_url + "/mcp", http_client=client) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                return await session.call_tool(name, arguments, meta=meta)


def complete(tool):
    """Whether a trace holds the call's MCP span (it ends last) and a database span under an API
    span (the deepest level); spans arrive in batches, in the order they ended."""
    def check(spans):
        ids = {span["id"]: span for span in spans}
        return any(span["name"] == f"tools/call {tool}" for span in spans) and any(
            "db.system.name" in span["attributes"] and ids.get(span["parent"], {}).get("kind") == SERVER
            for span in spans)
    return check


def check_connected_trace(spans, client_span, tool):
    """One connected trace: MCP span (child of the client's span) → plugin span → REST-proxy client
    span → API server span → ≥ 1 database span, every span's parent in the trace or the client's.
    Returns the spans of the chain."""
    ids = {span["id"]: span for span in spans}
    assert all(span["parent"] in ids or span["parent"] == client_span for span in spans), spans
    mcp_spans = [span for span in spans if span["name"] == f"tools/call {tool}"]
    assert len(mcp_spans) == 1, [span["name"] for span in spans]
    mcp = mcp_spans[0]
    assert mcp["parent"] == client_span and mcp["kind"] == SERVER
    assert mcp["attributes"]["mcp.method.name"] == "tools/call"
    assert mcp["attributes"]["gen_ai.tool.name"] == tool
    assert mcp["attributes"]["gen_ai.operation.name"] == "execute_tool"
    assert mcp["attributes"]["network.transport"] == "tcp"
    assert "jsonrpc.request.id" in mcp["attributes"]
    assert not mcp["error"]

    plugin = next(span for span in spans if span["parent"] == mcp["id"])
    assert plugin["kind"] == INTERNAL and plugin["name"] == f"execute_tool {tool}"
    assert plugin["attributes"]["toolbridge.plugin"] == "notes"
    assert plugin["attributes"]["gen_ai.tool.name"] == tool

    proxied = [span for span in spans if span["parent"] == plugin["id"]]
    assert proxied and all(span["kind"] == CLIENT for span in proxied), proxied
    chains = []
    for request in proxied:
        assert request["name"] == request["attributes"]["http.request.method"]
        assert request["attributes"]["server.address"] == "127.0.0.1"
        for api in (span for span in spans if span["parent"] == request["id"]):
            assert api["kind"] == SERVER
            assert api["name"] == f"{api['attributes']['http.request.method']} {api['attributes']['http.route']}"
            assert api["attributes"]["http.response.status_code"] == request["attributes"]["http.response.status_code"]
            database = [span for span in spans if span["parent"] == api["id"]]
            if database:
                chains.append((request, api, database))
    assert chains, "no API span with database spans under the plugin's requests"
    for _, _, database in chains:
        for query in database:
            assert query["kind"] == CLIENT
            assert query["attributes"]["db.system.name"] in ("sqlite", "postgresql")
            assert query["name"] == query["attributes"]["db.operation.name"]
    return mcp, plugin, chains


@pytest.fixture(scope="module")
def receiver():
    running = Receiver()
    yield running
    running.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def traced(request, receiver):
    running = Server(request.param, settings=tracing_settings(receiver))
    yield running
    running.stop()


def user():
    return "trace-" + uuid.uuid4().hex[:8]


def test_a_tool_call_with_a_meta_traceparent_is_one_trace_from_the_mcp_request_to_the_database(traced, receiver):
    trace_id, client_span, traceparent = new_trace()
    result = asyncio.run(call_tool(traced.mcp_url, token(user()), "create_note", {"title": "traced", "content": "x"},
                                   meta={"traceparent": traceparent, "tracestate": "client=1"}))
    assert not result.is_error, result.content

    spans = receiver.wait_for(trace_id, complete("create_note"))
    _, _, chains = check_connected_trace(spans, client_span, "create_note")
    assert any(api["name"] == "POST /v1/notes" for _, api, _ in chains), [api["name"] for _, api, _ in chains]
    assert {span["service"] for span in spans} == {"toolbridge"}
    assert all(span["path"] == "/v1/traces" and span["content_type"] == "application/x-protobuf" for span in spans)


def test_a_tool_call_with_a_traceparent_header_continues_the_clients_trace(traced, receiver):
    bearer = token(user())
    created = asyncio.run(call_tool(traced.mcp_url, bearer, "create_note", {"title": "to read", "content": "x"}))
    uid = created.structured_content["uid"]
    trace_id, client_span, traceparent = new_trace()
    result = asyncio.run(call_tool(traced.mcp_url, bearer, "get_note", {"uid": uid},
                                   headers={"traceparent": traceparent}))
    assert not result.is_error, result.content

    spans = receiver.wait_for(trace_id, complete("get_note"))
    _, _, chains = check_connected_trace(spans, client_span, "get_note")
    assert any(api["name"] == "GET /v1/notes/{uid}" for _, api, _ in chains)
    assert any(query["attributes"]["db.operation.name"] == "SELECT" for _, _, database in chains for query in database)
    # The handshake requests of the same HTTP client are spans of the trace too, each its own.
    methods = {span["attributes"].get("mcp.method.name") for span in spans if span["parent"] == client_span}
    assert {"initialize", "tools/call"} <= methods


def test_log_lines_of_a_traced_call_carry_its_trace_id_beside_the_correlation_id(traced, receiver):
    trace_id, _, traceparent = new_trace()
    asyncio.run(call_tool(traced.mcp_url, token(user()), "create_note", {"title": "logged", "content": "x"},
                          meta={"traceparent": traceparent}))
    receiver.wait_for(trace_id, complete("create_note"))
    traced.log.flush()
    lines = [line for line in (traced.directory / "server.log").read_text().splitlines() if trace_id in line]
    assert lines, "no log line carries the trace id"
    assert any("correlation_id=" in line and "span_id=" in line for line in lines), lines


def test_a_tool_error_marks_the_mcp_span_as_failed(traced, receiver):
    trace_id, client_span, traceparent = new_trace()
    result = asyncio.run(call_tool(traced.mcp_url, token(user()), "get_note", {"uid": str(uuid.uuid4())},
                                   meta={"traceparent": traceparent}))
    assert result.is_error
    spans = receiver.wait_for(trace_id, lambda spans: any(span["name"] == "tools/call get_note" for span in spans))
    mcp = next(span for span in spans if span["name"] == "tools/call get_note")
    assert mcp["error"] and mcp["attributes"]["error.type"] == "tool_error"
    assert mcp["parent"] == client_span


def test_a_modern_request_is_a_span_with_its_protocol_version(traced, receiver):
    trace_id, client_span, traceparent = new_trace()
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {},
            "traceparent": traceparent}
    response = httpx2.post(traced.mcp_url + "/mcp", json={
        "jsonrpc": "2.0", "id": "m-1", "method": "tools/call",
        "params": {"name": "list_notes", "arguments": {}, "_meta": meta}}, headers={
        "Authorization": f"Bearer {token(user())}", "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call",
        "Mcp-Name": "list_notes", "Accept": "application/json, text/event-stream"}, timeout=30)
    assert response.status_code == 200, response.text
    spans = receiver.wait_for(trace_id, complete("list_notes"))
    mcp = next(span for span in spans if span["name"] == "tools/call list_notes")
    assert mcp["parent"] == client_span
    assert mcp["attributes"]["mcp.protocol.version"] == "2026-07-28"
    assert mcp["attributes"]["jsonrpc.request.id"] == "m-1"
    assert "mcp.session.id" not in mcp["attributes"]


# --- split deployment: the trace crosses from `toolbridge mcp` to `toolbridge api` ---


@pytest.fixture(scope="module")
def split(receiver):
    directory = Path(tempfile.mkdtemp(prefix="toolbridge-e2e-tracing-"))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TOOLBRIDGE_", "OTEL_")) and k != "DATABASE_URL"}
    base.update({"TOOLBRIDGE_DATA_DIR": str(directory), "TOOLBRIDGE_JWT_SECRET": SECRET,
                 "TOOLBRIDGE_TENANT_SECRET": TENANT_SECRET, "TOOLBRIDGE_DELEGATION_SECRET": DELEGATION_SECRET,
                 **tracing_settings(receiver)})
    log = open(directory / "servers.log", "w")
    api, api_url = start_process(["api", "--port", "0"], base, r"api listening on (\S+)", log)
    host, mcp_url = start_process(["mcp", "--mcp-port", "0"], {**base, "TOOLBRIDGE_API_URL": api_url},
                                  r"mcp listening on (\S+)", log)
    yield mcp_url
    for process in (host, api):
        process.terminate()
        process.wait(timeout=15)
    log.close()
    shutil.rmtree(directory, ignore_errors=True)


def test_the_trace_of_a_tool_call_crosses_from_the_host_process_to_the_api_process(split, receiver):
    trace_id, client_span, traceparent = new_trace()
    result = asyncio.run(call_tool(split, token(user()), "create_note", {"title": "split", "content": "x"},
                                   meta={"traceparent": traceparent}))
    assert not result.is_error, result.content
    spans = receiver.wait_for(trace_id, complete("create_note"))
    mcp, plugin, chains = check_connected_trace(spans, client_span, "create_note")
    assert mcp["service"] == plugin["service"] == "toolbridge-host"
    for request, api, database in chains:
        assert request["service"] == "toolbridge-host"
        assert api["service"] == "toolbridge-api" and all(query["service"] == "toolbridge-api" for query in database)


# --- tracing not configured ---


def free_default_receiver():
    """A receiver on OTLP/HTTP's default port (4318), where an exporter with no endpoint would
    send; None when the port is taken."""
    try:
        return Receiver(port=4318)
    except OSError:
        return None


@pytest.mark.parametrize("configuration", ["unset", "exporter none", "sdk disabled"])
def test_tracing_that_is_not_configured_exports_nothing(configuration):
    quiet = free_default_receiver() if configuration == "unset" else Receiver()
    if quiet is None:
        pytest.skip("port 4318, OTLP/HTTP's default, is in use on this machine")
    settings = {
        "unset": {},
        "exporter none": {"OTEL_EXPORTER_OTLP_ENDPOINT": quiet.url, "OTEL_TRACES_EXPORTER": "none"},
        "sdk disabled": {"OTEL_EXPORTER_OTLP_ENDPOINT": quiet.url, "OTEL_SDK_DISABLED": "true"},
    }[configuration]
    running = Server("sqlite", settings={**settings, "OTEL_BSP_SCHEDULE_DELAY": "100", "TOOLBRIDGE_LOG_LEVEL": "debug"})
    try:
        trace_id, _, traceparent = new_trace()
        result = asyncio.run(call_tool(running.mcp_url, token(user()), "create_note", {"title": "quiet", "content": "x"},
                                       meta={"traceparent": traceparent}, headers={"traceparent": traceparent}))
        assert not result.is_error
        running.log.flush()
        log = (running.directory / "server.log").read_text()
    finally:
        # A graceful stop flushes whatever a tracer would have held.
        running.stop()
        quiet.stop()
    assert quiet.count() == 0
    assert trace_id not in log and "span_id=" not in log
