"""Starts `toolbridge serve` as a real process for the end-to-end tests and mints tokens for it.

The tests drive it with the official MCP Python SDK (`pip install mcp`), which nobody here wrote.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx2
import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = "e2e-secret-" + "x" * 40
TENANT_SECRET = "e2e-tenant-secret-" + "y" * 30
# The host's key for its delegated credentials to the API: set, so a stdio host started beside a
# `serve` (another process) is trusted by that server's API as its own host is.
DELEGATION_SECRET = "e2e-delegation-secret-" + "z" * 30


def toolbridge_binary() -> str:
    path = os.environ.get("TOOLBRIDGE_BIN") or str(ROOT / ".build" / "debug" / "toolbridge")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{path} is not built: run swift build first (scripts/test does)")
    return path


def token(sub: str, tenants=None, secret: str = SECRET, ttl: int = 3600, audience=None) -> str:
    """An HS256 JWT, built by hand so tests can also make forged ones."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    claims = {"sub": sub, "exp": int(time.time()) + ttl}
    if tenants is not None:
        claims["org_id"] = tenants
    if audience is not None:
        claims["aud"] = audience
    signing_input = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


# The other tests make hundreds of calls as one user within seconds, which the production limits
# (docs/api.md, docs/host.md) would refuse. Generous limits keep them out of the way while the
# limiting code still runs on every request; test_rate_limits.py sets exact numbers in `settings`.
GENEROUS_RATE_LIMITS = {name: "1000000/1s burst 1000000" for name in (
    "TOOLBRIDGE_API_RATE_LIMIT", "TOOLBRIDGE_API_SESSION_RATE_LIMIT", "TOOLBRIDGE_MCP_REQUEST_LIMIT",
    "TOOLBRIDGE_MCP_USER_CALL_LIMIT", "TOOLBRIDGE_MCP_TENANT_CALL_LIMIT", "TOOLBRIDGE_MCP_WRITE_CALL_LIMIT",
    "TOOLBRIDGE_MCP_READ_CALL_LIMIT")}


def start_process(arguments, env, pattern, log):
    """Starts `toolbridge ARGUMENTS` and waits for the stdout line matching `pattern` (its
    "listening on" line); returns the process and the pattern's first group."""
    process = subprocess.Popen([toolbridge_binary(), *arguments], env=env, stdout=subprocess.PIPE, stderr=log,
                               text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if match := re.search(pattern, line):
            return process, match.group(1)
    process.kill()
    raise RuntimeError(f"{arguments[0]} did not start: see {log.name}")


def signed_tenant_headers(tenant: str = "default", secret: str = TENANT_SECRET) -> dict:
    """The signed tenant headers a direct API caller sends (MCP clients never do: the host signs)."""
    timestamp = str(int(time.time() * 1000))
    signature = hmac.new(secret.encode(), f"{tenant}:{timestamp}".encode(), hashlib.sha256).hexdigest()
    return {"X-TB-Tenant-ID": tenant, "X-TB-Timestamp": timestamp, "X-TB-Signature": signature}


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def new_session(server, bearer):
    """A sync session of the bearer's user, as a direct API client opens one (201)."""
    response = httpx2.post(server.api_url + "/v1/sync/sessions", timeout=30,
                           headers={"Authorization": f"Bearer {bearer}", **signed_tenant_headers()})
    assert response.status_code == 201, response.text
    return response


def api_get(server, bearer, path, session=None):
    """A direct API GET as `bearer`, with the signed tenant headers and, given, the sync session's."""
    headers = {"Authorization": f"Bearer {bearer}", **signed_tenant_headers()}
    if session:
        headers.update({"X-Sync-Session": session["id"], "X-Sync-Epoch": str(session["epoch"])})
    return httpx2.get(server.api_url + path, headers=headers, timeout=30)


def modern_call(server, bearer, tool, arguments, correlation_id=None):
    """One stateless 2026-07-28 tools/call, as a conforming client sends it; the JSON-RPC response."""
    modern = "2026-07-28"
    meta = {"io.modelcontextprotocol/protocolVersion": modern, "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "e2e-test", "version": "1"}}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments, "_meta": meta}}
    headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json",
               "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": modern,
               "Mcp-Method": "tools/call", "Mcp-Name": tool}
    if correlation_id:
        headers["X-Correlation-ID"] = correlation_id
    return httpx2.post(server.mcp_url + "/mcp", json=body, headers=headers, timeout=30).json()


class Server:
    """A running `toolbridge serve` in the production configuration (JWT secret and tenant secret
    set): its URLs, its tenants file and its environment."""

    DEFAULT_TENANTS = ('[default]\nplugins = ["notes", "tasks", "comments", "chats", "chat_messages", "status",'
                       ' "search", "batch", "insights"]\n\n[tenants.acme]\nplugins = ["notes"]\n')

    def __init__(self, store: str, settings=None, tenants: str = DEFAULT_TENANTS, preexec_fn=None):
        self.directory = Path(tempfile.mkdtemp(prefix="toolbridge-e2e-"))
        self.tenants_file = self.directory / "tenants.toml"
        self.write_tenants(tenants)
        self.environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TOOLBRIDGE_") and k != "DATABASE_URL"},
            "TOOLBRIDGE_DATA_DIR": str(self.directory),
            "TOOLBRIDGE_JWT_SECRET": SECRET,
            "TOOLBRIDGE_TENANT_SECRET": TENANT_SECRET,
            "TOOLBRIDGE_DELEGATION_SECRET": DELEGATION_SECRET,
            "TOOLBRIDGE_TENANTS": str(self.tenants_file),
            "TOOLBRIDGE_LOG_LEVEL": "warning",
            **GENEROUS_RATE_LIMITS,
            **(settings or {}),
        }
        if store == "postgres":
            url = os.environ.get("TOOLBRIDGE_TEST_DATABASE_URL")
            if not url:
                raise RuntimeError("TOOLBRIDGE_TEST_DATABASE_URL is not set: run the tests with scripts/test")
            self.environment["DATABASE_URL"] = url
        self.log = open(self.directory / "server.log", "w")
        self.process = subprocess.Popen(
            [toolbridge_binary(), "serve", "--api-port", "0", "--mcp-port", "0"],
            env=self.environment, stdout=subprocess.PIPE, stderr=self.log, text=True, preexec_fn=preexec_fn)
        self.api_url = self.mcp_url = None
        deadline = time.time() + 60
        while (self.api_url is None or self.mcp_url is None) and time.time() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            if match := re.search(r"toolbridge api listening on (\S+)", line):
                self.api_url = match.group(1)
            if match := re.search(r"toolbridge mcp listening on (\S+)", line):
                self.mcp_url = match.group(1)
        if self.api_url is None or self.mcp_url is None:
            self.log.flush()
            reason = (self.directory / "server.log").read_text()
            self.stop()
            raise RuntimeError("toolbridge serve did not start: " + reason)

    def write_tenants(self, text: str) -> None:
        # Write then rename, as editors do, so the watcher never reads half a file.
        partial = self.tenants_file.with_suffix(".partial")
        partial.write_text(text)
        partial.replace(self.tenants_file)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request):
    running = Server(request.param)
    yield running
    running.stop()
