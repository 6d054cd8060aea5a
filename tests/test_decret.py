"""Décret n° 2015-431 (rule set decret-2015-431): the six conditions of its article 3, with three-valued verdicts
citing the article's ELI and quoting its text; the version of each rule set and `--as-of`; CLI and API agree."""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path

import httpx
import pytest

from conftest import form_variant

import cli
from ptce_kg import candidate, eligibility
from ptce_kg.errors import InputError

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "candidates"
ELIGIBLE = json.loads((FIXTURES / "eligible.json").read_text(encoding="utf-8"))
PUBLIC_CARRIER = FIXTURES / "public-carrier.json"
RULES = "decret-2015-431"
ELI = "https://www.legifrance.gouv.fr/eli/decret/2015/4/15/EINA1504832D/jo/article_3"
TEMPLATES = Path(__file__).resolve().parent.parent / "shapes" / "batch"


def check(form, store):
    """{criterion id: CriterionVerdict} and the report, for the décret's rule set."""
    graph = eligibility.complete_from_store(candidate.from_form(form, store), store)
    report = eligibility.evaluate(graph, ruleset=RULES)
    (only,) = report.candidates
    return {c.criterion.identifier: c for c in only.criteria}, report


def variant(**changes) -> dict:
    return form_variant(ELIGIBLE, **changes)


# Members whose legal personality is not stated: no legal form, no IRI of the graph.
UNSTATED = [
    {"key": "asso", "name": "Association d'insertion", "role": "ess-enterprise", "ess": True},
    {"key": "atelier", "name": "Atelier de réparation", "role": "other-enterprise", "ess": False},
    {"key": "lycee", "name": "Lycée professionnel", "role": "training-body"},
]


ALL = ["decret2015-1", "decret2015-2", "decret2015-3", "decret2015-4", "decret2015-5", "decret2015-6"]
# What an instructor adds to a file that article 9 does not ask: the check against the call's specifications (5°)
# and whether the project was already supported after a previous State call for projects (6°).
INSTRUCTED = {"meets_call_specifications": True, "previous_state_support": False}


def verdicts(got) -> dict:
    return {k: v.verdict for k, v in got.items()}


def test_the_rule_set_has_one_criterion_per_condition_of_article_3_citing_it():
    got = eligibility.criteria(RULES)
    assert [c.identifier for c in got] == ALL
    assert all(c.source == ELI and c.article_version == "2015-04-18" for c in got)
    assert "1° C'est une personne morale de droit privé" in got[0].legal_text
    assert "une entreprise dont les statuts ne relèvent pas de l'économie sociale et solidaire" in got[1].legal_text
    assert "une autre personne prévue à l'article 9 de la même loi" in got[1].legal_text
    assert got[2].legal_text.startswith("3° Sa stratégie de mutualisation")
    assert got[3].legal_text.startswith("4° Son projet délimite son territoire d'activité")
    assert got[4].legal_text.startswith("5° Il présente un projet conforme au cahier des charges")
    assert got[5].legal_text.startswith("6° Son projet n'a pas déjà bénéficié d'un soutien de l'Etat")
    shaped = {str(o) for o in eligibility.shapes_graph(RULES).objects(None, eligibility.PTCE.criterion)}
    assert shaped == {c.iri for c in got}
    # The whole article is quoted once, on the article's ELI, in the order of the conditions.
    text = str(eligibility.criteria_graph().value(eligibility.rdflib.URIRef(ELI), eligibility.PTCE.legalText))
    assert text.startswith("Peuvent répondre à un appel à projets") and text.endswith("coopération économique.")
    assert [text.index(f"{n}° ") for n in range(1, 7)] == sorted(text.index(f"{n}° ") for n in range(1, 7))
    # What data cannot say (5°) is said, in both languages.
    note = eligibility.scope_note(RULES)
    assert "meets_call_specifications" in note["fr"] and "cannot be read from data" in note["en"]


def test_a_complete_file_meets_the_six_conditions(store):
    got, report = check(variant(**INSTRUCTED), store)
    assert verdicts(got) == dict.fromkeys(ALL, "met")
    assert report.verdict == "eligible"
    body = report.as_dict()
    assert body["law"] == ELI and body["ruleset"].startswith(f"{RULES}@")
    assert body["rule_set_version"]["in_force_from"] == "2015-04-18" and body["rule_set_version"]["in_force_until"] is None
    # Stated legal personalities instead of legal forms: the same.
    stated = [dict(m, legal_personality="private-law") for m in UNSTATED]
    got, _ = check(variant(members=stated, carrier="asso", **INSTRUCTED), store)
    assert verdicts(got) == dict.fromkeys(ALL, "met")
    got, _ = check(variant(members=UNSTATED, carrier=None, legal_personality="private-law"), store)
    assert got["decret2015-1"].verdict == "met"


def test_an_article_9_file_lacks_what_only_the_instructor_knows(store):
    got, report = check(ELIGIBLE, store)
    assert verdicts(got) == {**dict.fromkeys(ALL[:4], "met"), "decret2015-5": "not-enough-information",
                             "decret2015-6": "not-enough-information"}
    assert report.verdict == "incomplete"
    assert "meets_call_specifications" in got["decret2015-5"].findings[0].message_en
    assert "previous_state_support" in got["decret2015-6"].findings[0].message_en


def test_a_candidate_carried_by_a_public_body_does_not_meet_condition_1(store):
    form = json.loads(PUBLIC_CARRIER.read_text(encoding="utf-8"))
    got, report = check(form, store)
    c1 = got["decret2015-1"]
    assert c1.verdict == "not-met" and report.verdict == "not-eligible"
    assert "C'est une personne morale de droit privé" in c1.criterion.legal_text and c1.criterion.source == ELI
    assert "n'est pas une personne morale de droit privé" in c1.findings[0].message_fr
    assert c1.findings[0].message_en.startswith("The hub is carried by ")
    assert got["decret2015-2"].verdict == "met"
    # A carrier of public law by its legal form, or by its stated legal personality; the pôle's own statement.
    public = UNSTATED + [{"key": "mairie", "name": "Mairie", "role": "collectivite", "legal_form": "collectivite"}]
    assert check(variant(members=public, carrier="mairie"), store)[0]["decret2015-1"].verdict == "not-met"
    public = UNSTATED + [{"key": "epn", "name": "Établissement public", "role": "other-person",
                          "legal_personality": "public-law"}]
    assert check(variant(members=public, carrier="epn"), store)[0]["decret2015-1"].verdict == "not-met"
    got, _ = check(variant(legal_personality="public-law"), store)
    assert got["decret2015-1"].verdict == "not-met" and "(public-law)" in got["decret2015-1"].findings[0].message_en
    got, _ = check(variant(legal_personality="none"), store)
    assert got["decret2015-1"].verdict == "not-met"
    # The pôle's own legal personality comes first: a private-law pôle carried by a public body meets 1°.
    assert check(dict(form, legal_personality="private-law"), store)[0]["decret2015-1"].verdict == "met"


def test_a_grouping_of_two_legal_persons_does_not_meet_condition_2(store):
    two = [m for m in ELIGIBLE["members"] if m["role"] != "collectivite"]
    got, report = check(variant(members=two), store)
    c2 = got["decret2015-2"]
    assert c2.verdict == "not-met" and report.verdict == "not-eligible"
    assert "trois personnes morales ou plus" in c2.criterion.legal_text and c2.criterion.source == ELI
    assert [f.message_en for f in c2.findings if f.severity == "Violation"] == [
        "The hub is made of at most 2 legal person(s) among its declared members: the décret requires three or more."]
    # Natural persons are not legal persons: two legal persons and ten people are still two.
    people = [{"key": f"p{i}", "name": f"Habitant {i}", "role": "other-person", "legal_personality": "natural-person"}
              for i in range(10)]
    assert check(variant(members=two + people), store)[0]["decret2015-2"].verdict == "not-met"
    # Three legal persons but no SSE enterprise among them.
    no_ess = [m for m in ELIGIBLE["members"] if m["role"] != "ess-enterprise"] + [
        {"key": "sarl", "name": "SARL du Jura", "role": "other-enterprise", "legal_form": "sarl"}]
    got, _ = check(variant(members=no_ess, carrier=None, legal_personality="private-law"), store)
    assert got["decret2015-2"].verdict == "not-met"
    assert "entreprise de l'économie sociale et solidaire" in got["decret2015-2"].findings[0].message_fr
    # Three legal persons, one SSE enterprise, but no enterprise outside the SSE.
    no_other = [m for m in ELIGIBLE["members"] if m["role"] != "other-enterprise"] + [
        {"key": "lycee", "name": "Lycée professionnel", "role": "training-body", "legal_personality": "public-law"}]
    got, _ = check(variant(members=no_other), store)
    assert got["decret2015-2"].verdict == "not-met"
    assert [f.message_en for f in got["decret2015-2"].findings] == [
        "No member is an enterprise outside the social and solidarity economy (nor a grouping of enterprises mostly "
        "outside it): the décret requires one."]
    # A member list not declared complete: fewer than three known is not enough information, not "not met".
    assert check(variant(members=two, complete_member_list=False), store)[0]["decret2015-2"].verdict == \
        "not-enough-information"


def test_legal_personality_not_stated_is_not_enough_information(store):
    got, report = check(variant(members=UNSTATED, carrier="asso", **INSTRUCTED), store)
    assert verdicts(got) == {"decret2015-1": "not-enough-information", "decret2015-2": "not-enough-information",
                             **dict.fromkeys(ALL[2:], "met")}
    assert report.verdict == "incomplete"
    assert "legal_personality" in got["decret2015-1"].findings[0].message_en
    assert got["decret2015-1"].findings[0].severity == "Warning"
    assert "C'est une personne morale de droit privé" in got["decret2015-1"].criterion.legal_text
    messages = [f.message_en for f in got["decret2015-2"].findings]
    assert any(m.startswith("Only 0 member(s) are known to be legal persons") for m in messages)
    assert {f.severity for f in got["decret2015-2"].findings} == {"Warning"}
    # Nothing at all: every condition unknown, never "not met".
    got, _ = check({"name": "Projet naissant"}, store)
    assert {v.verdict for v in got.values()} == {"not-enough-information"}


def test_conditions_3_to_6_read_the_file(store):
    # 3°: an innovation is required, a cooperation mode must be given.
    got, _ = check(variant(innovation=["none"], **INSTRUCTED), store)
    assert got["decret2015-3"].verdict == "not-met"
    assert "socially or technologically innovative project" in got["decret2015-3"].findings[0].message_en
    assert check(variant(innovation=None, **INSTRUCTED), store)[0]["decret2015-3"].verdict == "not-enough-information"
    assert check(variant(cooperation_modes=None, **INSTRUCTED), store)[0]["decret2015-3"].verdict == \
        "not-enough-information"
    # 4°: a perimeter delimits the territory of activity; sustainable local development.
    got, _ = check(variant(perimeter=[], **INSTRUCTED), store)
    assert got["decret2015-4"].verdict == "not-enough-information"
    assert "does not delimit its territory of activity" in got["decret2015-4"].findings[0].message_en
    assert check(variant(sustainable_local_development=False, **INSTRUCTED), store)[0]["decret2015-4"].verdict == \
        "not-met"
    # 5°: the instructor's check against the call's specifications.
    got, report = check(variant(meets_call_specifications=False, previous_state_support=False), store)
    assert got["decret2015-5"].verdict == "not-met" and report.verdict == "not-eligible"
    # 6°: a State call for projects already won (the award names it), or declared support.
    got, report = check(variant(awards=["aap-2015"], **INSTRUCTED), store)
    assert got["decret2015-6"].verdict == "not-met" and report.verdict == "not-eligible"
    assert "Appel à projets PTCE 2015" in got["decret2015-6"].findings[0].message_fr
    assert check(variant(awards=["aap-2013"]), store)[0]["decret2015-6"].verdict == "not-met"
    assert check(variant(meets_call_specifications=True, previous_state_support=True), store)[0][
        "decret2015-6"].verdict == "not-met"
    # The AMI « PTCE émergents » is a call for expressions of interest, not a call for projects.
    got, _ = check(variant(awards=["ami-2021-phase-1"], **INSTRUCTED), store)
    assert got["decret2015-6"].verdict == "met"


def test_a_laureate_of_the_2013_call_in_the_graph_does_not_meet_condition_6(store):
    rows = __import__("conftest").select(store, """
        PREFIX ptce: <https://w3id.org/ptce-kg/def#>
        SELECT ?ptce { ?a ptce:programme <https://w3id.org/ptce-kg/id/programme/aap-2013> ; ptce:laureate ?ptce }
        ORDER BY ?ptce LIMIT 1""")
    (ptce,) = [r["ptce"] for r in rows]
    report = eligibility.evaluate(eligibility.ptce_graph(store, ptce), ruleset=RULES)
    (only,) = report.candidates
    c6 = {c.criterion.identifier: c for c in only.criteria}["decret2015-6"]
    assert c6.verdict == "not-met" and "2013" in c6.findings[0].message_fr


# -- versions of the texts: each rule set says which version it encodes and when it is in force --------

def test_each_rule_set_carries_its_version_and_dates():
    for name, versions in eligibility.RULESETS.items():
        assert versions, name
        for v in versions:
            assert v.text_version and v.in_force_from <= eligibility.dt.date.today(), name
            assert (eligibility.SHAPES_DIR / v.shapes).is_file(), v.shapes
    article_9 = eligibility.ruleset_version("article-9")
    assert (article_9.in_force_from.isoformat(), article_9.text_version) == ("2014-08-02", "2014-08-02")
    decret = eligibility.ruleset_version(RULES, eligibility.dt.date(2016, 1, 14))
    assert decret.in_force_from.isoformat() == "2015-04-18" and decret.in_force_until is None


def test_a_file_dated_before_the_text_is_refused_with_the_dates():
    with pytest.raises(eligibility.RuleSetError) as err:
        eligibility.ruleset_version(RULES, eligibility.dt.date(2015, 1, 10))
    assert "no version in force on 2015-01-10" in str(err.value) and "2015-04-18" in str(err.value)
    with pytest.raises(eligibility.RuleSetError):
        eligibility.ruleset_version("article-9", eligibility.dt.date(2014, 7, 1))


def test_the_version_in_force_on_the_files_date_is_chosen(monkeypatch, store):
    """Two versions of one rule set (the décret's shapes under two periods): each date gets its own."""
    import dataclasses

    current = eligibility.ruleset_version(RULES)
    old = dataclasses.replace(current, text_version="2015-04-18", in_force_until=eligibility.dt.date(2020, 1, 1))
    new = dataclasses.replace(current, text_version="2020-01-01", in_force_from=eligibility.dt.date(2020, 1, 1))
    monkeypatch.setitem(eligibility.RULESETS, RULES, (old, new))
    assert eligibility.ruleset_version(RULES, eligibility.dt.date(2019, 12, 31)) is old
    assert eligibility.ruleset_version(RULES, eligibility.dt.date(2020, 1, 1)) is new
    graph = eligibility.complete_from_store(candidate.from_form(ELIGIBLE, store), store)
    report = eligibility.evaluate(graph, ruleset=RULES, as_of=eligibility.dt.date(2016, 3, 1)).as_dict()
    assert report["as_of"] == "2016-03-01" and report["rule_set_version"]["text_version"] == "2015-04-18"
    assert report["rule_set_version"]["in_force_until"] == "2020-01-01"
    assert eligibility.evaluate(graph, ruleset=RULES).as_dict()["rule_set_version"]["text_version"] == "2020-01-01"


def test_existing_candidates_stay_valid_and_article_9_is_unchanged(store):
    graph = candidate.from_form(ELIGIBLE, store)
    assert not any(graph.triples((None, eligibility.PTCE.legalPersonality, None)))
    report = eligibility.evaluate(eligibility.complete_from_store(graph, store))
    assert report.verdict == "eligible" and "scope_note" not in report.as_dict()
    with pytest.raises(candidate.CandidateError) as err:
        candidate.from_form(variant(legal_personality="natural-person"), store)  # not a pôle's
    assert err.value.reason == InputError.INVALID and err.value.where == "legal_personality"


def test_the_2015_call_reaches_the_decret_in_the_graph(store):
    rows = {r["c"] for r in __import__("conftest").select(store, """
        PREFIX ptce: <https://w3id.org/ptce-kg/def#>
        PREFIX cccev: <http://data.europa.eu/m8g/>
        SELECT ?c { <https://w3id.org/ptce-kg/id/programme/aap-2015> ptce:hasCriterion/cccev:hasRequirement ?c }""")}
    assert rows == {c.iri for c in eligibility.criteria(RULES)}
    sources = {r["s"] for r in __import__("conftest").select(store, """
        PREFIX cccev: <http://data.europa.eu/m8g/>
        SELECT ?s { <https://w3id.org/ptce-kg/def/criterion/decret-2015-431> cccev:isDerivedFrom ?s }""")}
    assert sources == {ELI}


# -- the command line and the API give the same verdicts ----------------------------------------

def _cli(capsys, built_store, path: Path) -> tuple[int, dict]:
    code = cli.main(["check", "--store", str(built_store), "--rules", RULES, "--format", "json", str(path)])
    return code, json.loads(capsys.readouterr().out)


def _verdicts(report: dict) -> list[tuple]:
    return [(c["candidate"], c["verdict"], [(r["id"], r["verdict"], [(d["severity"], d["fr"], d["en"]) for d in r["details"]],
                                             r["legal_text"], r["source"]) for r in c["criteria"]])
            for c in report["candidates"]]


def test_cli_and_api_give_the_same_verdicts(embedded_server, built_store, tmp_path, capsys):
    unstated = tmp_path / "unstated.json"
    unstated.write_text(json.dumps(variant(members=UNSTATED, carrier="asso")), encoding="utf-8")
    two = tmp_path / "two.json"
    two.write_text(json.dumps(variant(members=[m for m in ELIGIBLE["members"] if m["role"] != "collectivite"])),
                   encoding="utf-8")
    complete = tmp_path / "complete.json"
    complete.write_text(json.dumps(variant(**INSTRUCTED)), encoding="utf-8")
    expected = {complete: (0, "eligible"), FIXTURES / "eligible.json": (1, "incomplete"),
                PUBLIC_CARRIER: (1, "not-eligible"), unstated: (1, "incomplete"), two: (1, "not-eligible")}
    for path, (code, verdict) in expected.items():
        got_code, from_cli = _cli(capsys, built_store, path)
        response = httpx.post(embedded_server + "/eligibility", params={"rules": RULES},
                              content=path.read_bytes(), headers={"Content-Type": "application/json"}, timeout=30)
        assert response.status_code == 200, response.text
        from_api = response.json()
        assert got_code == code and from_cli["verdict"] == from_api["verdict"] == verdict, path.name
        assert _verdicts(from_cli) == _verdicts(from_api), path.name
        assert from_cli["ruleset"] == from_api["ruleset"] and from_api["law"] == ELI
        assert from_cli["scope_note"] == from_api["scope_note"]
    # The text report names the rule set, its version and what data cannot say.
    assert cli.main(["check", "--store", str(built_store), "--rules", RULES, "--as-of", "2016-01-14",
                     str(PUBLIC_CARRIER)]) == 1
    out = capsys.readouterr().out
    assert "meets_call_specifications" in out and "« Peuvent répondre à un appel à projets" in out
    assert "text in force from 2015-04-18" in out and "file dated 2016-01-14" in out


def test_as_of_before_the_decret_is_refused_by_cli_and_api(embedded_server, built_store, capsys):
    code = cli.main(["check", "--store", str(built_store), "--rules", RULES, "--as-of", "2015-01-10",
                     str(FIXTURES / "eligible.json")])
    assert code == 2 and "no version in force on 2015-01-10" in capsys.readouterr().err
    for path, params in (("/eligibility", {}), ("/eligibility/batch", {"format": "json"})):
        response = httpx.post(embedded_server + path, params={"rules": RULES, "as_of": "2015-01-10", **params},
                              json=ELIGIBLE if path == "/eligibility" else [ELIGIBLE], timeout=30)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["where"] == "as_of" and "2015-04-18" in response.json()["error"]
    ok = httpx.post(embedded_server + "/eligibility", params={"rules": RULES, "as_of": "2016-01-14"},
                    json=ELIGIBLE, timeout=30)
    assert ok.status_code == 200 and ok.json()["as_of"] == "2016-01-14"
    assert ok.json()["rule_set_version"]["in_force_from"] == "2015-04-18"
    assert httpx.post(embedded_server + "/eligibility", params={"as_of": "14/01/2016"}, json=ELIGIBLE,
                      timeout=30).status_code == 422


def test_unknown_rule_set_is_refused_and_the_openapi_lists_the_decret(embedded_server):
    bad = httpx.post(embedded_server + "/eligibility", params={"rules": "decret-2099"}, json=ELIGIBLE, timeout=30)
    assert bad.status_code == 422
    spec = httpx.get(embedded_server + "/openapi.json", timeout=30).json()
    assert RULES in json.dumps(spec["paths"]["/eligibility"]["post"]["parameters"])


def test_html_form_with_the_new_fields(embedded_server):
    page = httpx.get(embedded_server + "/eligibility", timeout=30).text
    assert 'name="legal_personality"' in page and 'name="m0_legal_personality"' in page
    assert 'name="m0_legal_form"' in page and 'value="decret-2015-431"' in page
    assert 'name="meets_call_specifications"' in page and 'name="previous_state_support"' in page
    assert 'name="as_of"' in page
    data = {"name": "Pôle test", "rules": RULES, "carrier": "0",
            "m0_name": "Mairie", "m0_role": "collectivite", "m0_legal_form": "collectivite",
            "m1_name": "Association", "m1_role": "ess-enterprise", "m1_ess": "true", "m1_legal_personality": "private-law",
            "m2_name": "SARL", "m2_role": "other-enterprise", "m2_legal_form": "sarl"}
    response = httpx.post(embedded_server + "/eligibility/form", data=data, timeout=30)
    assert response.status_code == 200, response.text
    text = html.unescape(response.text)
    assert "Non éligible" in text and "n'est pas une personne morale de droit privé" in text
    assert "décret n° 2015-431" in text and "meets_call_specifications" in text
    full = dict(data, legal_personality="private-law", perimeter="commune:39300", cooperation_modes="cooperation",
                innovation="social", sustainable_local_development="true", meets_call_specifications="true",
                previous_state_support="false", as_of="2016-01-14")
    ok = httpx.post(embedded_server + "/eligibility/form", data=full, timeout=30)
    assert ok.status_code == 200 and "Éligible" in ok.text and "Non éligible" not in ok.text
    assert "2016-01-14" in ok.text
    early = httpx.post(embedded_server + "/eligibility/form", data=dict(full, as_of="2015-01-10"), timeout=30)
    assert early.status_code == 422 and "2015-04-18" in html.unescape(early.text)


def test_the_batch_template_checks_against_the_decret(built_store, capsys):
    code = cli.main(["check", "--store", str(built_store), "--rules", RULES, "--batch", str(TEMPLATES / "candidates.csv"),
                     "--members", str(TEMPLATES / "members.csv")])
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert code == 1
    assert {(r["candidate"], r["criterion"]): r["verdict"] for r in rows} == {
        **{("pole-dechets-lons", c): "met" for c in ALL},
        **{("projet-tiers-lieu-fives", c): "not-enough-information" for c in ALL}}


def test_a_batch_gives_one_printable_report_for_all_its_candidates(embedded_server):
    files = {"candidates": ("candidates.csv", (TEMPLATES / "candidates.csv").read_bytes(), "text/csv"),
             "members": ("members.csv", (TEMPLATES / "members.csv").read_bytes(), "text/csv")}
    response = httpx.post(embedded_server + "/eligibility/batch", params={"rules": RULES, "format": "html"},
                          files=files, timeout=120)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = html.unescape(response.text)
    assert page.count('class="report-candidate"') == 2
    assert "Pôle de valorisation des déchets du bassin lédonien" in page and "Projet de tiers-lieu à Fives" in page
    assert page.count("« 6° Son projet n'a pas déjà bénéficié d'un soutien de l'Etat") == 2
    # Only the incomplete candidate has a list of what to provide.
    assert page.count("À fournir pour conclure") == 1
    bad = httpx.post(embedded_server + "/eligibility/batch", params={"rules": RULES, "format": "html"},
                     json=[variant(**INSTRUCTED), {"id": "sans-nom"}], timeout=120)
    assert bad.status_code == 200 and "Candidats non vérifiés" in bad.text and "sans-nom" in bad.text
