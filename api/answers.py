"""Answers per build: a build is immutable, so a query's answer is a function of (build, query text, dataset,
format, caps). The endpoint keeps recent answers in memory (bounded in bytes, emptied when another build is
published), tags each with an ETag from that key, and answers a conditional GET whose ETag still holds with
304 without running anything — an unchanged answer costs no query at all.

Only complete answers of a query that ran are kept (errors, timeouts and refusals never are); what a client may
do (guard, per-client limits) is checked before the cache is looked at, exactly as for a query that runs.

Identical queries that arrive while the first is still running share its evaluation (`AnswerCache.once`): after a
build switch, or when a page is shared widely, N clients asking the same thing cost one run, not N. A client
that waited on a run that did not give a complete answer (timeout, error) gets its own run.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

MAX_ANSWER_BYTES = 1024 * 1024  # a larger answer is served, not kept: the cache is for the repeated small ones


@dataclass(frozen=True)
class Answer:
    body: bytes
    media_type: str
    headers: tuple  # (name, value) pairs of the original answer (result count, truncation)


def etag(build: str, key: tuple) -> str:
    """Strong ETag: the build and a digest of everything the answer depends on."""
    digest = hashlib.sha256(repr(key).encode("utf-8")).hexdigest()[:24]
    return f'"{build}-{digest}"'


def matches(if_none_match: str | None, tag: str) -> bool:
    """RFC 9110 If-None-Match: `*` or a list of (weak or strong) tags, compared weakly for GET."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = tag.removeprefix("W/")
    return any(t.strip().removeprefix("W/") == wanted for t in if_none_match.split(","))


class AnswerCache:
    """Least recently used answers of one build, at most `max_bytes` of bodies (0: off)."""

    def __init__(self, max_bytes: int):
        self.max_bytes, self.size, self.build = max_bytes, 0, None
        self._items: OrderedDict[str, Answer] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = self.shared = 0
        self._running: dict[str, asyncio.Future] = {}  # tag -> the outcome of the run under way (event loop only)

    def _switch(self, build: str) -> None:
        if build != self.build:  # another build is published: every answer kept is of the old one
            self._items.clear()
            self.size, self.build = 0, build

    def get(self, build: str, tag: str) -> Answer | None:
        with self._lock:
            self._switch(build)
            answer = self._items.get(tag)
            if answer is None:
                self.misses += 1
                return None
            self._items.move_to_end(tag)
            self.hits += 1
            return answer

    def put(self, build: str, tag: str, answer: Answer) -> None:
        if not self.max_bytes or len(answer.body) > min(MAX_ANSWER_BYTES, self.max_bytes):
            return
        with self._lock:
            self._switch(build)
            if tag in self._items:
                return
            self._items[tag] = answer
            self.size += len(answer.body)
            while self.size > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self.size -= len(old.body)

    async def once(self, tag: str, run: Callable[[], Awaitable[T]], complete: Callable[[T], bool]) -> tuple[T, bool]:
        """`run()`'s outcome, or that of the identical run under way for `tag` (then True): one evaluation for
        clients who ask the same thing at the same time. An outcome that is not `complete` (a timeout, an error)
        is not shared: each client who waited on it runs its own. With the cache off (0 bytes), every request
        runs: the benchmarks of evaluation rely on it."""
        if not self.max_bytes:
            return await run(), False
        under_way = self._running.get(tag)
        if under_way is not None:
            outcome = await asyncio.shield(under_way)  # this client leaving must not cancel the others' run
            if outcome is not None and complete(outcome):
                self.shared += 1
                return outcome, True
            return await run(), False
        future = asyncio.get_running_loop().create_future()
        self._running[tag] = future
        outcome = None
        try:
            outcome = await run()
            return outcome, False
        finally:
            if self._running.get(tag) is future:
                del self._running[tag]
            if not future.done():
                future.set_result(outcome)  # None if the run raised: those who waited run their own
