"""End-to-end: what an operator deploys beside ToolBridge. A real Prometheus (Debian's package)
scrapes a real `toolbridge serve` (production configuration, metrics behind a token) after a mix
of calls; the alert rules in docs/monitoring load in it and pass promtool's unit tests, every
query of the importable dashboard is valid PromQL that Prometheus answers, and the panels the mix
touched show data. The scrape itself passes `promtool check metrics`."""
import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

import httpx2
import pytest

from conftest import ROOT, Server, free_port, modern_call, signed_tenant_headers, token

MONITORING = ROOT / "docs" / "monitoring"
METRICS_TOKEN = "e2e-metrics-token-" + "m" * 20


def scrape(url: str) -> str:
    response = httpx2.get(url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.text


def dashboard_queries():
    """Every target of the dashboard, with Grafana's variables replaced as Grafana would."""
    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    replacements = {"$__rate_interval": "1m", "$__range": "5m", "$tenant": ".*", "$host_job": "toolbridge-host",
                    "$api_job": "toolbridge-api"}
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in replacements.items():
                expr = expr.replace(name, value)
            assert "$" not in expr, f"an unknown variable in {panel['title']}: {expr}"
            queries.append((panel["title"], expr))
    return queries


@pytest.fixture(scope="module")
def monitored():
    """A server after a known mix of calls, and a Prometheus that has scraped it since."""
    # PostgreSQL, for the connection pool's panels; one write per hour, so the second create is refused.
    server = Server("postgres", settings={"TOOLBRIDGE_METRICS_TOKEN": METRICS_TOKEN,
                                          "TOOLBRIDGE_MCP_WRITE_CALL_LIMIT": "1/3600s burst 1"})
    directory = Path(tempfile.mkdtemp(prefix="toolbridge-prometheus-"))
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(MONITORING / "alerts.yml")],
        "scrape_configs": [
            {"job_name": job, "authorization": {"credentials": METRICS_TOKEN},
             "static_configs": [{"targets": [urllib.parse.urlsplit(url).netloc]}]}
            for job, url in (("toolbridge-host", server.mcp_url), ("toolbridge-api", server.api_url))],
    }
    (directory / "prometheus.yml").write_text(json.dumps(config))
    log = open(directory / "prometheus.log", "w")
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={directory / 'prometheus.yml'}", f"--storage.tsdb.path={directory / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx2.get(base + "/-/ready", timeout=2).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("prometheus did not become ready: " + (directory / "prometheus.log").read_text())

        bearer = token("monitoring-user", ["default"])
        created = modern_call(server, bearer, "create_note", {"title": "watched", "content": "by prometheus"})
        uid = created["result"]["structuredContent"]["uid"]
        refused = modern_call(server, bearer, "create_note", {"title": "one too many"})
        assert refused["result"]["isError"] is True
        for _ in range(5):
            assert "isError" not in modern_call(server, bearer, "get_note", {"uid": uid})["result"]
        missing = modern_call(server, bearer, "get_note", {"uid": "00000000-0000-4000-8000-000000000000"})
        assert missing["result"]["isError"] is True
        for _ in range(3):
            assert httpx2.get(server.api_url + "/v1/notes", headers={"Authorization": "Bearer not-a-token",
                                                                     **signed_tenant_headers()}).status_code == 401
        assert httpx2.post(server.api_url + "/v1/sync/sessions", headers={"Authorization": f"Bearer {bearer}",
                                                                          **signed_tenant_headers()}).status_code == 201

        # Wait until Prometheus has scraped both targets after the mix: the host's last calls and
        # the API's last refusals are in, and both targets are up.
        after_mix = ('sum(toolbridge_tool_call_duration_seconds_count{gen_ai_tool_name="get_note"}) >= 6'
                     ' and on() sum(toolbridge_auth_failures_total{job="toolbridge-api"}) >= 3')
        deadline = time.time() + 30
        while time.time() < deadline:
            targets = httpx2.get(base + "/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
            if query(base, after_mix) and len(targets) == 2 and all(t["health"] == "up" for t in targets):
                break
            time.sleep(0.5)
        yield server, base
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=15)
        log.close()
        shutil.rmtree(directory, ignore_errors=True)
        server.stop()


def query(base: str, expr: str):
    response = httpx2.get(base + "/api/v1/query", params={"query": expr}, timeout=10).json()
    assert response["status"] == "success", f"{expr}: {response}"
    return response["data"]["result"]


def test_the_alert_rules_pass_their_unit_tests():
    result = subprocess.run(["promtool", "test", "rules", "alerts.test.yml"], cwd=MONITORING, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_scrapes_both_services_with_the_metrics_token(monitored):
    _, base = monitored
    targets = httpx2.get(base + "/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
    assert sorted(t["labels"]["job"] for t in targets) == ["toolbridge-api", "toolbridge-host"]
    assert all(t["health"] == "up" for t in targets), targets


def test_the_alert_rules_load_and_evaluate_in_prometheus(monitored):
    _, base = monitored
    deadline = time.time() + 20
    while time.time() < deadline:
        groups = httpx2.get(base + "/api/v1/rules", timeout=10).json()["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        if rules and all(rule["health"] != "unknown" for rule in rules):
            break
        time.sleep(0.5)
    written = re.findall(r"^\s*- alert: (\S+)", (MONITORING / "alerts.yml").read_text(), re.MULTILINE)
    assert sorted(rule["name"] for rule in rules) == sorted(written)
    assert all(rule["health"] == "ok" for rule in rules), [r for r in rules if r["health"] != "ok"]


def test_every_dashboard_query_is_answered_by_prometheus(monitored):
    _, base = monitored
    for title, expr in dashboard_queries():
        query(base, expr)


def test_the_panels_the_calls_touched_show_them(monitored):
    _, base = monitored
    per_tool = query(base, 'sum by (gen_ai_tool_name, outcome) (toolbridge_tool_call_duration_seconds_count)')
    counts = {(r["metric"]["gen_ai_tool_name"], r["metric"]["outcome"]): float(r["value"][1]) for r in per_tool}
    assert counts[("get_note", "ok")] == 5
    assert counts[("get_note", "error")] == 1
    assert counts[("create_note", "ok")] == 1
    assert counts[("create_note", "rate_limited")] == 1
    failures = query(base, 'sum(toolbridge_auth_failures_total{job="toolbridge-api"})')
    assert float(failures[0]["value"][1]) == 3
    proxied = query(base, 'sum(http_client_request_duration_seconds_count{job="toolbridge-host"})')
    assert float(proxied[0]["value"][1]) >= 7
    queries = query(base, 'sum(db_client_operation_duration_seconds_count{job="toolbridge-api"})')
    assert float(queries[0]["value"][1]) > 0


def test_every_metric_the_dashboard_and_alerts_name_is_exported(monitored):
    server, _ = monitored
    exported = set()
    for url in (server.mcp_url, server.api_url):
        for line in scrape(url).splitlines():
            if line.startswith("# TYPE "):
                name, kind = line.split()[2:4]
                exported.add(name)
                if kind == "histogram":
                    exported |= {name + "_bucket", name + "_count", name + "_sum"}
    texts = [expr for _, expr in dashboard_queries()] + [(MONITORING / "alerts.yml").read_text()]
    # Label names appear only inside braces and `by (…)`; what remains with our prefixes are metrics.
    bare = [re.sub(r"by \([^)]*\)", "", re.sub(r"\{[^}]*\}", "", text)) for text in texts]
    named = {name for text in bare for name in re.findall(r"\b((?:toolbridge|mcp|http|db)_[a-z_]+)\b", text)}
    assert named, "no metric names found in the dashboard and the alerts"
    assert named <= exported, f"not exported: {sorted(named - exported)}"


def test_the_scrape_passes_promtool_check_metrics(monitored):
    server, _ = monitored
    for url in (server.mcp_url, server.api_url):
        result = subprocess.run(["promtool", "check", "metrics"], input=scrape(url), capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
