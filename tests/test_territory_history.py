"""Territories through time on the real graph (issue 21, items 1 and 2): communes nouvelles of the Jura with their
former communes, a former commune's page naming the commune it merged into, a candidate's perimeter written with a
former code resolving to its successor in the eligibility check's territory context."""

from __future__ import annotations

import html
import re

import httpx
import rdflib

from conftest import select
from ptce_kg import candidate, eligibility
from ptce_kg.config import PROJECT_ROOT

ID = "https://w3id.org/ptce-kg/id/"
PTCE = "https://w3id.org/ptce-kg/def#"
HISTORY = "https://w3id.org/ptce-kg/graph/territory-history"


def nouvelles(store) -> dict[str, dict]:
    """The query's answer per commune nouvelle: its name, date or COG year, and its former communes."""
    out: dict[str, dict] = {}
    for r in select(store, (PROJECT_ROOT / "queries" / "communes-nouvelles-since-2016.rq").read_text(encoding="utf-8")):
        row = out.setdefault(r["code"], {"name": r["name"], "since": r.get("since"), "cog": r.get("sinceCog"),
                                         "formers": {}})
        row["formers"][r["former"][len(ID):]] = (r["formerName"], r.get("formerUntil"))
    return out


def test_communes_nouvelles_of_the_jura_since_2016_with_their_former_communes(store):
    found = nouvelles(store)
    # Coteaux du Lizon (39491): Saint-Lupicin and Cuttura on 1 January 2017 (INSEE's history); the chef-lieu's
    # code lives on, so Saint-Lupicin is a versioned IRI
    assert found["39491"]["name"] == "Coteaux du Lizon" and found["39491"]["since"] == "2017-01-01"
    assert found["39491"]["formers"] == {"commune/39186": ("Cuttura", "2017-01-01"),
                                         "commune/39491/until/2017-01-01": ("Saint-Lupicin", "2017-01-01")}
    # Val-Sonnette (39576): made of four communes on 1 January 2017, then Sainte-Agnès joined; that change is
    # seen only between the COG of 2024 and of 2025: a year, no date
    vs = found["39576"]
    assert vs["name"] == "Val-Sonnette" and vs["cog"] == "2025" and vs["since"] is None
    assert vs["formers"] == {
        "commune/39064": ("Bonnaud", "2017-01-01"), "commune/39264": ("Grusse", "2017-01-01"),
        "commune/39549": ("Vercia", "2017-01-01"), "commune/39576/until/2017-01-01": ("Vincelles", "2017-01-01"),
        "commune/39474": ("Sainte-Agnès", None), "commune/39576/until/cog-2025": ("Val-Sonnette", None)}
    assert all(code.startswith("39") for code in found)
    assert len(found) > 20  # the Jura made dozens of communes nouvelles in 2016-2019


def test_a_merger_known_to_the_year_only_never_gets_a_date(store):
    rows = select(store, f"""SELECT ?last ?without ?until {{ GRAPH <{HISTORY}> {{
        <{ID}commune/39474> <{PTCE}lastCog> ?last ; <{PTCE}firstCogWithout> ?without .
        OPTIONAL {{ <{ID}commune/39474> <{PTCE}validUntil> ?until }} }} }}""")
    assert rows == [{"last": "2024", "without": "2025", "until": None}]
    dated_after_2019 = select(store, f"""SELECT ?f {{ GRAPH <{HISTORY}> {{ ?f <{PTCE}validUntil> ?d }}
        FILTER(?d > "2019-01-01"^^<http://www.w3.org/2001/XMLSchema#date>) }} LIMIT 1""")
    assert dated_after_2019 == []  # INSEE's dated history stops at the COG of 2019


def test_former_communes_are_not_counted_as_communes(store):
    rows = select(store, f"SELECT (COUNT(?f) AS ?n) {{ ?f a <{PTCE}FormerCommune> , <{PTCE}Commune> }}")
    assert rows[0]["n"] == "0"


def test_the_page_of_a_former_commune_says_which_commune_it_merged_into(embedded_server):
    for lang, words in (("fr", "Ancienne commune, fusionnée dans"), ("en", "Former commune, merged into")):
        page = httpx.get(f"{embedded_server}/doc/id/commune/39549?lang={lang}", headers={"Accept": "text/html"})
        assert page.status_code == 200
        text = html.unescape(page.text)
        banner = re.search(r'<p class="merged-into">(.*?)</p>', text, re.S)
        assert banner and words in banner.group(1)
        assert re.search(r'href="[^"]*id/commune/39576"[^>]*>Val-Sonnette</a>', banner.group(1))
    current = httpx.get(f"{embedded_server}/doc/id/commune/39576", headers={"Accept": "text/html"})
    assert current.status_code == 200 and 'class="merged-into"' not in current.text


def test_a_perimeter_written_with_a_former_code_resolves_to_its_successor(store):
    form = {"id": "ancien-code", "name": "Pôle au code d'avant 2017", "perimeter": ["commune:39549"]}
    graph = candidate.from_form(form, store)
    node = f"{ID}candidate/ancien-code"
    as_written = {str(o) for o in graph.objects(rdflib.URIRef(node), rdflib.URIRef(PTCE + "perimeter"))}
    assert as_written == {f"{ID}commune/39549"}  # the statement keeps the code as written
    context = eligibility.complete_from_store(graph, store)
    triples = {(str(s), str(p), str(o)) for s, p, o in context}
    assert (f"{ID}commune/39549", PTCE + "currentCommune", f"{ID}commune/39576") in triples
    assert (f"{ID}commune/39576", PTCE + "departement", f"{ID}departement/39") in triples
    assert any(s == f"{ID}commune/39576" and p == PTCE + "epci" for s, p, o in triples)
    messages = [f.message_en for c in eligibility.evaluate(context).candidates[0].criteria for f in c.findings]
    assert messages and not any("perimeter is not declared" in m for m in messages)


def test_former_epci_with_their_successors_from_the_yearly_lists(store):
    rows = select(store, f"""SELECT ?label ?last ?without ?next ?nextLabel {{
        <{ID}epci/200035459> a <{PTCE}FormerEPCI> ; <http://www.w3.org/2000/01/rdf-schema#label> ?label ;
            <{PTCE}lastCog> ?last ; <{PTCE}firstCogWithout> ?without ; <http://purl.org/dc/terms/isReplacedBy> ?next .
        ?next a <{PTCE}EPCI> ; <http://www.w3.org/2000/01/rdf-schema#label> ?nextLabel }}""")
    # the CA d'Agen, in the DGCL list of 2021 and not in that of 2022, whose communes are in a new SIREN
    assert rows == [{"label": "CA d'Agen", "last": "2021", "without": "2022", "next": f"{ID}epci/200096956",
                     "nextLabel": "CA Agglomération d'Agen"}]


def test_a_member_of_the_successor_commune_is_inside_a_perimeter_written_with_the_former_code(store):
    """Article 9 (2): a perimeter given as Vercia (39549, merged into Val-Sonnette, 39576) contains a member located
    in Val-Sonnette; one located elsewhere in the Jura is still outside."""
    def verdict(location: str) -> str:
        form = {"id": "ancien-code", "name": "Pôle au code d'avant 2017", "perimeter": ["commune:39549"],
                "members": [{"key": "m1", "name": "Atelier", "role": "ess-enterprise", "ess": True,
                             "location": location}]}
        context = eligibility.complete_from_store(candidate.from_form(form, store), store)
        (only,) = eligibility.evaluate(context).candidates
        return {c.criterion.identifier: c.verdict for c in only.criteria}["art9-2"]

    assert verdict("commune:39576") == "met"
    assert verdict("commune:39300") == "not-met"  # Lons-le-Saunier
