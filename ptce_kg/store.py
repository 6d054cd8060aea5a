"""The embedded store: one pyoxigraph store per build, published by an atomic pointer switch.

Layout of a store root directory:
    builds/<build-id>/   a complete pyoxigraph (RocksDB) store
    CURRENT              the name of the published build, replaced atomically (os.replace)

A build writes a new directory beside the published one and only then replaces CURRENT, so a
failed or killed build never touches what is served; readers notice the new pointer on their next
request and reopen.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pyoxigraph

from .backends import ReadableStore, Root
from .errors import StoreError

POINTER = "CURRENT"
KEEP_BUILDS = 2  # the published build and the one before it (readers may still hold it open)
_update_lock = threading.Lock()  # one update at a time: each starts from the build the last one published


class StoreRoot:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).expanduser().resolve()
        self.builds = self.path / "builds"
        self.dumps = self.path / "dumps"  # dumps/<build-id>/: the dumps of that build (ptce_kg.export)
        self._pointer: tuple[tuple[int, int, int], str | None] | None = None  # (CURRENT's stat, its name)

    # -- writing ---------------------------------------------------------------------------------
    def new_build_dir(self) -> Path:
        self.builds.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        build = self.builds / f"{stamp}-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}"
        build.mkdir()
        return build

    def publish(self, build_dir: Path) -> None:
        tmp = self.path / f".{POINTER}.{os.getpid()}.tmp"
        tmp.write_text(build_dir.name + "\n", encoding="utf-8")
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, self.path / POINTER)
        self.prune()

    def apply_update(self, text: str) -> None:
        """A SPARQL update on a copy of the published build, then published like a build.

        Published builds are read-only (query workers hold them open), so the update runs on a RocksDB
        checkpoint (hard links: cheap) of the current build and the pointer switches to it. The dumps of
        the previous build are hard-linked to the new one: they hold the update from the next build on.
        """
        with _update_lock:
            current = self.open_read()
            target = self.new_build_dir()
            target.rmdir()  # backup() creates the directory itself
            try:
                current.backup(str(target))
                del current
                store = pyoxigraph.Store(str(target))
                store.update(text)
                store.flush()
                del store
                previous = self.dumps_of(self.current_name())
                if previous and previous.is_dir():  # dumps are made by builds: keep serving the last ones
                    shutil.copytree(previous, self.dumps / target.name, copy_function=os.link)
            except BaseException:
                self.discard(target)
                raise
            self.publish(target)

    def discard(self, build_dir: Path) -> None:
        shutil.rmtree(build_dir, ignore_errors=True)
        shutil.rmtree(self.dumps / build_dir.name, ignore_errors=True)
        shutil.rmtree(self.dumps / f"{build_dir.name}.partial", ignore_errors=True)

    def dumps_of(self, build_name: str | None) -> Path | None:
        return self.dumps / build_name if build_name else None

    def prune(self) -> None:
        """Delete builds older than the last KEEP_BUILDS, never the published one."""
        current = self.current_name()
        builds = sorted((p for p in self.builds.iterdir() if p.is_dir()), key=lambda p: p.name)
        keep = {p.name for p in builds[-KEEP_BUILDS:]} | {current}
        for build in builds:
            if build.name not in keep:
                shutil.rmtree(build, ignore_errors=True)
        if self.dumps.is_dir():
            for dumps in self.dumps.iterdir():
                if dumps.name not in keep:
                    shutil.rmtree(dumps, ignore_errors=True)

    # -- reading ---------------------------------------------------------------------------------
    def current_name(self) -> str | None:
        """The published build's name. CURRENT is only ever replaced whole (`publish`: a new file renamed
        over it, so a new inode), so it is read again only when its stat changes: one stat per call, not an
        open and a read (the endpoint asks on every request, for the answer's ETag)."""
        pointer = self.path / POINTER
        try:
            stat = os.stat(pointer)
        except FileNotFoundError:
            self._pointer = None
            return None
        signature = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        kept = self._pointer
        if kept is not None and kept[0] == signature:
            return kept[1]
        try:
            name = pointer.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None
        self._pointer = (signature, name)
        return name

    def current_path(self) -> Path | None:
        name = self.current_name()
        return self.builds / name if name else None

    def open_read(self) -> pyoxigraph.Store:
        path = self.current_path()
        if path is None or not path.is_dir():
            raise StoreError(
                f"No graph has been built in {self.path} yet. Run `ptce-kg build` first. "
                f"/ Aucun graphe n'a encore été construit dans {self.path} : lancez `ptce-kg build`."
            )
        return pyoxigraph.Store.read_only(str(path))


class LiveStore:
    """A read handle that follows the published build: reopens when CURRENT changes."""

    def __init__(self, root: Root):
        self.root = root
        self._lock = threading.Lock()
        self._name: str | None = None
        self._store: pyoxigraph.Store | None = None

    def get(self) -> tuple[ReadableStore, str]:
        name = self.root.current_name()
        with self._lock:
            if self._store is None or name != self._name:
                self._store = self.root.open_read()
                self._name = self.root.current_name()
            return self._store, self._name or ""

    def get_or_none(self) -> ReadableStore | None:
        """The published store, or None when nothing has been built yet."""
        try:
            return self.get()[0]
        except StoreError:
            return None
