"""Full-text search (ptce_kg/search.py, api/search.py): the index built with the store, ranked pages with
facets and highlighting, autocomplete, and the search inside SPARQL on both back ends."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import httpx
import pytest

from ptce_kg import search

ID = "https://w3id.org/ptce-kg/id/"
REGISTRY = Path(__file__).resolve().parent.parent / "ingest" / "registry"


def found(base: str, q: str, **params) -> dict:
    response = httpx.get(base + "/search", params={"q": q, "format": "json", **params}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def ids(answer: dict) -> list[str]:
    return [r["id"][len(ID):] for r in answer["results"]]


# -- the index and the build ------------------------------------------------------------------------

def test_the_build_writes_the_index_of_the_published_build(built_store):
    from ptce_kg.store import StoreRoot

    root = StoreRoot(built_store)
    path = search.index_path(root, root.current_name())
    assert path.is_file()
    index = search.for_root(root)
    assert index.path == path
    counted = {t: n for t, n in index._all("SELECT type, COUNT(*) FROM entity GROUP BY type")}
    ptce_csv = (REGISTRY / "ptce.csv").read_text(encoding="utf-8").strip().splitlines()
    assert counted["ptce"] == len(ptce_csv) - 1
    assert (counted["region"], counted["departement"], counted["epci"]) == (18, 101, 1255)
    assert counted["commune"] >= 34875 and counted["naf"] > 1500


def test_an_update_gets_its_own_index_built_from_the_graph(own_root, built_store):
    """A build without an index (an authorised update) gets one from its graph on first use: never a
    second source of truth, and what the update wrote is found."""
    import shutil
    from ptce_kg.store import StoreRoot

    built = search.index_path(StoreRoot(built_store), own_root.current_name())
    search.index_path(own_root, own_root.current_name()).parent.mkdir(parents=True)
    shutil.copyfile(built, search.index_path(own_root, own_root.current_name()))  # the build's own index
    before = search.for_root(own_root)
    assert before.path.stem == own_root.current_name()
    assert not before.search("zorglubienne").hits
    own_root.apply_update('INSERT DATA { GRAPH <https://w3id.org/ptce-kg/graph/registry> { '
                          '<https://w3id.org/ptce-kg/id/ptce/zorglub> a <https://w3id.org/ptce-kg/def#PTCE> ; '
                          '<http://www.w3.org/2000/01/rdf-schema#label> "Coopérative Zorglubienne"@fr } }')
    after = search.for_root(own_root)
    assert after is not before and after.path.stem == own_root.current_name()
    assert [h.iri for h in after.search("zorglubienne").hits] == [ID + "ptce/zorglub"]


def test_an_index_of_another_version_is_built_again(own_root):
    path = search.index_path(own_root, own_root.current_name())
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")  # not an index of this version (here: not even a database)
    index = search.for_root(own_root)
    assert index.search("cluster jura").hits[0].iri == ID + "ptce/cluster-jura"


@pytest.fixture()
def own_root(built_store, tmp_path):
    """A private copy of the published build (a RocksDB checkpoint) without its index."""
    from ptce_kg.store import StoreRoot

    shared = StoreRoot(built_store)
    root = StoreRoot(tmp_path / "store")
    target = root.builds / shared.current_name()
    root.builds.mkdir(parents=True)
    shared.open_read().backup(str(target))
    root.publish(target)
    assert not search.index_path(root, target.name).exists()
    return root


def test_text_analysis_folds_accents_case_apostrophes_and_stems():
    assert search.analyse("Clus'Ter JURA") == search.analyse("clus’ter jura")
    assert "clust" in search.analyse("Clus'Ter")  # the joined form of a word with an apostrophe
    assert search.analyse("écossolies") == search.analyse("ECOSSOLIE")
    assert search.analyse("recycleries") == search.analyse("recyclerie")
    assert search.analyse("Lons-le-Saunier") == ["lon", "sauni"]  # hyphens split, stop words dropped


# -- the page -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("q, first", [("cluster jura", "ptce/cluster-jura"), ("Clus'ter Jura", "ptce/cluster-jura"),
                                      ("ecossolie", "ptce/ecossolies"), ("ÉCOSSOLIES", "ptce/ecossolies"),
                                      ("recycleries", "organisation/recyclerie-toucy")])
def test_names_as_people_type_them_rank_the_right_resource_first(embedded_server, q, first):
    assert ids(found(embedded_server, q))[0] == first


def test_lons_le_saunier_finds_the_commune_its_epci_and_the_ptce_there(embedded_server):
    got = ids(found(embedded_server, "lons le saunier"))
    assert got[0] == "commune/39300"
    assert "epci/200071116" in got  # CA ECLA, whose name does not say Lons-le-Saunier: found by its communes
    assert "ptce/cluster-jura" in got  # its perimeter is the commune


def test_identifiers_find_what_they_identify(embedded_server):
    assert ids(found(embedded_server, "213903008"))[:1] == ["commune/39300"]  # SIREN of the commune
    assert ids(found(embedded_server, "39300"))[0] == "commune/39300"  # INSEE code before postal codes
    assert "commune/39300" in ids(found(embedded_server, "39000"))  # its postal code
    assert ids(found(embedded_server, "38.32Z"))[0].endswith("naf/38.32Z")
    assert ids(found(embedded_server, "3832Z"))[0].endswith("naf/38.32Z")


def test_type_facets_count_and_filter(embedded_server):
    every = found(embedded_server, "jura")
    assert every["facets"]["departement"] == 1 and every["facets"]["ptce"] >= 1
    assert every["total"] == sum(every["facets"].values())
    only = found(embedded_server, "jura", type="ptce")
    assert only["results"] and {r["type"] for r in only["results"]} == {"ptce"}
    assert only["total"] == every["facets"]["ptce"]
    two = found(embedded_server, "jura", type=["ptce", "departement"])
    assert {r["type"] for r in two["results"]} == {"ptce", "departement"}


def test_the_html_page_ranks_highlights_and_filters_without_javascript(embedded_server):
    page = httpx.get(embedded_server + "/search", params={"q": "cluster jura"}).text
    results = page.split('id="results"', 1)[1].split("</ol>", 1)[0]
    first = re.search(r'<a href="([^"]+)">(.*?)</a>', results)
    assert first.group(1) == "/id/ptce/cluster-jura"
    assert first.group(2) == "<mark>Clus&#39;Ter</mark> <mark>Jura</mark>"
    # facets are a plain form: checkboxes named type with their counts, submitted by GET
    form = page.split('id="search-form"', 1)[1].split("</form>", 1)[0]
    assert 'name="type" value="ptce"' in form and "(1)" in form
    filtered = httpx.get(embedded_server + "/search", params={"q": "cluster jura", "type": "organisation"}).text
    assert "/id/ptce/cluster-jura" not in filtered.split('id="results"', 1)[1]
    assert 'value="organisation" checked' in filtered
    english = httpx.get(embedded_server + "/search", params={"q": "zzzqqq", "lang": "en"}).text
    assert "No result." in english


def test_html_is_escaped(embedded_server):
    page = httpx.get(embedded_server + "/search", params={"q": "<script>alert(1)</script>"}).text
    assert "<script>alert(1)" not in page


def test_suggest_completes_the_word_being_typed(embedded_server):
    answer = httpx.get(embedded_server + "/search/suggest", params={"q": "ecoss"}).json()
    assert answer["results"][0]["href"] == "/id/ptce/ecossolies"
    answer = httpx.get(embedded_server + "/search/suggest", params={"q": "lons le sau"}).json()
    assert answer["results"][0]["id"] == ID + "commune/39300"
    assert httpx.get(embedded_server + "/search/suggest", params={"q": "e"}).json()["results"] == []


# -- in SPARQL ------------------------------------------------------------------------------------------

SPARQL = """PREFIX search: <https://w3id.org/ptce-kg/search#>
PREFIX ptce: <https://w3id.org/ptce-kg/def#>
SELECT ?ptce ?score ?departement WHERE {
  SERVICE <https://w3id.org/ptce-kg/search> { ?ptce search:query "cluster jura" ; search:type "ptce" ;
                                              search:score ?score }
  ?ptce ptce:perimeter/ptce:departement ?departement .
}"""


def sparql(server: str, text: str) -> httpx.Response:
    return httpx.post(server + "/sparql", data={"query": text}, headers={"Accept": "application/sparql-results+json"},
                      timeout=60)


def rows(response: httpx.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    return [{k: v["value"] for k, v in b.items()} for b in response.json()["results"]["bindings"]]


def test_search_in_sparql_joins_with_the_graph(server):
    got = rows(sparql(server, SPARQL))
    assert [(r["ptce"], r["departement"]) for r in got] == [(ID + "ptce/cluster-jura", ID + "departement/39")]
    assert float(got[0]["score"]) > 0


def test_search_in_sparql_without_score_and_with_a_prefixed_service(server):
    text = """PREFIX pk: <https://w3id.org/ptce-kg/>
PREFIX search: <https://w3id.org/ptce-kg/search#>
SELECT ?c WHERE { SERVICE pk:search { ?c search:query "Lons-le-Saunier" ; search:type "commune" ; search:limit 1 } }"""
    assert rows(sparql(server, text)) == [{"c": ID + "commune/39300"}]
    nothing = text.replace("Lons-le-Saunier", "zzzqqqxx")
    assert rows(sparql(server, nothing)) == []


def test_an_unreadable_search_block_gets_400_and_other_services_stay_refused(embedded_server):
    bad = """SELECT * WHERE { SERVICE <https://w3id.org/ptce-kg/search> { ?x <urn:other> "a" } }"""
    response = sparql(embedded_server, bad)
    assert response.status_code == 400 and "search" in response.text
    other = """SELECT * WHERE { SERVICE <https://example.org/search> { ?x ?p ?o } }"""
    assert sparql(embedded_server, other).status_code == 403


def test_the_command_line_answers_search_blocks_too(built_store):
    import subprocess
    import sys

    from conftest import ROOT

    done = subprocess.run([sys.executable, "-m", "cli", "query", "--store", str(built_store), "--format", "csv",
                           "text-search-circular-economy-ptce"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split(",")[:3] == ["ptce", "name", "score"]
    assert lines[1].startswith(ID + "ptce/textile-circulaire-occitanie,")


def test_research_query_scic_by_region(server):
    from ptce_kg import queries

    got = rows(sparql(server, queries.find("text-search-scic-by-region").text))
    names = {o["id"] for o in csv.DictReader(open(REGISTRY / "organisations.csv", encoding="utf-8"))
             if re.search(r"\bscic\b", o["name"], re.I)}
    assert {r["organisation"][len(ID) + len("organisation/"):] for r in got} == names
    regions = {r["organisation"].rsplit("/", 1)[1]: r.get("region_name") for r in got}
    assert regions["scic-tenk"] == "Auvergne-Rhône-Alpes"  # located in Lussas (Ardèche)
    assert regions["scic-cite-phares"] == "Île-de-France"  # L'Île-Saint-Denis
    assert regions["scic-tetris"] == "Provence-Alpes-Côte d'Azur"  # located in an EPCI: its communes' région
    scores = [float(r["score"]) for r in got]
    assert scores == sorted(scores, reverse=True)


def test_research_query_circular_economy_ptce(server):
    from ptce_kg import queries

    got = rows(sparql(server, queries.find("text-search-circular-economy-ptce").text))
    first, second = got[0], got[1]
    assert (first["ptce"], first["regions"]) == (ID + "ptce/textile-circulaire-occitanie", "Occitanie")
    assert (second["ptce"], second["regions"]) == (ID + "ptce/peccs", "Auvergne-Rhône-Alpes")
    # every PTCE whose name or summary has both words (in any form) is there
    stated = {p["id"] for p in csv.DictReader(open(REGISTRY / "ptce.csv", encoding="utf-8"))
              if re.search(r"[ée]conomies?\b", " ".join((p["label"], p["alt_labels"], p["description"])), re.I)
              and re.search(r"circulaires?\b", " ".join((p["label"], p["alt_labels"], p["description"])), re.I)}
    assert stated and stated <= {r["ptce"].rsplit("/", 1)[1] for r in got}


# -- the header box in a browser ------------------------------------------------------------------------

def _chromium():
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="Debian's chromium is not installed (.ci/run installs it)")
@pytest.mark.parametrize("javascript", [True, False])
def test_header_box_suggests_with_javascript_and_searches_without(embedded_server, javascript):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(java_script_enabled=javascript)
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(embedded_server + "/")
            page.locator("#site-search").press_sequentially("ecoss", delay=30)
            if javascript:  # the datalist fills with suggestions as one types
                page.wait_for_selector("#site-search-suggestions option", state="attached")  # no eval: CSP
                values = page.eval_on_selector_all("#site-search-suggestions option", "os => os.map(o => o.value)")
                assert values[0] == "Ecossolies"
            page.press("#site-search", "Enter")  # Enter still submits to /search, script or not
            page.wait_for_selector("#results")
            assert page.locator("#results li").first.locator("a").get_attribute("href") == "/id/ptce/ecossolies"
            assert errors == []
        finally:
            browser.close()
