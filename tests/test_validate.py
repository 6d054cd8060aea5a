"""`ptce-kg validate`: the whole published graph against the shapes, counts by shape and severity."""

from __future__ import annotations

import csv
from pathlib import Path

import pyoxigraph

from ptce_kg import shacl
from ptce_kg.validate import UNSHAPED_GRAPHS, load_graph, load_reached, reached_predicates, result_keys, shapes_graphs, validate

REGISTRY = Path(__file__).resolve().parent.parent / "ingest" / "registry"


def test_the_published_graph_has_no_violation(store):
    summary = validate(store)
    assert summary.triples > 700_000
    assert summary.violations == 0, summary.as_dict()
    with open(REGISTRY / "ptce.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with open(REGISTRY / "statements.csv", newline="", encoding="utf-8") as handle:
        placed = {s["subject"] for s in csv.DictReader(handle)
                  if s["property"] == "territory" and s["status"] == "result" and s["rank"] != "deprecated"}
    # PTCE whose documents state no perimeter are reported as warnings, once each, by both rule sets.
    without_perimeter = sum(1 for r in rows if r["id"] not in placed)
    assert summary.counts[("data-quality.ttl", "dq:PTCE / ptce:perimeter", "Warning")] == without_perimeter
    assert summary.counts[("article-9.ttl", "shape:art9-2-unknown-perimeter", "Warning")] == without_perimeter


def _sample(store) -> pyoxigraph.Store:
    """A small real graph: every quad of the registry, programmes, ontology, links and meta graphs, and of the
    territory graphs those of a few départements (their communes, the EPCI and territories the registry names
    and one hop from them), with some geometry. Cut from the whole: some links lead to territories left out."""
    from pyoxigraph import NamedNode, Quad
    from ptce_kg.rdf import graph

    ptce = "https://w3id.org/ptce-kg/def#"
    territorial = {graph("territories"), graph("territory-history"), *UNSHAPED_GRAPHS}
    sample = pyoxigraph.Store()
    for g in store.named_graphs():
        if g not in territorial:
            sample.extend(Quad(q.subject, q.predicate, q.object, q.graph_name) for q in store.quads_for_pattern(None, None, None, g))
    named = {q.object for p in ("location", "perimeter") for q in sample.quads_for_pattern(None, NamedNode(ptce + p), None, None)
             if isinstance(q.object, NamedNode)}
    departements = sorted({q.object for t in named for q in store.quads_for_pattern(t, NamedNode(ptce + "departement"), None, None)},
                          key=str)[:3]
    subjects = set(named) | set(departements)
    for d in departements:
        subjects |= {q.subject for q in store.quads_for_pattern(None, NamedNode(ptce + "departement"), d, None)}
    subjects |= {q.object for s in list(subjects) for q in store.quads_for_pattern(s, None, None, None)
                 if isinstance(q.object, NamedNode) and q.graph_name in territorial}
    for s in subjects:
        sample.extend(Quad(q.subject, q.predicate, q.object, q.graph_name) for q in store.quads_for_pattern(s, None, None, None)
                      if q.graph_name in territorial)
        sample.extend(Quad(q.subject, q.predicate, q.object, q.graph_name)
                      for q in store.quads_for_pattern(None, NamedNode(ptce + "currentCommune"), s, None))
    return sample


def test_reading_only_what_the_shapes_reach_gives_the_same_results(store):
    """`validate` gives pySHACL only the triples whose predicate the shapes can read: on a real graph, every
    result (focus node, path, component, severity, source shape, value, messages) is the one pySHACL gives on
    every triple of the validated graphs, as `ptce-kg validate` read them before."""
    sample = _sample(store)
    graphs = shapes_graphs(("data-quality.ttl", "article-9.ttl"))
    predicates = reached_predicates(graphs.values())
    assert predicates is not None and "https://w3id.org/ptce-kg/def#currentCommune" in predicates  # in a FILTER NOT EXISTS path
    whole, reached = load_graph(sample), load_reached(sample, predicates)
    assert 0 < len(reached) < len(whole)
    assert set(reached) <= set(whole)  # the same terms, as rdflib reads them from N-Triples
    found = []
    for name, shapes_graph in graphs.items():
        expected = result_keys(shapes_graph, shacl.validate(whole, shapes_graph))
        assert result_keys(shapes_graph, shacl.validate(reached, shapes_graph)) == expected, name
        found += expected
    # warnings, and the violations of a cut graph (territories left out): something to compare
    assert len(found) > 100 and any(key[3].endswith("Violation") for key in found)
    summary = validate(sample)
    assert summary.loaded == len(reached)
    assert summary.triples == sum(1 for q in sample if q.graph_name not in UNSHAPED_GRAPHS) > len(whole) - 1
    assert sum(summary.counts.values()) == len(found)
    assert summary.violations == sum(1 for key in found if key[3].endswith("Violation"))


def test_shapes_that_read_predicates_they_do_not_name_read_everything():
    """sh:closed, a variable or negated predicate in SHACL-SPARQL: no predicate can be left out."""
    import rdflib

    head = """@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
              ex:S a sh:NodeShape ; sh:targetClass ex:C ; """
    bounded = rdflib.Graph().parse(data=head + "sh:sparql [ sh:select \"SELECT $this WHERE { FILTER NOT EXISTS { $this <http://example.org/p>/<http://example.org/q>* ?x } }\" ] .", format="turtle")
    assert {"http://example.org/p", "http://example.org/q"} <= reached_predicates([bounded])
    for tail in ("sh:closed true .",
                 "sh:sparql [ sh:select \"SELECT $this WHERE { $this ?p ?o }\" ] .",
                 "sh:sparql [ sh:select \"SELECT $this WHERE { FILTER EXISTS { $this ?p ?o } }\" ] .",
                 "sh:sparql [ sh:select \"SELECT $this WHERE { $this !<http://example.org/p> ?o }\" ] ."):
        assert reached_predicates([rdflib.Graph().parse(data=head + tail, format="turtle")]) is None, tail


def test_a_bad_siren_key_is_a_violation():
    store = pyoxigraph.Store()
    ptce = "https://w3id.org/ptce-kg/def#"
    org = pyoxigraph.NamedNode("https://w3id.org/ptce-kg/id/organisation/test")
    for p, o in ((pyoxigraph.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), pyoxigraph.NamedNode(ptce + "Organisation")),
                 (pyoxigraph.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"), pyoxigraph.Literal("Test", language="fr")),
                 (pyoxigraph.NamedNode(ptce + "siren"), pyoxigraph.Literal("123456789"))):
        store.add(pyoxigraph.Quad(org, p, o, pyoxigraph.NamedNode("https://w3id.org/ptce-kg/graph/registry")))
    summary = validate(store, shapes=("data-quality.ttl",))
    assert summary.violations == 1
    (key, example), = summary.examples.items()
    assert key[2] == "Violation" and "123456789" in example[1]
    valid = pyoxigraph.Store()
    for quad in store:
        valid.add(pyoxigraph.Quad(quad.subject, quad.predicate,
                                  pyoxigraph.Literal("552100554") if quad.predicate.value.endswith("siren") else quad.object,
                                  quad.graph_name))
    assert validate(valid, shapes=("data-quality.ttl",)).violations == 0


def test_a_statement_without_reference_is_a_violation():
    from pyoxigraph import Literal, NamedNode, Quad
    rdf, ptce = "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "https://w3id.org/ptce-kg/def#"
    g = NamedNode("https://w3id.org/ptce-kg/graph/registry")
    st = NamedNode("https://w3id.org/ptce-kg/id/statement/ptce/test/member-count/1")
    store = pyoxigraph.Store()
    for p, o in ((rdf + "type", NamedNode(ptce + "Statement")),
                 ("http://www.w3.org/2000/01/rdf-schema#label", Literal("test", language="fr")),
                 (ptce + "statementSubject", NamedNode("https://w3id.org/ptce-kg/id/ptce/test")),
                 (ptce + "statementProperty", NamedNode(ptce + "declaredMemberCount")),
                 (rdf + "value", Literal("40")),
                 (ptce + "precision", NamedNode("https://w3id.org/ptce-kg/code/precision/exact")),
                 (ptce + "statementStatus", NamedNode("https://w3id.org/ptce-kg/code/statement-status/result")),
                 ("http://wikiba.se/ontology#rank", NamedNode("http://wikiba.se/ontology#PreferredRank"))):
        store.add(Quad(st, NamedNode(p), o, g))
    summary = validate(store, shapes=("data-quality.ttl",))
    assert summary.violations == 1
    (key, _), = summary.examples.items()
    assert "wasDerivedFrom" in key[1]


def test_the_published_graph_has_no_contradiction(store):
    """The consistency checks (ptce_kg/consistency/*.rq) on the whole built graph; each is broken on purpose in
    tests/test_consistency.py."""
    from ptce_kg import consistency

    found = consistency.run(store)
    assert found == [], consistency.describe(found)


def test_a_citation_quoting_a_web_page_or_undated_is_a_violation():
    """A row's citation quotes its passage, or states the fact in our words with the date read: not both, not half."""
    from pyoxigraph import Literal, NamedNode, Quad
    ptce, rdfs = "https://w3id.org/ptce-kg/def#", "http://www.w3.org/2000/01/rdf-schema#"
    g = NamedNode("https://w3id.org/ptce-kg/graph/registry")
    doc = NamedNode("https://w3id.org/ptce-kg/id/document/chorum-ami-2021")
    cases = {"quoted": {"passage"}, "note": {"comment", "retrieved"},
             "both": {"passage", "comment", "retrieved"}, "undated": {"comment"}}
    store = pyoxigraph.Store()
    for name, parts in cases.items():
        c = NamedNode(f"https://w3id.org/ptce-kg/id/citation/test/{name}")
        store.add(Quad(c, NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), NamedNode(ptce + "Citation"), g))
        store.add(Quad(c, NamedNode("http://purl.org/dc/terms/source"), doc, g))
        if "passage" in parts:
            store.add(Quad(c, NamedNode(ptce + "passage"), Literal("15 lauréats", language="fr"), g))
        if "comment" in parts:
            store.add(Quad(c, NamedNode(rdfs + "comment"), Literal("Chorum nomme 15 lauréats.", language="fr"), g))
        if "retrieved" in parts:
            store.add(Quad(c, NamedNode(ptce + "retrieved"),
                           Literal("2026-12-01", datatype=NamedNode("http://www.w3.org/2001/XMLSchema#date")), g))
    summary = validate(store, shapes=("data-quality.ttl",))
    assert summary.counts[("data-quality.ttl", "dq:Citation", "Violation")] == 2 == summary.violations


def test_a_named_item_with_a_precision_or_a_number_without_one_is_a_violation():
    """dq:Statement: a number says how exact it is; a territory, carrier or code (an IRI) has no precision."""
    from pyoxigraph import Literal, NamedNode, Quad
    rdf, ptce = "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "https://w3id.org/ptce-kg/def#"
    g = NamedNode("https://w3id.org/ptce-kg/graph/registry")
    exact = NamedNode("https://w3id.org/ptce-kg/code/precision/exact")

    def statement(key: str, prop: str, value, precision) -> pyoxigraph.Store:
        st = NamedNode(f"https://w3id.org/ptce-kg/id/statement/ptce/test/{key}/1")
        ref = NamedNode(st.value + "/reference")
        store = pyoxigraph.Store()
        triples = [(st, rdf + "type", NamedNode(ptce + "Statement")),
                   (st, "http://www.w3.org/2000/01/rdf-schema#label", Literal("test", language="fr")),
                   (st, ptce + "statementSubject", NamedNode("https://w3id.org/ptce-kg/id/ptce/test")),
                   (st, ptce + "statementProperty", NamedNode(ptce + prop)), (st, rdf + "value", value),
                   (st, ptce + "statementStatus", NamedNode("https://w3id.org/ptce-kg/code/statement-status/result")),
                   (st, "http://wikiba.se/ontology#rank", NamedNode("http://wikiba.se/ontology#NormalRank")),
                   (st, "http://www.w3.org/ns/prov#wasDerivedFrom", ref),
                   (ref, rdf + "type", NamedNode(ptce + "Reference")),
                   (ref, "http://purl.org/dc/terms/source", NamedNode("https://w3id.org/ptce-kg/id/document/test")),
                   (ref, ptce + "locator", Literal("p. 1")), (ref, ptce + "passage", Literal("…", language="fr"))]
        if precision:
            triples.append((st, ptce + "precision", exact))
        for s, p, o in triples:
            store.add(Quad(s, NamedNode(p), o, g))
        return store

    commune = NamedNode("https://w3id.org/ptce-kg/id/commune/39300")
    assert validate(statement("territory", "perimeter", commune, False), shapes=("data-quality.ttl",)).violations == 0
    assert validate(statement("member-count", "declaredMemberCount", Literal("40"), True),
                    shapes=("data-quality.ttl",)).violations == 0
    for store in (statement("territory", "perimeter", commune, True),
                  statement("member-count", "declaredMemberCount", Literal("40"), False)):
        summary = validate(store, shapes=("data-quality.ttl",))
        assert summary.violations == 1 and any("dq:Statement" in key[1] for key in summary.examples)
