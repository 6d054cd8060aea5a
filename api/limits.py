"""Back-pressure per client: how many queries at once, and how much query time per minute.

A client over either limit gets 429 with Retry-After instead of queueing work for everyone else.
Clients are told apart by their address (behind a proxy, give each its own address upstream).
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque

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
