"""End-to-end: the host never passes a client's token to the API. Clients' tokens are bound to
the host's audience, the API's to the API's, and the host calls the API with its own delegated
credential — in one `serve` process, and in a split deployment with an ES256 key pair made by
`toolbridge delegation-key`."""
import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from conftest import SECRET, TENANT_SECRET, Server, signed_tenant_headers, start_process, token, toolbridge_binary

MCP_AUDIENCE = "https://mcp.example.test/mcp"
API_AUDIENCE = "https://api.example.test"


async def create_and_get_note(mcp_url, bearer, title):
    """Creates a note through MCP and reads it back; returns (create result, get result)."""
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {bearer}"}, timeout=30) as client:
        async with streamable_http_client(mcp_url + "/mcp", http_client=client) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                created = await session.call_tool("create_note", {"title": title, "content": "body"})
                if created.is_error:
                    return created, None
                uid = created.structured_content["uid"]
                return created, await session.call_tool("get_note", {"uid": uid})


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def bound(request):
    running = Server(request.param, settings={
        "TOOLBRIDGE_MCP_AUDIENCE": MCP_AUDIENCE, "TOOLBRIDGE_JWT_AUDIENCE": API_AUDIENCE,
        "TOOLBRIDGE_LOG_LEVEL": "debug"})
    yield running
    running.stop()


def user():
    return "deleg-" + uuid.uuid4().hex[:8]


def test_a_token_for_the_host_works_through_the_host_and_is_refused_by_the_api(bound):
    bearer = token(user(), audience=MCP_AUDIENCE)
    created, fetched = asyncio.run(create_and_get_note(bound.mcp_url, bearer, "through the host"))
    assert not created.is_error, created.content
    assert fetched.structured_content["payload"]["title"] == "through the host"

    # The API is configured to refuse tokens for the host: had the host forwarded the client's
    # token, the call above would have failed the same way.
    direct = httpx2.post(bound.api_url + "/v1/sync/sessions",
                         headers={"Authorization": f"Bearer {bearer}", **signed_tenant_headers()})
    assert direct.status_code == 401
    assert "audience" in direct.json()["error"]


def test_a_token_for_the_api_is_refused_at_the_edge_and_works_at_the_api(bound):
    bearer = token(user(), audience=API_AUDIENCE)
    refused = httpx2.post(bound.mcp_url + "/mcp", headers={
        "Authorization": f"Bearer {bearer}", "Accept": "application/json, text/event-stream"},
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}})
    assert refused.status_code == 401
    assert "audience" in refused.json()["error"]
    assert "resource_metadata=" in refused.headers["WWW-Authenticate"]
    direct = httpx2.post(bound.api_url + "/v1/sync/sessions",
                         headers={"Authorization": f"Bearer {bearer}", **signed_tenant_headers()})
    assert direct.status_code == 201, direct.text


def test_the_logs_name_the_credential_and_never_hold_a_token(bound):
    bearer = token(user(), audience=MCP_AUDIENCE)
    created, _ = asyncio.run(create_and_get_note(bound.mcp_url, bearer, "logged"))
    assert not created.is_error
    direct = token(user(), audience=API_AUDIENCE)
    assert httpx2.get(bound.api_url + "/v1/sync/state", headers={
        "Authorization": f"Bearer {direct}", **signed_tenant_headers()}).status_code == 200
    bound.log.flush()
    log = (bound.directory / "server.log").read_text()
    assert "delegated by toolbridge-host" in log
    assert "user token" in log
    signature = bearer.rsplit(".", 1)[1]
    assert signature not in log and direct.rsplit(".", 1)[1] not in log
    assert not re.search(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ", log), "no JWT of any kind is logged"


# --- split deployment: `toolbridge api` trusting the public key of `toolbridge mcp` ---



@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def split(request):
    directory = Path(tempfile.mkdtemp(prefix="toolbridge-e2e-split-"))
    base = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBRIDGE_") and k != "DATABASE_URL"}
    base.update({"TOOLBRIDGE_DATA_DIR": str(directory), "TOOLBRIDGE_JWT_SECRET": SECRET,
                 "TOOLBRIDGE_TENANT_SECRET": TENANT_SECRET, "TOOLBRIDGE_LOG_LEVEL": "warning"})
    if request.param == "postgres":
        base["DATABASE_URL"] = os.environ["TOOLBRIDGE_TEST_DATABASE_URL"]
    jwks = directory / "hosts.jwks"
    made = []
    for name in ("trusted", "stranger"):
        # The stranger's key goes to a JWKS the API never reads.
        target = jwks if name == "trusted" else directory / "other.jwks"
        output = subprocess.run(
            [toolbridge_binary(), "delegation-key", "--private-key", str(directory / f"{name}.pem"), "--jwks",
             str(target)], env=base, capture_output=True, text=True, check=True).stdout
        made.append(output)
    assert oct((directory / "trusted.pem").stat().st_mode & 0o777) == "0o600"
    log = open(directory / "servers.log", "w")
    processes = []
    api, api_url = start_process(["api", "--port", "0"], {**base, "TOOLBRIDGE_DELEGATION_JWKS_FILE": str(jwks)},
                         r"api listening on (\S+)", log)
    processes.append(api)
    hosts = {}
    for name in ("trusted", "stranger"):
        env = {**base, "TOOLBRIDGE_API_URL": api_url, "TOOLBRIDGE_DELEGATION_KEY": str(directory / f"{name}.pem"),
               "TOOLBRIDGE_REPLICA_ID": name}
        process, url = start_process(["mcp", "--mcp-port", "0"], env, r"mcp listening on (\S+)", log)
        processes.append(process)
        hosts[name] = url
    yield {"api": api_url, "hosts": hosts, "jwks": jwks, "log": log}
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=15)
    log.close()
    shutil.rmtree(directory, ignore_errors=True)


def test_a_host_whose_public_key_the_api_trusts_acts_for_its_users(split):
    created, fetched = asyncio.run(create_and_get_note(split["hosts"]["trusted"], token(user()), "split"))
    assert not created.is_error, created.content
    assert fetched.structured_content["payload"]["title"] == "split"
    keys = json.loads(split["jwks"].read_text())["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "EC" and "d" not in keys[0], "only the public key is in the JWKS"


def test_a_host_with_a_key_the_api_does_not_trust_is_refused_and_says_why(split):
    # The host's first API request is the membership lookup of the edge: the API refuses its
    # credential, so the edge answers 503 (it never guesses a tenant) and the host's log says why.
    refused = httpx2.post(split["hosts"]["stranger"] + "/mcp", headers={
        "Authorization": f"Bearer {token(user())}", "Accept": "application/json, text/event-stream"},
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}})
    assert refused.status_code == 503
    assert "membership records cannot be read" in refused.json()["error"]
    split["log"].flush()
    assert "the API refuses this host's delegated credential" in Path(split["log"].name).read_text()


def test_a_host_alone_without_a_delegation_key_refuses_to_start(split):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBRIDGE_")}
    env.update({"TOOLBRIDGE_JWT_SECRET": SECRET, "TOOLBRIDGE_API_URL": split["api"],
                "TOOLBRIDGE_DATA_DIR": tempfile.mkdtemp(prefix="toolbridge-e2e-nokey-")})
    result = subprocess.run([toolbridge_binary(), "mcp", "--mcp-port", "0"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert "TOOLBRIDGE_DELEGATION_KEY" in result.stderr
