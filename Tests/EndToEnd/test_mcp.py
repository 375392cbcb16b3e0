"""End-to-end: `toolbridge serve` as a process, driven by the official MCP Python SDK over SSE,
Streamable HTTP and stdio."""
import asyncio
import json
import time
import uuid
from contextlib import asynccontextmanager

import httpx2
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from conftest import token, toolbridge_binary

TRANSPORTS = ["sse", "streamable-http"]
CROSS_KIND_TOOLS = {"whoami", "search", "batch", "insights", "list_tags"}
ALL_TOOLS = 40 + len(CROSS_KIND_TOOLS)  # the 40 entity tools, status, search, batch and insights
MISSING = "00000000-0000-4000-8000-000000000000"


@asynccontextmanager
async def connect(server, transport, bearer, on_message=None):
    headers = {"Authorization": f"Bearer {bearer}"}
    if transport == "sse":
        async with sse_client(server.mcp_url + "/sse", headers=headers) as (read, write):
            async with ClientSession(read, write, message_handler=on_message) as session:
                await session.initialize()
                yield session
    else:
        async with httpx2.AsyncClient(headers=headers, timeout=30) as client:
            async with streamable_http_client(server.mcp_url + "/mcp", http_client=client) as streams:
                async with ClientSession(streams[0], streams[1], message_handler=on_message) as session:
                    await session.initialize()
                    yield session


def user() -> str:
    return "user-" + uuid.uuid4().hex[:10]


def run(coroutine):
    return asyncio.run(coroutine)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_lists_all_40_tools_with_schemas_and_annotations(server, transport):
    async def scenario():
        async with connect(server, transport, token(user())) as session:
            tools = {tool.name: tool for tool in (await session.list_tools()).tools}
            assert len(tools) == ALL_TOOLS
            cross_kind = {name: tools.pop(name) for name in CROSS_KIND_TOOLS}
            for name in ("whoami", "search", "insights", "list_tags"):
                assert cross_kind[name].annotations.read_only_hint is True, name
            assert cross_kind["batch"].annotations.destructive_hint is True
            assert cross_kind["search"].input_schema["required"] == ["query"]
            assert len(tools) == 40
            for name, tool in tools.items():
                assert tool.input_schema["type"] == "object", name
                assert tool.output_schema and tool.output_schema["type"] == "object", name
                verb = name.split("_")[0]
                assert tool.annotations.read_only_hint is (verb in ("list", "get")), name
                if verb == "delete":
                    assert tool.annotations.destructive_hint is True
            assert tools["process_task"].input_schema["properties"]["action"]["enum"] == ["start", "complete", "reopen"]
    run(scenario())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_calls_tools_of_every_kind(server, transport):
    async def scenario():
        async with connect(server, transport, token(user())) as session:
            async def call(name, arguments):
                result = await session.call_tool(name, arguments)
                assert not result.is_error, (name, result.content)
                assert json.loads(result.content[0].text) == result.structured_content
                return result.structured_content

            note = await call("create_note", {"title": "Plan", "tags": ["e2e"]})
            task = await call("create_task", {"title": "Ship", "due_date": "2026-12-01"})
            comment = await call("create_comment", {"content": "ok", "parent_type": "note", "parent_uid": note["uid"]})
            chat = await call("create_chat", {"title": "Support"})
            message = await call("create_chat_message", {"chat_uid": chat["uid"], "content": "hi", "role": "user"})
            assert task["payload"]["dueDate"] == "2026-12-01"
            assert comment["payload"]["parentUid"] == note["uid"]
            assert message["payload"]["chatUid"] == chat["uid"]

            assert (await call("get_note", {"uid": note["uid"]}))["payload"]["title"] == "Plan"
            assert [item["uid"] for item in (await call("list_comments", {"parent_uid": note["uid"]}))["items"]] == [comment["uid"]]
            assert (await call("patch_task", {"uid": task["uid"], "updates": {"priority": "high"}}))["version"] == 2
            assert (await call("process_task", {"uid": task["uid"], "action": "complete"}))["payload"]["done"] is True
            assert (await call("update_chat", {"uid": chat["uid"], "title": "Renamed", "if_match": 1}))["version"] == 2
            assert (await call("archive_note", {"uid": note["uid"]}))["payload"]["status"] == "archived"
            assert (await call("process_chat_message", {"uid": message["uid"], "action": "mark_read"}))["payload"]["read"] is True
            assert "deletedAt" in await call("delete_comment", {"uid": comment["uid"]})
    run(scenario())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_errors_are_isError_results_and_the_session_stays_usable(server, transport):
    async def scenario():
        async with connect(server, transport, token(user())) as session:
            missing = await session.call_tool("get_note", {"uid": MISSING})
            assert missing.is_error
            assert "no note with uid" in missing.content[0].text and "404" in missing.content[0].text

            note = (await session.call_tool("create_note", {"title": "x"})).structured_content
            await session.call_tool("delete_note", {"uid": note["uid"]})
            gone = await session.call_tool("get_note", {"uid": note["uid"]})
            assert gone.is_error and "410" in gone.content[0].text

            stale = await session.call_tool("update_task", {"uid": MISSING, "title": "x"})
            assert stale.is_error and "404" in stale.content[0].text

            bad = await session.call_tool("process_task", {"uid": MISSING, "action": "explode"})
            assert bad.is_error and "must be one of" in bad.content[0].text

            orphan = await session.call_tool("create_comment", {"content": "c", "parent_type": "note", "parent_uid": MISSING})
            assert orphan.is_error and "no live note" in orphan.content[0].text

            with pytest.raises(MCPError) as unknown:
                await session.call_tool("drop_everything", {})
            assert "unknown tool" in str(unknown.value)

            listed = await session.call_tool("list_notes", {})
            assert not listed.is_error
    run(scenario())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_failed_calls_carry_a_structured_error_in_meta(server, transport):
    async def scenario():
        async with connect(server, transport, token(user())) as session:
            missing = await session.call_tool("get_note", {"uid": MISSING})
            assert missing.is_error
            error = missing.meta["toolbridge/error"]
            assert error["status"] == "tool_error" and error["code"] == 1 and error["httpStatus"] == 404
            assert missing.content[0].text == error["message"] + " (HTTP 404)"

            bad = await session.call_tool("get_note", {"uid": 7})
            assert bad.is_error
            assert bad.meta["toolbridge/error"]["status"] == "invalid_argument"
            assert bad.meta["toolbridge/error"]["code"] == 2 and "httpStatus" not in bad.meta["toolbridge/error"]

            fine = await session.call_tool("list_notes", {})
            assert not fine.is_error and not (fine.meta or {}).get("toolbridge/error")
    run(scenario())


def test_unauthenticated_and_forged_requests_get_401_with_resource_metadata(server):
    forged = token(user(), secret="not-the-secret-" + "y" * 30)
    expired = token(user(), ttl=-3600)
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                  "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    with httpx2.Client(timeout=10) as http:
        for bearer in (None, forged, expired):
            extra = {"Authorization": f"Bearer {bearer}"} if bearer else {}
            response = http.post(server.mcp_url + "/mcp", json=initialize, headers={**headers, **extra})
            assert response.status_code == 401
            assert 'resource_metadata="' in response.headers["www-authenticate"]
            assert http.get(server.mcp_url + "/sse", headers=extra).status_code == 401
        metadata = http.get(server.mcp_url + "/.well-known/oauth-protected-resource").json()
        assert metadata["resource"].endswith("/mcp")


def test_malformed_messages_get_json_rpc_errors_and_the_host_keeps_serving(server):
    headers = {"Authorization": f"Bearer {token(user())}", "Accept": "application/json, text/event-stream",
               "Content-Type": "application/json"}
    with httpx2.Client(timeout=10) as http:
        response = http.post(server.mcp_url + "/mcp", content=b'{"jsonrpc": "2.0", "id": 1, "method": ', headers=headers)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == -32700
        foreign = http.post(server.mcp_url + "/mcp", content=b"{}", headers={**headers, "Origin": "http://evil.example"})
        assert foreign.status_code == 403
        unknown = http.post(server.mcp_url + "/messages?session_id=nope", content=b"{}", headers=headers)
        assert unknown.status_code == 404
        assert http.get(server.mcp_url + "/readyz").status_code == 200

    async def still_serving():
        async with connect(server, "streamable-http", token(user())) as session:
            assert len((await session.list_tools()).tools) == ALL_TOOLS
    run(still_serving())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_tenants_see_their_own_tool_lists(server, transport):
    async def scenario():
        async with connect(server, transport, token(user(), tenants="acme")) as acme:
            names = {tool.name for tool in (await acme.list_tools()).tools}
            assert names == {"list_notes", "get_note", "create_note", "update_note", "patch_note",
                             "delete_note", "archive_note", "process_note"}
            with pytest.raises(MCPError):
                await acme.call_tool("create_task", {"title": "not allowed here"})
            assert not (await acme.call_tool("create_note", {"title": "allowed"})).is_error
        async with connect(server, transport, token(user(), tenants="globex")) as globex:
            assert len((await globex.list_tools()).tools) == ALL_TOOLS
    run(scenario())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_editing_the_tenants_file_notifies_connected_sessions(server, transport):
    async def scenario():
        changed = asyncio.Event()

        async def on_message(message):
            if getattr(message, "method", None) == "notifications/tools/list_changed":
                changed.set()

        tenant = "initech-" + uuid.uuid4().hex[:6]
        original = server.tenants_file.read_text()
        async with connect(server, transport, token(user(), tenants=tenant), on_message=on_message) as session:
            assert len((await session.list_tools()).tools) == ALL_TOOLS
            server.write_tenants(original + f'\n[tenants.{tenant}]\nplugins = ["notes", "tasks"]\n')
            await asyncio.wait_for(changed.wait(), timeout=10)
            assert len((await session.list_tools()).tools) == 16
            changed.clear()
            server.write_tenants(original + f"\n[tenants.{tenant}]\nplugins = [broken\n")
            await asyncio.sleep(2.5)
            assert not changed.is_set(), "a broken file changes nothing"
            assert len((await session.list_tools()).tools) == 16, "the last good configuration stays"
        server.write_tenants(original)
    run(scenario())


def test_stdio_client(server):
    async def scenario():
        parameters = StdioServerParameters(
            command=toolbridge_binary(), args=["mcp", "--stdio", "--api-url", server.api_url],
            env={**server.environment, "TOOLBRIDGE_TOKEN": token(user())})
        async with stdio_client(parameters) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                assert len((await session.list_tools()).tools) == ALL_TOOLS
                whoami = await session.call_tool("whoami", {})
                assert whoami.structured_content["tenant"] == "default"
                created = await session.call_tool("create_note", {"title": "over stdio"})
                assert not created.is_error
                fetched = await session.call_tool("get_note", {"uid": created.structured_content["uid"]})
                assert fetched.structured_content["payload"]["title"] == "over stdio"
    run(scenario())


def test_fifty_concurrent_sessions_without_errors_or_cross_talk(server):
    sessions, calls_each = 50, 6

    async def one(index):
        transport = TRANSPORTS[index % 2]
        name = f"concurrent-{index}-{uuid.uuid4().hex[:6]}"
        errors = 0
        async with connect(server, transport, token(name)) as session:
            mine = set()
            for call in range(calls_each - 1):
                result = await session.call_tool("create_note", {"title": f"{name}/{call}"})
                errors += bool(result.is_error)
                mine.add(result.structured_content["uid"])
            listed = await session.call_tool("list_notes", {"limit": 100})
            errors += bool(listed.is_error)
            seen = listed.structured_content["items"]
            assert {item["uid"] for item in seen} == mine, "a session saw only its own notes"
            assert all(item["payload"]["title"].startswith(name + "/") for item in seen)
        return errors

    async def all_sessions():
        return await asyncio.gather(*(one(index) for index in range(sessions)))

    started = time.monotonic()
    errors = run(all_sessions())
    elapsed = time.monotonic() - started
    print(f"\n{sessions} sessions x {calls_each} calls = {sessions * calls_each} calls, "
          f"{sum(errors)} errors, {elapsed:.2f} s wall")
    assert sum(errors) == 0


def _sse_json(response):
    """The JSON-RPC message of a Streamable HTTP response, whether it came as JSON or as SSE."""
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.json()
    data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:") and line[5:].strip()]
    return json.loads(data[0])


def test_negotiates_every_protocol_version_clients_send(server):
    headers = {"Authorization": f"Bearer {token(user())}", "Accept": "application/json, text/event-stream",
               "Content-Type": "application/json"}
    with httpx2.Client(timeout=10) as http:
        for version in ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]:
            initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                          "params": {"protocolVersion": version, "capabilities": {},
                                     "clientInfo": {"name": "raw", "version": "1"}}}
            response = http.post(server.mcp_url + "/mcp", json=initialize, headers=headers)
            assert response.status_code == 200, response.text
            assert _sse_json(response)["result"]["protocolVersion"] == version
            session = response.headers["mcp-session-id"]
            listing = http.post(server.mcp_url + "/mcp", headers={**headers, "Mcp-Session-Id": session,
                                                                   "MCP-Protocol-Version": version},
                                json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
            assert len(_sse_json(listing)["result"]["tools"]) == ALL_TOOLS
            wrong = http.post(server.mcp_url + "/mcp", headers={**headers, "Mcp-Session-Id": session,
                                                                 "MCP-Protocol-Version": "1999-01-01"},
                              json={"jsonrpc": "2.0", "id": 3, "method": "tools/list"})
            assert wrong.status_code == 400
            ended = http.delete(server.mcp_url + "/mcp", headers={**headers, "Mcp-Session-Id": session})
            assert ended.status_code == 200
            gone = http.post(server.mcp_url + "/mcp", headers={**headers, "Mcp-Session-Id": session},
                             json={"jsonrpc": "2.0", "id": 4, "method": "tools/list"})
            assert gone.status_code == 404


def test_idle_streamable_sessions_are_closed():
    from conftest import Server

    short = Server("sqlite", {"TOOLBRIDGE_MCP_IDLE_TIMEOUT": "1"})
    try:
        headers = {"Authorization": f"Bearer {token(user())}", "Accept": "application/json, text/event-stream",
                   "Content-Type": "application/json"}
        initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                      "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                 "clientInfo": {"name": "idle", "version": "1"}}}
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        with httpx2.Client(timeout=10) as http:
            session = http.post(short.mcp_url + "/mcp", json=initialize, headers=headers).headers["mcp-session-id"]
            in_session = {**headers, "Mcp-Session-Id": session}
            assert http.post(short.mcp_url + "/mcp", json=listing, headers=in_session).status_code == 200
            time.sleep(3.5)
            assert http.post(short.mcp_url + "/mcp", json=listing, headers=in_session).status_code == 404
    finally:
        short.stop()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_search_batch_and_insights(server, transport):
    async def scenario():
        async with connect(server, transport, token(user())) as session:
            batch = await session.call_tool("batch", {"operations": [
                {"op": "create", "kind": "notes", "ref": "n", "fields": {"title": "Überraschung party", "tags": ["home"]}},
                {"op": "create", "kind": "tasks", "fields": {"title": "Order cake", "description": "for the party"}},
                {"op": "patch", "kind": "notes", "uid": {"$ref": "n"}, "fields": {"content": "Saturday at eight"}},
            ]})
            assert not batch.is_error, batch.content
            note = batch.structured_content["results"][0]["item"]
            assert batch.structured_content["results"][2]["item"]["version"] == 2

            found = await session.call_tool("search", {"query": "party"})
            assert not found.is_error, found.content
            hits = found.structured_content["items"]
            assert [hit["kind"] for hit in hits] == ["notes", "tasks"], "the title match first"
            assert hits[0]["item"]["uid"] == note["uid"]
            assert "**party**" in hits[0]["snippet"]
            assert (await session.call_tool("search", {"query": "überraschung", "kinds": ["tasks"]})).structured_content["items"] == []

            hostile = await session.call_tool("search", {"query": "\"party AND (cake"})
            assert hostile.is_error and "400" in hostile.content[0].text

            rolled_back = await session.call_tool("batch", {"operations": [
                {"op": "create", "kind": "notes", "fields": {"title": "ghost"}},
                {"op": "update", "kind": "notes", "uid": note["uid"], "fields": {"title": "x"}, "ifMatch": 1},
            ]})
            assert rolled_back.is_error and "412" in rolled_back.content[0].text
            assert (await session.call_tool("search", {"query": "ghost"})).structured_content["items"] == []

            insights = await session.call_tool("insights", {})
            assert insights.structured_content["total"] == 2
            tags = await session.call_tool("list_tags", {})
            assert tags.structured_content["tags"] == [{"tag": "home", "count": 1}]
    run(scenario())
