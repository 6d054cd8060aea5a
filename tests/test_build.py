"""The full build from the pinned package and the curated tables: what a newcomer gets."""

from __future__ import annotations

import json

from conftest import select
from ptce_kg import queries
from ptce_kg.checks import CHECKS_DIR
from ptce_kg.config import settings


def _package(name: str) -> list[dict]:
    return json.loads((settings().decoupage_dir / "data" / name).read_text(encoding="utf-8"))


def test_territory_counts_match_the_pinned_package(store):
    communes = _package("communes.json")
    expected = {
        "Region": sum(1 for r in _package("regions.json") if r.get("zone") != "com"),
        "Departement": sum(1 for d in _package("departements.json") if d.get("zone") != "com"),
        "EPCI": len(_package("epci.json")),
        "EPT": len(_package("ept.json")),
        "Commune": sum(1 for c in communes if c["type"] == "commune-actuelle" and c.get("zone") != "com"),
        "CommuneOutreMer": sum(1 for c in communes if c["type"] == "commune-actuelle" and c.get("zone") == "com"),
        "CommuneDeleguee": sum(1 for c in communes if c["type"] == "commune-deleguee"),
        "CommuneAssociee": sum(1 for c in communes if c["type"] == "commune-associee"),
        "ArrondissementMunicipal": sum(1 for c in communes if c["type"] == "arrondissement-municipal"),
        "CollectiviteOutreMer": sum(1 for r in _package("regions.json") if r.get("zone") == "com"),
    }
    rows = select(store, queries.find("territory-counts").text)
    got = {r["level"].rsplit("#", 1)[1]: int(r["count"]) for r in rows}
    assert got == expected
    assert got["Region"] == 18 and got["Departement"] == 101 and got["EPCI"] == 1255
    assert 34_000 < got["Commune"] < 36_000


def test_every_commune_reaches_its_region(store):
    check = (CHECKS_DIR / "commune-without-region.rq").read_text(encoding="utf-8")
    assert bool(store.query(check)) is False
    rows = select(store, """
        PREFIX ptce: <https://w3id.org/ptce-kg/def#>
        SELECT (COUNT(DISTINCT ?c) AS ?n) { ?c a ptce:Commune ; ptce:departement/ptce:region ?r . ?r a ptce:Region }""")
    assert int(rows[0]["n"]) == sum(1 for c in _package("communes.json")
                                    if c["type"] == "commune-actuelle" and c.get("zone") != "com")


def test_epci_membership_and_nature(store):
    rows = select(store, """
        PREFIX ptce: <https://w3id.org/ptce-kg/def#>
        SELECT ?nature (COUNT(?c) AS ?members) {
          <https://w3id.org/ptce-kg/id/epci/200046977> ptce:epciNature ?nature .
          ?c ptce:epci <https://w3id.org/ptce-kg/id/epci/200046977> } GROUP BY ?nature""")
    lyon = next(e for e in _package("epci.json") if e["code"] == "200046977")
    assert rows == [{"nature": "https://w3id.org/ptce-kg/code/epci-nature/MET69", "members": str(len(lyon["membres"]))}]


def test_at_least_50_ptce_with_label_perimeter_and_source(store):
    rows = select(store, """
        PREFIX ptce: <https://w3id.org/ptce-kg/def#>
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        PREFIX dct:  <http://purl.org/dc/terms/>
        SELECT (COUNT(DISTINCT ?p) AS ?n) {
          ?p a ptce:PTCE ; rdfs:label ?l ; dct:source ?doc ; ptce:perimeter ?t .
          ?t a ?kind . ?kind rdfs:subClassOf* ptce:Territory .
          ?doc dct:title ?title }""")
    assert int(rows[0]["n"]) >= 50


def test_programme_figures_are_queryable(store):
    rows = {r["code"]: r for r in select(store, queries.find("programme-figures").text)}
    assert (rows["aap-2013"]["applications"], rows["aap-2013"]["admissible"], rows["aap-2013"]["laureates"],
            rows["aap-2013"]["budget_eur"]) == ("180", "130", "23", "3000000")
    assert (rows["ami-2021-phase-1"]["applications"], rows["ami-2021-phase-1"]["laureates"]) == ("135", "107")
    assert (rows["ami-2021-phase-2"]["invited"], rows["ami-2021-phase-2"]["laureates"],
            rows["ami-2021-phase-2"]["per_laureate_eur"]) == ("40", "15", "100000")
    assert rows["ami-phase-1"]["laureates"] == "147" and rows["ami-phase-2"]["laureates"] == "31"
    for scheme in ("acte-hauts-de-france", "ami-initiatives-territoriales-grand-est", "oise-soutien-ptce",
                   "occitanie-groupements-cooperation", "nouvelle-aquitaine-cooperation-territoriale",
                   "pays-de-la-loire-ptce"):
        assert scheme in rows
    funders = select(store, """
        PREFIX ptce: <https://w3id.org/ptce-kg/def#>
        SELECT ?f { <https://w3id.org/ptce-kg/id/programme/aap-2013> ptce:funder ?f }""")
    assert "https://w3id.org/ptce-kg/id/organisation/caisse-des-depots" in {r["f"] for r in funders}
    assert len(funders) == 5


def test_metadata_graph_describes_each_source(store):
    rows = select(store, """
        PREFIX prov: <http://www.w3.org/ns/prov#>
        PREFIX dct: <http://purl.org/dc/terms/>
        PREFIX void: <http://rdfs.org/ns/void#>
        SELECT ?g ?licence ?n { GRAPH <https://w3id.org/ptce-kg/graph/meta> {
          ?g prov:wasDerivedFrom ?src ; dct:license ?licence ; void:triples ?n ; prov:wasGeneratedBy ?build } }""")
    graphs = {r["g"].rsplit("/", 1)[1]: int(r["n"]) for r in rows}
    assert set(graphs) >= {"territories", "programmes", "registry"}
    assert graphs["territories"] > 500_000
