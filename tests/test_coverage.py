"""What is known and what is not: the /coverage page and the home page state the coverage queries' figures
(queries/coverage.rq, queries/coverage-per-ptce.rq), in French and in English; a PTCE page shows where each
number statement comes from, readable without JavaScript."""

from __future__ import annotations

import csv
import html
import re
from pathlib import Path

import httpx
import pytest

from ptce_kg import queries

with open(Path(__file__).resolve().parents[1] / "ingest" / "registry" / "ptce.csv", newline="", encoding="utf-8") as _h:
    PTCE_TOTAL = sum(1 for _ in csv.DictReader(_h))


def answer(server, name: str) -> list[dict]:
    response = httpx.post(server + "/sparql", data={"query": queries.find(name).text},
                          headers={"Accept": "application/sparql-results+json"}, timeout=60)
    assert response.status_code == 200, response.text
    return [{k: v["value"] for k, v in b.items()} for b in response.json()["results"]["bindings"]]


def page(server, path: str, lang: str) -> str:
    response = httpx.get(server + path, params={"lang": lang}, headers={"Accept": "text/html"}, timeout=60)
    assert response.status_code == 200 and f'<html lang="{lang}"' in response.text
    return response.text


def shares(text: str) -> dict:
    """The shares a page states (#coverage-shares): known counts per fact, the PTCE total, named and published."""
    block = re.search(r'id="coverage-shares">(.*?)</(?:ul|p)>', text, re.S).group(1)
    known = dict(re.findall(r'data-fact="(\w+)"><strong data-known="(\d+)">\2</strong>', block))
    totals = set(re.findall(r'data-total="(\d+)">(\d+)<', block))
    named = re.search(r'data-named="(\d+)">(\d+)<', block)
    published = re.search(r'data-published="(\d+)">(\d+)<', block)
    assert len(totals) == 1 and named[1] == named[2] and published[1] == published[2]
    return {"known": {k: int(v) for k, v in known.items()}, "total": int(totals.pop()[1]),
            "named": int(named[1]), "published": int(published[1])}


def expected_shares(server) -> dict:
    ptces = answer(server, "coverage-per-ptce")
    counted = [r for r in answer(server, "coverage") if r["in_total"] == "true"]
    return {"known": {k: sum(r[k] == "true" for r in ptces) for k in ("territory", "carrier", "members", "awards")},
            "total": len(ptces), "named": sum(int(r["named"]) for r in counted),
            "published": sum(int(r["published"]) for r in counted)}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_coverage_page_states_the_queries_figures(server, lang):
    text = page(server, "/coverage", lang)
    expected = expected_shares(server)
    assert shares(text) == expected and expected["total"] == PTCE_TOTAL and expected["published"] > expected["named"] > 0
    # the per-programme table is the query's answer, row for row
    programmes = answer(server, "coverage")
    shown = re.findall(r'<tr data-programme="([^"]+)" data-published="(\d*)" data-named="(\d+)" data-in-total="(\w+)">',
                       text)
    assert shown == [(r["code"], r.get("published", ""), r["named"], r["in_total"]) for r in programmes]
    # the per-PTCE table: every PTCE with its four facts
    facts = {}
    for ptce, cells in re.findall(r'<tr data-ptce="([^"]+)">(.*?)</tr>', text, re.S):
        facts[ptce] = dict(re.findall(r'data-fact="(\w+)" data-known="(\w+)"', cells))
    assert facts == {r["ptce"].rsplit("/", 1)[1]: {k: r[k] for k in ("territory", "carrier", "members", "awards")}
                     for r in answer(server, "coverage-per-ptce")}
    # each table's query one click away: the query text itself
    for name in ("coverage", "coverage-per-ptce"):
        section = re.search(rf'data-query="{name}">(.*?)</section>', text, re.S).group(1)
        href = html.unescape(re.search(r'href="(/sparql\?[^"]+)"', section).group(1))
        result = httpx.get(server + href, timeout=60)
        assert result.status_code == 200 and result.text.count("\n") == len(answer(server, name)) + 1
    heading = {"fr": "Ce qui est connu et ce qui ne l&#39;est pas", "en": "What is known and what is not"}[lang]
    assert f"<h1>{heading}</h1>" in text
    other = {"fr": "PTCE have a known territory", "en": "ont un territoire connu"}[lang]
    assert other not in text


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_home_page_states_the_coverage_shares(server, lang):
    text = page(server, "/", lang)
    assert shares(text) == expected_shares(server)
    assert 'href="/coverage"' in text
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text))
    assert re.search({"fr": rf"\d+ PTCE sur {PTCE_TOTAL} ont un territoire connu",
                      "en": rf"\d+ of {PTCE_TOTAL} PTCE have a known territory"}[lang],
                     words)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_ptce_page_shows_where_each_statement_comes_from(server, lang):
    text = html.unescape(page(server, "/doc/id/ptce/cluster-jura", lang))
    passage = "Le PTCE implique 40 partenaires, dont 25 entreprises classiques et 15 de l'ESS"
    items = dict(re.findall(r'<li id="(statement-[^"]*-count-1)"[^>]*data-value="(\d+)">', text))
    assert items == {"statement-member-count-1": "40", "statement-ess-member-count-1": "15",
                     "statement-other-enterprise-member-count-1": "25"}
    for anchor in items:
        item = re.search(rf'<li id="{anchor}".*?</li>', text, re.S).group(0)
        source = re.search(r"<details class=\"source\">(.*?)</details>", item, re.S).group(1)  # no script needed
        assert f'<blockquote class="passage" lang="fr"><p>{passage}</p></blockquote>' in source
        assert 'href="/id/document/edd-ptce-leviers"' in source and "Lons le Saunier" in source  # document, locator
    assert "<strong>40</strong>" in text
    assert {"fr": "nombre de membres déclaré</a>", "en": "declared number of members</a>"}[lang] in text
    # the direct triple of the "All properties" table points to its statement, its source in the title
    note = re.search(r'<sup><a href="#statement-member-count-1" class="statement-note" title="([^"]*)">\[\d+\]</a></sup>',
                     text)
    assert note and passage in note.group(1)
    assert {"fr": "<h2>Faits et leurs sources</h2>", "en": "<h2>Facts and their sources</h2>"}[lang] in text
    # an item too: the territory links to its commune, with the passage that places the PTCE there
    item = re.search(r'<li id="statement-territory-1".*?</li>', text, re.S).group(0)
    assert 'href="/id/commune/39300"' in item and "Lons-le-Saunier" in item
    assert "dynamique de valorisation des déchets autour de Lons le Saunier" in item
    territory = re.search(r'<sup><a href="#statement-territory-1" class="statement-note" title="([^"]*)">', text)
    assert territory and "autour de Lons le Saunier" in territory.group(1)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_ptce_page_shows_the_source_of_each_member_and_award(server, lang):
    text = html.unescape(page(server, "/doc/id/ptce/cluster-jura", lang))
    members = re.search(r'<section id="members">(.*?)</section>', text, re.S).group(1)
    juratri = re.search(r"<tr><td><a href=\"/id/organisation/juratri\">.*?</tr>", members, re.S).group(0)
    assert '<blockquote class="passage" lang="fr"><p>Juratri porte aujourd\'hui le PTCE Clus\'Ter Jura.</p>' in juratri
    assert 'href="/id/document/edd-ptce-leviers"' in juratri
    text = html.unescape(page(server, "/doc/id/ptce/turfu-productions", lang))
    awards = re.search(r'<section id="awards">(.*?)</section>', text, re.S).group(1)
    item = [li for li in re.findall(r"<li>.*?</li>", awards, re.S) if "2021 – phase 2" in li][0]
    assert "TURFU PRODUCTIONS" in item and '<time class="retrieved">2026-12-01</time>' in item  # a page: our words, date
    assert 'href="https://chorum.fr/actualite/15-nouveaux-ptce-obtiennent-100-000-euros-de-soutien"' in item
    assert "<blockquote" not in item  # never quoted


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_coverage_page_states_the_published_counts_of_ptce(server, lang):
    text = html.unescape(page(server, "/coverage", lang))
    item = re.search(r'<li data-fact="population">(.*?)</li>', text, re.S).group(1)
    assert f'data-ptce="{PTCE_TOTAL}"' in item
    shown = re.findall(r'data-count="(\d+)" data-precision="([\w-]+)"', item)
    assert shown == [(r["count"], r["precision"]) for r in answer(server, "ptce-counts")] == [
        ("140", "exact"), ("160", "about")]
    assert {"fr": "environ 160", "en": "about 160"}[lang] in re.sub(r"<[^>]+>", "", item)
