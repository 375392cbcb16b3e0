"""End-to-end, adversarial: `toolbridge serve` as a process (both stores), sent what a careless or
hostile MCP client sends: request ids of every JSON type, duplicate ids in flight, oversized bodies,
hundreds of odd requests, and SIGTERM with 100 open streams. Every request gets exactly one answer,
nothing a client sends is left open, and shutdown ends in bounded time with exit status 0.

Raw HTTP (http.client, sockets) where the bytes matter; the official MCP Python SDK where a real
client fits."""
import asyncio
import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from conftest import ROOT, Server, token

FIXTURES = ["slow", "malformed_output"]
TENANTS = ('[default]\nplugins = ["notes", "tasks", "comments", "chats", "chat_messages", "status", "search",'
           ' "batch", "insights", "slow", "malformed_output"]\n')
INITIALIZE = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}

# Every JSON type as an id literal, exactly as sent; True when MCP allows it (string or number).
IDS = [
    ('"s-1"', True), ("7", True), ("-0", True), ("1.5", True), ("1e400", True),
    ("73786976294838206464", True), ("true", False), ("false", False), ("null", False),
    ('{"a":1}', False), ("[1]", False),
]
METHODS = [
    ("tools/list", ""), ("ping", ""), ("tools/call", ',"params":{"name":"whoami","arguments":{}}'),
    ("no/such_method", ""),
]


def plugin_directory() -> str:
    directory = tempfile.mkdtemp(prefix="toolbridge-fixtures-")
    for fixture in FIXTURES:
        subprocess.run(
            ["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
             "-I", str(ROOT / "Sources/PluginABI/include"), str(ROOT / f"Tests/Fixtures/plugins/{fixture}.c"),
             "-o", f"{directory}/lib{fixture}.so"], check=True)
    return directory


def start(store: str) -> Server:
    return Server(store, settings={"TOOLBRIDGE_PLUGIN_DIRS": plugin_directory()}, tenants=TENANTS)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def host(request):
    running = start(request.param)
    yield running
    running.stop()


def user() -> str:
    return "user-" + uuid.uuid4().hex[:10]


def literal_id(text: str):
    """A response's id as it was written: numbers stay their literal text, tagged apart from strings."""
    return json.loads(text, parse_int=lambda s: ("number", s), parse_float=lambda s: ("number", s),
                      parse_constant=lambda s: ("number", s))["id"]


def expected_id(literal: str):
    return json.loads(literal, parse_int=lambda s: ("number", s), parse_float=lambda s: ("number", s))


class Raw:
    """Raw HTTP to the host: one fresh connection per request, closed after it."""

    def __init__(self, server: Server, bearer: str):
        url = urlparse(server.mcp_url)
        self.address = (url.hostname, url.port)
        self.headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json",
                        "Accept": "application/json, text/event-stream"}

    def post(self, path: str, body: bytes, headers=None, timeout=30):
        connection = http.client.HTTPConnection(*self.address, timeout=timeout)
        try:
            connection.request("POST", path, body=body, headers={**self.headers, **(headers or {})})
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read().decode()
        finally:
            connection.close()

    def session(self) -> str:
        status, headers, _ = self.post("/mcp", json.dumps(INITIALIZE).encode())
        assert status == 200
        session = dict((k.lower(), v) for k, v in headers)["mcp-session-id"]
        assert self.post("/mcp", b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
                         {"Mcp-Session-Id": session})[0] == 202
        return session


def request(id_literal: str, method: str, params: str) -> bytes:
    return ('{"jsonrpc":"2.0","id":%s,"method":"%s"%s}' % (id_literal, method, params)).encode()


def check_answer(text: str, id_literal: str, valid: bool, method: str):
    """One JSON-RPC response: the id echoed as sent, or -32600 with id null for an id MCP forbids."""
    answer = json.loads(text)
    assert isinstance(answer, dict), text
    if not valid:
        assert answer["id"] is None and answer["error"]["code"] == -32600, text
        return
    assert literal_id(text) == expected_id(id_literal), text
    if method == "no/such_method":
        assert answer["error"]["code"] == -32601, text
    else:
        assert "result" in answer, text


def test_streamable_http_answers_every_id_type_exactly_once(host):
    raw = Raw(host, token(user()))
    session = raw.session()
    for method, params in METHODS:
        for literal, valid in IDS:
            status, _, text = raw.post("/mcp", request(literal, method, params), {"Mcp-Session-Id": session})
            assert status == (200 if valid else 400), (method, literal, status, text)
            check_answer(text, literal, valid, method)


class SSEStream:
    """A raw `GET /sse` stream read on a thread: its endpoint, and every `message` event."""

    def __init__(self, server: Server, bearer: str):
        url = urlparse(server.mcp_url)
        self.socket = socket.create_connection((url.hostname, url.port), timeout=30)
        self.socket.sendall((f"GET /sse HTTP/1.1\r\nHost: {url.hostname}\r\nAuthorization: Bearer {bearer}\r\n"
                             "Accept: text/event-stream\r\n\r\n").encode())
        self.messages = []
        self.raw = b""
        self.endpoint = None
        self.arrived = threading.Condition()
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()
        with self.arrived:
            assert self.arrived.wait_for(lambda: self.endpoint is not None, timeout=30)

    def read(self):
        buffer = b""
        while True:
            try:
                chunk = self.socket.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            with self.arrived:
                self.raw += chunk
                buffer += chunk
                while b"\n\n" in buffer:
                    event, buffer = buffer.split(b"\n\n", 1)
                    lines = event.decode().split("\n")
                    kind = next((line[7:] for line in lines if line.startswith("event: ")), None)
                    data = next((line[6:] for line in lines if line.startswith("data: ")), None)
                    if kind == "endpoint":
                        self.endpoint = data
                    elif kind == "message":
                        self.messages.append(data)
                self.arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 30) -> list:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.messages) >= count, timeout=timeout), self.messages
            return list(self.messages)

    def close(self):
        self.socket.close()


def test_sse_answers_every_id_type_exactly_once_on_the_stream(host):
    bearer = token(user())
    stream = SSEStream(host, bearer)
    raw = Raw(host, bearer)
    try:
        assert raw.post(stream.endpoint, json.dumps(INITIALIZE).encode())[0] == 202
        stream.wait_for(1)
        raw.post(stream.endpoint, b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
        # One at a time: over SSE the POST returns before the answer, and an id still in flight
        # would be refused as a duplicate.
        sent = 0
        for method, params in METHODS:
            for literal, valid in IDS:
                assert raw.post(stream.endpoint, request(literal, method, params))[0] == 202
                sent += 1
                check_answer(stream.wait_for(1 + sent)[-1], literal, valid, method)
        # Nothing more arrives: each request was answered exactly once.
        time.sleep(1)
        assert len(stream.messages) == 1 + sent, stream.messages
    finally:
        stream.close()


SLOW_CALL = request("42", "tools/call", ',"params":{"name":"sleep","arguments":{}}')


def test_a_duplicate_id_in_flight_is_refused_and_the_first_request_unaffected(host):
    raw = Raw(host, token(user()))
    session = raw.session()
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(raw.post, "/mcp", SLOW_CALL, {"Mcp-Session-Id": session})
        time.sleep(0.5)
        status, _, text = raw.post("/mcp", SLOW_CALL, {"Mcp-Session-Id": session})
        assert status == 200
        assert json.loads(text) == {"jsonrpc": "2.0", "id": 42, "error": {
            "code": -32600, "message": "Invalid Request: id already in use by a request of this session still in flight"}}
        status, _, text = first.result()
    assert status == 200
    assert json.loads(text)["result"]["structuredContent"] == {"slept_ms": 2000, "cancelled": False}
    # Once answered, the id is free again.
    status, _, text = raw.post("/mcp", request("42", "ping", ""), {"Mcp-Session-Id": session})
    assert json.loads(text) == {"jsonrpc": "2.0", "id": 42, "result": {}}


def test_a_duplicate_id_in_flight_over_sse_gets_an_error_on_the_stream(host):
    bearer = token(user())
    stream = SSEStream(host, bearer)
    raw = Raw(host, bearer)
    try:
        raw.post(stream.endpoint, json.dumps(INITIALIZE).encode())
        stream.wait_for(1)
        raw.post(stream.endpoint, SLOW_CALL)
        raw.post(stream.endpoint, SLOW_CALL)
        answers = [json.loads(m) for m in stream.wait_for(3)[1:]]
        assert answers[0]["error"]["message"].startswith("Invalid Request: id already in use")
        assert answers[1]["result"]["structuredContent"] == {"slept_ms": 2000, "cancelled": False}
        assert [a["id"] for a in answers] == [42, 42]
    finally:
        stream.close()


def test_a_plugin_result_that_is_not_an_object_is_an_error_result_for_a_real_client(host):
    async def scenario():
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token(user())}"}, timeout=30) as client:
            async with streamable_http_client(host.mcp_url + "/mcp", http_client=client) as streams:
                async with ClientSession(streams[0], streams[1]) as session:
                    await session.initialize()
                    for tool in ("returns_array", "returns_string", "returns_number", "returns_invalid_json"):
                        result = await session.call_tool(tool, {})
                        assert result.is_error, tool
                        assert result.structured_content is None, tool
                        assert result.content[0].text == "the plugin 'malformed_output' returned a malformed result"
    asyncio.run(scenario())


LIMIT = 4 * 1024 * 1024


def test_oversized_bodies_get_413_with_a_sentence_however_they_arrive(host):
    bearer = token(user())
    raw = Raw(host, bearer)
    session = raw.session()
    stream = SSEStream(host, bearer)
    body = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"' + b"x" * LIMIT + b'"}}'
    try:
        for path, headers in (("/mcp", {"Mcp-Session-Id": session}), ("/mcp", {}), (stream.endpoint, {})):
            with httpx2.Client(timeout=60, headers={**raw.headers, **headers}) as http:
                declared = http.post(host.mcp_url + path, content=body)
                chunked = http.post(host.mcp_url + path, content=iter([body[:1000], body[1000:]]))
            for response in (declared, chunked):
                assert response.status_code == 413, (path, response.status_code, response.text)
                assert response.json() == {"error": f"the message is larger than the limit of {LIMIT} bytes"}
        # A body of exactly the limit is read and answered.
        prefix, suffix = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"', b'"}}'
        exact = prefix + b"x" * (LIMIT - len(prefix) - len(suffix)) + suffix
        status, _, text = raw.post("/mcp", exact, {"Mcp-Session-Id": session})
        assert (status, json.loads(text)) == (200, {"jsonrpc": "2.0", "id": 1, "result": {}})
    finally:
        stream.close()


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_hundreds_of_odd_requests_leave_no_socket_or_task_behind(host):
    raw = Raw(host, token(user()))
    session = raw.session()
    baseline = open_fds(host.process.pid)
    odd = [request(literal, method, params) for method, params in METHODS for literal, _ in IDS]
    odd += [b"[]", b"{}", b'{"jsonrpc":"2.0","id":1}', b'{"jsonrpc":"1.0","id":1,"method":"ping"}',
            b'{"jsonrpc":"2.0","id":1,"method":5}', b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"n":1e400}}',
            b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":[1]}}',
            b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":7}', b'"just a string"', b"{", b"\xff\xfe"]
    answered = 0
    for round in range(8):
        for body in odd:
            status, _, text = raw.post("/mcp", body, {"Mcp-Session-Id": session})
            assert status in (200, 202, 400), (body, status, text)
            if status != 202:
                assert isinstance(json.loads(text), dict)
            answered += 1
    # Clients that go away while their call runs: the host must not keep their sockets.
    url = urlparse(host.mcp_url)
    for n in range(20):
        with socket.create_connection((url.hostname, url.port)) as client:
            body = request(f'"gone-{n}"', "tools/call", ',"params":{"name":"sleep","arguments":{}}')
            client.sendall((f"POST /mcp HTTP/1.1\r\nHost: x\r\nAuthorization: {raw.headers['Authorization']}\r\n"
                            f"Content-Type: application/json\r\nMcp-Session-Id: {session}\r\n"
                            f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    assert answered >= 300
    # The abandoned calls run about 2 s (a client that half-closes is seen when its call ends):
    # look only after that, then wait for the count to come down.
    settled = time.time() + 3
    deadline = time.time() + 30
    while time.time() < deadline and (time.time() < settled or open_fds(host.process.pid) > baseline + 5):
        time.sleep(0.5)
    print(f"\nfds: baseline {baseline}, after {answered} odd requests and 20 abandoned calls {open_fds(host.process.pid)}")
    assert open_fds(host.process.pid) <= baseline + 5
    # And the session still works.
    status, _, text = raw.post("/mcp", request('"after"', "ping", ""), {"Mcp-Session-Id": session})
    assert json.loads(text) == {"jsonrpc": "2.0", "id": "after", "result": {}}


def test_an_sse_stream_whose_client_vanished_ends_and_its_session_goes(host):
    bearer = token(user())
    raw = Raw(host, bearer)
    baseline = open_fds(host.process.pid)
    streams = [SSEStream(host, bearer) for _ in range(20)]
    endpoints = [stream.endpoint for stream in streams]
    for stream in streams:
        stream.socket.shutdown(socket.SHUT_RDWR)
        stream.close()
    deadline = time.time() + 30
    while time.time() < deadline:
        gone = [raw.post(endpoint, b'{"jsonrpc":"2.0","id":1,"method":"ping"}')[0] == 404 for endpoint in endpoints]
        if all(gone) and open_fds(host.process.pid) <= baseline + 2:
            break
        time.sleep(0.5)
    assert all(gone), "every session of a vanished stream is removed"
    assert open_fds(host.process.pid) <= baseline + 2


def open_stream(server: Server, bearer: str, path: str, headers: str = "") -> socket.socket:
    """A raw event stream, its response head read: the socket stays open."""
    url = urlparse(server.mcp_url)
    client = socket.create_connection((url.hostname, url.port), timeout=30)
    client.sendall((f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {bearer}\r\n"
                    f"Accept: text/event-stream\r\n{headers}\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = client.recv(4096)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 200"), head
    return client


def read_to_end(client: socket.socket) -> bytes:
    data = b""
    client.settimeout(30)
    while chunk := client.recv(65536):
        data += chunk
    return data


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_sigterm_with_100_open_streams_ends_them_and_exits_0(store):
    server = start(store)
    try:
        bearer = token(user())
        raw = Raw(server, bearer)
        streams = [open_stream(server, bearer, "/sse") for _ in range(50)]
        for _ in range(50):
            streams.append(open_stream(server, bearer, "/mcp", f"Mcp-Session-Id: {raw.session()}\r\n"))
        # A call in flight when the signal comes must still be answered.
        session = raw.session()
        with ThreadPoolExecutor(1) as pool:
            call = pool.submit(raw.post, "/mcp", SLOW_CALL, {"Mcp-Session-Id": session})
            time.sleep(0.5)
            started = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            status = server.process.wait(timeout=20)
            elapsed = time.monotonic() - started
            print(f"\nSIGTERM to exit with 100 open streams and a call in flight ({store}): {elapsed:.2f} s")
            assert status == 0
            status, _, text = call.result()
            assert status == 200 and json.loads(text)["result"]["structuredContent"]["slept_ms"] == 2000
        for client in streams:
            assert b": the server is shutting down" in read_to_end(client)
            client.close()
    finally:
        server.stop()
