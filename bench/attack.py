"""The attackers of `python -m bench.load --attack-seconds N`, each meant to run in a process of its own.

Every attacker binds its sockets to its own loopback address (the per-address limits of the server count it
apart from the normal clients), waits for a shared start time, attacks until start + N seconds and stops by
itself: every loop is bounded in count as well as in time. Each returns a plain dict of what it sent and
what it got, for bench/load.py to report.

- `slow_queries`: as many slow queries in flight as the per-client concurrency allows, plus one slot over
  it (answered 429, retried after at most 1 s);
- `half_open`: a few hundred TCP connections that send part of a request head and nothing more, reopened
  as the server closes or refuses them (at a bounded rate, and a bounded number in all);
- `chunked_bodies`: POST /sparql, one after another, each a chunked body (no Content-Length) of up to a few
  hundred MB generated on the fly; sending stops as soon as an answer arrives.

`ServerMemory` samples the resident memory of the server and its query workers from /proc.
"""

from __future__ import annotations

import asyncio
import select
import selectors
import socket
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import httpx

# A cartesian product of the whole graph with itself: it runs into the query timeout (or the memory limit).
SLOW_QUERY = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f }"
MiB = 1024 * 1024


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else 0.0


def wait_until(wall_time: float) -> None:
    time.sleep(max(0.0, wall_time - time.time()))


def _address(base: str) -> tuple[str, int]:
    parts = urlsplit(base)
    return parts.hostname, parts.port


def _status_of(data: bytes) -> str:
    """'413' from b'HTTP/1.1 413 ...', or 'garbled' when no status line came."""
    line = data.split(b"\r\n", 1)[0].split()
    return line[1].decode("ascii", "replace") if len(line) >= 2 and line[0].startswith(b"HTTP/") else "garbled"


# -- slow queries at the per-client limit ------------------------------------------------------------

def _connect(source: str, host: str, port: int, head: bytes, timeout_s: float, outcomes: Counter):
    """A socket from `source` that has sent `head`, non-blocking; None (counted in outcomes) when it failed."""
    sock = socket.socket()
    try:
        sock.bind((source, 0))
        sock.settimeout(timeout_s)
        sock.connect((host, port))
        sock.sendall(head)
    except OSError as exc:
        outcomes[f"connect failed ({type(exc).__name__})"] += 1
        sock.close()
        return None
    sock.setblocking(False)
    return sock


def slow_queries(base: str, source: str, start_at: float, seconds: float, slots: int, grace_s: float,
                 max_per_slot: int = 200) -> dict:
    """`slots` loops posting SLOW_QUERY from `source`; new requests start only within the window, those in
    flight at its end are awaited up to `grace_s` more seconds, then abandoned."""
    return asyncio.run(_slow_queries(base, source, start_at, seconds, slots, grace_s, max_per_slot))


async def _slow_queries(base, source, start_at, seconds, slots, grace_s, max_per_slot) -> dict:
    statuses: Counter = Counter()
    durations: dict[str, list[float]] = {}
    in_flight = [0, 0]  # now, peak
    wait_until(start_at)
    end = start_at + seconds
    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with httpx.AsyncClient(base_url=base, transport=transport, timeout=grace_s + seconds,
                                 limits=httpx.Limits(max_connections=slots + 1)) as client:
        async def slot():
            for _ in range(max_per_slot):
                if time.time() >= end:
                    return
                started = time.monotonic()
                in_flight[0] += 1
                in_flight[1] = max(in_flight[1], in_flight[0])
                retry = 0.0
                try:
                    response = await client.post("/sparql", data={"query": SLOW_QUERY})
                    key = str(response.status_code)
                    if response.headers.get("X-Query-Limit"):
                        key += f" ({response.headers['X-Query-Limit']})"
                    if response.status_code == 429:
                        retry = min(1.0, float(response.headers.get("Retry-After") or 1))
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                    retry = 1.0
                except asyncio.CancelledError:  # still running when the grace ran out
                    statuses["abandoned in flight"] += 1
                    raise
                finally:
                    in_flight[0] -= 1
                statuses[key] += 1
                durations.setdefault(key, []).append(time.monotonic() - started)
                if retry:
                    await asyncio.sleep(retry)
        tasks = [asyncio.create_task(slot()) for _ in range(slots)]
        done, pending = await asyncio.wait(tasks, timeout=max(0.0, end + grace_s - time.time()))
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    return {"source": source, "slots": slots, "requests": sum(statuses.values()), "statuses": dict(statuses),
            "durations": {k: (min(v), max(v)) for k, v in durations.items()}, "peak_in_flight": in_flight[1]}


# -- half-open sockets -------------------------------------------------------------------------------

PARTIAL_HEAD = b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: half-open\r\n"  # no blank line


def half_open(base: str, source: str, start_at: float, seconds: float, hold: int = 300, rate: float = 100.0,
              max_connects: int = 4000) -> dict:
    """Keep up to `hold` connections open from `source`, each having sent PARTIAL_HEAD; reopen at most `rate`
    per second (after an initial burst of `hold`), at most `max_connects` in all; close the rest at the end."""
    host, port = _address(base)
    selector = selectors.DefaultSelector()
    opened: dict[socket.socket, float] = {}
    received: dict[socket.socket, bytes] = {}
    outcomes: Counter = Counter()
    held_s: dict[str, list[float]] = {}
    connects = 0
    peak_open = 0
    wait_until(start_at)
    end = time.monotonic() + max(0.0, start_at + seconds - time.time())
    allowance, last = float(hold), time.monotonic()

    def finish(sock: socket.socket, outcome: str) -> None:
        """Record how a connection ended: the status it got, if any, and a reset if one followed."""
        data = received.pop(sock, b"")
        if data:
            status = _status_of(data)
            if status == "503":
                label = "503 (per-address cap)" if b"from this address" in data else "503 (global cap)"
            else:
                label = status + (" (header timeout)" if status == "408" else "")
            outcome = label if outcome == "closed" else f"{label}, then {outcome}"
        elif outcome == "closed":
            outcome = "closed without an answer"
        outcomes[outcome] += 1
        held_s.setdefault(outcome, []).append(time.monotonic() - opened.pop(sock))
        selector.unregister(sock)
        sock.close()

    while (now := time.monotonic()) < end:
        allowance = min(float(hold), allowance + (now - last) * rate)
        last = now
        while len(opened) < hold and allowance >= 1 and connects < max_connects:
            allowance -= 1
            connects += 1
            sock = _connect(source, host, port, PARTIAL_HEAD, 2, outcomes)
            if sock is None:
                continue
            opened[sock] = time.monotonic()
            received[sock] = b""
            selector.register(sock, selectors.EVENT_READ)
        peak_open = max(peak_open, len(opened))
        for key, _ in selector.select(timeout=0.05):
            sock = key.fileobj
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                finish(sock, "reset")
                continue
            except OSError as exc:
                finish(sock, type(exc).__name__)
                continue
            if data:
                received[sock] += data
            else:
                finish(sock, "closed")
    still = len(opened)
    for sock in list(opened):
        selector.unregister(sock)
        sock.close()
    selector.close()
    return {"source": source, "hold": hold, "rate": rate, "connects": connects, "peak_open": peak_open,
            "open_at_end": still, "outcomes": dict(outcomes),
            "held": {k: (pct(v, .5), max(v)) for k, v in held_s.items()}}


# -- oversized chunked bodies ------------------------------------------------------------------------

def chunked_bodies(base: str, source: str, start_at: float, seconds: float, body_bytes: int = 256 * MiB,
                   block: int = 64 * 1024, max_requests: int = 2000, request_timeout_s: float = 45.0) -> dict:
    """POST /sparql from `source`, one request after another, each a chunked body of up to `body_bytes`;
    sending stops when the server answers (its status is recorded) or resets the connection."""
    host, port = _address(base)
    head = (f"POST /sparql HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/sparql-query\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode("ascii")
    frame = f"{block:x}\r\n".encode("ascii") + b"x" * block + b"\r\n"
    outcomes: Counter = Counter()
    sent_per_request: list[int] = []
    answer_s: list[float] = []
    wait_until(start_at)
    end = start_at + seconds
    requests = 0
    while time.time() < end and requests < max_requests:
        requests += 1
        started = time.monotonic()
        sock = _connect(source, host, port, head, 5, outcomes)
        if sock is None:
            continue
        body_sent = 0  # body bytes handed to the sending loop
        wire_sent = 0  # bytes the kernel took (chunk framing included)
        pending = memoryview(b"")
        response = b""
        outcome = None
        deadline = started + request_timeout_s
        while outcome is None:
            if time.monotonic() > deadline:
                outcome = f"no answer within {request_timeout_s:g} s"
                break
            sending = body_sent < body_bytes or len(pending) > 0
            readable, writable, _ = select.select([sock], [sock] if sending else [], [], 0.5)
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    outcome = "reset"
                    break
                if data:
                    response += data
                    if b"\r\n" in response:
                        outcome = _status_of(response)
                    continue
                outcome = _status_of(response) if response else "closed without an answer"
                break
            if writable:
                if not pending:
                    if body_sent >= body_bytes:
                        pending = memoryview(b"0\r\n\r\n")
                    else:
                        pending = memoryview(frame)
                        body_sent += block
                try:
                    written = sock.send(pending)
                    wire_sent += written
                    pending = pending[written:]
                except BlockingIOError:
                    pass
                except (BrokenPipeError, ConnectionResetError):
                    try:  # an answer may have arrived before the reset
                        data = sock.recv(65536)
                    except OSError:
                        data = b""
                    outcome = _status_of(data) if data else "reset while sending"
        sock.close()
        outcomes[outcome] += 1
        sent_per_request.append(wire_sent)
        answer_s.append(time.monotonic() - started)
    return {"source": source, "requests": requests, "body_bytes": body_bytes, "outcomes": dict(outcomes),
            "sent_total": sum(sent_per_request), "sent_p50": pct(sent_per_request, .5),
            "sent_max": max(sent_per_request, default=0), "answer_p50": pct(answer_s, .5),
            "answer_max": max(answer_s, default=0.0)}


# -- server memory -----------------------------------------------------------------------------------

def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants. /proc/PID/task/TID/children lists the children one thread started,
    so every thread is read: the server starts its query workers from a thread pool."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                pending += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return found


class ServerMemory:
    """Samples the resident memory of the server (main process) and its descendants (query workers)."""

    def __init__(self, pid: int, interval_s: float = 0.25):
        self.pid, self.interval_s = pid, interval_s
        self.peak_total = self.peak_main = self.peak_worker = 0
        self.first_total = None
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        main = workers = biggest = 0
        for pid in process_tree(self.pid):
            try:
                kb = _rss_kb(pid)
            except OSError:
                continue
            if pid == self.pid:
                main = kb
            else:
                workers += kb
                biggest = max(biggest, kb)
        total = (main + workers) * 1024
        if self.first_total is None:
            self.first_total = total
        self.peak_total = max(self.peak_total, total)
        self.peak_main = max(self.peak_main, main * 1024)
        self.peak_worker = max(self.peak_worker, biggest * 1024)
        self.samples += 1

    def _run(self):
        while not self._stop.wait(self.interval_s):
            self.sample()

    def __enter__(self):
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()
