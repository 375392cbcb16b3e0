"""End-to-end: the Rust example plugin (examples/plugins/note_stats_rust), built by `cargo` with no
crates, dropped into a running `toolbridge serve` and called through the official MCP Python SDK.

The crate is built with its README's command into a temporary target directory, its `.so` renamed
into the watched plugin directory of a host in the production configuration, on both stores. Notes
are made straight through the API (bearer token, signed tenant headers, a sync session), then read
back through the plugin's tools. There is no skip: without cargo these tests fail.
"""
import asyncio
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from conftest import ROOT, Server, signed_tenant_headers, token

CRATE = ROOT / "examples" / "plugins" / "note_stats_rust"
TOOLS = {"word_count", "note_stats", "tag_counts"}
TENANTS = '[default]\nplugins = ["notes", "note_stats"]\n'


def cargo() -> str:
    path = shutil.which("cargo")
    assert path, "cargo is not installed: scripts/test installs it (apt install cargo)"
    return path


@pytest.fixture(scope="module")
def library():
    """The plugin built as its README says, into a temporary CARGO_TARGET_DIR."""
    target = Path(tempfile.mkdtemp(prefix="toolbridge-rust-target-"))
    try:
        subprocess.run([cargo(), "build", "--release", "--offline", "--locked"], cwd=CRATE, check=True,
                       timeout=600, env={**os.environ, "CARGO_TARGET_DIR": str(target)})
        yield target / "release" / "libnote_stats.so"
    finally:
        shutil.rmtree(target, ignore_errors=True)


@asynccontextmanager
async def connect(server, bearer):
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {bearer}"}, timeout=30) as client:
        async with streamable_http_client(server.mcp_url + "/mcp", http_client=client) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                yield session


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, library):
    """A running host; the plugin arrives in its watched directory after it started."""
    plugins = Path(tempfile.mkdtemp(prefix="toolbridge-rust-plugins-"))
    running = Server(request.param, settings={"TOOLBRIDGE_PLUGIN_DIRS": str(plugins)}, tenants=TENANTS)
    try:
        staged = plugins / "libnote_stats.so.tmp"
        shutil.copyfile(library, staged)
        staged.rename(plugins / "libnote_stats.so")

        async def wait_for_tools():
            async with connect(running, token("rust-" + uuid.uuid4().hex[:8])) as session:
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline:
                    if TOOLS <= {tool.name for tool in (await session.list_tools()).tools}:
                        return
                    await asyncio.sleep(0.2)
                raise AssertionError("the Rust plugin's tools never appeared: see " + str(running.log.name))
        asyncio.run(wait_for_tools())
        yield running
    finally:
        running.stop()
        shutil.rmtree(plugins, ignore_errors=True)


class APIUser:
    """One user straight on the API, with a sync session, for making the data the tools read."""

    def __init__(self, server, sub):
        self.http = httpx2.Client(base_url=server.api_url, timeout=30)
        self.bearer = token(sub)
        created = self.http.post("/v1/sync/sessions", headers=self.auth())
        assert created.status_code == 201, created.text
        self.sync = {"X-Sync-Session": created.json()["id"], "X-Sync-Epoch": str(created.json()["epoch"])}

    def auth(self):
        return {"Authorization": f"Bearer {self.bearer}", **signed_tenant_headers()}

    def create_note(self, **payload):
        response = self.http.post("/v1/notes", json=payload, headers={**self.auth(), **self.sync})
        assert response.status_code == 201, response.text
        return response.json()


def new_user(server):
    sub = "rust-" + uuid.uuid4().hex[:10]
    return sub, APIUser(server, sub)


async def call(server, sub, tool, arguments):
    async with connect(server, token(sub)) as session:
        return await session.call_tool(tool, arguments)


def test_the_crate_s_own_tests_pass():
    target = tempfile.mkdtemp(prefix="toolbridge-rust-test-target-")
    try:
        finished = subprocess.run([cargo(), "test", "--offline", "--locked"], cwd=CRATE, timeout=600,
                                  env={**os.environ, "CARGO_TARGET_DIR": target}, capture_output=True, text=True)
        assert finished.returncode == 0, finished.stdout + finished.stderr
        assert "test result: ok." in finished.stdout
    finally:
        shutil.rmtree(target, ignore_errors=True)


def test_its_tools_are_listed_with_their_schemas(server):
    async def scenario():
        async with connect(server, token("rust-lister")) as session:
            tools = {tool.name: tool for tool in (await session.list_tools()).tools if tool.name in TOOLS}
        assert set(tools) == TOOLS
        assert tools["note_stats"].input_schema["required"] == ["uid"]
        assert tools["tag_counts"].input_schema["properties"]["limit"]["maximum"] == 1000
        assert tools["word_count"].annotations.read_only_hint is True
        assert "words" in tools["word_count"].output_schema["required"]
    asyncio.run(scenario())


def test_word_count_counts_words_characters_and_lines(server):
    result = asyncio.run(call(server, "rust-counter", "word_count", {"text": "héllo wörld\nsecond  line\n"}))
    assert not result.is_error, result.content
    assert result.structured_content == {"words": 4, "characters": 25, "lines": 2}


def test_note_stats_counts_a_note_made_through_the_api(server):
    sub, user = new_user(server)
    note = user.create_note(title="Trip", content="Pack the tent\nbuy fuel — and maps 🗺", tags=["travel", "todo"])
    result = asyncio.run(call(server, sub, "note_stats", {"uid": note["uid"].upper()}))
    assert not result.is_error, result.content
    assert result.structured_content == {
        "uid": note["uid"], "title": "Trip", "tags": ["travel", "todo"], "words": 9, "characters": 35, "lines": 2}


def test_tag_counts_pages_through_every_note_of_the_caller(server):
    sub, user = new_user(server)
    for index in range(120):
        tags = ["all"] + (["third"] if index % 3 == 0 else []) + (["first"] if index == 0 else [])
        user.create_note(title=f"note {index}", tags=tags)
    _, other = new_user(server)
    other.create_note(title="not the caller's", tags=["all", "stranger"])

    async def scenario():
        async with connect(server, token(sub)) as session:
            return [await session.call_tool("tag_counts", arguments) for arguments in ({"limit": 1000}, {"limit": 110}, {})]
    everything, some, default = asyncio.run(scenario())
    for result in (everything, some, default):
        assert not result.is_error, result.content
    assert everything.structured_content == {"notes": 120, "complete": True, "tags": [
        {"tag": "all", "count": 120}, {"tag": "third", "count": 40}, {"tag": "first", "count": 1}]}
    assert (some.structured_content["notes"], some.structured_content["complete"]) == (110, False)
    assert (default.structured_content["notes"], default.structured_content["complete"]) == (100, False)


def test_a_missing_note_is_an_error_result_with_the_api_s_sentence(server):
    missing = str(uuid.uuid4())
    result = asyncio.run(call(server, "rust-seeker", "note_stats", {"uid": missing}))
    assert result.is_error
    assert f"no note with uid {missing}" in result.content[0].text
    assert "(HTTP 404)" in result.content[0].text


@pytest.mark.parametrize("tool, arguments, sentence", [
    ("note_stats", {"uid": "../tasks"}, "the argument 'uid' must be a UUID"),
    ("note_stats", {}, "the argument 'uid' is required"),
    ("word_count", {"text": 5}, "the argument 'text' must be a string"),
    ("word_count", {"text": "a", "language": "en"}, "unknown argument 'language'"),
    ("tag_counts", {"limit": 0}, "the argument 'limit' must be a whole number from 1 to 1000"),
    ("tag_counts", {"limit": 2.5}, "the argument 'limit' must be a whole number from 1 to 1000"),
])
def test_bad_arguments_are_error_results_naming_the_argument(server, tool, arguments, sentence):
    result = asyncio.run(call(server, "rust-careless", tool, arguments))
    assert result.is_error
    assert sentence in result.content[0].text
