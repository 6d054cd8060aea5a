"""Eligibility reports kept on request: provenance in the graph, survive rebuilds, writes need the token."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, TERRITORY_FIXTURES, UPDATE_TOKEN, select, start_server, stop

FORM = json.loads((Path(__file__).resolve().parent / "fixtures" / "candidates" / "eligible.json").read_text("utf-8"))
REPORT_QUERY = """
PREFIX ptce: <https://w3id.org/ptce-kg/def#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX dct: <http://purl.org/dc/terms/>
SELECT ?verdict ?version ?snapshot ?created ?rules ?c3 WHERE {
  GRAPH <https://w3id.org/ptce-kg/graph/eligibility-reports> {
    <%s> a ptce:EligibilityReport ; ptce:verdict ?verdict ; ptce:ruleSetVersion ?version ;
         ptce:dataSnapshot ?snapshot ; dct:created ?created ; prov:wasGeneratedBy/prov:used ?rules ;
         ptce:criterionVerdict [ ptce:assessedCriterion <https://w3id.org/ptce-kg/def/criterion/art9-3> ;
                                 ptce:verdict ?c3 ] } }"""


@pytest.fixture()
def own_store(built_store, tmp_path):
    """A private copy of the whole graph (a RocksDB checkpoint: hard links), so recording leaves others' alone."""
    from ptce_kg.store import StoreRoot

    shared = StoreRoot(built_store)
    root = StoreRoot(tmp_path / "store")
    target = root.builds / shared.current_name()
    root.builds.mkdir(parents=True)
    shared.open_read().backup(str(target))
    shutil.copytree(shared.dumps_of(target.name), root.dumps / target.name, copy_function=os.link)
    root.publish(target)
    return root


def test_recorded_report_keeps_its_provenance_and_survives_a_rebuild(own_store):
    from ingest.territories import TerritoriesSource
    from ptce_kg.build import build

    snapshot = own_store.current_name()
    process, base = start_server(own_store.path, PTCE_KG_UPDATE_TOKEN=UPDATE_TOKEN)
    try:
        refused = httpx.post(base + "/eligibility", params={"record": "true"}, json=FORM, timeout=30)
        assert refused.status_code == 401 and "Authorization" == refused.json()["where"]
        assert not (own_store.path / "records").exists()

        kept = httpx.post(base + "/eligibility", params={"record": "true"}, json=FORM, timeout=60,
                          headers={"Authorization": f"Bearer {UPDATE_TOKEN}"})
        assert kept.status_code == 201, kept.text
        body = kept.json()
        [iri] = body["records"]
        assert kept.headers["location"] == iri and iri.startswith("https://w3id.org/ptce-kg/id/eligibility-report/")

        # In the graph at once, queryable over SPARQL with its provenance.
        answer = httpx.get(base + "/sparql", params={"query": REPORT_QUERY % iri},
                           headers={"Accept": "application/sparql-results+json"}, timeout=30)
        [row] = answer.json()["results"]["bindings"]
        assert row["verdict"]["value"] == "https://w3id.org/ptce-kg/code/verdict/eligible"
        assert row["version"]["value"] == body["ruleset"]
        assert row["snapshot"]["value"] == snapshot == body["data_snapshot"]
        assert row["created"]["value"].startswith(body["checked_at"][:19])
        assert row["rules"]["value"] == "https://w3id.org/ptce-kg/shapes/article-9"
        assert row["c3"]["value"] == "https://w3id.org/ptce-kg/code/verdict/met"

        # Dereferenceable like every IRI of the graph; the dumps are still served.
        doc = httpx.get(base + iri.removeprefix("https://w3id.org/ptce-kg"), headers={"Accept": "text/turtle"},
                        follow_redirects=True, timeout=30)
        assert doc.status_code == 200 and "ruleSetVersion" in doc.text
        assert httpx.get(base + "/dumps/", timeout=30).json()["files"]
    finally:
        stop(process)

    # The ledger holds it, and a build from the sources loads it again.
    assert len(list((own_store.path / "records" / "eligibility").glob("*.nt"))) == 1
    build(own_store.path, sources=[TerritoriesSource(TERRITORY_FIXTURES)], progress=lambda m: None, with_dumps=False)
    assert own_store.current_name() != snapshot
    [row] = select(own_store.open_read(), REPORT_QUERY % iri)
    assert row["snapshot"] == snapshot  # the data the check used, not the build that reloaded it


def test_cli_records_a_report(own_store):
    candidate = ROOT / "tests" / "fixtures" / "candidates" / "development-agency.yaml"
    done = subprocess.run([sys.executable, "-m", "cli", "check", "--record", "--format", "json",
                           "--store", str(own_store.path), str(candidate)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    [iri] = json.loads(done.stdout)["records"]
    assert iri in done.stderr  # said to the person who asked
    [row] = select(own_store.open_read(), REPORT_QUERY % iri)
    assert row["verdict"] == "https://w3id.org/ptce-kg/code/verdict/not-eligible"
