"""The red-team battery's common ground: a server with tight limits, a listener that must never be reached,
and the checks every case makes (status, another client still served within 2 s, nothing reached, memory)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import CONNECT_LOG, UPDATE_TOKEN, start_server, stop

# The limits the red-team server runs with (small, so that each attack meets them quickly).
REDTEAM_SETTINGS = dict(
    PTCE_KG_QUERY_TIMEOUT=3,
    PTCE_KG_UPDATE_TOKEN=UPDATE_TOKEN,
    PTCE_KG_MAX_ROWS=5000,
    PTCE_KG_WORKERS=4,
    PTCE_KG_CLIENT_CONCURRENCY=2,
    PTCE_KG_CLIENT_BUDGET=1e6,
)
SERVER_MEMORY_BOUND = 4 * 1024 ** 3  # the whole server (main process and workers), resident


class Listener:
    """A TCP listener on loopback standing for any address an attack would make the server call."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/sparql"
        self.connections: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except OSError:
                continue
            self.connections.append(peer)
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def listener():
    """Every case that could make the server call out points it here; nothing may ever arrive."""
    it = Listener()
    yield it
    it.close()
    assert it.connections == [], f"the server connected to the listener: {it.connections}"


@pytest.fixture
def no_outbound():
    """The servers' audit hook (tests/guard/sitecustomize.py) logs every non-loopback connect: none may appear."""
    before = CONNECT_LOG.read_text(encoding="utf-8") if CONNECT_LOG.exists() else ""
    yield
    after = CONNECT_LOG.read_text(encoding="utf-8") if CONNECT_LOG.exists() else ""
    assert after == before, f"the server attempted: {after[len(before):]}"


def other_client() -> httpx.Client:
    """A client from another loopback address (127.0.0.2): per-address limits do not apply to it."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=10)


def assert_serves_others(base: str, within: float = 2.0) -> None:
    """Another client gets an answer to a trivial query within `within` seconds."""
    with other_client() as client:
        started = time.monotonic()
        response = client.get(base + "/sparql", params={"query": "ASK {}"})
        elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text[:300]
    assert elapsed < within, f"another client waited {elapsed:.1f} s"


def tree_rss(pid: int) -> int:
    """Resident memory (bytes) of a process and all its descendants, from /proc."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
            # Children of every thread: the query workers are started from a thread pool.
            children = [c for task in Path(f"/proc/{current}/task").iterdir()
                        for c in (task / "children").read_text().split()]
        except (FileNotFoundError, StopIteration, ProcessLookupError):
            continue
        pending += [int(c) for c in children]
    return total


class Target:
    """The server under attack: its base URL and its process (for memory readings)."""

    def __init__(self, process, base):
        self.process, self.base = process, base

    @property
    def rss(self) -> int:
        return tree_rss(self.process.pid)


@pytest.fixture(scope="session")
def target(built_store):
    """`ptce-kg serve` over the full graph with the red-team limits."""
    process, base = start_server(built_store, **REDTEAM_SETTINGS)
    yield Target(process, base)
    stop(process)


def during(attack, base: str, after: float = 0.3, within: float = 2.0):
    """Run `attack()` in a thread and, while it is in flight, check that another client is answered within
    `within` seconds. Returns what the attack returned (or raises what it raised)."""
    import threading

    outcome: dict = {}

    def run():
        try:
            outcome["value"] = attack()
        except BaseException as exc:  # re-raised below, in the test's thread
            outcome["error"] = exc
    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(after)
    try:
        assert_serves_others(base, within)
    finally:
        thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
