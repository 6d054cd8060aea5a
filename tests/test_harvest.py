"""Portals read the catalogue: a real harvester's code (CKAN's ckanext-dcat) and data.europa.eu's quality score."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest
import rdflib

from conftest import ROOT, start_server, stop
from ptce_kg import mqa

BASE = "https://w3id.org/ptce-kg/"
EU = "http://publications.europa.eu/resource/authority/"
IANA = "https://www.iana.org/assignments/media-types/"
FILE_TYPE = {"nt": "RDF_N_TRIPLES", "ttl": "RDF_TURTLE", "nq": "RDF_N_QUADS", "jsonld": "JSON_LD"}
DCAT_AP = ROOT / "tests" / "fixtures" / "dcat-ap-3.0.1"  # the official shapes, copied with their source
HARVEST_PYTHON = Path(os.environ.get("PTCE_KG_HARVEST_PYTHON") or ROOT / ".venv-harvest" / "bin" / "python")
# The portal's licence list, as a CKAN portal declares it (licenses_group_url): the EU licence IRIs.
LICENCES = [
    {"id": "etalab-2.0", "title": "Licence Ouverte / Open Licence 2.0", "url": EU + "licence/ETALAB_2_0"},
    {"id": "cc-by-4.0", "title": "Creative Commons Attribution 4.0", "url": EU + "licence/CC_BY_4_0"},
]
THEMES = sorted(EU + f"data-theme/{t}" for t in ("ECON", "REGI", "SOCI"))


@pytest.fixture(scope="module")
def paged_server(built_store):
    """The service with two source datasets a catalogue page, so that harvesting has to follow Hydra's pages."""
    process, base = start_server(built_store, PTCE_KG_CATALOG_PAGE_SIZE=2)
    yield base
    stop(process)


def _manifest(server: str) -> list[dict]:
    return httpx.get(server + "/dumps/", headers={"Accept": "application/json"}).json()["files"]


@pytest.fixture(scope="module")
def harvested(paged_server, tmp_path_factory):
    if not HARVEST_PYTHON.exists():
        pytest.skip(f"the harvester's venv is missing ({HARVEST_PYTHON}): run `make harvester` "
                    "(pip install -r tests/harvest/requirements.txt into .venv-harvest)")
    licences = tmp_path_factory.mktemp("harvest") / "licences.json"
    licences.write_text(json.dumps(LICENCES), encoding="utf-8")
    run = subprocess.run([str(HARVEST_PYTHON), str(ROOT / "tests" / "harvest" / "ckan_harvest.py"),
                          paged_server + "/catalog", str(licences)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)


def test_ckan_harvester_reads_every_dataset_and_distribution_field_by_field(harvested, paged_server):
    files = _manifest(paged_server)
    # every named graph is a dataset, but the metadata graph, which describes them
    graphs = sorted({f["graph"] for f in files} - {"all", BASE + "graph/meta"})
    assert len(graphs) >= 6
    # every page was followed: the main dataset on the first, then two source datasets a page
    assert harvested["pages"] == [paged_server + "/catalog"] + [
        f"{paged_server}/catalog?page={n}" for n in range(2, 1 + -(-len(graphs) // 2))]
    datasets = {next(e["value"] for e in d["extras"] if e["key"] == "uri"): d for d in harvested["datasets"]}
    assert len(datasets) == len(harvested["datasets"])  # each dataset read once
    expected = {BASE + "id/dataset/ptce-kg": "all"} | {
        BASE + "id/dataset/" + g[len(BASE + "graph/"):]: g for g in graphs}
    assert sorted(datasets) == sorted(expected)
    for uri, dataset in datasets.items():
        extras = {e["key"]: e["value"] for e in dataset["extras"]}
        assert dataset["title"] and dataset["notes"], uri
        assert dataset["license_id"] == ("cc-by-4.0" if uri.endswith("/geonames") else "etalab-2.0"), uri
        assert extras["publisher_uri"] == BASE + "id/publisher"
        assert extras["publisher_name"].startswith("ptce-kg")
        assert (extras["contact_uri"], extras["contact_name"], extras["contact_url"]) == (
            BASE + "id/contact", "ptce-kg", BASE)
        assert sorted(json.loads(extras["theme"])) == THEMES
        assert "PTCE" in {t["name"] for t in dataset["tags"]}
        assert extras["spatial_uri"] == EU + "country/FRA"
        assert extras["temporal_start"] == "2013-07-15"
        assert extras["access_rights"] == EU + "access-right/PUBLIC"
        assert extras["issued"] == "2026-11-22" and extras["modified"].startswith("20")
        resources = {r["uri"]: r for r in dataset["resources"]}
        dumps = [f for f in files if f["graph"] == expected[uri]]
        assert len(dumps) == 4, uri
        for f in dumps:
            r = resources.pop(BASE + "id/distribution/" + f["name"])
            assert r["download_url"] == r["access_url"] == f"{paged_server}/dumps/{f['name']}"
            assert r["format"] == EU + "file-type/" + FILE_TYPE[f["format"]]
            assert r["mimetype"] == IANA + f["media_type"]
            assert r["size"] == f["bytes"] and r["hash"] == f["sha256"]
            assert r["hash_algorithm"] == "http://spdx.org/rdf/terms#checksumAlgorithm_sha256"
            assert r["compress_format"] == IANA + "application/gzip"
            assert r["license"] and r["rights"]
            # what the harvester would download is what the catalogue says
            head = httpx.head(r["download_url"])
            assert head.status_code == 200 and int(head.headers["content-length"]) == f["bytes"]
        if uri.endswith("/ptce-kg"):  # the SPARQL endpoint, beside the dumps of the whole graph
            sparql = resources.pop(BASE + "id/distribution/sparql")
            assert sparql["access_url"] == paged_server + "/sparql" and "download_url" not in sparql
        if uri.endswith("/ptce-kg"):  # the French-schema CSV exports (tests/test_french_exports.py)
            for table in httpx.get(paged_server + "/dumps/", headers={"Accept": "application/json"}).json()["tables"]:
                r = resources.pop(BASE + "id/distribution/" + table["name"])
                assert r["download_url"] == f"{paged_server}/dumps/{table['name']}"
                assert r["mimetype"] == IANA + "text/csv" and r["format"] == EU + "file-type/CSV"
                assert r["size"] == table["bytes"] and r["hash"] == table["sha256"]
        assert not resources, uri


def _shapes() -> Path | None:
    return DCAT_AP if (DCAT_AP / "dcat-ap-SHACL.ttl").is_file() else None


def test_every_dataset_scores_excellent_by_the_mqa(embedded_server):
    with httpx.Client(timeout=60) as client:
        scores = mqa.score_catalogue(client, embedded_server + "/catalog", _shapes())
    compliance = 30 if _shapes() else 0
    by_name = {s.dataset[len(BASE + "id/dataset/"):]: s for s in scores}
    assert len(by_name) >= 7
    for name, score in by_name.items():
        assert score.points >= 351 and score.rating == "Excellent", (name, score.failures)
        if name == "ptce-kg":
            # its SPARQL distribution has no download URL and no byte size: 6 of its 7 distributions (4 dumps,
            # 2 French-schema CSV files, the endpoint) have them, so 1/7 of those 55 points is lost
            assert score.points == pytest.approx(375 + compliance - 55 / 7)
            assert sorted(f for f in score.failures if not f.startswith("dcat-ap")) == [
                "byte-size", "download-url", "download-url-accessible"]
        else:
            assert score.points == 375 + compliance, (name, score.failures)


def test_the_score_drops_with_each_missing_field_and_unreachable_url(embedded_server):
    with httpx.Client(timeout=60) as client:
        graph = mqa.harvest(client, embedded_server + "/catalog")
        registry = rdflib.URIRef(BASE + "id/dataset/registry")
        before = {s.dataset: s for s in mqa.score_graph(graph, mqa.Reachability(client))}[str(registry)]
        graph.remove((registry, rdflib.DCTERMS.spatial, None))
        graph.remove((registry, rdflib.DCTERMS.accessRights, None))
        dist = rdflib.URIRef(BASE + "id/distribution/registry.nt.gz")
        graph.set((dist, rdflib.URIRef("http://www.w3.org/ns/dcat#downloadURL"),
                   rdflib.URIRef(embedded_server + "/dumps/no-such-dump.nt.gz")))  # a real 404 of the server
        reachable = mqa.Reachability(client)
        after = {s.dataset: s for s in mqa.score_graph(graph, reachable)}[str(registry)]
    assert reachable.status[embedded_server + "/dumps/no-such-dump.nt.gz"] == 404
    assert before.points - after.points == pytest.approx(20 + 10 + 5 + 30 / 4)
    assert {"spatial", "access-rights", "access-rights-from-vocabulary", "download-url-accessible"} <= set(
        after.failures)


def test_cli_scores_a_running_service(embedded_server, capsys):
    code = mqa.main(["--score", "--url", embedded_server, "--format", "json"])  # `ptce-kg catalogue …`
    rows = json.loads(capsys.readouterr().out)
    assert code == 0 and len(rows) >= 7 and all(r["rating"] == "Excellent" for r in rows)
