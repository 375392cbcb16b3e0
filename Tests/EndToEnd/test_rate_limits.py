"""End-to-end: the rate limits of the API and of the MCP edge, against `toolbridge serve` on both
stores, driven by raw HTTP and by the official MCP Python SDK. The limits are per hour, so nothing
refills while a test runs: every count below is exact, and no assertion depends on timing."""
import asyncio
import json
import re
import time
import uuid
from contextlib import asynccontextmanager

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from conftest import Server, api_get, new_session, signed_tenant_headers, token

MODERN = "2026-07-28"
TENANTS = """
[default]
plugins = ["notes", "tasks", "comments", "chats", "chat_messages", "status", "search", "batch", "insights"]

[limits]
user_calls = "4/1h burst 4"
[limits.tools]
create_note = "2/1h burst 2"

[tenants.busy.limits]
tenant_calls = "3/1h burst 3"

[tenants.tight.limits]
requests = "3/1h burst 3"
"""


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def limited(request):
    running = Server(request.param, settings={
        "TOOLBRIDGE_API_RATE_LIMIT": "5/1h burst 5",
        "TOOLBRIDGE_API_SESSION_RATE_LIMIT": "3/1h burst 3",
    }, tenants=TENANTS)
    yield running
    running.stop()


def user() -> str:
    return "user-" + uuid.uuid4().hex[:10]


def run(coroutine):
    return asyncio.run(coroutine)


@asynccontextmanager
async def sdk_client(server, bearer, mode):
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {bearer}"}, timeout=30) as http:
        async with Client(streamable_http_client(server.mcp_url + "/mcp", http_client=http), mode=mode) as client:
            yield client


def retry_seconds(result):
    """The N of a limited call's "retry in N s"."""
    assert result.is_error, result.content
    match = re.search(r"; retry in (\d+) s$", result.content[0].text)
    assert match, result.content[0].text
    return int(match.group(1))


# MARK: API

def test_api_user_gets_429_exactly_after_the_burst_and_another_user_is_unaffected(limited):
    alice, bob = token(user()), token(user())
    alice_session, bob_session = new_session(limited, alice).json(), new_session(limited, bob).json()
    counted = []
    for _ in range(5):
        response = api_get(limited, alice, "/v1/notes", alice_session)
        assert response.status_code == 200, response.text
        assert response.headers["X-RateLimit-Limit"] == "5"
        assert 1 <= int(response.headers["X-RateLimit-Reset"]) <= 3600
        assert "Retry-After" not in response.headers
        counted.append(response.headers["X-RateLimit-Remaining"])
    assert counted == ["4", "3", "2", "1", "0"]

    refused = api_get(limited, alice, "/v1/notes", alice_session)
    assert refused.status_code == 429
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    retry = int(refused.headers["Retry-After"])
    assert 1 <= retry <= 720  # one request's worth of 5 per hour
    body = refused.json()
    assert body["error"].startswith("rate limit exceeded: 5/3600s burst 5 per user")
    assert body["error"].endswith(f"retry in {retry} s")
    assert body["correlation_id"]

    # Bob, at the same moment: his own full bucket.
    other = api_get(limited, bob, "/v1/notes", bob_session)
    assert other.status_code == 200, other.text
    assert other.headers["X-RateLimit-Remaining"] == "4"


def test_api_session_endpoints_have_their_own_limit(limited):
    carol = token(user())
    created = new_session(limited, carol)
    assert created.headers["X-RateLimit-Limit"] == "3"
    assert created.headers["X-RateLimit-Remaining"] == "2"
    assert api_get(limited, carol, "/v1/auth/tenant").headers["X-RateLimit-Remaining"] == "1"
    new_session(limited, carol)
    refused = httpx2.post(limited.api_url + "/v1/sync/sessions", timeout=30,
                          headers={"Authorization": f"Bearer {carol}", **signed_tenant_headers()})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    entity = api_get(limited, carol, "/v1/notes", created.json())
    assert entity.status_code == 200 and entity.headers["X-RateLimit-Remaining"] == "4"


def test_api_health_is_not_limited(limited):
    for _ in range(20):
        for path in ("/healthz", "/readyz", "/v1/sync/info"):
            response = httpx2.get(limited.api_url + path, timeout=30)
            assert response.status_code == 200 and "X-RateLimit-Limit" not in response.headers


# MARK: MCP tool calls

@pytest.mark.parametrize("mode", [MODERN, "legacy"])
def test_tool_calls_are_limited_exactly_per_user_and_another_user_is_unaffected(limited, mode):
    async def scenario():
        async with sdk_client(limited, token(user()), mode) as alice, \
                sdk_client(limited, token(user()), mode) as bob:
            for _ in range(4):
                result = await alice.call_tool("list_notes", {})
                assert not result.is_error, result.content
            limited_call = await alice.call_tool("list_notes", {})
            assert limited_call.content[0].text.startswith(
                "rate limited: your tool calls (4/3600s burst 4 per user); retry in ")
            assert 1 <= retry_seconds(limited_call) <= 900  # one call's worth of 4 per hour
            # Bob calls at the same moment, with his own budget.
            assert not (await bob.call_tool("list_notes", {})).is_error
    run(scenario())


def test_a_per_tool_limit_from_the_tenants_file_applies_to_that_tool_only(limited):
    async def scenario():
        async with sdk_client(limited, token(user()), MODERN) as carol:
            for index in range(2):
                created = await carol.call_tool("create_note", {"title": f"note {index}"})
                assert not created.is_error, created.content
            third = await carol.call_tool("create_note", {"title": "one too many"})
            assert third.content[0].text.startswith("rate limited: your calls of create_note (2/3600s burst 2 per user)")
            assert retry_seconds(third) >= 1
            # Other tools, writes included, still run; the refused call cost nothing of the user's
            # 4 calls, so these two are the third and fourth.
            listed = await carol.call_tool("list_notes", {})
            assert len(listed.structured_content["items"]) == 2
            assert not (await carol.call_tool("create_task", {"title": "still allowed"})).is_error
    run(scenario())


def test_a_tenant_limit_counts_every_user_of_the_tenant(limited):
    async def scenario():
        async with sdk_client(limited, token(user(), "busy"), MODERN) as first, \
                sdk_client(limited, token(user(), "busy"), MODERN) as second, \
                sdk_client(limited, token(user()), MODERN) as elsewhere:
            assert not (await first.call_tool("whoami", {})).is_error
            assert not (await first.call_tool("whoami", {})).is_error
            assert not (await second.call_tool("whoami", {})).is_error
            refused = await second.call_tool("whoami", {})
            assert refused.content[0].text.startswith(
                "rate limited: the tool calls of tenant busy (3/3600s burst 3 per tenant)")
            assert not (await elsewhere.call_tool("whoami", {})).is_error
    run(scenario())


# MARK: MCP HTTP requests

def post_tools_list(server, bearer):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "rate-limit-test", "version": "1"}}}}
    return httpx2.post(server.mcp_url + "/mcp", content=json.dumps(body), timeout=30, headers={
        "Authorization": f"Bearer {bearer}", "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list"})


def test_http_requests_over_the_user_limit_get_429_with_retry_after(limited):
    dave, erin = token(user(), "tight"), token(user(), "tight")
    for _ in range(3):
        response = post_tools_list(limited, dave)
        assert response.status_code == 200, response.text
    refused = post_tools_list(limited, dave)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 1200
    body = refused.json()
    assert body["jsonrpc"] == "2.0" and body["id"] is None
    assert body["error"]["message"].startswith("rate limit exceeded: 3/3600s burst 3 HTTP requests per user")
    assert body["error"]["message"].endswith(f"retry in {refused.headers['Retry-After']} s")
    assert post_tools_list(limited, erin).status_code == 200


def test_a_limit_changed_in_the_tenants_file_applies_without_a_restart(limited):
    # The same edit narrows the tenant's plugins, which the test can watch for without spending calls.
    changed = TENANTS + '\n[tenants.reload]\nplugins = ["notes"]\n[tenants.reload.limits.tools]\nlist_notes = "1/1h burst 1"\n'

    async def scenario():
        bearer = token(user(), "reload")
        async with sdk_client(limited, bearer, MODERN) as frank:
            assert not (await frank.call_tool("list_notes", {})).is_error
            assert not (await frank.call_tool("list_notes", {})).is_error
            limited.write_tenants(changed)
            # Raw requests, so no client-side cache of the list stands between the test and the host.
            deadline = time.time() + 20
            while len(post_tools_list(limited, bearer).json()["result"]["tools"]) != 8 and time.time() < deadline:
                await asyncio.sleep(0.2)
            assert len(post_tools_list(limited, bearer).json()["result"]["tools"]) == 8
            # A new limit for the tool: its bucket starts full under it.
            assert not (await frank.call_tool("list_notes", {})).is_error
            refused = await frank.call_tool("list_notes", {})
            assert refused.content[0].text.startswith("rate limited: your calls of list_notes (1/3600s burst 1 per user)")
    try:
        run(scenario())
    finally:
        limited.write_tenants(TENANTS)
