"""Back-pressure per client: how many queries at once, and how much query time per minute.

A client over either limit gets 429 with Retry-After instead of queueing work for everyone else.
Clients are told apart by their address (behind a proxy, give each its own address upstream).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import defaultdict, deque

from starlette.responses import JSONResponse, PlainTextResponse, Response

WINDOW_S = 60.0


class ClientLimits:
    def __init__(self, concurrency: int, budget_s: float):
        self.concurrency = concurrency
        self.budget_s = budget_s
        self._lock = threading.Lock()
        self._running: dict[str, int] = defaultdict(int)
        self._spent: dict[str, deque] = defaultdict(deque)  # (end time, seconds)

    def _spent_now(self, client: str, now: float) -> float:
        spent = self._spent[client]
        while spent and spent[0][0] < now - WINDOW_S:
            spent.popleft()
        return sum(seconds for _, seconds in spent)

    def acquire(self, client: str) -> int | None:
        """None if the client may start a query, else the seconds to wait (Retry-After)."""
        now = time.monotonic()
        with self._lock:
            if self._running[client] >= self.concurrency:
                return 1
            if self._spent_now(client, now) >= self.budget_s:
                oldest = self._spent[client][0][0]
                return max(1, math.ceil(oldest + WINDOW_S - now))
            self._running[client] += 1
            return None

    def release(self, client: str, seconds: float) -> None:
        with self._lock:
            self._running[client] = max(0, self._running[client] - 1)
            self._spent[client].append((time.monotonic(), seconds))


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
