"""Links to other datasets: VoID linksets at /.well-known/void, counts equal to SPARQL counts, documented forms."""

from __future__ import annotations

import csv
import json
import re

import httpx
import rdflib

from conftest import select
from ingest.links import LINKSETS
from ingest.links.mapping import HERE
from ptce_kg.config import settings

VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
LINKS = "https://w3id.org/ptce-kg/graph/links"


def _void(server: str) -> rdflib.Graph:
    response = httpx.get(server + "/.well-known/void", headers={"Accept": "text/turtle"}, timeout=30)
    assert response.status_code == 200, response.text
    return rdflib.Graph().parse(data=response.text, format="turtle")


def _links(store, predicate: str, space: str) -> list[tuple[str, str]]:
    rows = select(store, f"""SELECT ?s ?o WHERE {{ ?s <{predicate}> ?o FILTER(STRSTARTS(STR(?o), "{space}")) }}""")
    return [(r["s"], r["o"]) for r in rows]


def test_well_known_void_lists_linksets_whose_counts_are_sparql_counts(embedded_server, store):
    void = _void(embedded_server)
    linksets = set(void.subjects(rdflib.RDF.type, VOID.Linkset))
    assert len(linksets) >= 3
    main = rdflib.URIRef("https://w3id.org/ptce-kg/id/dataset/ptce-kg")
    for linkset in linksets:
        assert (main, VOID.subset, linkset) in void
        assert void.value(linkset, VOID.subjectsTarget) == main
        target, predicate = void.value(linkset, VOID.objectsTarget), void.value(linkset, VOID.linkPredicate)
        space = str(void.value(target, VOID.uriSpace))
        count = int(void.value(linkset, VOID.triples))
        assert count > 0 and count == len(_links(store, str(predicate), space)), linkset
        assert {o.language for o in void.objects(linkset, rdflib.DCTERMS.title)} == {"fr", "en"}


def test_every_link_target_has_its_documented_form(store):
    by_predicate = {}
    for ls in LINKSETS:
        by_predicate.setdefault(ls.predicate.value, []).append(ls)
    rows = select(store, f"""SELECT ?p ?o WHERE {{ GRAPH <{LINKS}> {{ ?s ?p ?o }}
        FILTER(?p IN (<{'>, <'.join(by_predicate)}>)) }}""")
    assert len(rows) > 1500
    for row in rows:  # each link belongs to a linkset and has its form: nothing outside a described linkset
        assert any(re.fullmatch(ls.pattern, row["o"]) for ls in by_predicate[row["p"]]), row


def test_naf_links_follow_the_nace_codes(store):
    """NAF divisions, groups and classes are NACE Rev. 2's (same codes); sub-classes are narrower than a class.
    Expected links computed from the NAF package's file with json, not through the mapping."""
    items = json.loads((settings().naf_dir / "index.json").read_text(encoding="utf-8"))
    exact = {f"https://w3id.org/ptce-kg/code/naf/{i['id']}": "http://data.europa.eu/ux2/nace2/" + i["id"].replace(".", "")
             for i in items if len(i["id"]) <= 5}
    broad = {f"https://w3id.org/ptce-kg/code/naf/{i['id']}": "http://data.europa.eu/ux2/nace2/" + i["id"][:5].replace(".", "")
             for i in items if len(i["id"]) == 6}
    assert len(exact) == 88 + 272 + 615 and len(broad) == 732
    assert dict(_links(store, "http://www.w3.org/2004/02/skos/core#exactMatch", "http://data.europa.eu/ux2/nace2/")) == exact
    assert dict(_links(store, "http://www.w3.org/2004/02/skos/core#broadMatch", "http://data.europa.eu/ux2/nace2/")) == broad
    assert exact["https://w3id.org/ptce-kg/code/naf/88.9"] == "http://data.europa.eu/ux2/nace2/889"


def test_overseas_territories_link_to_the_eu_countries_table(store):
    with open(HERE / "eu-countries.csv", newline="", encoding="utf-8") as handle:
        table = {row["territory"]: row["code"] for row in csv.DictReader(handle)}
    got = dict(_links(store, "http://www.w3.org/2004/02/skos/core#closeMatch",
                      "http://publications.europa.eu/resource/authority/country/"))
    expected = {"https://w3id.org/ptce-kg/id/" + key.replace(":", "/"):
                "http://publications.europa.eu/resource/authority/country/" + code for key, code in table.items()}
    assert got == expected
    assert got["https://w3id.org/ptce-kg/id/departement/974"].endswith("/country/REU")


ESSGLOBAL = "http://purl.org/essglobal/standard/"
SKOS = "http://www.w3.org/2004/02/skos/core#"


def _csv(name: str) -> list[dict]:
    with open(HERE / name, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_legal_forms_and_ess_statuses_link_to_the_essglobal_terms_of_the_mapping(store):
    """Every row of essglobal-matches.csv is one link of the graph and every ESSGLOBAL link is a row; its target
    is a term of the published SKOS files (essglobal-terms.csv), its subject a concept of our code lists.
    Expected links read from the CSV with csv, not through the mapping."""
    terms = {row["iri"]: row["label_en"] for row in _csv("essglobal-terms.csv")}
    matches = _csv("essglobal-matches.csv")
    expected = {("https://w3id.org/ptce-kg/code/" + row["subject"], SKOS + row["match"], row["target"]) for row in matches}
    rows = select(store, f"""SELECT ?s ?p ?o WHERE {{ GRAPH <{LINKS}> {{ ?s ?p ?o }}
        FILTER(STRSTARTS(STR(?p), "{SKOS}") && STRSTARTS(STR(?o), "{ESSGLOBAL}")) }}""")
    got = {(r["s"], r["p"], r["o"]) for r in rows}
    assert got == expected and len(got) == len(matches) == 22
    assert all(o in terms for _, _, o in got)
    assert terms["http://purl.org/essglobal/standard/legal-form/L2"] == "Cooperative"
    assert ("https://w3id.org/ptce-kg/code/legal-form/scop", SKOS + "closeMatch",
            "http://purl.org/essglobal/standard/organisational-structure/OS60") in got  # Workers co-operative
    assert all(row["reason"].strip() for row in matches)
    concepts = {r["c"] for r in select(store, f"""SELECT ?c WHERE {{ ?c a <{SKOS}Concept> ; <{SKOS}inScheme> ?scheme
        FILTER(?scheme IN (<https://w3id.org/ptce-kg/code/legal-form>, <https://w3id.org/ptce-kg/code/ess-status>)) }}""")}
    assert {s for s, _, _ in got} <= concepts


def test_no_link_to_insee_categories_juridiques_whose_iri_form_is_not_settled(store):
    """INSEE's catégories juridiques have several IRI forms in INSEE's own code: none is made (see the mapping)."""
    rows = select(store, f"""SELECT ?o WHERE {{ GRAPH <{LINKS}> {{ ?s ?p ?o }} FILTER(STRSTARTS(STR(?o), "http://id.insee.fr/")) }}""")
    assert rows == []
