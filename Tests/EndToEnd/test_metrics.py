"""End-to-end: the Prometheus metrics of `toolbridge serve` (API and host, each its own /metrics),
on both stores, in the production configuration. Each test scrapes before and after a known mix
of calls and checks that counters and histogram counts moved by exactly those calls. Every scrape
is parsed with the official Python client's parser (prometheus_client)."""
import asyncio
import time
import uuid
from contextlib import asynccontextmanager

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from prometheus_client.parser import text_string_to_metric_families

from conftest import Server, api_get, free_port, new_session, signed_tenant_headers, token

MODERN = "2026-07-28"
BAD_UID = "00000000-0000-4000-8000-000000000000"


def user() -> str:
    return "user-" + uuid.uuid4().hex[:10]


def scrape(url: str, bearer=None) -> dict:
    """Every sample of `url`/metrics, by (name, labels), parsed by prometheus_client."""
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    response = httpx2.get(url + "/metrics", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def total(samples: dict, name: str, **labels) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(value for (sample, sample_labels), value in samples.items() if sample == name and wanted <= sample_labels)


def moved(before: dict, after: dict, name: str, **labels) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


@asynccontextmanager
async def sdk_client(server, bearer, mode):
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {bearer}"}, timeout=30) as http:
        async with Client(streamable_http_client(server.mcp_url + "/mcp", http_client=http), mode=mode) as client:
            yield client


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def observed(request):
    running = Server(request.param)
    yield running
    running.stop()


def test_a_known_mix_of_calls_moves_every_counter_by_exactly_those_calls(observed):
    server = observed
    host_before, api_before = scrape(server.mcp_url), scrape(server.api_url)

    async def tool_calls():
        async with sdk_client(server, token(user()), MODERN) as client:
            created = await client.call_tool("create_note", {"title": "metered"})
            assert not created.is_error, created.content
            fetched = await client.call_tool("get_note", {"uid": created.structured_content["uid"]})
            assert not fetched.is_error, fetched.content
            missing = await client.call_tool("get_note", {"uid": BAD_UID})
            assert missing.is_error and "404" in missing.content[0].text
        async with sdk_client(server, token(user()), "legacy") as client:
            assert not (await client.call_tool("whoami", {})).is_error
            assert (await client.call_tool("get_note", {"uid": BAD_UID})).is_error
        # Tenant acme may use notes only: whoami is a tool it cannot call.
        async with sdk_client(server, token(user(), ["acme"]), MODERN) as client:
            with pytest.raises(Exception):
                await client.call_tool("whoami", {})
    asyncio.run(tool_calls())

    # Bad credentials at the edge and at the API.
    expired = token(user(), ttl=-3600)
    mcp_body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    for bearer in ("not-a-jwt", expired):
        refused = httpx2.post(server.mcp_url + "/mcp", json=mcp_body, timeout=30,
                              headers={"Authorization": f"Bearer {bearer}", "Accept": "application/json, text/event-stream"})
        assert refused.status_code == 401
    assert api_get(server, expired, "/v1/notes").status_code == 401
    forged = {"Authorization": f"Bearer {token(user())}", **signed_tenant_headers(), "X-TB-Signature": "0" * 64}
    assert httpx2.get(server.api_url + "/v1/notes", headers=forged, timeout=30).status_code == 401
    assert httpx2.get(server.api_url + "/v1/notes", timeout=30).status_code == 401

    # Direct REST calls.
    reader = token(user())
    session = new_session(server, reader).json()
    assert api_get(server, reader, "/v1/notes", session).status_code == 200

    host, api = scrape(server.mcp_url), scrape(server.api_url)

    # Tool calls, counted where the audit trail records them.
    calls = "toolbridge_tool_call_duration_seconds_count"
    assert moved(host_before, host, calls, gen_ai_tool_name="create_note", plugin="notes", tenant="default", outcome="ok") == 1
    assert moved(host_before, host, calls, gen_ai_tool_name="get_note", plugin="notes", tenant="default", outcome="ok") == 1
    assert moved(host_before, host, calls, gen_ai_tool_name="get_note", plugin="notes", tenant="default", outcome="error") == 2
    assert moved(host_before, host, calls, gen_ai_tool_name="whoami", plugin="status", tenant="default", outcome="ok") == 1
    assert moved(host_before, host, calls, gen_ai_tool_name="whoami", plugin="status", tenant="acme", outcome="denied") == 1
    assert moved(host_before, host, calls) == 6
    assert moved(host_before, host, "toolbridge_tool_call_duration_seconds_sum") > 0

    # MCP requests by method, era and transport.
    ops = "mcp_server_operation_duration_seconds_count"
    stateless = {"mcp_era": "stateless", "mcp_transport": "stateless_http", "mcp_protocol_version": MODERN}
    handshake = {"mcp_era": "handshake", "mcp_transport": "streamable_http"}
    assert moved(host_before, host, ops, mcp_method_name="tools/call", **stateless) == 4
    assert moved(host_before, host, ops, mcp_method_name="tools/call", gen_ai_tool_name="get_note", error_type="tool_error",
                 **stateless) == 1
    assert moved(host_before, host, ops, mcp_method_name="tools/call", gen_ai_tool_name="whoami", error_type="-32602",
                 **stateless) == 1
    assert moved(host_before, host, ops, mcp_method_name="tools/call", **handshake) == 2
    assert moved(host_before, host, ops, mcp_method_name="tools/call", gen_ai_tool_name="get_note", error_type="tool_error",
                 **handshake) == 1
    assert moved(host_before, host, ops, mcp_method_name="initialize", **handshake) == 1
    assert moved(host_before, host, "mcp_server_operation_duration_seconds_sum") > 0
    # The legacy session ended when its client closed it.
    assert moved(host_before, host, "mcp_server_session_duration_seconds_count", mcp_transport="streamable_http") == 1

    # Authentication failures by reason, each server its own.
    failures = "toolbridge_auth_failures_total"
    assert moved(host_before, host, failures, reason="malformed_token") == 1
    assert moved(host_before, host, failures, reason="expired") == 1
    assert moved(host_before, host, failures) == 2
    assert moved(api_before, api, failures, reason="expired") == 1
    assert moved(api_before, api, failures, reason="bad_tenant_signature") == 1
    # With a tenant secret the API checks the signed tenant headers first.
    assert moved(api_before, api, failures, reason="missing_tenant_headers") == 1
    assert moved(api_before, api, failures) == 3

    # The REST proxy's requests: the two bad uids were 404s from the API; the API saw them by route.
    client_requests = "http_client_request_duration_seconds_count"
    assert moved(host_before, host, client_requests, http_request_method="GET", http_response_status_code="404",
                 error_type="404") == 2
    requests = "http_server_request_duration_seconds_count"
    assert moved(api_before, api, requests, http_request_method="GET", http_route="/v1/{kind}/{uid}",
                 http_response_status_code="404") == 2
    assert moved(api_before, api, requests, http_request_method="GET", http_route="/v1/{kind}",
                 http_response_status_code="200") == 1
    assert moved(api_before, api, requests, http_request_method="GET", http_route="/v1/{kind}",
                 http_response_status_code="401") == 3
    assert moved(host_before, host, requests, http_request_method="POST", http_route="/mcp",
                 http_response_status_code="401") == 2
    assert not any(BAD_UID in str(labels) for (_, labels) in api), "raw paths never become labels"

    # The database: the note's INSERT at least, timed.
    assert moved(api_before, api, "db_client_operation_duration_seconds_count", db_operation_name="INSERT") >= 1
    assert moved(api_before, api, "db_client_operation_duration_seconds_sum") > 0
    # Plugins: the nine core plugins loaded at start, none refused.
    assert total(host, "toolbridge_plugin_loads_total", outcome="loaded") == 9
    assert total(host, "toolbridge_plugin_loads_total", outcome="refused") == 0


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_rate_limit_rejections_are_counted_by_limit_and_tenant(store):
    server = Server(store, settings={
        "TOOLBRIDGE_MCP_USER_CALL_LIMIT": "2/1h burst 2", "TOOLBRIDGE_API_RATE_LIMIT": "2/1h burst 2"})
    try:
        host_before, api_before = scrape(server.mcp_url), scrape(server.api_url)

        async def calls():
            async with sdk_client(server, token(user()), MODERN) as client:
                results = [await client.call_tool("whoami", {}) for _ in range(3)]
                assert [result.is_error for result in results] == [False, False, True]
        asyncio.run(calls())
        reader = token(user())
        session = new_session(server, reader).json()
        assert [api_get(server, reader, "/v1/notes", session).status_code for _ in range(3)] == [200, 200, 429]

        host, api = scrape(server.mcp_url), scrape(server.api_url)
        rejections = "toolbridge_rate_limit_rejections_total"
        assert moved(host_before, host, rejections, limit="mcp_user_calls", tenant="default") == 1
        assert moved(host_before, host, rejections) == 1
        assert moved(host_before, host, "toolbridge_tool_call_duration_seconds_count", gen_ai_tool_name="whoami",
                     outcome="rate_limited") == 1
        assert moved(api_before, api, rejections, limit="api_requests", tenant="default") == 1
        assert moved(api_before, api, rejections) == 1
    finally:
        server.stop()


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_metrics_ports_serve_metrics_behind_the_token_and_the_main_ports_none(store):
    api_port, mcp_port = free_port(), free_port()
    server = Server(store, settings={
        "TOOLBRIDGE_METRICS_PORT": str(api_port), "TOOLBRIDGE_MCP_METRICS_PORT": str(mcp_port),
        "TOOLBRIDGE_METRICS_TOKEN": "scrape-secret"})
    try:
        for main, private in ((server.api_url, f"http://127.0.0.1:{api_port}"),
                              (server.mcp_url, f"http://127.0.0.1:{mcp_port}")):
            assert httpx2.get(main + "/metrics", timeout=30).status_code == 404
            # The extra listener starts beside the main one: wait for it, boundedly.
            deadline = time.time() + 30
            while True:
                try:
                    unauthorized = httpx2.get(private + "/metrics", timeout=30)
                    break
                except httpx2.ConnectError:
                    assert time.time() < deadline, f"{private} never listened"
                    time.sleep(0.1)
            assert unauthorized.status_code == 401
            wrong = httpx2.get(private + "/metrics", headers={"Authorization": "Bearer scrape-secreT"}, timeout=30)
            assert wrong.status_code == 401
            samples = scrape(private, bearer="scrape-secret")
            assert any(name == "toolbridge_auth_failures_total" or name.startswith("http_server_request_duration_seconds")
                       for (name, _) in samples)
        assert total(scrape(f"http://127.0.0.1:{api_port}", bearer="scrape-secret"), "db_client_connection_max") >= 1
    finally:
        server.stop()


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_with_tenant_labels_off_no_series_names_a_tenant(store):
    server = Server(store, settings={"TOOLBRIDGE_METRICS_TENANT_LABELS": "off"})
    try:
        async def calls():
            async with sdk_client(server, token(user(), ["acme"]), MODERN) as client:
                assert not (await client.call_tool("create_note", {"title": "anonymous tenant"})).is_error
        asyncio.run(calls())
        host, api = scrape(server.mcp_url), scrape(server.api_url)
        assert total(host, "toolbridge_tool_call_duration_seconds_count", gen_ai_tool_name="create_note", outcome="ok") == 1
        for samples in (host, api):
            assert not any(name == "tenant" for (_, labels) in samples for (name, _) in labels)
    finally:
        server.stop()
