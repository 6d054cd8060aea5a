"""Answers per build: a build is immutable, so a query's answer is a function of (build, query text, dataset,
format, caps). The endpoint keeps recent answers in memory (bounded in bytes, emptied when another build is
published), tags each with an ETag from that key, and answers a conditional GET whose ETag still holds with
304 without running anything — an unchanged answer costs no query at all.

Only complete answers of a query that ran are kept (errors, timeouts and refusals never are); what a client may
do (guard, per-client limits) is checked before the cache is looked at, exactly as for a query that runs.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

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
        self.hits = self.misses = 0

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
