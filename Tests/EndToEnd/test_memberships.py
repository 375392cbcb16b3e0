"""End-to-end: operator-managed memberships (SPEC §4). A real `toolbridge serve` and real
`toolbridge members` processes share one data directory (SQLite) or one DATABASE_URL (PostgreSQL).

The server keeps membership records for TOOLBRIDGE_MEMBERSHIP_CACHE_SECONDS (1 s here); the CLI is
another process and cannot tell it about a change, so the API's answer changes within that time:
the tests wait for it, bounded.
"""
import json
import subprocess
import time
import uuid

import httpx2
import pytest

from conftest import Server, signed_tenant_headers, token, toolbridge_binary

WAIT_SECONDS = 20


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request):
    running = Server(request.param, settings={"TOOLBRIDGE_MEMBERSHIP_CACHE_SECONDS": "1"})
    yield running
    running.stop()


def unique(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def members(server, *arguments) -> subprocess.CompletedProcess:
    """`toolbridge members …` as the operator runs it: a process of its own, the server's settings."""
    return subprocess.run([toolbridge_binary(), "members", *arguments], env=server.environment,
                          capture_output=True, text=True, timeout=60)


def open_session(server, user: str, tenant: str) -> httpx2.Response:
    """A direct API call in `tenant` (signed tenant headers) with a token that names no tenant."""
    headers = {"Authorization": f"Bearer {token(user)}", **signed_tenant_headers(tenant)}
    return httpx2.post(f"{server.api_url}/v1/sync/sessions", headers=headers, timeout=10)


def eventually_status(server, user: str, tenant: str, status: int) -> int:
    """The status of opening a session, asked until it is `status` or WAIT_SECONDS pass."""
    deadline = time.time() + WAIT_SECONDS
    answer = open_session(server, user, tenant).status_code
    while answer != status and time.time() < deadline:
        time.sleep(0.2)
        answer = open_session(server, user, tenant).status_code
    return answer


def tenant_info(server, user: str) -> dict:
    response = httpx2.get(f"{server.api_url}/v1/auth/tenant", headers={"Authorization": f"Bearer {token(user)}"},
                          timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def listed(server, *filters) -> list:
    result = members(server, "list", "--json", *filters)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_a_membership_added_by_the_cli_lets_the_user_in_and_removal_locks_them_out(server):
    tenant, user = unique("acme"), unique("user")
    refused = open_session(server, user, tenant)
    assert refused.status_code == 403, refused.text
    assert tenant_info(server, user)["tenants"] == ["default"]

    added = members(server, "add", "--tenant", tenant, "--user", user)
    assert added.returncode == 0, added.stderr
    assert "added" in added.stdout
    assert eventually_status(server, user, tenant, 201) == 201

    info = tenant_info(server, user)
    assert info["tenants"] == [tenant]
    assert info["source"] == "record"
    assert info["memberships"] == [{"tenant": tenant, "source": "record"}]
    assert [(row["tenant"], row["userId"]) for row in listed(server, "--user", user)] == [(tenant, user)]

    removed = members(server, "remove", "--tenant", tenant, "--user", user)
    assert removed.returncode == 0, removed.stderr
    assert eventually_status(server, user, tenant, 403) == 403
    assert listed(server, "--user", user) == []
    assert tenant_info(server, user)["tenants"] == ["default"]


def test_a_record_adds_to_the_tenants_of_the_token_claim(server):
    claimed, recorded, user = unique("claimed"), unique("recorded"), unique("user")
    assert members(server, "add", "--tenant", recorded, "--user", user).returncode == 0
    headers = {"Authorization": f"Bearer {token(user, tenants=[claimed])}"}
    deadline = time.time() + WAIT_SECONDS
    info = httpx2.get(f"{server.api_url}/v1/auth/tenant", headers=headers, timeout=10).json()
    while info.get("tenants") != [claimed, recorded] and time.time() < deadline:
        time.sleep(0.2)
        info = httpx2.get(f"{server.api_url}/v1/auth/tenant", headers=headers, timeout=10).json()
    assert info["tenants"] == [claimed, recorded]
    assert info["source"] == "both"
    assert info["mustChoose"] is True
    assert info["memberships"] == [{"tenant": claimed, "source": "claim"}, {"tenant": recorded, "source": "record"}]


def test_members_list_filters_by_tenant_and_user_and_prints_a_table(server):
    tenant, other, ann, bob = unique("acme"), unique("other"), unique("ann"), unique("bob")
    for t, u in [(tenant, ann), (tenant, bob), (other, ann)]:
        assert members(server, "add", "--tenant", t, "--user", u).returncode == 0
    assert sorted(row["userId"] for row in listed(server, "--tenant", tenant)) == sorted([ann, bob])
    assert sorted(row["tenant"] for row in listed(server, "--user", ann)) == sorted([tenant, other])
    both = listed(server, "--tenant", other, "--user", ann)
    assert [(row["tenant"], row["userId"]) for row in both] == [(other, ann)]
    assert both[0]["createdAt"].endswith("Z")

    table = members(server, "list", "--tenant", tenant)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["TENANT", "USER", "CREATED"]
    assert sorted(line.split()[1] for line in lines[1:]) == sorted([ann, bob])


def test_members_exit_codes(server):
    tenant, user = unique("acme"), unique("user")
    first = members(server, "add", "--tenant", tenant, "--user", user)
    again = members(server, "add", "--tenant", tenant, "--user", user)
    assert (first.returncode, again.returncode) == (0, 0), again.stderr
    assert "unchanged" in again.stdout
    assert members(server, "remove", "--tenant", tenant, "--user", user).returncode == 0
    missing = members(server, "remove", "--tenant", tenant, "--user", user)
    assert missing.returncode == 3, missing.stderr
    assert "nothing to remove" in missing.stderr
    invalid = members(server, "add", "--tenant", "not a tenant", "--user", user)
    assert invalid.returncode == 64
    assert "--tenant must be" in invalid.stderr


def mcp_status_in(server, user: str, tenant: str) -> tuple:
    """A stateless MCP `tools/call` of whoami in `tenant`, with a token that names no tenant: the
    host (which has no database) asks the API for the user's records."""
    response = httpx2.post(f"{server.mcp_url}/mcp", timeout=10, headers={
        "Authorization": f"Bearer {token(user)}", "X-TB-Tenant-ID": tenant,
        "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call", "Mcp-Name": "whoami"},
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "whoami", "arguments": {}, "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {}}}})
    return response.status_code, response.text


def test_through_the_host_a_membership_lets_the_user_in_and_removal_locks_them_out(server):
    tenant, user = unique("acme"), unique("user")
    assert mcp_status_in(server, user, tenant)[0] == 403
    assert members(server, "add", "--tenant", tenant, "--user", user).returncode == 0

    def eventually(status):
        deadline = time.time() + WAIT_SECONDS
        answer = mcp_status_in(server, user, tenant)
        while answer[0] != status and time.time() < deadline:
            time.sleep(0.2)
            answer = mcp_status_in(server, user, tenant)
        return answer

    status, body = eventually(200)
    assert status == 200, body
    assert tenant in body and user in body, "whoami answers as the user in the recorded tenant"
    assert members(server, "remove", "--tenant", tenant, "--user", user).returncode == 0
    assert eventually(403)[0] == 403
