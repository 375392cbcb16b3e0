"""End-to-end: MCP 2026-07-28 (stateless, per-request `_meta`) on `/mcp` beside the handshake era,
driven by real clients (the official Python SDK pinned, in auto mode and in legacy mode; fastmcp 4)
and by raw HTTP for each wire rule, against `toolbridge serve` in the production configuration."""
import asyncio
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from conftest import Server, token, toolbridge_binary

MODERN = "2026-07-28"
HANDSHAKE = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]
ALL_TOOLS = 45


def user() -> str:
    return "user-" + uuid.uuid4().hex[:10]


def run(coroutine):
    return asyncio.run(coroutine)


@asynccontextmanager
async def sdk_client(server, bearer, mode=MODERN):
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {bearer}"}, timeout=30) as http:
        async with Client(streamable_http_client(server.mcp_url + "/mcp", http_client=http), mode=mode) as client:
            yield client


def meta(version=MODERN, **extra):
    return {
        "io.modelcontextprotocol/protocolVersion": version,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw-http-test", "version": "1"},
        **extra,
    }


def request(method, params=None, id=1, version=MODERN):
    return {"jsonrpc": "2.0", "id": id, "method": method, "params": {**(params or {}), "_meta": meta(version)}}


def routing_headers(body, version=MODERN):
    headers = {"MCP-Protocol-Version": version, "Mcp-Method": body["method"]}
    params = body.get("params") or {}
    if body["method"] in ("tools/call", "prompts/get") and "name" in params:
        headers["Mcp-Name"] = params["name"]
    return headers


def post(server, body, bearer=None, headers=None, routing=True):
    """POSTs `body` (a dict, or raw text sent as is) with a bearer token and, for dicts, the
    routing headers a conforming client sends; `headers` adds or overrides (None removes)."""
    sent = {"Authorization": f"Bearer {bearer or token(user())}", "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream"}
    if routing and isinstance(body, dict):
        sent.update(routing_headers(body))
    for name, value in (headers or {}).items():
        sent.pop(name, None)
        if value is not None:
            sent[name] = value
    content = body if isinstance(body, str) else json.dumps(body)
    return httpx2.post(server.mcp_url + "/mcp", content=content, headers=sent, timeout=30)


def error_of(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, body
    return body


# MARK: real clients

def test_a_failed_call_keeps_the_server_info_beside_its_structured_error(server):
    body = request("tools/call", {"name": "get_note", "arguments": {"uid": "00000000-0000-4000-8000-000000000000"}})
    result = post(server, body).json()["result"]
    assert result["isError"] is True and result["resultType"] == "complete"
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "toolbridge"
    assert result["_meta"]["toolbridge/error"]["status"] == "tool_error"
    assert result["_meta"]["toolbridge/error"]["httpStatus"] == 404


def test_sdk_client_pinned_to_2026_07_28_lists_and_calls_tools(server):
    async def scenario():
        async with sdk_client(server, token(user())) as client:
            assert client.protocol_version == MODERN
            tools = (await client.list_tools()).tools
            names = [tool.name for tool in tools]
            assert len(names) == ALL_TOOLS and names == sorted(names)
            created = await client.call_tool("create_note", {"title": "modern", "content": "stateless"})
            assert not created.is_error, created.content
            uid = created.structured_content["uid"]
            fetched = await client.call_tool("get_note", {"uid": uid})
            assert fetched.structured_content["payload"]["title"] == "modern"
            assert json.loads(fetched.content[0].text) == fetched.structured_content
    run(scenario())


def test_sdk_client_in_auto_mode_lands_on_2026_07_28(server):
    async def scenario():
        async with sdk_client(server, token(user(), ["acme"]), mode="auto") as client:
            assert client.protocol_version == MODERN
            assert client.server_info.name == "toolbridge"
            assert client.server_capabilities.tools.list_changed is True
            assert [tool.name for tool in (await client.list_tools()).tools] == sorted(
                ["list_notes", "get_note", "create_note", "update_note", "patch_note", "delete_note", "archive_note",
                 "process_note"])
    run(scenario())


def test_sdk_client_in_legacy_mode_gets_a_handshake_session_on_the_same_endpoint(server):
    async def scenario():
        async with sdk_client(server, token(user()), mode="legacy") as client:
            assert client.protocol_version == HANDSHAKE[0]
            assert len((await client.list_tools()).tools) == ALL_TOOLS
            result = await client.call_tool("whoami", {})
            assert not result.is_error
    run(scenario())


def test_fastmcp_4_client_speaks_2026_07_28(server):
    from fastmcp import Client as FastMCPClient
    from fastmcp.client.transports import StreamableHttpTransport

    async def scenario():
        subject = user()
        transport = StreamableHttpTransport(server.mcp_url + "/mcp", auth=token(subject))
        async with FastMCPClient(transport) as client:
            assert client.protocol_version == MODERN
            assert len(await client.list_tools()) == ALL_TOOLS
            result = await client.call_tool("whoami", {})
            assert result.structured_content["user"] == subject
    run(scenario())


def test_listen_delivers_tools_list_changed_when_the_tenants_file_changes(server):
    async def scenario():
        async with sdk_client(server, token(user(), ["acme"])) as client:
            assert len((await client.list_tools()).tools) == 8
            async with client.listen(tools_list_changed=True) as subscription:
                assert subscription.honored.tools_list_changed is True
                server.write_tenants(Server.DEFAULT_TENANTS.replace('plugins = ["notes"]', 'plugins = ["notes", "tasks"]'))
                try:
                    event = await asyncio.wait_for(subscription.__anext__(), timeout=20)
                    assert type(event).__name__ == "ToolsListChanged"
                    assert len((await client.list_tools()).tools) == 16
                finally:
                    server.write_tenants(Server.DEFAULT_TENANTS)
    run(scenario())


def stdio_parameters(server, subject):
    return StdioServerParameters(
        command=toolbridge_binary(), args=["mcp", "--stdio", "--api-url", server.api_url],
        env={**server.environment, "TOOLBRIDGE_TOKEN": token(subject)})


@pytest.mark.parametrize("mode, version", [("auto", MODERN), (MODERN, MODERN), ("legacy", HANDSHAKE[0])])
def test_stdio_negotiates_either_era(server, mode, version):
    async def scenario():
        subject = user()
        async with Client(stdio_parameters(server, subject), mode=mode) as client:
            assert client.protocol_version == version
            assert len((await client.list_tools()).tools) == ALL_TOOLS
            assert (await client.call_tool("whoami", {})).structured_content["user"] == subject
            created = await client.call_tool("create_note", {"title": "over stdio"})
            fetched = await client.call_tool("get_note", {"uid": created.structured_content["uid"]})
            assert fetched.structured_content["payload"]["title"] == "over stdio"
    run(scenario())


def test_stdio_listen_is_acknowledged_and_ended_by_the_client(server):
    async def scenario():
        async with Client(stdio_parameters(server, user()), mode=MODERN) as client:
            async with client.listen(tools_list_changed=True) as subscription:
                assert subscription.honored.tools_list_changed is True
            # The subscription was cancelled; the channel still answers.
            assert len((await client.list_tools()).tools) == ALL_TOOLS
    run(scenario())


# MARK: raw HTTP, one wire rule each

def test_discover_names_both_eras_capabilities_and_cache_hints(server):
    response = post(server, request("server/discover"))
    assert response.status_code == 200 and "mcp-session-id" not in response.headers
    result = response.json()["result"]
    assert result["resultType"] == "complete"
    assert result["supportedVersions"] == [MODERN] + HANDSHAKE
    assert result["capabilities"] == {"tools": {"listChanged": True}}
    assert result["instructions"]
    assert result["ttlMs"] >= 0 and result["cacheScope"] == "public"
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "toolbridge"


def test_every_result_carries_result_type_and_server_info(server):
    bearer = token(user())
    call = request("tools/call", {"name": "get_note", "arguments": {"uid": "00000000-0000-4000-8000-000000000000"}})
    for body in (request("server/discover"), request("tools/list"), request("tools/call", {"name": "whoami"}), call):
        result = post(server, body, bearer).json()["result"]
        assert result["resultType"] == "complete", body["method"]
        assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["version"]
    assert post(server, call, bearer).json()["result"]["isError"] is True


def test_tools_list_is_private_cacheable_and_ordered_by_name(server):
    default = post(server, request("tools/list")).json()["result"]
    acme = post(server, request("tools/list"), token(user(), ["acme"])).json()["result"]
    assert default["cacheScope"] == "private" and default["ttlMs"] >= 0
    names = [tool["name"] for tool in default["tools"]]
    assert names == sorted(names) and len(names) == ALL_TOOLS
    assert {tool["name"] for tool in acme["tools"]} < set(names)
    assert all("inputSchema" in tool for tool in default["tools"])


def test_requests_need_no_handshake_and_mint_no_session(server):
    subject = user()
    response = post(server, request("tools/call", {"name": "whoami"}), token(subject))
    assert response.status_code == 200 and "mcp-session-id" not in response.headers
    assert response.json()["result"]["structuredContent"]["user"] == subject


def test_missing_meta_keys_are_invalid_params_with_400(server):
    body = request("tools/list")
    without_meta = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    error_of(post(server, without_meta), 400, -32602)
    for key in ("io.modelcontextprotocol/protocolVersion", "io.modelcontextprotocol/clientCapabilities"):
        partial = json.loads(json.dumps(body))
        del partial["params"]["_meta"][key]
        assert key in error_of(post(server, partial), 400, -32602)["error"]["message"]


def test_unsupported_version_is_32022_naming_the_supported_ones(server):
    body = request("tools/list", version="1900-01-01")
    error = error_of(post(server, body, headers={"MCP-Protocol-Version": "1900-01-01"}), 400, -32022)["error"]
    assert error["data"] == {"supported": [MODERN] + HANDSHAKE, "requested": "1900-01-01"}


def test_unknown_and_removed_methods_are_404_method_not_found(server):
    for method in ("resources/list", "prompts/get", "ping", "logging/setLevel", "no/such"):
        error_of(post(server, request(method)), 404, -32601)


def test_routing_headers_must_match_the_body(server):
    call = request("tools/call", {"name": "whoami"})
    cases = [
        {"MCP-Protocol-Version": "2025-11-25-x"},
        {"MCP-Protocol-Version": None},
        {"Mcp-Method": "tools/list"},
        {"Mcp-Method": None},
        {"Mcp-Name": "create_note"},
        {"Mcp-Name": None},
        {"Mcp-Name": "=?base64?not base64?="},
    ]
    for headers in cases:
        error_of(post(server, call, headers=headers), 400, -32020)
    encoded = "=?base64?" + base64.b64encode(b"whoami").decode() + "?="
    assert post(server, call, headers={"Mcp-Name": encoded}).status_code == 200


def test_a_routing_header_sent_twice_is_a_mismatch(server):
    body = request("tools/list")
    headers = [("Authorization", f"Bearer {token(user())}"), ("Content-Type", "application/json"),
               ("MCP-Protocol-Version", MODERN), ("Mcp-Method", "tools/list"), ("Mcp-Method", "tools/list")]
    response = httpx2.post(server.mcp_url + "/mcp", content=json.dumps(body), headers=headers, timeout=30)
    error_of(response, 400, -32020)


def test_ids_are_echoed_exactly_as_sent(server):
    bearer = token(user())
    for literal in ('"abc"', '""', "7", "-0", "1.50", "1e3", "123456789012345678901234567890"):
        text = json.dumps(request("tools/list")).replace('"id": 1', '"id": ' + literal)
        response = post(server, text, bearer, headers=routing_headers(request("tools/list")))
        assert response.status_code == 200, (literal, response.text)
        assert re.search(r'"id":\s*' + re.escape(literal) + r"\s*[,}]", response.text), (literal, response.text)


def test_ids_that_are_not_strings_or_numbers_are_invalid_requests_with_a_null_id(server):
    for literal in ("true", "null", "{}", "[1]"):
        text = json.dumps(request("tools/list")).replace('"id": 1', '"id": ' + literal)
        body = error_of(post(server, text, headers=routing_headers(request("tools/list"))), 400, -32600)
        assert body["id"] is None


def test_malformed_bodies_get_json_rpc_errors(server):
    headers = routing_headers(request("tools/list"))
    error_of(post(server, "{not json", headers=headers), 400, -32700)
    error_of(post(server, json.dumps([request("tools/list")]), headers=headers), 400, -32600)
    error_of(post(server, json.dumps(request("tools/list") | {"jsonrpc": "1.0"}), headers=headers), 400, -32600)
    error_of(post(server, json.dumps(request("tools/list") | {"params": [1]}), headers=headers), 400, -32600)
    error_of(post(server, request("tools/call", {"name": 5}), headers={"Mcp-Name": "5"}), 400, -32020)
    error_of(post(server, request("tools/call", {"name": "whoami", "arguments": [1]})), 400, -32602)
    error_of(post(server, request("tools/call", {"name": "no_such_tool"})), 400, -32602)
    error_of(post(server, request("tools/list", {"cursor": "x"})), 400, -32602)
    assert post(server, request("server/discover")).status_code == 200


def test_notifications_are_accepted_with_202(server):
    notification = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1, "_meta": meta()}}
    response = post(server, notification, headers={"Mcp-Method": "notifications/cancelled"})
    assert response.status_code == 202 and response.content == b""


def test_log_level_is_an_opt_in_checked_per_request(server):
    body = request("tools/call", {"name": "whoami"})
    body["params"]["_meta"]["io.modelcontextprotocol/logLevel"] = "debug"
    response = post(server, body)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    body["params"]["_meta"]["io.modelcontextprotocol/logLevel"] = "verbose"
    error_of(post(server, body), 400, -32602)


def test_a_progress_token_is_harmless(server):
    body = request("tools/call", {"name": "whoami"})
    body["params"]["_meta"]["progressToken"] = "p-1"
    response = post(server, body)
    assert response.status_code == 200 and response.json()["result"]["resultType"] == "complete"


def test_modern_requests_need_a_bearer_token(server):
    response = post(server, request("tools/list"), headers={"Authorization": None})
    assert response.status_code == 401
    assert "resource_metadata=" in response.headers["www-authenticate"]


def test_initialize_without_a_session_still_selects_the_handshake_era(server):
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}
    response = post(server, body, routing=False)
    assert response.status_code == 200, response.text
    assert response.headers["mcp-session-id"]
    assert response.json()["result"]["protocolVersion"] == "2025-06-18"


def listen_body(id="listen-1"):
    return request("subscriptions/listen", {"notifications": {"toolsListChanged": True, "promptsListChanged": True}}, id=id)


def test_listen_acknowledges_only_what_it_honours(server):
    headers = {"Authorization": f"Bearer {token(user())}", **routing_headers(listen_body())}
    with httpx2.stream("POST", server.mcp_url + "/mcp", json=listen_body(), headers=headers, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-accel-buffering"] == "no"
        first = next(line for line in response.iter_lines() if line.startswith("data:"))
        acknowledged = json.loads(first[len("data:"):])
        assert acknowledged["method"] == "notifications/subscriptions/acknowledged"
        assert acknowledged["params"]["notifications"] == {"toolsListChanged": True}
        assert acknowledged["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "listen-1"


# MARK: servers of their own

def open_listen(server, bearer, id):
    """A raw listen stream, opened and acknowledged; the caller closes it."""
    client = httpx2.Client(timeout=60)
    headers = {"Authorization": f"Bearer {bearer}", **routing_headers(listen_body(id))}
    context = client.stream("POST", server.mcp_url + "/mcp", json=listen_body(id), headers=headers)
    response = context.__enter__()
    lines = response.iter_lines()
    assert any(line.startswith("data:") for line in lines)
    return client, context, lines


def wait_for(condition, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_listen_streams_end_with_a_result_on_graceful_shutdown():
    server = Server("sqlite")
    try:
        client, context, lines = open_listen(server, token(user()), "listen-7")
        server.process.send_signal(signal.SIGTERM)
        messages = [json.loads(line[len("data:"):]) for line in lines if line.startswith("data:")]
        assert messages[-1] == {"jsonrpc": "2.0", "id": "listen-7", "result": {
            "resultType": "complete",
            "_meta": {"io.modelcontextprotocol/subscriptionId": "listen-7",
                      "io.modelcontextprotocol/serverInfo": messages[-1]["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]}}}
        assert server.process.wait(timeout=30) == 0
        context.__exit__(None, None, None)
        client.close()
    finally:
        server.stop()


def test_listen_streams_are_dropped_when_their_clients_go_away():
    server = Server("sqlite", settings={"TOOLBRIDGE_LOG_LEVEL": "info"})
    log = server.directory / "server.log"
    try:
        streams = [open_listen(server, token(user()), f"listen-{n}") for n in range(5)]
        server.write_tenants('[default]\nplugins = ["notes"]\n')
        assert wait_for(lambda: re.search(r"listeners notified=5\b", log.read_text()))
        for client, context, _ in streams:
            context.__exit__(None, None, None)
            client.close()
        written = [0]

        def dropped():
            # Each edit changes the default tenant's set, so every still-open stream is counted.
            written[0] += 1
            plugins = '"tasks"' if written[0] % 2 else '"notes"'
            server.write_tenants(f'[default]\nplugins = [{plugins}]\n')
            time.sleep(1.5)
            return re.search(r"listeners notified=0\b", log.read_text())
        assert wait_for(dropped, timeout=60)
    finally:
        server.stop()


def test_public_url_names_the_protected_resource():
    server = Server("sqlite", settings={"TOOLBRIDGE_PUBLIC_URL": "https://mcp.example.test/"})
    try:
        refused = post(server, request("tools/list"), headers={"Authorization": None})
        assert ('resource_metadata="https://mcp.example.test/.well-known/oauth-protected-resource"'
                in refused.headers["www-authenticate"])
        metadata = httpx2.get(server.mcp_url + "/.well-known/oauth-protected-resource").json()
        assert metadata["resource"] == "https://mcp.example.test/mcp"
    finally:
        server.stop()


def test_first_run_client_configuration_names_a_command_that_exists():
    directory = tempfile.mkdtemp(prefix="toolbridge-first-run-")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBRIDGE_") and k != "DATABASE_URL"}
    environment["TOOLBRIDGE_DATA_DIR"] = directory
    process = subprocess.Popen([toolbridge_binary(), "serve", "--api-port", "0", "--mcp-port", "0"],
                               env=environment, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        command = None
        deadline = time.time() + 60
        while command is None and time.time() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            if match := re.search(r'"command": (".*?"), "args"', line):
                command = json.loads(match.group(1))
        assert command is not None
        assert os.path.isabs(command) and os.access(command, os.X_OK)
        assert Path(command).resolve() == Path(toolbridge_binary()).resolve()
    finally:
        process.terminate()
        process.wait(timeout=15)
        shutil.rmtree(directory, ignore_errors=True)
