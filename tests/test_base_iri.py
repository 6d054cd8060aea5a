"""A deployment under another base IRI mints, serves and dereferences its own IRIs (ptce_kg/iris.py).

Built and served in child processes started with PTCE_KG_BASE_IRI, as an operator would run it.
"""

import subprocess
import sys

import httpx
import pytest

from conftest import ROOT, TERRITORY_FIXTURES, guarded_env, start_server, stop

BASE = "https://example.org/kg/"
DEFAULT = "https://w3id.org/ptce-kg/"


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory):
    store = tmp_path_factory.mktemp("base-iri") / "store"
    script = ("import sys; from ingest.territories import TerritoriesSource; from ptce_kg.build import build; "
              "build(sys.argv[1], sources=[TerritoriesSource(sys.argv[2])], progress=lambda m: None)")
    subprocess.run([sys.executable, "-c", script, str(store), str(TERRITORY_FIXTURES)], cwd=ROOT, check=True,
                   env=guarded_env(PTCE_KG_BASE_IRI=BASE), timeout=300)
    process, url = start_server(store, PTCE_KG_BASE_IRI=BASE)
    yield url
    stop(process)


def test_its_resources_dereference_under_its_own_base(elsewhere):
    response = httpx.get(elsewhere + "/id/commune/01001", headers={"Accept": "application/n-triples"}, follow_redirects=True)
    assert response.status_code == 200
    assert f"<{BASE}id/commune/01001> " in response.text
    assert f"{DEFAULT}id/" not in response.text and f"{DEFAULT}graph/" not in response.text
    assert f"<{DEFAULT}def#Commune>" in response.text  # the vocabulary is the same on every deployment
    page = httpx.get(elsewhere + "/id/commune/01001", headers={"Accept": "text/html"}, follow_redirects=True)
    assert page.status_code == 200 and 'href="/id/departement/01"' in page.text


def test_the_endpoint_and_the_metadata_speak_of_its_iris(elsewhere):
    answer = httpx.get(elsewhere + "/sparql", params={"query": f"SELECT ?c WHERE {{ ?c a <{DEFAULT}def#Commune> }}"},
                       headers={"Accept": "application/sparql-results+json"}).json()
    communes = [b["c"]["value"] for b in answer["results"]["bindings"]]
    assert "https://example.org/kg/id/commune/01001" in communes and len(communes) == 7 and all(c.startswith(BASE + "id/commune/") for c in communes)
    graphs = httpx.get(elsewhere + "/sparql", params={"query": "SELECT DISTINCT ?g WHERE { GRAPH ?g { } }"},
                       headers={"Accept": "application/sparql-results+json"}).json()
    names = {b["g"]["value"] for b in graphs["results"]["bindings"]}
    assert {BASE + "graph/territories", BASE + "graph/meta"} <= names
    assert not any(n.startswith(DEFAULT) for n in names)
    void = httpx.get(elsewhere + "/.well-known/void", headers={"Accept": "application/n-triples"}).text
    assert f'"{BASE}id/"' in void and f"<{DEFAULT}id/" not in void
    catalog = httpx.get(elsewhere + "/catalog", headers={"Accept": "application/n-triples"}).text
    assert f"<{BASE}id/catalog> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/ns/dcat#Catalog>" in catalog
    assert f"<{BASE}id/dataset/territories> " in catalog and f"<{DEFAULT}id/" not in catalog


def test_its_research_queries_run_on_its_iris(elsewhere, tmp_path_factory):
    """The project's queries are written once with the default base and read for the configured one."""
    store = next(tmp_path_factory.getbasetemp().glob("base-iri*")) / "store"
    done = subprocess.run([sys.executable, "-m", "cli", "query", "--store", str(store), "--format", "csv",
                           "communes-of-an-epci"], cwd=ROOT, env=guarded_env(PTCE_KG_BASE_IRI=BASE),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2 and f"{BASE}id/commune/69123" in lines[1] and "Lyon" in lines[1]
