"""The change feed: what each build changed since the previous one, kept for ever beside the store.

Every build records one change set per named graph that changed (README, "Change feed"): the triples it
removed and the triples it added, as two gzipped N-Quads files, and a line of the log describing it. The web
service publishes the log as a Linked Data Event Stream (api/changes.py); a client that applies every change
set in order, starting from an empty store, holds the graph of the last build.

Layout, under the store root (never pruned: the feed keeps its whole history):
    changes/log.jsonl              one JSON object per change set (a member of the stream), oldest first
    changes/<build-id>/<name>.nq.gz  the patch files of that build's change sets
    changes/.lock                  held while a change set is computed and appended

A change set compares the new build with the last build the log recorded (not with what is published: a
SPARQL update or a recorded report published in between is not in the feed, so the next build's change set
starts from what the feed's clients hold). Graphs whose SHA-256 digest (`ptce:contentDigest`, computed by
the build) is the same in both builds are skipped without being read. A graph holding blank nodes is
replaced whole (drop the graph, add everything): a patch file cannot name a blank node of the client's copy.
When the last recorded build is no longer on disk, every graph is replaced whole, so the feed stays correct.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import gzip
import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pyoxigraph
from pyoxigraph import NamedNode, RdfFormat

from .iris import GRAPH, META_GRAPH
from .rdf import PTCE

FOLDER = "changes"
LOG = "log.jsonl"
CREATE, UPDATE, DELETE = "create", "update", "delete"


@dataclass(frozen=True)
class Patch:
    """One gzipped N-Quads file of a change set."""

    name: str  # file name inside changes/<build>/
    triples: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Member:
    """One change set: what one build changed in one named graph."""

    build: str
    graph: str
    kind: str  # create (the graph appears), update, delete (the graph is gone: drop it)
    time: str  # xsd:dateTime (UTC, microseconds), strictly later than every earlier build's
    replaces: bool = False  # drop the graph before adding (it holds blank nodes, or the old build is gone)
    removed: Patch | None = None
    added: Patch | None = None
    position: int = field(default=0, compare=False)  # index in the log (0 = oldest)

    @property
    def stem(self) -> str:
        return graph_stem(self.graph)


def folder(root) -> Path:
    """changes/ of a StoreRoot or RemoteRoot (its local cache)."""
    return Path(root.path) / FOLDER


def graph_stem(graph: str) -> str:
    return graph[len(GRAPH):] if graph.startswith(GRAPH) else hashlib.sha1(graph.encode()).hexdigest()[:12]


def read_log(path: str | os.PathLike) -> list[Member]:
    """Every change set recorded in changes/ (path), oldest first; a line cut by a crash is ignored."""
    log = Path(path) / LOG
    try:
        text = log.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    members = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:  # the last line of a write that did not complete
            continue
        for key in ("removed", "added"):
            item[key] = Patch(**item[key]) if item.get(key) else None
        members.append(Member(**item, position=len(members)))
    return members


@contextmanager
def _locked(path: Path):
    path.mkdir(parents=True, exist_ok=True)
    with open(path / ".lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _graphs(store: pyoxigraph.Store) -> list[str]:
    return sorted(g.value for g in store.named_graphs() if isinstance(g, NamedNode))


def _digests(store: pyoxigraph.Store) -> dict[str, str]:
    rows = store.query(f"SELECT ?g ?d {{ GRAPH <{META_GRAPH}> {{ ?g <{PTCE.contentDigest.value}> ?d }} }}")
    return {row["g"].value: row["d"].value for row in rows}


def _has_blank_nodes(store: pyoxigraph.Store, graph: str) -> bool:
    return bool(store.query(f"ASK {{ GRAPH <{graph}> {{ ?s ?p ?o FILTER(isBlank(?s) || isBlank(?o)) }} }}"))


def _lines(store: pyoxigraph.Store, graph: str) -> list[bytes]:
    quads = store.quads_for_pattern(None, None, None, NamedNode(graph))
    return pyoxigraph.serialize(quads, format=RdfFormat.N_QUADS).splitlines(keepends=True)


def _write(folder_: Path, name: str, lines: Iterable[bytes]) -> Patch:
    """Sorted lines, gzip with a fixed mtime: the same change gives the same bytes (and ETag)."""
    lines = sorted(lines)
    path = folder_ / name
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=6) as out:
        out.write(b"".join(lines))  # one write: twice as fast as line by line
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return Patch(name, len(lines), path.stat().st_size, sha)


def _timestamp(log: list[Member], now: dt.datetime | None) -> str:
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    if log:  # the stream's order: never at or before the last recorded build (a clock set back, two quick builds)
        last = dt.datetime.fromisoformat(log[-1].time.replace("Z", "+00:00"))
        if now <= last:
            now = last + dt.timedelta(microseconds=1)
    return now.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _live_graphs(log: list[Member]) -> set[str]:
    """The graphs a client holds after applying the whole log."""
    live: set[str] = set()
    for member in log:
        (live.discard if member.kind == DELETE else live.add)(member.graph)
    return live


def record(root, build_name: str, store: pyoxigraph.Store, *, now: dt.datetime | None = None,
           progress=lambda message: None) -> list[Member]:
    """Compute and append the change sets from the last recorded build to `store` (build `build_name`).

    Called by the build once the new store is complete, before it is published. Returns the new members
    (none when nothing changed)."""
    base = folder(root)
    with _locked(base):
        log = read_log(base)
        if any(m.build == build_name for m in log):
            return [m for m in log if m.build == build_name]  # already recorded
        previous_name = log[-1].build if log else None
        previous = None
        if previous_name is not None and (Path(root.builds) / previous_name).is_dir():
            previous = pyoxigraph.Store.read_only(str(Path(root.builds) / previous_name))
        held = _live_graphs(log)  # what a client of the feed holds
        time = _timestamp(log, now)
        new_graphs = _graphs(store)
        new_digests = _digests(store)
        old_graphs = set(_graphs(previous)) if previous is not None else set()
        old_digests = _digests(previous) if previous is not None else {}
        tmp = base / f"{build_name}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        members: list[Member] = []
        for graph in new_graphs:
            stem = graph_stem(graph)
            if graph not in held:
                members.append(Member(build_name, graph, CREATE, time,
                                      added=_write(tmp, f"{stem}.added.nq.gz", _lines(store, graph))))
                continue
            if previous is None or graph not in old_graphs:  # the old build is gone: the feed cannot diff it
                members.append(Member(build_name, graph, UPDATE, time, replaces=True,
                                      added=_write(tmp, f"{stem}.added.nq.gz", _lines(store, graph))))
                continue
            digest = new_digests.get(graph)
            if digest is not None and digest == old_digests.get(graph):
                continue  # same digest, same triples: not even read
            if _has_blank_nodes(store, graph) or _has_blank_nodes(previous, graph):
                members.append(Member(build_name, graph, UPDATE, time, replaces=True,
                                      added=_write(tmp, f"{stem}.added.nq.gz", _lines(store, graph))))
                continue
            old = set(_lines(previous, graph))
            new = _lines(store, graph)
            added = [line for line in new if line not in old]
            new_set = set(new)
            removed = [line for line in old if line not in new_set]
            del old, new, new_set
            if not added and not removed:
                continue
            members.append(Member(build_name, graph, UPDATE, time,
                                  removed=_write(tmp, f"{stem}.removed.nq.gz", removed) if removed else None,
                                  added=_write(tmp, f"{stem}.added.nq.gz", added) if added else None))
        for graph in sorted(held - set(new_graphs)):
            members.append(Member(build_name, graph, DELETE, time))
        del previous
        if not members:
            shutil.rmtree(tmp, ignore_errors=True)
            return []
        target = base / build_name
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
        lines = []
        for member in members:
            item = asdict(member)
            item.pop("position")
            lines.append(json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n")
        with open(base / LOG, "a", encoding="utf-8") as handle:  # one write: the build's members together
            handle.write("".join(lines))
            handle.flush()
            os.fsync(handle.fileno())
        progress(f"[changes] {len(members)} change set(s) since {previous_name or 'the empty graph'}")
        start = len(log)
        return [replace(m, position=start + i) for i, m in enumerate(members)]


def patch_path(root, member: Member, patch: Patch) -> Path:
    return folder(root) / member.build / patch.name
