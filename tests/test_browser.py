"""Pages in a real browser (headless Debian Chromium driven by Playwright): content, charts, no error,
no request leaving the machine. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from ptce_kg import queries

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, embedded_server):
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.errors, page.outside = [], []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: page.outside.append(r.url)
            if urlparse(r.url).hostname not in ("127.0.0.1", "localhost") and not r.url.startswith("data:") else None)
    yield page
    assert page.errors == [], page.errors
    assert page.outside == [], page.outside
    context.close()


def shot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_home_shows_live_counts_and_ways_in(page, embedded_server):
    page.goto(embedded_server + "/")
    assert page.locator("h1").inner_text().startswith("Les PTCE")
    # live counts: each graph's triples as the SPARQL endpoint counts them, and their total
    answer = httpx.post(embedded_server + "/sparql", data={"query": "SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"},
                        headers={"Accept": "application/sparql-results+json"}).json()["results"]["bindings"]
    counted = {b["g"]["value"]: int(b["n"]["value"]) for b in answer}
    shown = {row.locator("code").inner_text(): int(row.locator("td.n").inner_text().replace("\u202f", "").replace(" ", ""))
             for row in page.locator("main table tbody tr").all()}
    assert shown and all(counted[g] == n for g, n in shown.items()), (shown, counted)
    assert f"{sum(shown.values()):,}".replace(",", " ") in page.locator("main").inner_text()
    for link in ("/search", "/stats", "/eligibility", "/sparql", "/catalog", "/dumps/"):
        assert page.locator(f'a[href="{link}"]').count() >= 1
    shot(page, "home")


def test_search_finds_a_ptce_by_commune(page, embedded_server):
    page.goto(embedded_server + "/")
    page.fill("#site-search", "Lons-le-Saunier")
    page.press("#site-search", "Enter")
    page.wait_for_selector("#results")
    assert "Clus'Ter Jura" in page.locator("#results").inner_text()
    page.click("text=Clus'Ter Jura")
    page.wait_for_selector("#article-9")
    assert "Juratri" in page.locator("#members").inner_text()
    assert "regroupement sur un même territoire" in page.locator("#article-9").inner_text()
    shot(page, "ptce-cluster-jura")


def test_map_shows_a_known_ptce_and_filters_by_region(page, embedded_server):
    page.goto(embedded_server + "/map")
    page.wait_for_selector("#map[data-ready]")
    placed = httpx.get(embedded_server + "/map/ptce.geojson").json()["features"]
    assert page.locator("path.ptce-marker").count() == len(placed) >= 45
    assert page.locator("#ptce-count").inner_text() == str(len(placed))
    # markers are live: a tooltip names the PTCE (the last one drawn is on top of any that share its place)
    page.locator("path.ptce-marker").last.hover()
    assert page.locator(".leaflet-tooltip").inner_text() in {f["properties"]["label"] for f in placed}
    page.select_option("#filter-region", "27")  # Bourgogne-Franche-Comté
    in_region = [f for f in placed if "27" in f["properties"]["regions"]]
    assert page.locator("path.ptce-marker").count() == len(in_region) > 0
    assert "Clus'Ter Jura" in page.locator("#ptce-list li:not([hidden])").all_inner_texts()
    assert "IGN ADMIN EXPRESS" in page.locator(".leaflet-control-attribution").inner_text()
    shot(page, "map")


def test_ptce_page_places_it_on_a_map(page, embedded_server):
    page.goto(embedded_server + "/id/ptce/cluster-jura")
    page.wait_for_selector("#map[data-ready]")
    assert page.locator("path.ptce-marker").count() >= 45
    page.locator("path.ptce-marker[fill='#ce0500']").hover()  # this PTCE, in red
    assert page.locator(".leaflet-tooltip").inner_text() == "Clus'Ter Jura"
    shot(page, "ptce-cluster-jura-map")


def test_french_first_with_an_english_switch_that_sticks(page, embedded_server):
    page.goto(embedded_server + "/")
    assert page.locator("html").get_attribute("lang") == "fr"
    page.click("#lang-switch")
    page.wait_for_selector("html[lang=en]")
    assert page.locator("h1").inner_text() == "PTCE as linked open data"
    page.click("nav >> text=Map")  # the choice holds on the next page
    page.wait_for_selector("#map[data-ready]")
    assert page.locator("h1").inner_text() == "Map of PTCE" and page.locator("html").get_attribute("lang") == "en"
    assert page.locator("label[for=filter-region]").inner_text() == "Région"
    shot(page, "map-en")
    page.click("#lang-switch")
    page.wait_for_selector("html[lang=fr]")
    assert page.locator("h1").inner_text() == "Carte des PTCE"


@pytest.mark.parametrize("path", ["/", "/map", "/stats", "/coverage", "/search?q=Lons", "/eligibility",
                                  "/id/ptce/cluster-jura"])
def test_accessibility_basics(page, embedded_server, path):
    """RGAA basics: page language, a title, one h1, a skip link to the content, every form field labelled,
    every image described, keyboard focus reaching the main navigation."""
    page.goto(embedded_server + path)
    assert page.locator("html").get_attribute("lang") in ("fr", "en") and page.title()
    assert page.locator("h1").count() == 1
    assert page.locator(".fr-skiplinks a[href='#content']").count() == 1 and page.locator("#content").count() == 1
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('title'))
        .map(e => e.id || e.name)""")
    assert unlabelled == []
    assert page.evaluate("() => [...document.querySelectorAll('img, svg[role=img]')].filter(e => "
                         "!(e.getAttribute('alt') !== null || e.getAttribute('aria-label'))).length") == 0
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('.fr-skiplinks') !== null")


def test_chart_values_equal_the_sparql_answer(page, embedded_server):
    page.goto(embedded_server + "/stats")
    chart = page.locator('figure[data-query="ptce-per-region"]')
    shown = {g.get_attribute("data-label"): float(g.get_attribute("data-value")) for g in chart.locator("g.bar").all()}
    answer = httpx.post(embedded_server + "/sparql", data={"query": queries.find("ptce-per-region").text},
                        headers={"Accept": "application/sparql-results+json"}).json()
    expected = {b["name"]["value"]: float(b["ptce_count"]["value"]) for b in answer["results"]["bindings"]}
    assert shown == expected and len(shown) >= 10
    href = chart.locator("figcaption a").get_attribute("href")
    assert href.startswith("/sparql?") and "ptce-per-region" not in href  # the query text itself, one click away
    shot(page, "stats")


def test_a_statement_source_opens_without_script(page, embedded_server):
    """The PTCE page's figures: each statement's source in a <details> that opens with no script of ours."""
    page.goto(embedded_server + "/id/ptce/cluster-jura")
    item = page.locator("#statement-member-count-1")
    passage = item.locator("blockquote.passage")
    assert not passage.is_visible()
    item.locator("summary").click()
    assert passage.is_visible()
    assert passage.inner_text() == "Le PTCE implique 40 partenaires, dont 25 entreprises classiques et 15 de l'ESS"
    shot(page, "ptce-statement-source")


def test_eligibility_form_in_the_browser(page, embedded_server):
    page.goto(embedded_server + "/eligibility")
    page.fill("#name", "Pôle de test")
    page.fill("#perimeter", "commune:39300")
    page.select_option("#grouping_kind", "development-agency")
    page.fill("input[name=m0_name]", "Juratri")
    page.select_option("select[name=m0_role]", "ess-enterprise")
    page.click("#check")
    page.wait_for_url("**/eligibility/form")
    assert "Non éligible" in page.locator("main").inner_text()
    shot(page, "eligibility-report")


def test_sparql_editor_loads_locally_with_examples(page, embedded_server):
    page.goto(embedded_server + "/sparql", wait_until="networkidle")
    page.wait_for_selector(".yasqe")
    assert page.locator("#examples li").count() == len(queries.all_queries())
    shot(page, "sparql")


TWO_CANDIDATES = """@prefix ptce: <https://w3id.org/ptce-kg/def#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<https://w3id.org/ptce-kg/id/candidate/pole-a> a ptce:PTCE ; rdfs:label "Pôle des Quatre-Chênes"@fr .
<https://w3id.org/ptce-kg/id/candidate/pole-b> a ptce:PTCE ; rdfs:label "Pôle Cœur de Bièvre"@fr ;
    ptce:perimeter <https://w3id.org/ptce-kg/id/commune/39300> .
"""


def _pdf_pages(page, tmp_path, name) -> list[str]:
    from pypdf import PdfReader

    path = tmp_path / f"{name}.pdf"
    page.emulate_media(media="print")
    page.pdf(path=str(path), format="A4", print_background=False)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, ARTIFACTS / f"{name}.pdf")
    return [p.extract_text() for p in PdfReader(str(path)).pages]


def test_a_report_prints_to_pdf_one_page_per_candidate_with_the_texts_quoted(page, embedded_server, tmp_path):
    """The report an instructor files: printed by Chromium, read back from the PDF with pypdf."""
    answer = httpx.post(embedded_server + "/eligibility", params={"rules": "decret-2015-431", "as_of": "2016-01-14"},
                        content=TWO_CANDIDATES.encode("utf-8"),
                        headers={"Content-Type": "text/turtle", "Accept": "text/html"}, timeout=60)
    assert answer.status_code == 200, answer.text
    # Serve that answer at a URL of the server, so the page loads the site's own stylesheets as the report would.
    url = embedded_server + "/eligibility/printed-report"
    page.route(url, lambda route: route.fulfill(status=200, content_type="text/html; charset=utf-8",
                                                 body=answer.text))
    page.goto(url)
    pages = _pdf_pages(page, tmp_path, "eligibility-report-decret")
    text = "\n".join(pages)
    for expected in ("Pôle des Quatre-Chênes", "Pôle Cœur de Bièvre", "1° Personne morale de droit privé",
                     "C'est une personne morale de droit privé", "au sens de l'article 1er de la loi du 31 juillet 2014",
                     "Son projet n'a pas déjà bénéficié d'un soutien de l'Etat", "À fournir pour conclure",
                     "meets_call_specifications", "2016-01-14", "2015-04-18"):
        assert expected in " ".join(text.split()), expected
    # One page per candidate: the second starts on a page of its own, and the site's menu is not printed.
    first = next(i for i, p in enumerate(pages) if "Pôle Cœur de Bièvre" in p)
    assert first > 0 and not any("Pôle des Quatre-Chênes" in p for p in pages[first:])
    assert "Menu principal" not in text and "Vérifier un autre candidat" not in text
    # Article 9's quote, with its « œ », from a PTCE of the graph (a GET report, as `chromium --print-to-pdf` reads).
    page.goto(embedded_server + "/eligibility/cluster-jura")
    text = " ".join(" ".join(_pdf_pages(page, tmp_path, "eligibility-report-article-9")).split())
    assert "pour mettre en œuvre une stratégie commune et continue" in text
    assert "Sur un même territoire" in text
