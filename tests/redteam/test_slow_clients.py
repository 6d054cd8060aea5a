"""Slow and greedy clients: half-open sockets, slowloris, a full connection table (api/serving.py).

Each case checks what the attacker gets (a status, or the connection closed), that another client is still
served within 2 s, that the server's memory stays bounded and that its log does not fill up. The attacks
come from 127.0.0.3–127.0.0.6 (socket.bind before connect), the other client from 127.0.0.2."""

from __future__ import annotations

import selectors
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from conftest import ROOT, start_server, stop

from .conftest import REDTEAM_SETTINGS, SERVER_MEMORY_BOUND, Target, assert_serves_others, other_client

HEADER_TIMEOUT = 2
PER_CLIENT = 50
TOTAL = 150
SLOW_SETTINGS = dict(REDTEAM_SETTINGS, PTCE_KG_HEADER_TIMEOUT=HEADER_TIMEOUT,
                     PTCE_KG_MAX_CONNECTIONS_PER_CLIENT=PER_CLIENT, PTCE_KG_MAX_CONNECTIONS=TOTAL)
SLACK = 1.5  # seconds a close may take beyond its deadline on a loaded 2-core machine


@pytest.fixture(scope="module")
def guarded(built_store):
    """A server of its own, with a 2 s header timeout and small connection caps."""
    process, base = start_server(built_store, **SLOW_SETTINGS)
    yield Target(process, base)
    stop(process)


class Sockets:
    """Raw connections opened from a chosen loopback address; all closed when the test ends."""

    def __init__(self):
        self.all: list[socket.socket] = []

    def open(self, base: str, count: int, source: str) -> list[socket.socket]:
        address = urlsplit(base)
        opened = []
        for _ in range(count):
            sock = socket.socket()
            self.all.append(sock)
            sock.bind((source, 0))
            sock.settimeout(5)
            sock.connect((address.hostname, address.port))
            opened.append(sock)
        return opened

    def close(self):
        for sock in self.all:
            sock.close()


@pytest.fixture
def sockets():
    it = Sockets()
    yield it
    it.close()


def closed_within(socks: list[socket.socket], seconds: float, received: dict | None = None) -> dict:
    """The sockets the server closed within `seconds` (EOF or reset), each with the bytes it sent first.

    `received` keeps what arrived across calls (a close may come in the call after its response)."""
    selector = selectors.DefaultSelector()
    received = {} if received is None else received
    for sock in socks:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        received.setdefault(sock, b"")
    closed = {}
    deadline = time.monotonic() + seconds
    while len(closed) < len(socks) and (left := deadline - time.monotonic()) > 0:
        for key, _ in selector.select(timeout=left):
            sock = key.fileobj
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                received[sock] += data
                continue
            closed[sock] = received[sock]
            selector.unregister(sock)
    selector.close()
    return closed


class LogWatch:
    """What the server writes to its log from now on."""

    def __init__(self, target: Target):
        self.path = Path(target.process.log_path)
        self.start = self.path.stat().st_size

    def new(self) -> str:
        with open(self.path, "rb") as handle:
            handle.seek(self.start)
            return handle.read().decode("utf-8", errors="replace")


def assert_quiet_log(log: LogWatch, max_lines: int = 4) -> None:
    text = log.new()
    assert "Traceback" not in text, text[-2000:]
    assert len(text.splitlines()) <= max_lines, text[-2000:]


def test_half_open_sockets_from_one_address_are_capped_and_closed(guarded, sockets, no_outbound):
    log = LogWatch(guarded)
    attack = sockets.open(guarded.base, 1000, "127.0.0.3")  # connect, then send nothing
    refused = closed_within(attack, SLACK)
    assert len(refused) == len(attack) - PER_CLIENT, f"{len(refused)} refused"
    assert all(body.startswith(b"HTTP/1.1 503 ") and b"Too many open connections" in body
               for body in refused.values())
    assert_serves_others(guarded.base)
    assert guarded.rss < SERVER_MEMORY_BOUND
    # The 50 admitted ones sent nothing within the header timeout: closed silently.
    admitted = [sock for sock in attack if sock not in refused]
    timed_out = closed_within(admitted, HEADER_TIMEOUT + SLACK)
    assert len(timed_out) == PER_CLIENT and set(timed_out.values()) == {b""}
    assert_serves_others(guarded.base)
    # 950 refusals and 50 timeouts: a summary line or two, no traceback.
    assert_quiet_log(log)


def test_slowloris_is_closed_after_the_header_timeout(guarded, sockets, no_outbound):
    head = b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\nAccept: */*\r\n\r\n"
    attack = sockets.open(guarded.base, 20, "127.0.0.3")
    started = time.monotonic()
    closed: dict = {}
    received: dict = {}
    for position in range(len(head)):  # one byte a second on each connection
        pending = [sock for sock in attack if sock not in closed]
        if not pending or time.monotonic() - started > HEADER_TIMEOUT + SLACK:
            break
        for sock in pending:
            try:
                sock.send(head[position:position + 1])
            except OSError:
                pass
        if position == 1:
            assert_serves_others(guarded.base)
        closed.update(closed_within(pending, 1.0, received))
    elapsed = time.monotonic() - started
    assert len(closed) == len(attack), f"{len(attack) - len(closed)} connections still open after {elapsed:.1f} s"
    assert elapsed <= HEADER_TIMEOUT + SLACK
    assert all(body.startswith(b"HTTP/1.1 408 ") for body in closed.values())
    assert_serves_others(guarded.base)


def read_response(sock: socket.socket) -> bytes:
    """One HTTP response with a Content-Length, read from a blocking socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return head


def test_a_kept_alive_connection_trickling_its_next_request_is_closed(guarded, sockets, no_outbound):
    """Keep-alive lasts 30 s between requests, but a request head once begun has the header timeout."""
    sock = sockets.open(guarded.base, 1, "127.0.0.4")[0]
    request = b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    sock.sendall(request)
    assert read_response(sock).startswith(b"HTTP/1.1 200 ")
    started = time.monotonic()
    closed: dict = {}
    received: dict = {}
    for position in range(len(request)):
        if closed or time.monotonic() - started > HEADER_TIMEOUT + SLACK:
            break
        try:
            sock.send(request[position:position + 1])
        except OSError:
            pass
        closed = closed_within([sock], 1.0, received)
    assert closed and closed[sock].startswith(b"HTTP/1.1 408 "), "the trickled request was not cut"
    assert time.monotonic() - started <= HEADER_TIMEOUT + SLACK
    assert_serves_others(guarded.base)


def test_the_global_cap_refuses_at_once_and_frees_after_the_header_timeout(guarded, sockets, no_outbound):
    log = LogWatch(guarded)
    time.sleep(0.5)  # the previous test's connections are gone from the table
    held = []
    for source in ("127.0.0.3", "127.0.0.4", "127.0.0.5"):  # 3 x 50: the whole table, within each address's cap
        held += sockets.open(guarded.base, PER_CLIENT, source)
    assert closed_within(held, 0.5) == {}
    extra = sockets.open(guarded.base, 10, "127.0.0.6")
    refused = closed_within(extra, SLACK)
    assert len(refused) == len(extra)
    assert all(body.startswith(b"HTTP/1.1 503 ") and b"too many open connections" in body
               for body in refused.values())
    with other_client() as client:  # full for everyone now: refused at once, never queued
        started = time.monotonic()
        try:
            status = client.get(guarded.base + "/sparql", params={"query": "ASK {}"}).status_code
        except httpx.HTTPError:  # the connection closed under the request: refused as well
            status = None
        assert status in (503, None) and time.monotonic() - started < 2
    assert len(closed_within(held, HEADER_TIMEOUT + SLACK)) == len(held)
    assert_serves_others(guarded.base)
    assert guarded.rss < SERVER_MEMORY_BOUND
    assert_quiet_log(log)


def test_serve_raises_the_descriptor_limit_and_keeps_connections_under_half():
    """At start the soft RLIMIT_NOFILE goes up to the hard limit; the global cap stays under half of it."""
    script = (
        "import resource\n"
        "from api import serving\n"
        "from ptce_kg.config import settings\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "print(serving.raise_fd_limit() == hard, resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (300, 300))\n"
        "print(serving.config(None, settings(), '127.0.0.1', 0, 'warning').guard.total)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "150"], done.stdout + done.stderr
