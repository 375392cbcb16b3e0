"""End-to-end: two `toolbridge mcp` replicas in front of one `toolbridge api`, behind a real nginx
(Debian's package) on round robin. Modern (2026-07-28) requests are stateless, so consecutive
calls of one client land on alternating replicas; a handshake-era session is sent back to the
replica that holds it by the replica prefix of its session id (the configuration in docs/deploy.md)."""
import asyncio
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp import ClientSession

from conftest import DELEGATION_SECRET, SECRET, TENANT_SECRET, free_port, start_process, token

NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 512; }}
http {{
    log_format mcp '$request_method $uri $status $upstream_addr';
    access_log {dir}/access.log mcp;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
{upstreams}
}}
"""

# The configuration docs/deploy.md shows, with this test's ports.
UPSTREAMS = """
    # Every replica, round robin: modern requests, and whatever opens a handshake-era session.
    upstream toolbridge_mcp {{
        server 127.0.0.1:{a};
        server 127.0.0.1:{b};
        keepalive 16;
    }}
    # One group per replica, for requests of a session that replica holds.
    upstream toolbridge_mcp_a {{ server 127.0.0.1:{a}; keepalive 4; }}
    upstream toolbridge_mcp_b {{ server 127.0.0.1:{b}; keepalive 4; }}

    # A session id starts with the replica's TOOLBRIDGE_REPLICA_ID: Mcp-Session-Id on Streamable
    # HTTP, ?session_id= on the 2024-11-05 SSE transport's POSTs.
    map "$http_mcp_session_id$arg_session_id" $toolbridge_upstream {{
        default toolbridge_mcp;
        ~^a\\.   toolbridge_mcp_a;
        ~^b\\.   toolbridge_mcp_b;
    }}

    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://$toolbridge_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_buffering off;
            proxy_read_timeout 1h;
        }}
    }}
"""


def environment(directory, **extra):
    base = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBRIDGE_") and k != "DATABASE_URL"}
    return {**base, "TOOLBRIDGE_DATA_DIR": str(directory), "TOOLBRIDGE_JWT_SECRET": SECRET,
            "TOOLBRIDGE_TENANT_SECRET": TENANT_SECRET, "TOOLBRIDGE_DELEGATION_SECRET": DELEGATION_SECRET,
            "TOOLBRIDGE_LOG_LEVEL": "warning", **extra}




class Deployment:
    """One API, two host replicas (a and b), nginx in front; all child processes of the test."""

    def __init__(self):
        self.directory = Path(tempfile.mkdtemp(prefix="toolbridge-replicas-"))
        os.chmod(self.directory, 0o755)
        self.log = open(self.directory / "processes.log", "w")
        self.processes = []
        api, api_url = start_process(["api", "--port", "0"], environment(self.directory), r"api listening on (\S+)", self.log)
        self.processes.append(api)
        self.replicas = {}
        for name in ("a", "b"):
            env = environment(self.directory, TOOLBRIDGE_API_URL=api_url, TOOLBRIDGE_REPLICA_ID=name)
            host, url = start_process(["mcp", "--mcp-port", "0"], env, r"mcp listening on (\S+)", self.log)
            self.processes.append(host)
            self.replicas[name] = url.rsplit(":", 1)[1]
        port = free_port()
        nginx_dir = self.directory / "nginx"
        nginx_dir.mkdir()
        upstreams = UPSTREAMS.format(a=self.replicas["a"], b=self.replicas["b"], port=port)
        (nginx_dir / "nginx.conf").write_text(NGINX_CONF.format(dir=nginx_dir, upstreams=upstreams))
        self.nginx = subprocess.Popen(
            [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(nginx_dir), "-c", str(nginx_dir / "nginx.conf"),
             "-e", str(nginx_dir / "error.log"), "-g", "daemon off;"],
            stdout=self.log, stderr=self.log)
        self.url = f"http://127.0.0.1:{port}"
        self.access_log = nginx_dir / "access.log"
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if httpx2.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx2.TransportError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("nginx did not start: " + (nginx_dir / "error.log").read_text())

    def upstreams(self, method, path):
        """The replica ports nginx sent each `method path` request to, in order."""
        lines = self.access_log.read_text().splitlines()
        return [line.split()[3].rsplit(":", 1)[1] for line in lines
                if line.split()[0] == method and line.split()[1] == path]

    def stop(self):
        self.nginx.terminate()
        self.nginx.wait(timeout=15)
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.log.close()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="module")
def deployment():
    running = Deployment()
    yield running
    running.stop()


def user() -> str:
    return "user-" + uuid.uuid4().hex[:10]


def test_a_modern_clients_calls_alternate_between_replicas(deployment):
    async def scenario():
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token(user())}"}, timeout=30) as http:
            async with Client(streamable_http_client(deployment.url + "/mcp", http_client=http), mode="2026-07-28") as client:
                before = len(deployment.upstreams("POST", "/mcp"))
                created = await client.call_tool("create_note", {"title": "replicated"})
                uid = created.structured_content["uid"]
                for _ in range(9):
                    fetched = await client.call_tool("get_note", {"uid": uid})
                    assert fetched.structured_content["payload"]["title"] == "replicated"
                return deployment.upstreams("POST", "/mcp")[before:]
    served = asyncio.run(scenario())
    # Ten calls, and the tool listings the SDK makes to check results against output schemas.
    assert len(served) >= 10
    assert set(served) == set(deployment.replicas.values())
    assert all(first != second for first, second in zip(served, served[1:])), served


def test_a_handshake_era_session_sticks_to_its_replica(deployment):
    async def scenario():
        headers = {"Authorization": f"Bearer {token(user())}"}
        before = len(deployment.upstreams("POST", "/mcp"))
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
            async with Client(streamable_http_client(deployment.url + "/mcp", http_client=http), mode="legacy") as client:
                for _ in range(6):
                    result = await client.call_tool("whoami", {})
                    assert not result.is_error
        return deployment.upstreams("POST", "/mcp")[before:]
    # initialize (round robin), then every request of the session on the replica that holds it.
    served = asyncio.run(scenario())
    assert len(served) >= 8 and len(set(served)) == 1, served


def test_an_sse_session_sticks_to_its_replica(deployment):
    async def scenario():
        headers = {"Authorization": f"Bearer {token(user())}"}
        async with sse_client(deployment.url + "/sse", headers=headers) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                for _ in range(4):
                    assert not (await session.call_tool("whoami", {})).is_error
    asyncio.run(scenario())
    served = deployment.upstreams("POST", "/messages")
    assert len(served) >= 6 and len(set(served)) == 1, served
