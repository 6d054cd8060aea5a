"""Validate the published graph with the data-quality and article 9 shapes; counts by shape and severity."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import pyoxigraph
import rdflib
from rdflib.namespace import RDF, RDFS, SH, XSD
from rdflib.paths import AlternativePath, InvPath, MulPath, Path, SequencePath
from rdflib.plugins.sparql import prepareQuery
from rdflib.plugins.sparql.parserutils import CompValue

from . import shacl
from .rdf import graph
from .config import SHAPES_DIR


@dataclass
class ValidationSummary:
    triples: int  # quads of the graphs validated (all but UNSHAPED_GRAPHS)
    seconds: float
    counts: Counter = field(default_factory=Counter)  # (shapes file, shape, severity) -> results
    examples: dict = field(default_factory=dict)  # (file, shape, severity) -> (focus node, message)
    loaded: int = 0  # distinct triples read into rdflib for pySHACL: those the shapes can reach

    @property
    def violations(self) -> int:
        return sum(n for (_, _, severity), n in self.counts.items() if severity == "Violation")

    def as_dict(self) -> dict:
        return {"triples": self.triples, "loaded": self.loaded, "seconds": round(self.seconds, 1), "violations": self.violations,
                "results": [{"shapes": f, "shape": s, "severity": sev, "count": n,
                             "example": self.examples.get((f, s, sev))}
                            for (f, s, sev), n in sorted(self.counts.items())]}


# Graphs no shape of shapes/ looks at, left out of validation: the contours and points of every commune
# (ingest/geometry, ~300k triples of long WKT literals) doubled the time and the memory of `ptce-kg validate`.
UNSHAPED_GRAPHS = frozenset({graph("geometry")})


def load_graph(store: pyoxigraph.Store) -> rdflib.Graph:
    """Every triple of every named graph but UNSHAPED_GRAPHS, as one rdflib graph (pySHACL works on rdflib).

    The reference path: `validate` reads only what the shapes can reach (`reached_predicates`), and
    tests/test_validate.py checks that both give the same results."""
    data = pyoxigraph.serialize((q.triple for q in store.quads_for_pattern(None, None, None, None)
                                 if q.graph_name not in UNSHAPED_GRAPHS),
                                format=pyoxigraph.RdfFormat.N_TRIPLES)
    graph = rdflib.Graph()
    graph.parse(data=data.decode("utf-8"), format="nt")
    return graph


# pySHACL reads the data graph only by triple patterns: a class target or sh:class by rdf:type and
# rdfs:subClassOf; a property shape by its path, whose IRIs are in the shapes graph; a SHACL-SPARQL constraint
# or target by the triple patterns and property paths of its query. Any other predicate is invisible to it,
# unless a shape is sh:closed (it lists every predicate of its focus nodes), a query has a variable or negated
# predicate (or `$PATH`), or a rule could add triples: then everything is read.
_ALWAYS_READ = frozenset({str(RDF.type), str(RDFS.subClassOf)})
_SPARQL_TEXTS = tuple(rdflib.URIRef(str(SH) + n) for n in ("select", "ask", "construct", "update"))
_READ_EVERYTHING = tuple(rdflib.URIRef(str(SH) + n) for n in ("closed", "rule", "expression", "filterShape", "nodes"))


class _Unbounded(Exception):
    """A shape may read predicates it does not name."""


def _path_iris(path, found: set[str]) -> None:
    if isinstance(path, rdflib.URIRef):
        found.add(str(path))
    elif isinstance(path, (SequencePath, AlternativePath)):
        for arg in path.args:
            _path_iris(arg, found)
    elif isinstance(path, MulPath):
        _path_iris(path.path, found)
    elif isinstance(path, InvPath):
        _path_iris(path.arg, found)
    else:  # a variable, a negated property set: any predicate
        raise _Unbounded(repr(path))


def _query_predicates(node, found: set[str]) -> None:
    """Every IRI of a prepared query, and the predicates of its triple patterns checked to be IRIs or paths of
    IRIs: translated (BGP, triples of three) or left as parsed (FILTER EXISTS: TriplesBlock, s p o s p o …)."""
    if isinstance(node, CompValue):
        if node.name == "BGP":
            for triple in node["triples"]:
                _path_iris(triple[1], found)
        elif node.name == "TriplesBlock":
            for triples in node["triples"]:
                for i in range(1, len(triples), 3):
                    _path_iris(triples[i], found)
        for value in node.values():
            _query_predicates(value, found)
    elif isinstance(node, (list, tuple, set, frozenset)):
        for item in node:
            _query_predicates(item, found)
    elif isinstance(node, rdflib.URIRef):
        found.add(str(node))
    elif isinstance(node, Path):
        _path_iris(node, found)


def reached_predicates(shapes_graphs) -> frozenset[str] | None:
    """The predicates through which the shapes can read a data graph, or None when it cannot be bounded."""
    found = set(_ALWAYS_READ)
    for shapes_graph in shapes_graphs:
        if any(True for p in _READ_EVERYTHING for _ in shapes_graph.triples((None, p, None))):
            return None
        # every IRI the shapes name: paths (sequences, alternatives, inverses and all), sh:equals, sh:disjoint,
        # sh:lessThan, sh:targetSubjectsOf… (classes and SHACL terms among them read nothing: harmless)
        found.update(str(t) for triple in shapes_graph for t in triple if isinstance(t, rdflib.URIRef))
        prefixes = {str(shapes_graph.value(d, SH.prefix)): str(shapes_graph.value(d, SH.namespace))
                    for d in shapes_graph.objects(None, SH.declare)}
        for key in _SPARQL_TEXTS:
            for text in shapes_graph.objects(None, key):
                try:
                    query = prepareQuery(str(text), initNs=prefixes)
                    _query_predicates(query.algebra, found)
                except _Unbounded:
                    return None
                except Exception:  # a query rdflib cannot parse here: do not guess what it reads
                    return None
    return frozenset(found)


def _converter():
    """pyoxigraph terms to the rdflib terms the N-Triples parser makes of them, each made once."""
    made: dict = {}
    string = pyoxigraph.NamedNode(str(XSD.string))

    def convert(term):
        node = made.get(term)
        if node is None:
            if isinstance(term, pyoxigraph.NamedNode):
                node = rdflib.URIRef(term.value)
            elif isinstance(term, pyoxigraph.BlankNode):
                node = rdflib.BNode(term.value)
            elif term.language:
                node = rdflib.Literal(term.value, lang=term.language)
            elif term.datatype == string:  # N-Triples writes a plain literal, rdflib reads it untyped
                node = rdflib.Literal(term.value)
            else:
                node = rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value))
            made[term] = node
        return node
    return convert


def load_reached(store: pyoxigraph.Store, predicates: frozenset[str] | None) -> rdflib.Graph:
    """The triples of every graph but UNSHAPED_GRAPHS whose predicate is in `predicates` (all if None), built
    from the store's terms directly (no N-Triples text): what `load_graph` gives, less what no shape reads."""
    if predicates is None:
        return load_graph(store)
    convert = _converter()
    data = rdflib.Graph()
    add = data.store.add
    for predicate in sorted(predicates):
        p = rdflib.URIRef(predicate)
        for quad in store.quads_for_pattern(None, pyoxigraph.NamedNode(predicate), None, None):
            if quad.graph_name not in UNSHAPED_GRAPHS:
                add((convert(quad.subject), p, convert(quad.object)), data)
    return data


def _in_scope(store: pyoxigraph.Store) -> int:
    """Quads of the graphs validated (every graph but UNSHAPED_GRAPHS), counted by the store."""
    left_out = ", ".join(f"<{g.value}>" for g in sorted(UNSHAPED_GRAPHS, key=str))
    rows = store.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(?g NOT IN ({left_out})) }}")
    return int(next(iter(rows))["n"].value)


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


def result_keys(shapes_graph: rdflib.Graph, results: rdflib.Graph) -> list[tuple]:
    """Every result of a SHACL report, sorted, as (focus node, path, component, severity, source shape, value,
    messages) strings that do not depend on blank node labels: to compare two reports as multisets."""
    def shape_key(shape) -> str:
        if isinstance(shape, rdflib.BNode):  # an anonymous shape: its own non-blank statements
            return "[" + " ; ".join(sorted(f"{p.n3()} {o.n3()}" for p, o in shapes_graph.predicate_objects(shape)
                                           if not isinstance(o, rdflib.BNode))) + "]"
        return shape.n3()

    keys = []
    for r in results.subjects(RDF.type, SH.ValidationResult):
        value = results.value(r, SH.value)
        keys.append((str(results.value(r, SH.focusNode)), str(results.value(r, SH.resultPath)),
                     str(results.value(r, SH.sourceConstraintComponent)), str(results.value(r, SH.resultSeverity)),
                     shape_key(results.value(r, SH.sourceShape)), "" if value is None else value.n3(),
                     " | ".join(sorted(m.n3() for m in results.objects(r, SH.resultMessage)))))
    return sorted(keys)


def _summarise(summary: ValidationSummary, name: str, shapes_graph: rdflib.Graph, results: rdflib.Graph) -> None:
    for result in results.subjects(RDF.type, SH.ValidationResult):
        shape = results.value(result, SH.sourceShape)
        shape_name = _shape_name(shapes_graph, shape, results.value(result, SH.resultPath))
        severity = str(results.value(result, SH.resultSeverity)).rsplit("#", 1)[1]
        key = (name, shape_name, severity)
        summary.counts[key] += 1
        summary.examples.setdefault(key, (str(results.value(result, SH.focusNode)),
                                          str(results.value(result, SH.resultMessage) or "")))


def shapes_graphs(shapes: tuple[str, ...]) -> dict[str, rdflib.Graph]:
    return {name: rdflib.Graph().parse(SHAPES_DIR / name, format="turtle") for name in shapes}


def validate(store: pyoxigraph.Store, shapes: tuple[str, ...] = ("data-quality.ttl", "article-9.ttl"), *,
             whole: bool = False) -> ValidationSummary:
    """Validate the graph with each shapes file. pySHACL runs on the triples the shapes can reach
    (`reached_predicates`), or with `whole` on every triple as `load_graph` reads them (the reference)."""
    started = time.monotonic()
    graphs = shapes_graphs(shapes)
    data = load_graph(store) if whole else load_reached(store, reached_predicates(graphs.values()))
    summary = ValidationSummary(_in_scope(store), 0.0, loaded=len(data))
    for name, shapes_graph in graphs.items():
        _summarise(summary, name, shapes_graph, shacl.validate(data, shapes_graph))
    summary.seconds = time.monotonic() - started
    return summary
