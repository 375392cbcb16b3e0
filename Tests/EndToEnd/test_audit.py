"""End-to-end: the audit trail. A mixed run of tool calls through a real `toolbridge serve` (both
eras: a 2025-11-25 session with the official SDK and stateless 2026-07-28 POSTs), then
`toolbridge audit --json` and the host's JSON-lines file must each hold exactly one record per call
with the right tool, outcome and API status, and never the arguments' content."""
import asyncio
import hashlib
import json
import subprocess
import time
import uuid

import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from conftest import Server, modern_call, token, toolbridge_binary

MISSING = "00000000-0000-4000-8000-000000000000"
REPLICA = "audit-replica"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request):
    """A server on which one unique tenant may use only the notes plugin."""
    tenant = "audit-" + uuid.uuid4().hex[:10]
    tenants = Server.DEFAULT_TENANTS + f'\n[tenants.{tenant}]\nplugins = ["notes"]\n'
    running = Server(request.param, settings={"TOOLBRIDGE_REPLICA_ID": REPLICA}, tenants=tenants)
    running.audit_tenant = tenant
    yield running
    running.stop()


def arguments_hash(arguments: dict) -> str:
    """What the host hashes: the arguments as compact JSON, keys in the order sent."""
    return hashlib.sha256(json.dumps(arguments, separators=(",", ":")).encode()).hexdigest()


def audit_rows(server, tenant):
    """`toolbridge audit --json --tenant …` as the operator runs it, parsed line by line."""
    result = subprocess.run([toolbridge_binary(), "audit", "--json", "--tenant", tenant],
                            env=server.environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout, [json.loads(line) for line in result.stdout.splitlines()]


def wait_for_rows(server, tenant, count):
    """The rows once `count` have arrived (the host sends every second), at most 20 s; then one
    more flush interval, so a duplicate would have arrived too."""
    deadline = time.time() + 20
    text, rows = audit_rows(server, tenant)
    while len(rows) < count and time.time() < deadline:
        time.sleep(0.25)
        text, rows = audit_rows(server, tenant)
    time.sleep(1.5)
    return audit_rows(server, tenant)


def test_every_call_of_a_mixed_run_is_audited_once_with_its_outcome_and_api_status(server):
    tenant = server.audit_tenant
    subject = "audit-user-" + uuid.uuid4().hex[:10]
    bearer = token(subject, [tenant])
    marker = "do-not-record-" + uuid.uuid4().hex
    calls = []  # (tool, arguments, outcome, api_status), in call order

    async def handshake_era():
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {bearer}"}, timeout=30) as http:
            async with streamable_http_client(server.mcp_url + "/mcp", http_client=http) as streams:
                async with ClientSession(streams[0], streams[1]) as session:
                    initialized = await session.initialize()
                    assert initialized.protocol_version == "2025-11-25"
                    arguments = {"title": marker, "content": marker}
                    created = await session.call_tool("create_note", arguments)
                    assert not created.is_error, created.content
                    calls.append(("create_note", arguments, "ok", 201))
                    arguments = {"uid": created.structured_content["uid"]}
                    assert not (await session.call_tool("get_note", arguments)).is_error
                    calls.append(("get_note", arguments, "ok", 200))
                    arguments = {"uid": MISSING}
                    assert (await session.call_tool("get_note", arguments)).is_error
                    calls.append(("get_note", arguments, "error", 404))
                    arguments = {"content": marker}
                    invalid = await session.call_tool("create_note", arguments)
                    assert invalid.is_error and "title" in invalid.content[0].text
                    calls.append(("create_note", arguments, "error", None))
                    arguments = {"title": marker}
                    with pytest.raises(MCPError):
                        await session.call_tool("create_task", arguments)
                    calls.append(("create_task", arguments, "denied", None))
    asyncio.run(handshake_era())

    arguments = {"title": marker}
    correlation_id = "audit-" + uuid.uuid4().hex
    created = modern_call(server, bearer, "create_note", arguments, correlation_id)
    assert created["result"]["structuredContent"]["uid"], created
    calls.append(("create_note", arguments, "ok", 201))
    arguments = {"uid": MISSING}
    assert modern_call(server, bearer, "get_note", arguments)["result"]["isError"] is True
    calls.append(("get_note", arguments, "error", 404))
    arguments = {"title": marker}
    assert modern_call(server, bearer, "create_task", arguments)["error"]["code"] == -32602
    calls.append(("create_task", arguments, "denied", None))

    text, rows = wait_for_rows(server, tenant, len(calls))
    def summary(records):
        return sorted((r["tool"], r["outcome"], r["api_status"] or 0, r["arguments_sha256"]) for r in records)
    expected = sorted((tool, outcome, status or 0, arguments_hash(args)) for tool, args, outcome, status in calls)
    assert summary(rows) == expected
    assert all(r["tenant"] == tenant and r["user"] == subject and r["replica"] == REPLICA for r in rows)
    assert {r["plugin"] for r in rows} == {"notes", "tasks"}
    assert len({r["id"] for r in rows}) == len(calls)
    assert [r["time_ms"] for r in rows] == sorted((r["time_ms"] for r in rows), reverse=True)
    assert any(r["correlation_id"] == correlation_id and r["tool"] == "create_note" for r in rows)
    assert marker not in text

    log_text = (server.directory / "audit.log").read_text()
    assert marker not in log_text
    logged = [json.loads(line) for line in log_text.splitlines() if json.loads(line)["tenant"] == tenant]
    assert sorted(logged, key=lambda r: r["id"]) == sorted(rows, key=lambda r: r["id"])
    assert oct((server.directory / "audit.log").stat().st_mode & 0o777) == oct(0o600)
