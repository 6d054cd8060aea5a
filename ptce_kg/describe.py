"""What the graph says about one resource: its triples (with their named graph), those of its hash
IRIs (`…/commune/01001#insee`), incoming links, and labels for everything shown."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyoxigraph
from pyoxigraph import NamedNode

from .iris import with_values

RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
INCOMING_LIMIT = 200


@dataclass
class Description:
    iri: str
    quads: list[pyoxigraph.Quad] = field(default_factory=list)  # about the resource and its hash IRIs
    incoming: list[tuple[str, str, str]] = field(default_factory=list)  # (subject, predicate, graph)
    incoming_total: int = 0
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # iri -> {lang: label}

    @property
    def exists(self) -> bool:
        return bool(self.quads)

    @property
    def triples(self) -> list[pyoxigraph.Triple]:
        return list(dict.fromkeys(q.triple for q in self.quads))


def describe(store: pyoxigraph.Store, iri: str, *, incoming: bool = True) -> Description:
    node = NamedNode(iri)  # raises ValueError on anything that is not an IRI
    found = Description(iri)
    found.quads = list(store.quads_for_pattern(node, None, None, None))
    hashes = {q.object.value for q in found.quads
              if isinstance(q.object, NamedNode) and q.object.value.startswith(iri + "#")}
    for h in sorted(hashes):
        found.quads += list(store.quads_for_pattern(NamedNode(h), None, None, None))
    if not incoming:
        return found
    rows = store.query(
        f"SELECT ?s ?p ?g {{ GRAPH ?g {{ ?s ?p <{iri}> }} FILTER(!STRSTARTS(STR(?s), \"{iri}#\")) }} LIMIT {INCOMING_LIMIT}")
    found.incoming = [(r["s"].value, r["p"].value, r["g"].value) for r in rows if isinstance(r["s"], NamedNode)]
    if len(found.incoming) == INCOMING_LIMIT:
        count = store.query(f"SELECT (COUNT(*) AS ?n) {{ GRAPH ?g {{ ?s ?p <{iri}> }} }}")
        found.incoming_total = int(next(iter(count))["n"].value)
    else:
        found.incoming_total = len(found.incoming)
    shown = {iri} | {q.predicate.value for q in found.quads} | {q.subject.value for q in found.quads}
    shown |= {q.object.value for q in found.quads if isinstance(q.object, NamedNode)}
    shown |= {s for s, _, _ in found.incoming} | {p for _, p, _ in found.incoming}
    found.labels = labels(store, sorted(shown))
    return found


def labels(store: pyoxigraph.Store, iris: list[str]) -> dict[str, dict[str, str]]:
    """rdfs:label / skos:prefLabel of each IRI, by language ("" for untagged)."""
    result: dict[str, dict[str, str]] = {}
    for start in range(0, len(iris), 500):
        chunk = iris[start:start + 500]
        query = with_values("""SELECT ?x ?l WHERE {
            { ?x <http://www.w3.org/2000/01/rdf-schema#label> ?l }
            UNION { ?x <http://www.w3.org/2004/02/skos/core#prefLabel> ?l } }""", "x", chunk)
        for row in store.query(query, use_default_graph_as_union=True):
            lang = row["l"].language or ""
            result.setdefault(row["x"].value, {}).setdefault(lang, row["l"].value)
    return result
