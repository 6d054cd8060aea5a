"""`ptce-kg validate`: the whole published graph against the shapes, counts by shape and severity."""

from __future__ import annotations

import csv
from pathlib import Path

import pyoxigraph

from ptce_kg.validate import validate

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
