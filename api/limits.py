"""Back-pressure per client: how many queries at once, and how much query time per minute.

A client over either limit gets 429 with Retry-After instead of queueing work for everyone else.
Clients are told apart by their address (behind a proxy, give each its own address upstream).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time

from starlette.responses import JSONResponse, PlainTextResponse, Response

WINDOW_S = 60.0
BUCKETS = int(WINDOW_S)  # one-second buckets


class _Spent:
    """A client's query time over the last minute, in a ring of one-second buckets: O(1) per request
    whatever the traffic (a bucket older than the window is emptied when its slot comes round again)."""

    __slots__ = ("seconds", "stamps", "total")

    def __init__(self):
        self.seconds = [0.0] * BUCKETS
        self.stamps = [-1] * BUCKETS  # the second each slot holds
        self.total = 0.0

    def expire(self, now_s: int) -> None:
        """Empty the slots older than the window (called before reading the total)."""
        if self.total <= 0.0:
            return
        oldest = now_s - BUCKETS + 1
        for slot in range(BUCKETS):  # a fixed 60 steps, and only while the client has spent anything
            if self.stamps[slot] < oldest and self.seconds[slot]:
                self.total -= self.seconds[slot]
                self.seconds[slot] = 0.0
        if self.total < 1e-9:
            self.total = 0.0

    def add(self, now_s: int, seconds: float) -> None:
        slot = now_s % BUCKETS
        if self.stamps[slot] != now_s:
            self.total -= self.seconds[slot]
            self.seconds[slot], self.stamps[slot] = 0.0, now_s
        self.seconds[slot] += seconds
        self.total += seconds

    def oldest(self) -> int:
        """The second of the oldest time still counted."""
        return min(stamp for stamp, spent in zip(self.stamps, self.seconds) if spent)


class ClientLimits:
    def __init__(self, concurrency: int, budget_s: float):
        self.concurrency = concurrency
        self.budget_s = budget_s
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}
        self._spent: dict[str, _Spent] = {}
        self._last_s = -1

    def _spent_now(self, client: str, now_s: int) -> _Spent | None:
        spent = self._spent.get(client)
        if spent is not None and spent.stamps[now_s % BUCKETS] != now_s:
            spent.expire(now_s)  # a new second for this client: drop what left the window
        return spent

    def acquire(self, client: str) -> int | None:
        """None if the client may start a query, else the seconds to wait (Retry-After)."""
        now = time.monotonic()
        now_s = int(now)
        with self._lock:
            if self._running.get(client, 0) >= self.concurrency:
                return 1
            spent = self._spent_now(client, now_s)
            if spent is not None and spent.total >= self.budget_s:
                return max(1, math.ceil(spent.oldest() + WINDOW_S - now))
            self._running[client] = self._running.get(client, 0) + 1
            return None

    def release(self, client: str, seconds: float) -> None:
        now_s = int(time.monotonic())
        with self._lock:
            running = self._running.get(client, 0) - 1
            if running > 0:
                self._running[client] = running
            else:
                del self._running[client]
            spent = self._spent.get(client)
            if spent is None:
                spent = self._spent[client] = _Spent()
            elif spent.stamps[now_s % BUCKETS] != now_s:
                spent.expire(now_s)  # first time in this second: drop what left the window
            spent.add(now_s, seconds)
            if now_s != self._last_s:  # once a second: forget clients with nothing in the window
                self._last_s = now_s
                self._forget(now_s)

    def _forget(self, now_s: int) -> None:
        """Drop the clients with nothing running and nothing in the window (memory follows the clients of
        the last minute; this runs once a second, not per request)."""
        idle = []
        for client, spent in self._spent.items():
            if client not in self._running and max(spent.stamps) < now_s - BUCKETS:
                idle.append(client)
        for client in idle:
            del self._spent[client]


# -- request bodies: capped while they stream, on every route -------------------------------------

def _plain(status: int, en: str, fr: str, path: str = "") -> Response:
    """Plain text, or the eligibility API's JSON error body on its routes."""
    if path.startswith("/eligibility") and path != "/eligibility/form":
        return JSONResponse({"error": f"{en} / {fr}", "where": "body"}, status_code=status,
                            headers={"Connection": "close"})
    return PlainTextResponse(f"{en}\n{fr}\n", status_code=status, headers={"Connection": "close"})


class BodyLimit:
    """ASGI middleware: a body over the cap is refused as it arrives (413), never buffered whole; a body that
    does not arrive within the timeout gets 408. Applies to every route, so no handler can forget it.

    A declared Content-Length over the cap is refused before a byte is read. A chunked body is counted chunk by
    chunk: past the cap (or the time), the application is told the client left (`http.disconnect`), whatever
    it then sends is dropped, and the middleware answers 413 (or 408) itself."""

    def __init__(self, app, max_bytes: int, timeout_s: float):
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    def _refusal(self, status: int, path: str) -> Response:
        if status == 408:
            return _plain(408, f"Request body not received within {self.timeout_s:g} s.",
                          f"Corps de requête non reçu en {self.timeout_s:g} s.", path)
        if status == 400:
            return _plain(400, "Invalid Content-Length.", "Content-Length invalide.", path)
        return _plain(413, f"Request body larger than {self.max_bytes} bytes.",
                      f"Corps de requête supérieur à {self.max_bytes} octets.", path)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.strip().isdigit() or int(declared) > self.max_bytes):
            return await self._refusal(413 if declared.strip().isdigit() else 400, path)(scope, receive, send)
        received = 0
        complete = False
        refused: list[int] = []
        deadline = time.monotonic() + self.timeout_s

        async def limited():
            nonlocal received, complete
            if complete or refused:  # after the body: the server's disconnect notices, no limit
                return await receive() if not refused else {"type": "http.disconnect"}
            try:
                message = await asyncio.wait_for(receive(), max(0.01, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                refused.append(408)
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused.append(413)
                    return {"type": "http.disconnect"}
                complete = not message.get("more_body", False)
            return message

        async def guarded_send(message):
            if not refused:
                await send(message)

        try:
            await self.app(scope, limited, guarded_send)
        except Exception:
            if not refused:
                raise
        if refused:
            await self._refusal(refused[0], path)(scope, receive, send)


def install(app, max_bytes: int, timeout_s: float) -> None:
    """The body limit, outermost of the application's middleware."""
    app.add_middleware(BodyLimit, max_bytes=max_bytes, timeout_s=timeout_s)
