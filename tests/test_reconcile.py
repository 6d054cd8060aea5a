"""The reconciliation service (api/reconcile.py) answers what OpenRefine 3.x sends: manifest, batches of
queries with properties, suggest, preview, data extension, over CORS and JSONP."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx

ID = "https://w3id.org/ptce-kg/id/"
DEF = "https://w3id.org/ptce-kg/def#"
GOLDEN = Path(__file__).resolve().parent / "fixtures" / "reconcile" / "golden.csv"


def golden() -> list[dict]:
    with open(GOLDEN, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def post(base: str, **form) -> httpx.Response:
    # OpenRefine posts its batches as an HTML form (application/x-www-form-urlencoded)
    return httpx.post(base + "/reconcile", data={k: json.dumps(v) for k, v in form.items()}, timeout=60)


def test_manifest(embedded_server):
    manifest = httpx.get(embedded_server + "/reconcile").json()
    assert "0.2" in manifest["versions"]
    assert manifest["identifierSpace"] == ID and manifest["schemaSpace"] == DEF
    assert {t["id"] for t in manifest["defaultTypes"]} == {DEF + t for t in
                                                            ("PTCE", "Organisation", "Commune", "EPCI", "Departement", "Region")}
    assert manifest["preview"]["url"].endswith("/reconcile/preview?id={{id}}")
    assert manifest["view"]["url"] == "{{id}}"
    for kind in ("entity", "type", "property"):
        assert manifest["suggest"][kind]["service_url"].endswith("/reconcile")
    assert manifest["extend"]["propose_properties"]["service_path"] == "/propose_properties"
    # links come from the public URL, never from the Host header
    forged = httpx.get(embedded_server + "/reconcile", headers={"Host": "evil.example"}).text
    assert "evil.example" not in forged


def test_a_batch_of_names_with_their_commune_matches_the_golden_list(embedded_server):
    """The batch OpenRefine sends for a column of names with a commune column: each top candidate is the
    golden one, flagged as a match."""
    rows = golden()
    assert len(rows) >= 50
    batch = {}
    for n, row in enumerate(rows):
        query = {"query": row["query"], "type": DEF + row["type"], "type_strict": "should", "limit": 3,
                 "properties": []}
        if row["commune"]:
            query["properties"].append({"pid": "commune", "v": row["commune"]})
        if row["insee"]:
            query["properties"].append({"pid": "insee", "v": row["insee"]})
        batch[f"q{n}"] = query
    response = post(embedded_server, queries=batch)
    assert response.status_code == 200, response.text
    answers = response.json()
    assert set(answers) == set(batch)
    wrong = []
    for n, row in enumerate(rows):
        result = answers[f"q{n}"]["result"]
        top = result[0] if result else {}
        if top.get("id") != ID + row["expected"] or not top.get("match"):
            wrong.append((row["query"], [(r["id"], r["score"], r["match"]) for r in result]))
        for candidate in result:
            assert candidate["type"][0]["id"] == DEF + row["type"]
            assert 0 <= candidate["score"] <= 100
        assert sum(r["match"] for r in result) <= 1
    assert wrong == []


def test_properties_change_the_scores(embedded_server):
    def top(query):
        return post(embedded_server, queries={"q0": query}).json()["q0"]["result"]

    # a name found in several places: the commune decides
    saint_denis = top({"query": "Saint-Denis", "type": DEF + "Commune", "limit": 10})
    assert len(saint_denis) >= 2 and not saint_denis[0]["match"]
    by_code = top({"query": "Saint-Denis", "type": DEF + "Commune", "properties": [{"pid": "insee", "v": "93066"}]})
    assert by_code[0]["id"] == ID + "commune/93066" and by_code[0]["match"]
    # a SIREN alone finds what it identifies
    by_siren = top({"query": "", "type": DEF + "Commune", "properties": [{"pid": "siren", "v": "213903008"}]})
    assert by_siren[0]["id"] == ID + "commune/39300" and by_siren[0]["score"] == 100
    # a commune that is not the candidate's lowers its score
    right = top({"query": "Juratri", "type": DEF + "Organisation", "properties": [{"pid": "commune", "v": "39300"}]})
    wrong = top({"query": "Juratri", "type": DEF + "Organisation", "properties": [{"pid": "commune", "v": "Nantes"}]})
    assert right[0]["id"] == wrong[0]["id"] == ID + "organisation/juratri"
    assert right[0]["score"] > wrong[0]["score"] and right[0]["match"] and not wrong[0]["match"]


def test_single_query_get_and_jsonp(embedded_server):
    answer = httpx.get(embedded_server + "/reconcile", params={"queries": json.dumps({"a": {"query": "ecossolies"}})})
    assert answer.json()["a"]["result"][0]["id"] == ID + "ptce/ecossolies"
    wrapped = httpx.get(embedded_server + "/reconcile", params={"callback": "jsonp123"})
    assert wrapped.headers["content-type"].startswith("application/javascript")
    assert wrapped.text.startswith("/**/jsonp123(") and wrapped.text.endswith(");")
    refused = httpx.get(embedded_server + "/reconcile", params={"callback": "alert(1)//"})
    assert refused.headers["content-type"].startswith("application/json")


def test_malformed_batches_get_4xx(embedded_server):
    assert httpx.post(embedded_server + "/reconcile", data={"queries": "{not json"}).status_code == 400
    assert httpx.post(embedded_server + "/reconcile", data={"queries": "[1]"}).status_code == 400
    assert post(embedded_server, queries={"q0": "text"}).status_code == 400
    too_many = {f"q{i}": {"query": "x"} for i in range(501)}
    assert post(embedded_server, queries=too_many).status_code == 413


def test_suggest_entity_type_and_property(embedded_server):
    entity = httpx.get(embedded_server + "/reconcile/suggest/entity", params={"prefix": "clus'ter"}).json()
    assert entity["result"][0]["id"] == ID + "ptce/cluster-jura" and entity["result"][0]["name"] == "Clus'Ter Jura"
    typed = httpx.get(embedded_server + "/reconcile/suggest/entity",
                      params={"prefix": "lons", "type": DEF + "EPCI"}).json()["result"]
    assert typed and all("/epci/" in r["id"] for r in typed)
    types = httpx.get(embedded_server + "/reconcile/suggest/type", params={"prefix": "comm"}).json()["result"]
    assert [t["id"] for t in types] == [DEF + "Commune"]
    props = httpx.get(embedded_server + "/reconcile/suggest/property", params={"prefix": "sir"}).json()["result"]
    assert [p["id"] for p in props] == ["siren"]


def test_preview_is_a_small_frameable_card(embedded_server):
    response = httpx.get(embedded_server + "/reconcile/preview", params={"id": ID + "commune/39300"})
    assert response.status_code == 200
    assert "Lons-le-Saunier" in response.text and "Jura" in response.text and "<script" not in response.text
    assert "frame-ancestors *" in response.headers["content-security-policy"]
    assert httpx.get(embedded_server + "/reconcile/preview", params={"id": "urn:x"}).status_code == 404


def test_data_extension(embedded_server):
    proposed = httpx.get(embedded_server + "/reconcile/propose_properties", params={"type": DEF + "Commune"}).json()
    assert [p["id"] for p in proposed["properties"]] == ["epci", "departement", "region"]
    org_props = httpx.get(embedded_server + "/reconcile/propose_properties",
                          params={"type": DEF + "Organisation"}).json()["properties"]
    assert {"siren", "legal_form", "ess_status"} <= {p["id"] for p in org_props}
    extended = post(embedded_server, extend={
        "ids": [ID + "commune/39300", ID + "organisation/juratri"],
        "properties": [{"id": "epci"}, {"id": "departement"}, {"id": "region"}, {"id": "legal_form"},
                       {"id": "ess_enterprise"}]}).json()
    assert [m["id"] for m in extended["meta"]] == ["epci", "departement", "region", "legal_form", "ess_enterprise"]
    commune = extended["rows"][ID + "commune/39300"]
    assert commune["epci"] == [{"id": ID + "epci/200071116", "name": "CA ECLA  (Espace Communautaire Lons Agglomération)"}]
    assert commune["departement"] == [{"id": ID + "departement/39", "name": "Jura"}]
    assert commune["region"][0]["name"] == "Bourgogne-Franche-Comté"
    juratri = extended["rows"][ID + "organisation/juratri"]
    assert juratri["legal_form"][0]["id"].endswith("/legal-form/scop")
    assert juratri["ess_enterprise"] == [{"bool": True}] and juratri["epci"] == []


def test_cors_for_browser_clients(embedded_server):
    preflight = httpx.options(embedded_server + "/reconcile", headers={
        "Origin": "http://127.0.0.1:3333", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] in ("*", "http://127.0.0.1:3333")
    answer = httpx.get(embedded_server + "/reconcile", headers={"Origin": "http://127.0.0.1:3333"})
    assert answer.headers["access-control-allow-origin"] in ("*", "http://127.0.0.1:3333")
