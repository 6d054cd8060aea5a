"""The contracts between the core and its back ends: a store that answers queries, and the root that publishes it.

Two implementations of each: embedded (`ptce_kg.store.StoreRoot`, a pyoxigraph `Store` on disk) and remote
(`ptce_kg.remote.RemoteRoot`/`RemoteStore`, any SPARQL 1.1 server over the standard protocols). Everything
above the core (build, checks, eligibility, api) is written against these Protocols, never against one back end.

Errors (documented, raised by both back ends):

- `ptce_kg.errors.StoreError` — nothing is published yet (`open_read`), or the back end refused the operation;
- `SyntaxError` — the query or update text does not parse (pyoxigraph raises it; the remote store raises it for
  the server's 400);
- `OSError` — the remote server cannot be reached or answers an error status (the embedded store never raises
  it for a query); its subclass `ptce_kg.errors.ServerLimitError` when the server refused the query by its own
  limits or cut its answer (never passed on in part).

An embedded root, from an empty folder to a published build (pyoxigraph documents its `Store` the same way):

>>> import tempfile, pyoxigraph
>>> from ptce_kg.store import StoreRoot
>>> root = StoreRoot(tempfile.mkdtemp())
>>> isinstance(root, Root), root.current_name() is None
(True, True)
>>> root.open_read()  # doctest: +ELLIPSIS
Traceback (most recent call last):
  ...
ptce_kg.errors.StoreError: No graph has been built in ... yet. Run `ptce-kg build` first. ...
>>> build_dir = root.new_build_dir()
>>> store = pyoxigraph.Store(str(build_dir))
>>> store.add(pyoxigraph.Quad(pyoxigraph.NamedNode("https://example.org/s"), pyoxigraph.NamedNode("https://example.org/p"),
...                           pyoxigraph.Literal("o"), pyoxigraph.NamedNode("https://example.org/g")))
>>> store.flush(); del store
>>> root.publish(build_dir)
>>> root.current_name() == build_dir.name
True
>>> readable = root.open_read()
>>> isinstance(readable, ReadableStore)
True
>>> [row["o"].value for row in readable.query("SELECT ?o WHERE { ?s ?p ?o }", use_default_graph_as_union=True)]
['o']
>>> readable.query("SELECT WHERE")  # doctest: +ELLIPSIS
Traceback (most recent call last):
  ...
SyntaxError: ...
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class ReadableStore(Protocol):
    """The part of pyoxigraph's `Store` the core reads through (both back ends implement it)."""

    def query(self, query: str, *, use_default_graph_as_union: bool = False, default_graph: Any = None,
              named_graphs: Iterable[Any] | None = None, substitutions: dict | None = None) -> Any:
        """SELECT/ASK/CONSTRUCT/DESCRIBE: pyoxigraph's `QuerySolutions`, `QueryBoolean` or `QueryTriples`
        (or the same shapes read back from the server). `SyntaxError` for a text that does not parse."""

    def quads_for_pattern(self, subject: Any = None, predicate: Any = None, object: Any = None,
                          graph_name: Any = None) -> Iterator[Any]:
        """The quads matching the pattern (None matches anything), as pyoxigraph `Quad`s."""


@runtime_checkable
class Root(Protocol):
    """Where builds are published and read: `StoreRoot` (a folder) or `RemoteRoot` (a SPARQL server)."""

    path: Path    # the local folder: builds (embedded) or the build cache (remote), reports, ledger, change feed
    dumps: Path   # dumps/<build>/: the dumps of each build

    def current_name(self) -> str | None:
        """The name of the published build, None before the first one."""

    def open_read(self) -> ReadableStore:
        """The published build, for reading. `StoreError` when nothing is published."""

    def dumps_of(self, build_name: str | None) -> Path | None:
        """The folder of that build's dumps (None for no build)."""

    def apply_update(self, text: str) -> None:
        """A SPARQL update, published atomically (a new build on disk; one request on a server). The caller has
        run the guard and the authorisation; `SyntaxError` for a text that does not parse."""
