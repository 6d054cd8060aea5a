"""Décret n° 2015-431 (rule set decret-2015-431): the conditions its official text lets one read, 1° and the
beginning of 2°, with three-valued verdicts citing the décret's ELI and quoting its text; CLI and API agree."""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path

import httpx
import pytest

from conftest import form_variant

from ptce_kg import candidate, cli, eligibility

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "candidates"
ELIGIBLE = json.loads((FIXTURES / "eligible.json").read_text(encoding="utf-8"))
PUBLIC_CARRIER = FIXTURES / "public-carrier.json"
RULES = "decret-2015-431"
ELI = "https://www.legifrance.gouv.fr/eli/decret/2015/4/15/EINA1504832D/jo/texte"
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


def test_the_rule_set_has_one_criterion_per_condition_read_citing_the_decret():
    got = eligibility.criteria(RULES)
    assert [c.identifier for c in got] == ["decret2015-1", "decret2015-2"]
    assert all(c.source == ELI and c.article_version == "2015-04-18" for c in got)
    assert "1° C'est une personne morale de droit privé" in got[0].legal_text
    assert "2° Il est constitué de trois personnes morales ou plus, dont au moins : une entreprise d'économie " \
           "sociale et solidaire au sens de l'article 1er de la lo" in got[1].legal_text
    shaped = {str(o) for o in eligibility.shapes_graph(RULES).objects(None, eligibility.PTCE.criterion)}
    assert shaped == {c.iri for c in got}
    # What is not encoded is said, in both languages.
    note = eligibility.scope_note(RULES)
    assert "ne sont pas encodées" in note["fr"] and "are not encoded" in note["en"]


def test_an_eligible_candidate_meets_both_conditions(store):
    got, report = check(ELIGIBLE, store)
    assert {k: v.verdict for k, v in got.items()} == {"decret2015-1": "met", "decret2015-2": "met"}
    assert report.verdict == "eligible"
    body = report.as_dict()
    assert body["law"] == ELI and body["ruleset"].startswith(f"{RULES}@")
    assert "are not encoded" in body["scope_note"]["en"]
    # Stated legal personalities instead of legal forms: the same.
    stated = [dict(m, legal_personality="private-law") for m in UNSTATED]
    got, _ = check(variant(members=stated, carrier="asso"), store)
    assert {k: v.verdict for k, v in got.items()} == {"decret2015-1": "met", "decret2015-2": "met"}
    got, _ = check(variant(members=UNSTATED, carrier=None, legal_personality="private-law",
                           ), store)
    assert got["decret2015-1"].verdict == "met"


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
    assert [f.message_en for f in c2.findings] == [
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
    # A member list not declared complete: fewer than three known is not enough information, not "not met".
    assert check(variant(members=two, complete_member_list=False), store)[0]["decret2015-2"].verdict == \
        "not-enough-information"


def test_legal_personality_not_stated_is_not_enough_information(store):
    got, report = check(variant(members=UNSTATED, carrier="asso"), store)
    assert {k: v.verdict for k, v in got.items()} == {"decret2015-1": "not-enough-information",
                                                      "decret2015-2": "not-enough-information"}
    assert report.verdict == "incomplete"
    assert "legal_personality" in got["decret2015-1"].findings[0].message_en
    assert got["decret2015-1"].findings[0].severity == "Warning"
    assert "C'est une personne morale de droit privé" in got["decret2015-1"].criterion.legal_text
    assert got["decret2015-2"].findings[0].message_en.startswith("Only 0 member(s) are known to be legal persons")
    # Nothing at all: both unknown, never "not met".
    got, _ = check({"name": "Projet naissant"}, store)
    assert {v.verdict for v in got.values()} == {"not-enough-information"}


def test_existing_candidates_stay_valid_and_article_9_is_unchanged(store):
    graph = candidate.from_form(ELIGIBLE, store)
    assert not any(graph.triples((None, eligibility.PTCE.legalPersonality, None)))
    report = eligibility.evaluate(eligibility.complete_from_store(graph, store))
    assert report.verdict == "eligible" and "scope_note" not in report.as_dict()
    with pytest.raises(candidate.CandidateError) as err:
        candidate.from_form(variant(legal_personality="natural-person"), store)  # not a pôle's
    assert err.value.status == 422 and err.value.where == "legal_personality"


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
    expected = {FIXTURES / "eligible.json": (0, "eligible"), PUBLIC_CARRIER: (1, "not-eligible"),
                unstated: (1, "incomplete"), two: (1, "not-eligible")}
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
    # The text report names the rule set and says what is not encoded.
    assert cli.main(["check", "--store", str(built_store), "--rules", RULES, str(PUBLIC_CARRIER)]) == 1
    out = capsys.readouterr().out
    assert "ne sont pas encodées" in out and "« Peuvent répondre à un appel à projets" in out


def test_unknown_rule_set_is_refused_and_the_openapi_lists_the_decret(embedded_server):
    bad = httpx.post(embedded_server + "/eligibility", params={"rules": "decret-2099"}, json=ELIGIBLE, timeout=30)
    assert bad.status_code == 422
    spec = httpx.get(embedded_server + "/openapi.json", timeout=30).json()
    assert RULES in json.dumps(spec["paths"]["/eligibility"]["post"]["parameters"])


def test_html_form_with_the_new_fields(embedded_server):
    page = httpx.get(embedded_server + "/eligibility", timeout=30).text
    assert 'name="legal_personality"' in page and 'name="m0_legal_personality"' in page
    assert 'name="m0_legal_form"' in page and 'value="decret-2015-431"' in page
    data = {"name": "Pôle test", "rules": RULES, "carrier": "0",
            "m0_name": "Mairie", "m0_role": "collectivite", "m0_legal_form": "collectivite",
            "m1_name": "Association", "m1_role": "ess-enterprise", "m1_ess": "true", "m1_legal_personality": "private-law",
            "m2_name": "SARL", "m2_role": "other-enterprise", "m2_legal_form": "sarl"}
    response = httpx.post(embedded_server + "/eligibility/form", data=data, timeout=30)
    assert response.status_code == 200, response.text
    text = html.unescape(response.text)
    assert "Non éligible" in text and "n'est pas une personne morale de droit privé" in text
    assert "décret n° 2015-431" in text and "ne sont pas encodées" in text
    ok = httpx.post(embedded_server + "/eligibility/form", data=dict(data, legal_personality="private-law"), timeout=30)
    assert ok.status_code == 200 and "Éligible" in ok.text and "Non éligible" not in ok.text


def test_the_batch_template_checks_against_the_decret(built_store, capsys):
    code = cli.main(["check", "--store", str(built_store), "--rules", RULES, "--batch", str(TEMPLATES / "candidates.csv"),
                     "--members", str(TEMPLATES / "members.csv")])
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert code == 1
    assert {(r["candidate"], r["criterion"]): r["verdict"] for r in rows} == {
        ("pole-dechets-lons", "decret2015-1"): "met", ("pole-dechets-lons", "decret2015-2"): "met",
        ("projet-tiers-lieu-fives", "decret2015-1"): "not-enough-information",
        ("projet-tiers-lieu-fives", "decret2015-2"): "not-enough-information"}
