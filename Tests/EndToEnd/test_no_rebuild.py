"""End-to-end: a plugin added to a running `toolbridge serve` needs no rebuild and no restart.

The host is built alone and its binary hashed; the C example is built with its own `cc` command
and renamed into the watched plugin directory; a connected MCP session is told its tool list
changed (a handshake-era session by its stream, a 2026-07-28 client by its `subscriptions/listen`),
lists and calls the new tools; the binary is unchanged.
"""
import asyncio
import hashlib
import json
import shutil
import subprocess
import tempfile
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client

from conftest import ROOT, Server, token, toolbridge_binary

NEW_TOOLS = {"capture_note", "capture_task", "text_stats"}
TENANTS = ('[default]\nplugins = ["notes", "status", "quick_capture"]\n\n'
           '[tenants.acme]\nplugins = ["notes"]\n')


def sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@asynccontextmanager
async def connect(server, bearer, on_list_changed):
    async def on_message(message):
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            on_list_changed.set()

    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {bearer}"}, timeout=30) as client:
        async with streamable_http_client(server.mcp_url + "/mcp", http_client=client) as streams:
            async with ClientSession(streams[0], streams[1], message_handler=on_message) as session:
                await session.initialize()
                yield session


@asynccontextmanager
async def modern_listener(server, bearer):
    """A 2026-07-28 client (no session) with a `subscriptions/listen` stream for tool list changes."""
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {bearer}"}, timeout=30) as http:
        async with Client(streamable_http_client(server.mcp_url + "/mcp", http_client=http), mode="2026-07-28") as client:
            async with client.listen(tools_list_changed=True) as subscription:
                yield client, subscription


async def tool_names(session) -> set:
    return {tool.name for tool in (await session.list_tools()).tools}


def test_a_plugin_dropped_into_a_running_host_needs_no_rebuild():
    subprocess.run(["swift", "build", "--product", "toolbridge"], cwd=ROOT, check=True, timeout=1800,
                   stdout=subprocess.DEVNULL)
    binary = toolbridge_binary()
    built_hash = sha256(binary)

    work = Path(tempfile.mkdtemp(prefix="toolbridge-no-rebuild-"))
    plugins = work / "plugins"
    plugins.mkdir()
    server = Server("sqlite", settings={"TOOLBRIDGE_PLUGIN_DIRS": str(plugins)}, tenants=TENANTS)
    try:
        async def scenario():
            changed, acme_changed = asyncio.Event(), asyncio.Event()
            user = "user-" + uuid.uuid4().hex[:10]
            async with connect(server, token(user), changed) as session, \
                    connect(server, token(user, tenants="acme"), acme_changed) as acme, \
                    modern_listener(server, token(user)) as (modern, subscription):
                before = await tool_names(session)
                assert "list_notes" in before and "whoami" in before
                assert not before & NEW_TOOLS

                # The README's build command, into a file outside the watched directory, then one
                # rename: the host never sees a half-written library.
                library = work / "libquick_capture.so"
                subprocess.run(
                    ["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-shared", "-fPIC",
                     "-I", "Sources/PluginABI/include", "examples/plugins/quick_capture/quick_capture.c",
                     "-o", str(library)],
                    cwd=ROOT, check=True, timeout=120)
                library.rename(plugins / library.name)

                await asyncio.wait_for(changed.wait(), timeout=15)
                after = await tool_names(session)
                assert after == before | NEW_TOOLS
                event = await asyncio.wait_for(subscription.__anext__(), timeout=15)
                assert type(event).__name__ == "ToolsListChanged", "a modern listener is told too"
                assert {tool.name for tool in (await modern.list_tools()).tools} == after

                stats = await session.call_tool("text_stats", {"text": "héllo wörld\nsecond line"})
                assert not stats.is_error, stats.content
                assert stats.structured_content == {"characters": 23, "words": 4, "lines": 2, "bytes": 25}

                captured = await session.call_tool("capture_note", {"text": "Groceries\nmilk\neggs", "tags": ["home"]})
                assert not captured.is_error, captured.content
                assert json.loads(captured.content[0].text) == captured.structured_content
                stored = await session.call_tool("get_note", {"uid": captured.structured_content["uid"]})
                payload = stored.structured_content["payload"]
                assert (payload["title"], payload["content"], payload["tags"]) == ("Groceries", "milk\neggs", ["home"])

                # The notifications went out together; acme's set has no quick_capture.
                await asyncio.sleep(1)
                assert not acme_changed.is_set(), "a tenant without the plugin is not told"
                assert not (await tool_names(acme)) & NEW_TOOLS

        asyncio.run(scenario())
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    assert sha256(binary) == built_hash, "the host binary was not rebuilt"
