"""Adversarial: connections that send nothing, send slowly, send too many or send broken HTTP,
against the real `toolbridge serve` in the production configuration; and the edge identity of
MCP clients (a bearer token and nothing else) next to direct API callers (signed headers)."""
import asyncio
import resource
import socket
import time
import uuid
from urllib.parse import urlparse

import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from conftest import Server, signed_tenant_headers, token

IDLE_TIMEOUT = 2
MAX_CONNECTIONS = 40
MAX_REQUESTS = 3


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def limited(request):
    """A server with short, small limits, so the tests see each one act."""
    running = Server(request.param, settings={
        "TOOLBRIDGE_HTTP_IDLE_TIMEOUT": str(IDLE_TIMEOUT),
        "TOOLBRIDGE_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        "TOOLBRIDGE_MAX_REQUESTS_PER_CONNECTION": str(MAX_REQUESTS),
    })
    yield running
    running.stop()


def address(url):
    parsed = urlparse(url)
    return parsed.hostname, parsed.port


def closed_by_server(sock, within):
    """True when the server closes `sock` (EOF or reset) within `within` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def read_response(sock, timeout=10):
    """One HTTP response read from a raw socket: (status, headers, body)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def alive(server):
    return server.process.poll() is None and httpx2.get(server.api_url + "/healthz", timeout=10).status_code == 200


@pytest.mark.parametrize("which", ["api", "mcp"])
def test_a_connection_that_sends_nothing_is_closed(limited, which):
    sock = socket.create_connection(address(getattr(limited, which + "_url")))
    assert closed_by_server(sock, within=IDLE_TIMEOUT * 5)
    sock.close()


@pytest.mark.parametrize("which", ["api", "mcp"])
def test_a_request_head_sent_byte_by_byte_is_cut_off(limited, which):
    sock = socket.create_connection(address(getattr(limited, which + "_url")))
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    closed = False
    # A slow client: one header byte every 0.3 s, for up to 10 idle timeouts.
    while time.monotonic() - started < IDLE_TIMEOUT * 10:
        try:
            sock.sendall(b"X")
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        if closed_by_server(sock, within=0.3):
            closed = True
            break
    sock.close()
    assert closed, "the server kept a connection whose request head never ended"
    assert alive(limited)


@pytest.mark.parametrize("which", ["api", "mcp"])
def test_above_the_connection_cap_the_longest_idle_connection_makes_room(limited, which):
    target = address(getattr(limited, which + "_url"))
    held = [socket.create_connection(target) for _ in range(MAX_CONNECTIONS)]
    time.sleep(0.2)
    fresh = socket.create_connection(target)
    fresh.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, body = read_response(fresh)
    assert status == 200, body
    assert closed_by_server(held[0], within=5), "the oldest idle connection was closed to make room"
    for sock in held + [fresh]:
        sock.close()


@pytest.mark.parametrize("which", ["api", "mcp"])
def test_a_connection_carries_a_bounded_number_of_requests(limited, which):
    sock = socket.create_connection(address(getattr(limited, which + "_url")))
    for number in range(1, MAX_REQUESTS + 1):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, _ = read_response(sock)
        assert status == 200
        assert (headers.get("connection", "").lower() == "close") == (number == MAX_REQUESTS)
    assert closed_by_server(sock, within=IDLE_TIMEOUT / 2), "closed after the last response, not by the idle timeout"
    sock.close()


BROKEN_REQUESTS = [
    (b"POST /v1/notes HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400, "Content-Length"),
    (b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 431, "larger than the server accepts"),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"b" * 100_000 + b"\r\n\r\n", 431, "larger than the server accepts"),
    (b"POST /v1/notes HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 400, "Content-Length"),
    (b"GARBAGE\r\n\r\n", 400, "not valid HTTP"),
]


@pytest.mark.parametrize("which", ["api", "mcp"])
@pytest.mark.parametrize("raw,status,sentence", BROKEN_REQUESTS)
def test_requests_the_http_parser_rejects_get_a_sentence(limited, which, raw, status, sentence):
    sock = socket.create_connection(address(getattr(limited, which + "_url")))
    sock.sendall(raw)
    got, headers, body = read_response(sock)
    sock.close()
    assert got == status
    assert headers["content-type"] == "application/json"
    assert sentence in body.decode()
    assert alive(limited)


def test_eleven_hundred_idle_sockets_do_not_starve_a_server_limited_to_1024_descriptors(tmp_path):
    """The production limit many hosts have: 1,024 open files. Idle sockets (the default 30 s idle
    timeout does not fire during the test) must not keep /healthz from answering."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 4096), hard), hard))

    def limit_descriptors():
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))

    server = Server("sqlite", preexec_fn=limit_descriptors)
    held = []
    try:
        for url in (server.api_url, server.mcp_url):
            for _ in range(550):
                held.append(socket.create_connection(address(url)))
        for url in (server.api_url, server.mcp_url):
            response = httpx2.get(url + "/healthz", timeout=10)
            assert response.status_code == 200
        assert server.process.poll() is None
    finally:
        for sock in held:
            sock.close()
        server.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_mcp_clients_choose_among_their_tenants_with_a_plain_header(limited):
    """MCP clients hold a bearer token only: no tenant secret, no signature."""
    bearer = token("edge-" + uuid.uuid4().hex[:8], tenants=["acme", "globex"])

    async def whoami(headers):
        async with httpx2.AsyncClient(headers=headers, timeout=30) as client:
            async with streamable_http_client(limited.mcp_url + "/mcp", http_client=client) as streams:
                async with ClientSession(streams[0], streams[1]) as session:
                    await session.initialize()
                    return (await session.call_tool("whoami", {})).structured_content

    chosen = asyncio.run(whoami({"Authorization": f"Bearer {bearer}", "X-TB-Tenant-ID": "globex"}))
    assert chosen["tenant"] == "globex"

    refused = httpx2.post(limited.mcp_url + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                          headers={"Authorization": f"Bearer {bearer}", "X-TB-Tenant-ID": "initech"})
    assert refused.status_code == 403
    assert "not a member of tenant 'initech'" in refused.json()["error"]

    undecided = httpx2.post(limited.mcp_url + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                            headers={"Authorization": f"Bearer {bearer}"})
    assert undecided.status_code == 400
    assert "X-TB-Tenant-ID" in undecided.json()["error"]


def test_direct_api_callers_still_sign_their_tenant_headers(limited):
    bearer = {"Authorization": f"Bearer {token('direct-' + uuid.uuid4().hex[:8])}"}
    unsigned = httpx2.post(limited.api_url + "/v1/sync/sessions", headers=bearer, timeout=10)
    assert unsigned.status_code == 401
    assert "signed tenant headers are required" in unsigned.json()["error"]
    signed = httpx2.post(limited.api_url + "/v1/sync/sessions", headers={**bearer, **signed_tenant_headers()}, timeout=10)
    assert signed.status_code == 201


def test_sigterm_exits_0_after_the_grace_period_even_with_a_request_that_never_ends():
    server = Server("sqlite", settings={"TOOLBRIDGE_SHUTDOWN_GRACE": "2", "TOOLBRIDGE_HTTP_IDLE_TIMEOUT": "120"})
    try:
        bearer = token("grace-" + uuid.uuid4().hex[:8])
        session = httpx2.post(server.api_url + "/v1/sync/sessions", timeout=10,
                              headers={"Authorization": f"Bearer {bearer}", **signed_tenant_headers()}).json()
        sock = socket.create_connection(address(server.api_url))
        head = ["POST /v1/notes HTTP/1.1", "Host: x", "Transfer-Encoding: chunked", "Content-Type: application/json",
                f"Authorization: Bearer {bearer}", f"X-Sync-Session: {session['id']}", f"X-Sync-Epoch: {session['epoch']}"]
        head += [f"{name}: {value}" for name, value in signed_tenant_headers().items()]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n5\r\n{\"tit\r\n").encode())
        time.sleep(0.5)
        server.process.terminate()
        started = time.monotonic()
        code = server.process.wait(timeout=30)
        print(f"\nSIGTERM to exit with a request body that never ends: {time.monotonic() - started:.2f} s (grace 2 s)")
        assert code == 0
        sock.close()
    finally:
        server.stop()


@pytest.mark.parametrize("ending", ["sigterm", "stdin closed"])
def test_a_stdio_session_ends_with_exit_0(limited, ending):
    import json
    import signal
    import subprocess
    from conftest import toolbridge_binary
    process = subprocess.Popen(
        [toolbridge_binary(), "mcp", "--stdio", "--api-url", limited.api_url],
        env={**limited.environment, "TOOLBRIDGE_TOKEN": token("stdio-" + uuid.uuid4().hex[:8])},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    process.stdin.write(json.dumps(initialize) + "\n")
    process.stdin.flush()
    assert json.loads(process.stdout.readline())["id"] == 1
    if ending == "sigterm":
        process.send_signal(signal.SIGTERM)
    else:
        process.stdin.close()
    assert process.wait(timeout=20) == 0
