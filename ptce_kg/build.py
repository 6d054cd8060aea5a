"""Build the graph: every source into its named graph, a metadata graph, checks, then publish.

The new store is written beside the published one; it replaces it only when every source loaded
and every check passed. Anything else leaves the published graph untouched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pyoxigraph
from pyoxigraph import NamedNode, Quad, RdfFormat

from . import __version__
from .config import ONTOLOGY_DIR, Settings, settings as load_settings
from .errors import BuildError, PtceKgError
from . import iris
from .rdf import DCAT, DCT, PROV, PTCE, RDFS, SD, A, TripleSink, en, fr, graph, iri, string, typed
from .remote import RemoteRoot, is_remote
from .sources import BuildContext, Provenance, Source
from .store import StoreRoot

ONTOLOGY_GRAPH = graph("ontology")
META_GRAPH = NamedNode(iris.META_GRAPH)
PIPELINE = NamedNode(iris.SOFTWARE)

Progress = Callable[[str], None]


class OntologySource:
    """The vocabulary, code lists and criteria, loaded from ontology/ like a source."""

    name = "ontology"
    graph = ONTOLOGY_GRAPH

    def provenance(self) -> Provenance:
        return Provenance(
            title_fr="Vocabulaire ptce-kg, listes de codes et critères de l'article 9",
            title_en="ptce-kg vocabulary, code lists and article 9 criteria",
            source_iri=iris.VOCAB + "def", version=__version__,
            licence_iri="https://www.etalab.gouv.fr/licence-ouverte-open-licence", publisher="ptce-kg",
        )


def ontology_files() -> list[Path]:
    return sorted(ONTOLOGY_DIR.glob("*.ttl"))


def _ontology_quads() -> Iterable[Quad]:
    for path in ontology_files():
        try:
            for q in pyoxigraph.parse(path=str(path), format=RdfFormat.TURTLE):
                yield Quad(q.subject, q.predicate, q.object, ONTOLOGY_GRAPH)
        except SyntaxError as exc:
            raise BuildError(f"[ontology] {path.name}: {exc}") from exc


class DigestingLoader:
    """Loads batches of quads into the store and hashes them on the way (SHA-256 of their N-Quads, in the
    order the source produced them): equal digests, equal graphs, so remote uploads skip unchanged graphs.
    Hashing the batches in memory costs a fraction of reading the graph back from the store."""

    def __init__(self, store: pyoxigraph.Store):
        self.store = store
        self.hash = hashlib.sha256()

    def __call__(self, quads: list[Quad]) -> None:
        self.hash.update(pyoxigraph.serialize(quads, format=RdfFormat.N_QUADS))
        self.store.bulk_extend(quads)

    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


def _count(store: pyoxigraph.Store, graph_iri: NamedNode) -> int:
    result = store.query(f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{graph_iri.value}> {{ ?s ?p ?o }} }}")
    return int(next(iter(result))["n"].value)


VOID = "http://rdfs.org/ns/void#"


def _class_partitions(store: pyoxigraph.Store, sink: TripleSink, graph_iri: NamedNode) -> None:
    """VoID statistics of a named graph: distinct subjects, and instances per class."""
    rows = store.query(f"""SELECT ?c (COUNT(DISTINCT ?s) AS ?n) {{ GRAPH <{graph_iri.value}> {{ ?s a ?c }} }}
                           GROUP BY ?c ORDER BY ?c""")
    for row in rows:
        cls = row["c"].value
        local = re.sub(r"[^A-Za-z0-9]+", "-", cls.rsplit("#", 1)[-1].rsplit("/", 1)[-1]).strip("-")
        digest = hashlib.sha1(cls.encode()).hexdigest()[:6]
        partition = NamedNode(f"{graph_iri.value}#class-{local}-{digest}")
        sink.add(graph_iri, NamedNode(VOID + "classPartition"), partition)
        sink.add(partition, NamedNode(VOID + "class"), row["c"])
        sink.add(partition, NamedNode(VOID + "entities"), typed(row["n"].value, "integer"))
    subjects = store.query(f"SELECT (COUNT(DISTINCT ?s) AS ?n) {{ GRAPH <{graph_iri.value}> {{ ?s ?p ?o }} }}")
    sink.add(graph_iri, NamedNode(VOID + "distinctSubjects"), typed(next(iter(subjects))["n"].value, "integer"))


def _describe(sink: TripleSink, source: Source, triples: int, activity: NamedNode) -> None:
    p = source.provenance()
    g = source.graph
    sink.add(g, A, SD.NamedGraph)
    sink.add(g, A, PROV.Entity)
    sink.add(g, A, DCAT.Dataset)
    sink.add(g, DCT.title, fr(p.title_fr))
    sink.add(g, DCT.title, en(p.title_en))
    sink.add(g, RDFS.label, fr(p.title_fr))
    sink.add(g, DCT.source, NamedNode(p.source_iri))
    sink.add(g, PROV.wasDerivedFrom, NamedNode(p.source_iri))
    sink.add(g, DCT.license, NamedNode(p.licence_iri))
    sink.add(g, DCT.publisher, string(p.publisher))
    sink.add(g, NamedNode("http://purl.org/pav/version"), string(p.version))
    sink.add(g, NamedNode("http://rdfs.org/ns/void#triples"), typed(str(triples), "integer"))
    sink.add(g, PROV.wasGeneratedBy, activity)


def build(store_path: str | Path | None = None, *, sources: Iterable[Source],
          progress: Progress = print, cfg: Settings | None = None, with_dumps: bool = True) -> dict:
    """Build `sources` (in that order) into a new store and publish it. Returns a summary dict.

    The sources are handed in by the caller: the composition root (`cli.build`) passes those declared in
    `ingest/sources.py`; tests pass their own."""
    cfg = cfg or load_settings()
    spec = str(store_path) if store_path else cfg.store
    remote = None
    if is_remote(spec):
        remote = RemoteRoot(spec)
        root = remote.cache  # built, checked and dumped here, then uploaded and switched on the server
    else:
        root = StoreRoot(spec)
    sources = list(sources)
    from .records import RecordsSource, ledger

    records = RecordsSource(ledger(root))
    if records.files():  # recorded eligibility reports are kept by every build, whatever the sources
        sources.append(records)
    build_dir = root.new_build_dir()
    started = time.time()
    summary: dict = {"store": spec if remote else str(root.path), "build": build_dir.name, "graphs": {}}
    try:
        store = pyoxigraph.Store(str(build_dir))
        ctx = BuildContext(report_dir=root.path / "reports" / build_dir.name)
        meta = TripleSink(META_GRAPH)
        activity = iri(f"build/{build_dir.name}")
        digests: dict[NamedNode, str] = {}
        for source in sources:
            t0 = time.time()
            progress(f"[{source.name}] loading…")
            loader = DigestingLoader(store)
            sink = TripleSink(source.graph, loader)
            source.load(sink, ctx)
            sink.flush()
            digests[source.graph] = loader.digest()
            count = _count(store, source.graph)
            if not count:
                raise BuildError(f"[{source.name}] produced no triples / aucun triplet produit")
            _describe(meta, source, count, activity)
            _class_partitions(store, meta, source.graph)
            summary["graphs"][source.graph.value] = count
            progress(f"[{source.name}] {count:,} triples in {time.time() - t0:.1f}s")
        onto = list(_ontology_quads())
        loader = DigestingLoader(store)
        loader(onto)
        digests[ONTOLOGY_GRAPH] = loader.digest()
        summary["graphs"][ONTOLOGY_GRAPH.value] = len(onto)
        _describe(meta, OntologySource(), len(onto), activity)
        _class_partitions(store, meta, ONTOLOGY_GRAPH)
        ended = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        meta.add(activity, A, PROV.Activity)
        meta.add(activity, RDFS.label, fr(f"construction du graphe {build_dir.name}"))
        meta.add(activity, PROV.wasAssociatedWith, PIPELINE)
        meta.add(activity, PROV.endedAtTime, typed(ended.isoformat(), "dateTime"))
        meta.add(PIPELINE, A, PROV.SoftwareAgent)
        meta.add(PIPELINE, RDFS.label, string(f"ptce-kg {__version__}"))
        meta.add(PIPELINE, NamedNode("http://purl.org/pav/version"), string(__version__))
        meta.add(META_GRAPH, DCT.modified, typed(ended.isoformat(), "dateTime"))
        for graph_iri, digest in digests.items():
            meta.add(graph_iri, PTCE.contentDigest, string(digest))
        store.bulk_extend(meta.quads)
        summary["graphs"][META_GRAPH.value] = _count(store, META_GRAPH)
        progress("[checks] running…")
        from .checks import run_checks

        run_checks(store)
        from .consistency import describe, run as consistency_checks

        contradictions = consistency_checks(store)
        if contradictions:
            raise BuildError("contradictions between statements, nothing published / contradictions entre "
                             "déclarations, rien n'est publié:\n" + describe(contradictions))
        store.flush()
        # Compacted once, before anything reads it: each bulk load leaves its own overlapping files per index,
        # which the read-only stores of the workers never merge, and every range scan then merges them
        # (bench/reports/store-layout.md: 1.23× the compacted layout at 1×, 2.72× at 10×; about 1 s at 1×).
        store.optimize()
        from .search import build_index  # the text index, beside the store: CURRENT switches both at once

        progress("[search] indexing…")
        build_index(store, root, build_dir.name)
        if with_dumps:
            from .export import export

            progress("[export] writing the dumps…")
            export(store, root.dumps / build_dir.name, progress)
        if remote is not None:
            remote.publish_from(store, build_dir.name, progress)
        from .changes import record as record_changes  # the change feed since the last build (README, "Change feed")

        record_changes(root, build_dir.name, store, progress=progress)
        del store
    except PtceKgError:
        root.discard(build_dir)
        raise
    except Exception as exc:  # an unexpected failure must not publish a half-built store either
        root.discard(build_dir)
        raise BuildError(f"build failed / échec de la construction: {exc!r}") from exc
    root.publish(build_dir)
    summary["rejects"] = ctx.rejects
    summary["seconds"] = round(time.time() - started, 1)
    summary["triples"] = sum(summary["graphs"].values())
    progress(f"published {build_dir.name}: {summary['triples']:,} triples in {summary['seconds']}s")
    return summary
