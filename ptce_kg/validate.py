"""Validate the published graph with the data-quality and article 9 shapes; counts by shape and severity."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import pyoxigraph
import rdflib
from rdflib.namespace import RDF, SH

from . import shacl
from .rdf import graph
from .config import SHAPES_DIR


@dataclass
class ValidationSummary:
    triples: int
    seconds: float
    counts: Counter = field(default_factory=Counter)  # (shapes file, shape, severity) -> results
    examples: dict = field(default_factory=dict)  # (file, shape, severity) -> (focus node, message)

    @property
    def violations(self) -> int:
        return sum(n for (_, _, severity), n in self.counts.items() if severity == "Violation")

    def as_dict(self) -> dict:
        return {"triples": self.triples, "seconds": round(self.seconds, 1), "violations": self.violations,
                "results": [{"shapes": f, "shape": s, "severity": sev, "count": n,
                             "example": self.examples.get((f, s, sev))}
                            for (f, s, sev), n in sorted(self.counts.items())]}


# Graphs no shape of shapes/ looks at, left out of validation: the contours and points of every commune
# (ingest/geometry, ~300k triples of long WKT literals) doubled the time and the memory of `ptce-kg validate`.
UNSHAPED_GRAPHS = frozenset({graph("geometry")})


def load_graph(store: pyoxigraph.Store) -> rdflib.Graph:
    """Every triple of every named graph but UNSHAPED_GRAPHS, as one rdflib graph (pySHACL works on rdflib)."""
    data = pyoxigraph.serialize((q.triple for q in store.quads_for_pattern(None, None, None, None)
                                 if q.graph_name not in UNSHAPED_GRAPHS),
                                format=pyoxigraph.RdfFormat.N_TRIPLES)
    graph = rdflib.Graph()
    graph.parse(data=data.decode("utf-8"), format="nt")
    return graph


def _short(graph: rdflib.Graph, node) -> str:
    try:
        return graph.namespace_manager.normalizeUri(node) if isinstance(node, rdflib.URIRef) else str(node)
    except Exception:
        return str(node)


def _shape_name(shapes_graph: rdflib.Graph, shape, path) -> str:
    """A named shape as is; an anonymous property shape as `parent shape / path`."""
    if isinstance(shape, rdflib.URIRef):
        return _short(shapes_graph, shape)
    parent = shapes_graph.value(None, SH.property, shape)
    return f"{_short(shapes_graph, parent)} / {_short(shapes_graph, path)}"


def validate(store: pyoxigraph.Store, shapes: tuple[str, ...] = ("data-quality.ttl", "article-9.ttl")) -> ValidationSummary:
    started = time.monotonic()
    data = load_graph(store)
    summary = ValidationSummary(len(data), 0.0)
    for name in shapes:
        shapes_graph = rdflib.Graph().parse(SHAPES_DIR / name, format="turtle")
        results = shacl.validate(data, shapes_graph)
        for result in results.subjects(RDF.type, SH.ValidationResult):
            shape = results.value(result, SH.sourceShape)
            shape_name = _shape_name(shapes_graph, shape, results.value(result, SH.resultPath))
            severity = str(results.value(result, SH.resultSeverity)).rsplit("#", 1)[1]
            key = (name, shape_name, severity)
            summary.counts[key] += 1
            summary.examples.setdefault(key, (str(results.value(result, SH.focusNode)),
                                              str(results.value(result, SH.resultMessage) or "")))
    summary.seconds = time.monotonic() - started
    return summary
