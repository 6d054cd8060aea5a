"""Article 9 eligibility: a verdict per criterion, from the form, from RDF, from the graph, over HTTP."""

from __future__ import annotations

import html
import json
import socket
from pathlib import Path

import httpx
import pytest

from conftest import form_variant
import rdflib

from ptce_kg import candidate, eligibility
from ptce_kg.config import settings
from ptce_kg.errors import InputError

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "candidates"
ELIGIBLE = json.loads((FIXTURES / "eligible.json").read_text(encoding="utf-8"))


def verdicts(graph, store) -> dict[str, str]:
    report = eligibility.evaluate(eligibility.complete_from_store(graph, store))
    assert len(report.candidates) == 1
    return {c.criterion.identifier: c.verdict for c in report.candidates[0].criteria}


def check_form(form, store) -> dict[str, str]:
    return verdicts(candidate.from_form(form, store), store)


def variant(**changes) -> dict:
    return form_variant(ELIGIBLE, **changes)


ESS_ONLY = [m for m in ELIGIBLE["members"] if m["role"] != "other-enterprise"] + [
    {"key": "asso", "name": "Association d'insertion", "role": "ess-enterprise", "ess": True, "location": "commune:39300"}]
NO_ESS = [m for m in ELIGIBLE["members"] if m["role"] != "ess-enterprise"]
NO_PARTNER = [m for m in ELIGIBLE["members"] if m["role"] != "collectivite"]
OUTSIDE = ELIGIBLE["members"] + [{"key": "loin", "name": "Entreprise de l'Ain", "role": "other-enterprise",
                                  "ess": False, "location": "commune:01001"}]

NOT_MET_CASES = {
    "art9-1": variant(members=NO_ESS, carrier=None),
    "art9-2": variant(members=OUTSIDE),
    "art9-3": variant(members=ESS_ONLY),
    "art9-4": variant(members=NO_PARTNER),
    "art9-5": variant(continuous_strategy=False),
    "art9-6": variant(grouping_kind="development-agency"),
    "art9-7": variant(innovation=["none"]),
    "art9-8": variant(sustainable_local_development=False),
}


def test_the_eligible_candidate_meets_every_criterion(store):
    got = check_form(ELIGIBLE, store)
    assert got == {f"art9-{i}": "met" for i in range(1, 9)}


@pytest.mark.parametrize("criterion", sorted(NOT_MET_CASES))
def test_each_criterion_can_fail_alone(store, criterion):
    got = check_form(NOT_MET_CASES[criterion], store)
    assert got[criterion] == "not-met"
    assert all(v == "met" for k, v in got.items() if k != criterion), got


def test_missing_information_is_not_a_failure(store):
    got = check_form({"name": "Projet naissant", "complete_member_list": False}, store)
    assert set(got.values()) == {"not-enough-information"}
    report = eligibility.evaluate(candidate.from_form({"name": "Projet naissant"}, store))
    assert report.verdict == "incomplete"


def test_ess_grouping_without_other_enterprise_fails_criterion_3(store):
    report = eligibility.evaluate(eligibility.complete_from_store(candidate.from_form(variant(members=ESS_ONLY), store), store))
    assert report.verdict == "not-eligible"
    c3 = next(c for c in report.candidates[0].criteria if c.criterion.identifier == "art9-3")
    assert c3.findings[0].message_en.startswith("No enterprise outside")
    assert "qui s'associent à des entreprises" in c3.criterion.legal_text


def test_development_agency_fails(store):
    graph = candidate.read((FIXTURES / "development-agency.yaml").read_bytes(), "form-yaml", store)
    report = eligibility.evaluate(eligibility.complete_from_store(graph, store))
    assert report.verdict == "not-eligible"
    assert {c.criterion.identifier: c.verdict for c in report.candidates[0].criteria}["art9-6"] == "not-met"


def test_member_outside_the_perimeter_is_named(store):
    report = eligibility.evaluate(eligibility.complete_from_store(candidate.from_form(NOT_MET_CASES["art9-2"], store), store))
    c2 = next(c for c in report.candidates[0].criteria if c.criterion.identifier == "art9-2")
    assert "Entreprise de l'Ain" in c2.findings[0].message_fr and "commune/01001" in c2.findings[0].message_en


def test_members_known_to_the_graph_bring_what_the_graph_knows(store):
    # Juratri is given by IRI only: its location (Lons-le-Saunier) and ESS status come from the graph.
    form = variant(members=[{"key": "juratri", "iri": "https://w3id.org/ptce-kg/id/organisation/juratri"}])
    graph = eligibility.complete_from_store(candidate.from_form(form, store), store)
    juratri = rdflib.URIRef("https://w3id.org/ptce-kg/id/organisation/juratri")
    assert graph.value(juratri, eligibility.PTCE.location) == rdflib.URIRef("https://w3id.org/ptce-kg/id/commune/39300")
    assert verdicts(graph, store)["art9-1"] == "met"


def test_form_and_turtle_give_the_same_verdicts(store):
    from_json = verdicts(candidate.read((FIXTURES / "eligible.json").read_bytes(), "form", store), store)
    from_ttl = verdicts(candidate.read((FIXTURES / "eligible.ttl").read_bytes(), "turtle", store), store)
    assert from_json == from_ttl


def test_known_ptce_from_the_documents_get_a_verdict_per_criterion(store):
    for slug in ("organic-vallee", "cluster-jura", "figeacteurs", "pole-sud-aquitaine", "la-bio-pour-tous",
                 "innovales", "dombinnov", "village-documentaire-lussas"):
        report = eligibility.evaluate(eligibility.ptce_graph(store, f"https://w3id.org/ptce-kg/id/ptce/{slug}"))
        got = {c.criterion.identifier: c.verdict for c in report.candidates[0].criteria}
        assert len(got) == 8, slug
        # Each has a named ESS member but InnoVales, whose only one (Alvéole) no passage supported: unknown.
        assert got["art9-1"] == ("not-enough-information" if slug == "innovales" else "met"), slug
        # The registry's member lists are partial: a kind of member it lacks is unknown, never "not met".
        assert "not-met" not in {got["art9-1"], got["art9-3"], got["art9-4"]}, slug


def test_schema_enums_are_the_code_lists():
    codes = rdflib.Graph().parse(Path(eligibility.ONTOLOGY_DIR) / "codes.ttl")
    skos = rdflib.Namespace("http://www.w3.org/2004/02/skos/core#")

    def notations(scheme):
        return sorted(str(codes.value(c, skos.notation)) for c in
                      codes.subjects(skos.inScheme, rdflib.URIRef(f"https://w3id.org/ptce-kg/code/{scheme}")))
    props = candidate.schema()["properties"]
    assert sorted(props["grouping_kind"]["enum"]) == notations("grouping-kind")
    assert sorted(props["cooperation_modes"]["items"]["enum"]) == notations("cooperation-mode")
    assert sorted(props["members"]["items"]["properties"]["role"]["enum"]) == notations("actor-kind")
    assert sorted(props["members"]["items"]["properties"]["legal_form"]["enum"]) == notations("legal-form")


# -- the command line ---------------------------------------------------------------------------

def test_cli_exit_codes(built_store, tmp_path, capsys):
    import cli

    store = ["--store", str(built_store)]
    assert cli.main(["check", *store, str(FIXTURES / "eligible.json")]) == 0
    assert cli.main(["check", *store, str(FIXTURES / "eligible.ttl")]) == 0
    assert cli.main(["check", *store, str(FIXTURES / "development-agency.yaml")]) == 1
    broken = tmp_path / "broken.ttl"
    broken.write_text("@prefix ptce: <https://w3id.org/ptce-kg/def#> .\n<a> a ptce:PTCE ;\n ptce:perimeter .\n")
    assert cli.main(["check", *store, str(broken)]) == 2
    err = capsys.readouterr().err
    assert "broken.ttl" in err and "does not parse" in err
    assert cli.main(["check", *store, "--format", "json", str(FIXTURES / "eligible.json")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "eligible" and report["law"].endswith("article_9")


# -- over HTTP ----------------------------------------------------------------------------------

def test_post_form_returns_the_json_report(server):
    response = httpx.post(server + "/eligibility", json=ELIGIBLE, timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert body["verdict"] == "eligible" and len(body["candidates"][0]["criteria"]) == 8
    assert body["data_snapshot"]


def test_post_turtle_with_shacl_report_by_negotiation(server):
    response = httpx.post(server + "/eligibility", content=(FIXTURES / "eligible.ttl").read_bytes(),
                          headers={"Content-Type": "text/turtle", "Accept": "text/turtle"}, timeout=30)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/turtle")
    graph = rdflib.Graph().parse(data=response.text, format="turtle")
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    assert any(graph.subjects(rdflib.RDF.type, sh.ValidationReport))


def test_get_eligibility_of_a_known_ptce(server):
    response = httpx.get(server + "/eligibility/cluster-jura", timeout=30)
    assert response.status_code == 200
    criteria = response.json()["candidates"][0]["criteria"]
    assert [c["id"] for c in criteria] == [f"art9-{i}" for i in range(1, 9)]
    assert httpx.get(server + "/eligibility/nothing-here").status_code == 404
    page = httpx.get(server + "/eligibility/cluster-jura", headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200 and "Clus'Ter Jura" in html.unescape(page.text)


def test_html_form_round_trip(server):
    assert "Vérifier" in httpx.get(server + "/eligibility").text
    response = httpx.post(server + "/eligibility/form", data={
        "name": "Pôle test", "perimeter": "commune:39300", "grouping_kind": "development-agency",
        "m0_name": "Juratri", "m0_role": "ess-enterprise", "m0_ess": "true", "m0_location": "commune:39300",
    }, timeout=30)
    assert response.status_code == 200
    assert "Non éligible" in response.text and "sans échanges économiques" in response.text
    ami = httpx.post(server + "/eligibility/form", data={
        "name": "Pôle test", "perimeter": "commune:39300", "awards": "ami-2021-phase-1", "rules": "ami-emergents",
        "m0_name": "Juratri", "m0_role": "ess-enterprise", "m0_ess": "true", "m0_location": "commune:39300",
    }, timeout=30)
    assert ami.status_code == 200 and "Phase 2 : être lauréat de la phase 1" in ami.text
    assert "Éligible" in ami.text and "Non éligible" not in ami.text


def test_html_form_and_report_in_english(server):
    form = httpx.get(server + "/eligibility?lang=en")
    assert "Check a candidate against article 9" in form.text and "Nom du pôle" not in form.text
    response = httpx.post(server + "/eligibility/form", cookies=form.cookies, timeout=30, data={
        "name": "Pôle test", "perimeter": "commune:39300", "grouping_kind": "development-agency",
        "m0_name": "Juratri", "m0_role": "ess-enterprise", "m0_ess": "true", "m0_location": "commune:39300",
    })
    assert response.status_code == 200 and '<html lang="en"' in response.text
    assert "Not eligible" in response.text and "Non éligible" not in response.text
    assert "Legal text (French)" in response.text and '<blockquote lang="fr"' in response.text


def test_openapi_documents_the_report(server):
    spec = httpx.get(server + "/openapi.json").json()
    post = spec["paths"]["/eligibility"]["post"]
    assert "text/turtle" in post["requestBody"]["content"]
    assert "EligibilityReport" in json.dumps(post["responses"]["200"])


@pytest.mark.parametrize("content, ctype, status, words", [
    (b"@prefix ptce: <https://w3id.org/ptce-kg/def#> .\n<a> a ptce:PTCE ;\n ptce:perimeter .", "text/turtle", 400, "does not parse"),
    (json.dumps({"name": "X", "members": [{"siren": "552100554"}]}).encode(), "application/json", 422, "unknown SIREN"),
    (json.dumps({"name": "X", "members": [{"siren": "123456789", "name": "Y", "role": "ess-enterprise"}]}).encode(),
     "application/json", 422, "Luhn"),
    (json.dumps({"name": "X", "perimeter": ["commune:99999"]}).encode(), "application/json", 422, "unknown territory"),
    (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><rdf:RDF '
     b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">&e;</rdf:RDF>', "application/rdf+xml", 400, "DOCTYPE"),
    (b"\xff\xfe not utf-8", "text/turtle", 400, "UTF-8"),
    (b"x" * (settings().max_body_bytes + 10), "text/turtle", 413, "larger"),
    (b"{}", "application/x-unknown", 415, "Unsupported"),
])
def test_hostile_or_broken_input_gets_a_clear_4xx(server, content, ctype, status, words):
    response = httpx.post(server + "/eligibility", content=content, headers={"Content-Type": ctype}, timeout=30)
    assert response.status_code == status, response.text
    assert words in response.json()["error"]
    assert httpx.get(server + "/eligibility/cluster-jura", timeout=30).status_code == 200  # still serving


def test_remote_jsonld_context_is_never_fetched(server):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(1.0)
    port = listener.getsockname()[1]
    body = {"@context": f"http://127.0.0.1:{port}/context.jsonld", "@id": "urn:x", "@type": "PTCE"}
    response = httpx.post(server + "/eligibility", json=body, headers={"Content-Type": "application/ld+json"})
    assert response.status_code == 400 and "context" in response.json()["error"]
    nested = {"@context": [{"@import": f"http://127.0.0.1:{port}/c"}], "@id": "urn:x"}
    assert httpx.post(server + "/eligibility", json=nested, headers={"Content-Type": "application/ld+json"}).status_code == 400
    with pytest.raises(socket.timeout):
        listener.accept()
    listener.close()


# -- a programme's criteria, same engine ---------------------------------------------------------

AAP_EVIDENCE = {"aap2013-4": "12 emplois en CDI créés en 2012 sur la friche.",
                "aap2013-5": "Valorisation des déchets et insertion par l'activité économique.",
                "aap2013-6": "Friche industrielle, compétences et épargne locales mobilisées."}
CITIZENS = ELIGIBLE["members"] + [{"key": "habitants", "name": "Collectif d'habitants", "role": "other-person"}]


def check_rules(form, store, ruleset):
    """Verdict per criterion of a programme's rule set, and the whole report."""
    report = eligibility.evaluate(eligibility.complete_from_store(candidate.from_form(form, store), store),
                                  ruleset=ruleset)
    return {c.criterion.identifier: c.verdict for c in report.candidates[0].criteria}, report


def check_aap(form, store):
    return check_rules(form, store, "aap-2013")


def test_the_2013_call_criteria_reachable_from_the_programme(store):
    rows = {r["c"] for r in __import__("conftest").select(store, """
        PREFIX ptce: <https://w3id.org/ptce-kg/def#>
        PREFIX cccev: <http://data.europa.eu/m8g/>
        SELECT ?c { <https://w3id.org/ptce-kg/id/programme/aap-2013> ptce:hasCriterion/cccev:hasRequirement ?c }""")}
    assert len(rows) == 7
    shaped = {str(o) for o in eligibility.shapes_graph("aap-2013").objects(None, eligibility.PTCE.criterion)}
    assert rows == shaped  # every criterion of the call has a shape, and only those


def test_aap_2013_verdicts(store):
    got, report = check_aap(variant(members=CITIZENS, evidence=AAP_EVIDENCE), store)
    assert got == {f"aap2013-{i}": "met" for i in range(1, 8)}
    assert report.as_dict()["law"].endswith("rtes-journee-lille-2014")
    got, _ = check_aap(ELIGIBLE, store)
    assert {k: v for k, v in got.items() if v != "met"} == {
        "aap2013-4": "not-enough-information", "aap2013-5": "not-enough-information",
        "aap2013-6": "not-enough-information", "aap2013-7": "not-enough-information"}
    got, _ = check_aap(variant(members=ESS_ONLY, evidence=AAP_EVIDENCE), store)
    assert got["aap2013-1"] == "not-met"
    got, _ = check_aap(variant(innovation=["none"]), store)
    assert got["aap2013-3"] == "not-met"


def test_aap_2013_over_http(server):
    response = httpx.post(server + "/eligibility", params={"rules": "aap-2013"},
                          json=variant(members=CITIZENS, evidence=AAP_EVIDENCE), timeout=30)
    assert response.status_code == 200 and response.json()["verdict"] == "eligible"
    assert response.json()["ruleset"].startswith("aap-2013@")
    known = httpx.get(server + "/eligibility/cluster-jura", params={"rules": "aap-2013"}, timeout=30)
    assert [c["id"] for c in known.json()["candidates"][0]["criteria"]] == [f"aap2013-{i}" for i in range(1, 8)]


# -- the AMI « PTCE émergents » ------------------------------------------------------------------

def check_ami(form, store):
    return check_rules(form, store, "ami-emergents")


def test_the_ami_requirements_reachable_from_its_waves(store):
    rows = {r["c"] for r in __import__("conftest").select(store, """
        PREFIX ptce: <https://w3id.org/ptce-kg/def#>
        PREFIX cccev: <http://data.europa.eu/m8g/>
        SELECT ?c { <https://w3id.org/ptce-kg/id/programme/ami-2021-phase-2> ptce:hasCriterion/cccev:hasRequirement ?c }""")}
    shaped = {str(o) for o in eligibility.shapes_graph("ami-emergents").objects(None, eligibility.PTCE.criterion)}
    assert rows == shaped == {"https://w3id.org/ptce-kg/def/criterion/ami-1", "https://w3id.org/ptce-kg/def/criterion/ami-2"}


def test_ami_verdicts(store):
    # A phase-1 laureate of 2021 with its territory and actors: both requirements met.
    got, report = check_ami(variant(awards=["ami-2021-phase-1"]), store)
    assert got == {"ami-1": "met", "ami-2": "met"}
    assert report.as_dict()["law"].endswith("economie-gouv-ptce-saison-3")
    # No award known: phase 1 cannot be confirmed, which is not a failure.
    got, report = check_ami(ELIGIBLE, store)
    assert got == {"ami-1": "met", "ami-2": "not-enough-information"}
    assert "ami-2021-phase-1" in report.candidates[0].criteria[1].findings[0].message_fr
    # A laureate of the State's 2013 call is an existing PTCE, not an emerging one.
    got, report = check_ami(variant(awards=["aap-2013"]), store)
    assert got["ami-1"] == "not-met"
    assert report.candidates[0].criteria[0].findings[0].message_en == \
        "Already a laureate of the State's call aap-2013: this is not a new PTCE."
    # Neither territory nor actors: the local dynamic is not described.
    got, _ = check_ami({"name": "Idée de PTCE"}, store)
    assert got == {"ami-1": "not-enough-information", "ami-2": "not-enough-information"}


def test_unknown_programme_in_awards_is_refused(store):
    with pytest.raises(candidate.CandidateError) as err:
        candidate.from_form(variant(awards=["aap-2099"]), store)
    assert err.value.reason == InputError.INVALID and err.value.where == "awards/0"


def test_ami_over_http_uses_the_awards_in_the_graph(server):
    # TURFU Productions won phase 2 of the 2021 wave (ingest/registry/awards.csv): phase 1 is implied.
    known = httpx.get(server + "/eligibility/turfu-productions", params={"rules": "ami-emergents"}, timeout=30)
    assert known.status_code == 200
    criteria = {c["id"]: c["verdict"] for c in known.json()["candidates"][0]["criteria"]}
    assert criteria["ami-2"] == "met"
    assert known.json()["ruleset"].startswith("ami-emergents@")
