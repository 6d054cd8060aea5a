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


# -- issue 21, item 2: the territories in force on the check's date; item 1: EPCI membership per yearly list ------

def dated_check(store, perimeter: list[str], as_of: str) -> dict:
    import datetime as dt

    from ptce_kg import checking

    form = {"id": "date-du-dossier", "name": "Pôle daté", "perimeter": perimeter}
    report, _ = checking.check_form(store, form, "article-9", None, dt.date.fromisoformat(as_of))
    body = report.as_dict()
    assert body["as_of"] == as_of
    return {t["code"]: t for t in body.get("territories", [])}


def test_a_commune_nouvelle_of_2019_checked_before_it_existed_names_the_communes_of_that_date(store):
    # Beaufort-Orbagna (39043): Beaufort and Orbagna merged on 1 January 2019 (INSEE's history)
    before = dated_check(store, ["commune:39043"], "2018-06-01")["39043"]
    assert before["status"] == "not-yet" and before["when"] == {"date": "2019-01-01"}
    assert {(t["iri"][len(ID):], t["label"]) for t in before["in_force_on_date"]} == {
        ("commune/39043/until/2019-01-01", "Beaufort"), ("commune/39395", "Orbagna")}
    assert "2018-06-01" in before["en"] and "Orbagna (39395)" in before["fr"]
    assert dated_check(store, ["commune:39043"], "2024-06-01") == {}  # in force: nothing to say


def test_a_commune_merged_before_the_check_date_resolves_to_its_successor_then_and_now(store):
    assert dated_check(store, ["commune:39395"], "2018-06-01") == {}  # Orbagna still existed
    after = dated_check(store, ["commune:39395"], "2024-06-01")["39395"]
    assert after["status"] == "ended" and after["when"] == {"date": "2019-01-01"}
    assert [t["iri"] for t in after["in_force_on_date"]] == [ID + "commune/39043"]
    assert [t["iri"] for t in after["current"]] == [ID + "commune/39043"]
    # Vercia (39549) went into Val-Sonnette in 2017; in 2022 that was the Val-Sonnette before Sainte-Agnès joined
    vercia = dated_check(store, ["commune:39549"], "2022-03-01")["39549"]
    assert vercia["status"] == "ended"
    assert [t["iri"] for t in vercia["in_force_on_date"]] == [ID + "commune/39576/until/cog-2025"]
    assert [t["iri"] for t in vercia["current"]] == [ID + "commune/39576"]
    # Sainte-Agnès (39474): in the COG of 2024, not in that of 2025: years only, never a date
    agnes = dated_check(store, ["commune:39474"], "2025-02-01")["39474"]
    assert agnes["status"] == "ended" and agnes["when"] == {"cog_last": "2024", "cog_first_without": "2025"}
    assert dated_check(store, ["commune:39474"], "2024-02-01") == {}


def test_an_epci_created_after_the_check_date_and_the_years_no_list_holds(store):
    # the Métropole européenne de Lille's SIREN 200093201 is first listed in 2021; its communes were in the former
    # MEL (245900410) and the CC de la Haute Deûle (245901061) in the 2020 list
    mel = dated_check(store, ["epci:200093201"], "2020-06-01")["200093201"]
    assert mel["status"] == "not-yet" and mel["when"] == {"cog_first": "2021"}
    assert {t["iri"] for t in mel["in_force_on_date"]} == {ID + "epci/245900410", ID + "epci/245901061"}
    assert dated_check(store, ["epci:200093201"], "2023-06-01") == {}
    ecla = dated_check(store, ["epci:200071116"], "2016-06-01")["200071116"]  # before the first list: not known
    assert ecla["status"] == "not-known" and "2020" in ecla["en"]


def test_the_check_report_of_the_command_line_and_the_api_carry_the_territories_of_the_date(store, embedded_server):
    form = {"id": "date-du-dossier", "name": "Pôle daté", "perimeter": ["commune:39043"]}
    answer = httpx.post(f"{embedded_server}/eligibility?as_of=2018-06-01", json=form, timeout=60)
    assert answer.status_code == 200, answer.text
    (item,) = answer.json()["territories"]
    assert item["code"] == "39043" and item["status"] == "not-yet"
    assert "territories" not in httpx.post(f"{embedded_server}/eligibility?as_of=2024-06-01", json=form,
                                           timeout=60).json()
    page = httpx.post(f"{embedded_server}/eligibility?as_of=2018-06-01", json=form, timeout=60,
                      headers={"Accept": "text/html"})
    assert page.status_code == 200 and "Territoires à la date du dossier" in page.text
    assert 'class="territory-not-yet"' in page.text
    assert "pas encore sous cette forme le 2018-06-01" in page.text
    schema = httpx.get(f"{embedded_server}/openapi.json", timeout=30).json()["components"]["schemas"]
    assert "territories" in schema["EligibilityReport"]["properties"]
    assert set(schema["TerritoryOnDate"]["properties"]["status"]["enum"]) == {"ended", "not-yet", "not-known"}


def epci_year(store, siren: str, year: int) -> list[dict]:
    text = (PROJECT_ROOT / "queries" / "ptce-in-an-epci-by-year.rq").read_text(encoding="utf-8")
    example = "(<https://w3id.org/ptce-kg/id/epci/245900410> 2020)"
    assert example in text
    return select(store, text.replace(example, f"(<{ID}epci/{siren}> {year})"))


def test_which_ptce_were_in_an_epci_a_given_year(store):
    # Lille Métropole Solidaire's perimeter is the MEL of today (200093201, 95 communes); 90 of them were in the
    # former MEL (245900410) in the 2020 list, which no later list holds
    def ptce(rows):
        return {r["ptce"][len(ID):]: int(r["communes"]) for r in rows if r.get("ptce")}

    assert ptce(epci_year(store, "245900410", 2020)) == {"ptce/lille-metropole-solidaire": 90}
    assert ptce(epci_year(store, "245900410", 2021)) == {}
    assert ptce(epci_year(store, "200093201", 2021)).get("ptce/lille-metropole-solidaire") == 95
    # Clus'Ter Jura, perimeter Lons-le-Saunier (39300), in ECLA (200071116) every year listed
    assert ptce(epci_year(store, "200071116", 2023)).get("ptce/cluster-jura") == 1
    # 2016: no pinned version holds a list of that year (the query's description says so): no answer, not a guess
    assert epci_year(store, "200071116", 2016) == [] and epci_year(store, "245900410", 2016) == []
    members = select(store, f"""SELECT (COUNT(?m) AS ?n) {{ ?m a <{PTCE}EPCIMembership> ;
        <{PTCE}memberCommune> <{ID}commune/39300> ; <{PTCE}ofEPCI> <{ID}epci/200071116> }}""")
    assert members == [{"n": "1"}]  # one run of years, 2020 to today
