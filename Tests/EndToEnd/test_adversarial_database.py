"""End-to-end: PostgreSQL restarted and stopped under a steady MCP write load against the real
`toolbridge serve`. Every write the client saw acknowledged must exist afterwards, the process must
live through it, and calls must succeed again by themselves once the database is back.

Each test starts a PostgreSQL cluster of its own: the shared one of scripts/test serves every other
test and must not restart. Run with `pytest -s` to see the client-side error window and lost writes.
"""
import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from conftest import Server, token

SESSIONS = 6
MAX_CALLS_PER_SESSION = 20_000


def pg_bindir():
    """TOOLBRIDGE_TEST_PG_BIN (scripts/test), `pg_config --bindir`, or /usr/lib/postgresql/*/bin."""
    candidates = [os.environ.get("TOOLBRIDGE_TEST_PG_BIN", "")]
    try:
        candidates.append(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip())
    except FileNotFoundError:
        pass
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    return next((c for c in candidates if c and os.access(os.path.join(c, "initdb"), os.X_OK)), None)


class PrivatePostgres:
    """A throwaway cluster on a free port. The server refuses to run as root, so as root its
    commands run as the postgres user (as scripts/test does)."""

    def __init__(self, bindir: str):
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        self.directory = tempfile.mkdtemp(prefix="toolbridge-pg-fault-")
        os.chmod(self.directory, 0o755)
        if self.as_root:
            if subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
                subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
            shutil.chown(self.directory, user="postgres")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres?sslmode=disable"
        self.data = os.path.join(self.directory, "data")
        self.run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale")
        self.start()

    def run(self, tool, *arguments):
        command = [os.path.join(self.bindir, tool), *arguments]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stdout}{done.stderr}")

    def pg_ctl(self, *arguments):
        # -l for restarts too: a server writing to our pipe would keep it open after pg_ctl exits.
        self.run("pg_ctl", "-D", self.data, "-w", "-t", "60", "-l", os.path.join(self.directory, "server.log"),
                 *arguments)

    def start(self):
        self.pg_ctl("-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def remove(self):
        try:
            self.pg_ctl("-m", "immediate", "stop")
        except RuntimeError:
            pass
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def postgres():
    bindir = pg_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    cluster = PrivatePostgres(bindir)
    yield cluster
    cluster.remove()


@pytest.fixture
def serve(postgres):
    # "sqlite" only keeps Server from using the shared cluster; DATABASE_URL points serve at ours.
    running = Server("sqlite", settings={"DATABASE_URL": postgres.url})
    yield running
    running.stop()


class WriteLoad:
    """Sessions calling create_note with titles they choose, recording every call's outcome."""

    def __init__(self):
        self.acknowledged = {}  # uid -> (user, title)
        self.failures = []  # (started, ended, reason)
        self.successes = []  # end times
        self.stopping = asyncio.Event()

    async def session(self, server, index):
        bearer = token(f"writer-{index}-{uuid.uuid4().hex[:8]}")
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {bearer}"}, timeout=30) as http:
            async with streamable_http_client(server.mcp_url + "/mcp", http_client=http) as streams:
                async with ClientSession(streams[0], streams[1]) as session:
                    await session.initialize()
                    for call in range(MAX_CALLS_PER_SESSION):
                        if self.stopping.is_set():
                            break
                        title = f"writer {index} call {call}"
                        started = time.monotonic()
                        try:
                            result = await session.call_tool("create_note", {"title": title})
                        except Exception as error:  # a transport failure is a failed call too
                            self.failures.append((started, time.monotonic(), repr(error)))
                            await asyncio.sleep(0.05)
                            continue
                        ended = time.monotonic()
                        if result.is_error:
                            self.failures.append((started, ended, result.content[0].text))
                            await asyncio.sleep(0.02)
                        else:
                            self.acknowledged[result.structured_content["uid"]] = (bearer, title)
                            self.successes.append(ended)
                    return bearer

    async def until(self, condition, seconds):
        deadline = time.monotonic() + seconds
        while not condition() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return condition()


async def stored_titles(server, bearer):
    """Every live note of the user, through MCP (list_notes, page by page): uid -> title."""
    titles = {}
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {bearer}"}, timeout=30) as http:
        async with streamable_http_client(server.mcp_url + "/mcp", http_client=http) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                cursor = None
                for _ in range(1_000):
                    arguments = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
                    page = await session.call_tool("list_notes", arguments)
                    assert not page.is_error, page.content
                    for item in page.structured_content["items"]:
                        titles[item["uid"]] = item["payload"]["title"]
                    cursor = page.structured_content.get("nextCursor")
                    if not cursor:
                        break
    return titles


def fault_under_load(serve, postgres, fault):
    async def scenario():
        load = WriteLoad()
        writers = [asyncio.create_task(load.session(serve, index)) for index in range(SESSIONS)]
        assert await load.until(lambda: len(load.acknowledged) >= 50, 60), "the load never got going"

        await asyncio.to_thread(fault)
        back = time.monotonic()  # pg_ctl -w returned: the database accepts connections again
        recovered = await load.until(lambda: any(t > back for t in load.successes), 20)
        assert recovered, "no call succeeded within 20 s of the database being back"
        recovery = min(t for t in load.successes if t > back) - back
        await asyncio.sleep(1)
        load.stopping.set()
        bearers = await asyncio.gather(*writers)

        assert serve.process.poll() is None, "toolbridge serve died"
        stored = {}
        for bearer in bearers:
            stored.update(await stored_titles(serve, bearer))
        lost = [uid for uid, (_, title) in load.acknowledged.items() if stored.get(uid) != title]
        window = (max(f[1] for f in load.failures) - min(f[0] for f in load.failures)) if load.failures else 0.0
        print(f"\n[database fault: {fault.__name__}] {len(load.acknowledged)} acknowledged writes, "
              f"{len(load.failures)} failed calls, client-side error window {window:.2f} s, "
              f"first success {recovery:.2f} s after the database was back, lost acknowledged writes: {len(lost)}")
        reasons = {reason for _, _, reason in load.failures}
        assert all("503" in reason or "unavailable" in reason for reason in reasons), reasons
        assert lost == []
    asyncio.run(scenario())


def test_fast_restart_under_write_load_loses_no_acknowledged_write(serve, postgres):
    def fast_restart():
        postgres.pg_ctl("-m", "fast", "restart")
    fault_under_load(serve, postgres, fast_restart)


def test_three_second_stop_under_write_load_loses_no_acknowledged_write(serve, postgres):
    def three_second_stop():
        postgres.pg_ctl("-m", "fast", "stop")
        time.sleep(3)
        postgres.start()
    fault_under_load(serve, postgres, three_second_stop)
