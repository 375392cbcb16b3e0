"""Adversarial end-to-end: crash probes on every numeric input of the REST API, and the values the
database cannot index or store, against the real `toolbridge serve` process on both stores.

Every probe must be answered with a 4xx JSON error whose sentence names the input (a sync push
answers per item, so there the item's ack carries the sentence), and the process must still be
alive and serving afterwards.
"""
import base64
import hashlib
import hmac
import json
import socket
import time
import uuid

import httpx2
import pytest

from conftest import Server, token

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# Text probes for query parameters and headers: the int64 extremes, just past them, far past
# them, negative zero, a float, an exponent beyond double, a word, NUL, nothing.
TEXT_PROBES = [str(INT64_MIN), str(INT64_MAX), str(INT64_MAX + 1), str(INT64_MIN - 1), str(2**64), str(10**30),
               "-0", "1e400", "-1e400", "1.5", "abc", "\x00", ""]
# JSON number probes for values inside bodies.
JSON_PROBES = [str(INT64_MIN), str(INT64_MAX), str(INT64_MAX + 1), str(INT64_MIN - 1), str(2**64), "-0", "1e400",
               "-1e400", "1e1000000", "1.5", '"12"', '"\\u0000"', "true", "null", "[]", "{}"]
UID = "3b241101-e2bb-4255-8caf-4136c566a962"


def signed_tenant_headers(server, tenant="default"):
    """The signed tenant headers a direct API caller sends when the server has a tenant secret."""
    secret = server.environment.get("TOOLBRIDGE_TENANT_SECRET")
    if not secret:
        return {}
    stamp = str(int(time.time() * 1000))
    signature = hmac.new(secret.encode(), f"{tenant}:{stamp}".encode(), hashlib.sha256).hexdigest()
    return {"X-TB-Tenant-ID": tenant, "X-TB-Timestamp": stamp, "X-TB-Signature": signature}


def cursor(text):
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def as_int64(text, low=INT64_MIN, high=INT64_MAX):
    """The whole number `text` names when it is one within [low, high], else None."""
    try:
        value = int(text)
    except ValueError:
        return None
    return value if low <= value <= high and text.strip() == text else None


class API:
    """One user of the running API, with a sync session: every request carries what it needs."""

    def __init__(self, server):
        self.server = server
        self.http = httpx2.Client(base_url=server.api_url, timeout=30)
        self.bearer = token("adversary-" + uuid.uuid4().hex[:8])
        created = self.http.post("/v1/sync/sessions", headers=self.auth())
        assert created.status_code == 201, created.text
        self.session = created.json()["id"]
        self.epoch = str(created.json()["epoch"])

    def auth(self):
        return {"Authorization": f"Bearer {self.bearer}", **signed_tenant_headers(self.server)}

    def headers(self, **extra):
        return {**self.auth(), "X-Sync-Session": self.session, "X-Sync-Epoch": self.epoch, **extra}

    def get(self, path, params=None, **headers):
        return self.http.get(path, params=params, headers=self.headers(**headers))

    def send(self, method, path, body, **headers):
        return self.http.request(method, path, content=body.encode(), headers=self.headers(**headers, **{
            "Content-Type": "application/json"}))

    def create(self, kind, body):
        response = self.send("POST", f"/v1/{kind}", body)
        assert response.status_code == 201, response.text
        return response.json()

    def push(self, kind, item):
        response = self.send("POST", f"/v1/sync/{kind}/push", '{"items":[' + item + "]}")
        assert response.status_code == 200, response.text
        return response.json()["acks"][0]


@pytest.fixture
def api(server):
    client = API(server)
    yield client
    client.http.close()
    assert_alive(server)


def assert_refused(response, *words, context=""):
    """A 4xx with the JSON error shape and a sentence naming the input."""
    assert 400 <= response.status_code < 500, f"{context}: {response.status_code} {response.text[:300]}"
    body = response.json()
    sentence = body.get("error", "")
    assert len(sentence) > 10 and body.get("correlation_id"), f"{context}: {response.text[:300]}"
    for word in words:
        assert word in sentence, f"{context}: '{word}' not in '{sentence}'"


def assert_alive(server):
    assert server.process.poll() is None, "the server process died"
    with httpx2.Client(timeout=10) as http:
        assert http.get(server.api_url + "/healthz").status_code == 200


@pytest.mark.parametrize("path,query", [("/v1/notes", {}), ("/v1/sync/notes/pull", {}), ("/v1/search", {"q": "probe"})])
def test_limit_probes(server, api, path, query):
    api.create("notes", '{"title":"probe"}')
    for probe in TEXT_PROBES + ["0", "-1"]:
        response = api.get(path, params={**query, "limit": probe})
        if as_int64(probe, low=1) is not None:
            assert response.status_code == 200, f"limit={probe}: {response.text[:200]}"
        else:
            assert_refused(response, "limit", context=f"{path} limit={probe!r}")
    assert_alive(server)


def test_list_cursor_probes(server, api):
    for probe in TEXT_PROBES:
        for path in ["/v1/notes", "/v1/sync/notes/pull"]:
            response = api.get(path, params={"cursor": cursor(f"{probe}|{UID}")})
            if as_int64(probe) is not None:
                assert response.status_code == 200, f"cursor at {probe}: {response.text[:200]}"
            elif probe:
                assert_refused(response, "cursor", context=f"{path} cursor {probe!r}")
    for raw in ["%%%", "\x00", "a" * 5000, cursor("1|" + "x" * 3000), cursor("\x00|\x00")]:
        assert_refused(api.get("/v1/notes", params={"cursor": raw}), "cursor", context=f"cursor {raw[:20]!r}")
    assert_alive(server)


def test_search_cursor_probes(server, api):
    api.create("notes", '{"title":"probe"}')
    for probe in TEXT_PROBES + ["-1", "100001"]:
        response = api.get("/v1/search", params={"q": "probe", "cursor": cursor("o" + probe)})
        if as_int64(probe, low=0, high=100_000) is not None:
            assert response.status_code == 200, f"search cursor o{probe}: {response.text[:200]}"
        else:
            assert_refused(response, "cursor", context=f"search cursor o{probe!r}")
    deepest = api.get("/v1/search", params={"q": "probe", "cursor": cursor("o100000")})
    assert deepest.status_code == 200 and deepest.json()["items"] == []
    assert_alive(server)


def test_insights_days_probes(server, api):
    for probe in TEXT_PROBES + ["0", "367"]:
        assert_refused(api.get("/v1/insights", params={"days": probe}), "days", context=f"days={probe!r}")
    assert api.get("/v1/insights", params={"days": "366"}).status_code == 200
    assert_alive(server)


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_if_match_probes(server, api, method):
    note = api.create("notes", '{"title":"versioned"}')
    for probe in TEXT_PROBES + ["0", "-1", '"-5"', 'W/"0"']:
        if probe == "\x00":
            continue  # not a legal header value; the raw-header test sends it
        response = api.send(method, f"/v1/notes/{note['uid']}", '{"title":"x"}', **{"If-Match": probe})
        if probe == str(INT64_MAX):
            assert response.status_code == 412, response.text
        else:
            assert_refused(response, "If-Match", context=f"If-Match {probe!r}")
    assert_alive(server)


def test_sync_epoch_probes(server, api):
    for probe in TEXT_PROBES:
        if probe == "\x00":
            continue  # not a legal header value; the raw-header test sends it
        response = api.get("/v1/notes", **{"X-Sync-Epoch": probe})
        if as_int64(probe) is not None:
            assert response.status_code == 409 and response.json()["epoch"] == int(api.epoch), response.text
        else:
            assert_refused(response, "X-Sync-Epoch", context=f"X-Sync-Epoch {probe!r}")
    assert_alive(server)


def test_pushed_updated_ts_probes(server, api):
    for probe in JSON_PROBES + ['"-9223372036854775808"', '"0000-12-31T23:59:59Z"', '"10000-01-01T00:00:00Z"',
                                '"0001-01-01T00:00:00+00:01"', '"9999-12-31T23:59:59.999-00:01"', '"2023-02-29T00:00:00Z"']:
        if probe == "-0":
            continue  # zero: 1970-01-01, a valid time (checked below)
        ack = api.push("notes", f'{{"uid":"{uuid.uuid4()}","title":"t","updatedTs":{probe}}}')
        assert "updatedTs" in ack.get("error", ""), f"updatedTs {probe}: {ack}"
    for probe, shown in [("-62135596800000", "0001-01-01T00:00:00.000Z"), ("253402300799999", "9999-12-31T23:59:59.999Z"),
                         ("-0", "1970-01-01T00:00:00.000Z")]:
        uid = str(uuid.uuid4())
        ack = api.push("notes", f'{{"uid":"{uid}","updatedTs":{probe}}}')
        assert "error" not in ack, ack
        assert api.get(f"/v1/notes/{uid}").json()["payload"]["updatedTs"] == shown
    assert_alive(server)


def test_batch_if_match_probes(server, api):
    note = api.create("notes", '{"title":"batched"}')
    for probe in JSON_PROBES + ["0", "-1"]:
        body = ('{"operations":[{"op":"patch","kind":"notes","uid":"%s","fields":{},"ifMatch":%s}]}'
                % (note["uid"], probe))
        response = api.send("POST", "/v1/batch", body)
        if probe == str(INT64_MAX):
            assert response.status_code == 412, response.text
        else:
            assert_refused(response, "ifMatch", context=f"ifMatch {probe}")
            assert response.json()["failedOperation"] == 0
    assert_alive(server)


def test_sizes_of_push_and_batch_are_bounded(server, api):
    items = ",".join(f'{{"uid":"{uuid.uuid4()}","updatedTs":1}}' for _ in range(1001))
    assert_refused(api.send("POST", "/v1/sync/notes/push", '{"items":[' + items + "]}"), "1000")
    operations = ",".join('{"op":"create","kind":"notes","fields":{}}' for _ in range(1001))
    assert_refused(api.send("POST", "/v1/batch", '{"operations":[' + operations + "]}"), "1000")
    assert_alive(server)


def test_values_the_index_cannot_hold_are_400s(server, api):
    for status in ["s" * 3000, "é" * 129, "a\\u0000b"]:
        assert_refused(api.send("POST", "/v1/tasks", f'{{"status":"{status}"}}'), "status", context=status[:10])
        ack = api.push("tasks", f'{{"uid":"{uuid.uuid4()}","updatedTs":1,"status":"{status}"}}')
        assert "status" in ack.get("error", ""), ack
    assert api.send("POST", "/v1/tasks", '{"status":"%s"}' % ("é" * 128)).status_code == 201
    for kind, name, value in [("tasks", "status", "a\x00b"), ("notes", "status", "s" * 3000),
                              ("comments", "parentUid", "\x00"), ("comments", "parentUid", "nope"),
                              ("comments", "parentType", "\x00"), ("chat_messages", "chatUid", "\x00")]:
        assert_refused(api.get(f"/v1/{kind}", params={name: value}), name, context=f"{kind}?{name}")
    assert_alive(server)


def test_stored_payload_numbers_never_break_later_reads(server, api):
    for payload in ['{"tags":["huge"],"n":1e1000000}', '{"tags":["tiny"],"n":-1e-1000000}',
                    '{"tags":["nul","x\\u0000"],"s":"\\u0000"}', '{"tags":["long"],"n":%s}' % ("9" * 4000)]:
        api.create("notes", payload)
    insights = api.get("/v1/insights")
    assert insights.status_code == 200, insights.text
    assert {tag["tag"] for tag in insights.json()["tags"]} == {"huge", "tiny", "nul", "long"}
    for path in ["/v1/notes", "/v1/sync/notes/pull", "/v1/search?q=huge", "/v1/insights?kinds=notes"]:
        assert api.get(path).status_code == 200, path
    assert_alive(server)


def test_huge_searchable_text_is_stored_and_the_write_succeeds(server, api):
    # Hyphenated pairs of unique words: about 2 MB of tsvector if it were all indexed.
    content = "lighthouse " + " ".join(f"w{n:x}-x{n:x}" for n in range(60_000))
    note = api.create("notes", json.dumps({"content": content}))
    assert api.get(f"/v1/notes/{note['uid']}").json()["payload"]["content"] == content
    found = api.get("/v1/search", params={"q": "lighthouse"}).json()["items"]
    assert [hit["item"]["uid"] for hit in found] == [note["uid"]]
    assert_alive(server)


def test_session_ids_that_are_not_uuids(server, api):
    for session_id in ["%00", "x" * 3000, "' OR 1=1 --"]:
        response = api.http.get(f"/v1/sync/sessions/{session_id}", headers=api.auth())
        assert response.status_code == 404, response.text
        assert_refused(response, "sync session")
    assert_refused(api.get("/v1/notes", **{"X-Sync-Session": "x" * 3000}), "sync session")
    assert_alive(server)


def test_chunked_body_over_the_limit_is_413(server):
    store = "postgres" if "DATABASE_URL" in server.environment else "sqlite"
    small = Server(store, {"TOOLBRIDGE_MAX_BODY_BYTES": "4096"})
    try:
        api = API(small)

        def chunks(size):
            body = ('{"content":"' + "x" * size + '"}').encode()
            for start in range(0, len(body), 1024):
                yield body[start:start + 1024]

        for size, expected in [(16_384, 413), (1_000, 201)]:
            response = api.http.post("/v1/notes", content=chunks(size),
                                     headers=api.headers(**{"Content-Type": "application/json"}))
            assert "content-length" not in response.request.headers
            assert response.status_code == expected, response.text
            if expected == 413:
                assert_refused(response, "4096 bytes")
        assert_alive(small)
        api.http.close()
    finally:
        small.stop()


def test_raw_headers_with_nul_or_huge_numbers_leave_the_server_alive(server, api):
    # HTTP clients refuse to send NUL in a header, so these go over a raw socket. The HTTP parser
    # may refuse such a request before the API sees it, so only the status is checked here.
    host, port = server.api_url.removeprefix("http://").rsplit(":", 1)
    for name, value in [("X-Sync-Epoch", "1\x00"), ("If-Match", "\x00"), ("X-Sync-Epoch", "9" * 5000)]:
        request = (f"GET /v1/notes HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {api.bearer}\r\n"
                   + "".join(f"{k}: {v}\r\n" for k, v in signed_tenant_headers(server).items())
                   + f"X-Sync-Session: {api.session}\r\n{name}: {value}\r\nConnection: close\r\n\r\n")
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            raw.sendall(request.encode("latin-1"))
            answer = b""
            while chunk := raw.recv(65536):
                answer += chunk
        status = int(answer.split(b" ", 2)[1])
        assert 400 <= status < 500, answer[:200]
    assert_alive(server)
