"""Dumps of the graph: the whole dataset and each named graph, in N-Triples, Turtle, N-Quads and JSON-LD,
gzipped, with SHA-256 checksums, sizes and triple counts (manifest.json, SHA256SUMS).

Serialisation is pyoxigraph's own (streamed from the store); gzip is written with a fixed mtime so that the
same graph gives byte-identical dumps.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import pyoxigraph
from pyoxigraph import NamedNode, RdfFormat

from .rdf import GRAPH, PREFIXES

# name -> (pyoxigraph format, media type, file suffix, keeps graph names)
FORMATS = {
    "nq": (RdfFormat.N_QUADS, "application/n-quads", "nq", True),
    "nt": (RdfFormat.N_TRIPLES, "application/n-triples", "nt", False),
    "ttl": (RdfFormat.TURTLE, "text/turtle", "ttl", False),
    "jsonld": (RdfFormat.JSON_LD, "application/ld+json", "jsonld", True),
}
ALL = "all"  # the whole dataset (every named graph)


@dataclass
class DumpFile:
    name: str  # file name, e.g. registry.ttl.gz
    graph: str  # graph IRI, or "all"
    format: str
    media_type: str
    triples: int
    bytes: int
    sha256: str


def _graphs(store: pyoxigraph.Store) -> list[str]:
    return sorted(g.value for g in store.named_graphs() if isinstance(g, NamedNode))


def _write(path: Path, items: list, fmt: RdfFormat) -> None:
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=6) as out:
        kwargs = {"prefixes": PREFIXES} if fmt == RdfFormat.TURTLE else {}
        pyoxigraph.serialize(items, out, format=fmt, **kwargs)


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def export(store: pyoxigraph.Store, folder: str | os.PathLike, progress=lambda message: None) -> list[DumpFile]:
    """Write every dump into `folder` (created; written aside and renamed into place when complete)."""
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    files: list[DumpFile] = []
    every = list(store.quads_for_pattern(None, None, None, None))  # read once: the store's read is the slow part
    of_graph: dict[str, list] = {graph: [] for graph in _graphs(store)}
    for quad in every:
        if isinstance(quad.graph_name, NamedNode):
            of_graph[quad.graph_name.value].append(quad)
    for graph, quads in [(ALL, every), *of_graph.items()]:
        stem = ALL if graph == ALL else (
            graph[len(GRAPH):] if graph.startswith(GRAPH) else hashlib.sha1(graph.encode()).hexdigest()[:12])
        # Triple formats merge the graphs: a triple present in two graphs is written once.
        triples = list(dict.fromkeys(q.triple for q in quads))
        jobs = [(f"{stem}.{suffix}.gz", key, fmt, media, quads if keep else triples)
                for key, (fmt, media, suffix, keep) in FORMATS.items()]
        # the four formats at once: pyoxigraph and zlib leave the interpreter lock while they work
        with ThreadPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1)) as pool:
            for done in [pool.submit(_write, tmp / name, items, fmt) for name, key, fmt, media, items in jobs]:
                done.result()  # a failed write fails the export
        for name, key, fmt, media, items in jobs:
            files.append(DumpFile(name, graph, key, media, len(items), (tmp / name).stat().st_size, _digest(tmp / name)))
        progress(f"[export] {stem}: {len(quads):,} triples")
    tables = _tables(store, tmp)  # the French-schema CSV exports (ptce_kg/exports), beside the dumps
    manifest = {"files": [asdict(f) for f in files], "tables": [asdict(t) for t in tables]}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    (tmp / "SHA256SUMS").write_text("".join(f"{f.sha256}  {f.name}\n" for f in files), encoding="utf-8")
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)
    return files


@dataclass
class TableFile:
    """A CSV export to a French Table Schema (not an RDF dump: kept out of `files` and SHA256SUMS)."""
    name: str
    media_type: str
    rows: int
    bytes: int
    sha256: str
    conforms_to: str  # the published URL of the Table Schema


def _tables(store: pyoxigraph.Store, folder: Path) -> list[TableFile]:
    from . import exports

    counts = exports.write(store, folder)
    return [TableFile(name, "text/csv", rows, (folder / name).stat().st_size, _digest(folder / name),
                      exports.SCHEMA_OF[name][0]) for name, rows in counts.items()]


def read_tables(folder: str | os.PathLike) -> list[TableFile]:
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        return []
    return [TableFile(**item) for item in json.loads(path.read_text(encoding="utf-8")).get("tables", [])]


def read_manifest(folder: str | os.PathLike) -> list[DumpFile]:
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        return []
    return [DumpFile(**item) for item in json.loads(path.read_text(encoding="utf-8"))["files"]]
