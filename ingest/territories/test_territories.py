"""Territories from the découpage administratif, on a small subset in the package's own format."""

from __future__ import annotations

import json
import shutil

import pyoxigraph
import pytest

from conftest import TERRITORY_FIXTURES, select
from ingest.base import BuildContext
from ingest.territories import TerritoriesSource
from ptce_kg.errors import IngestError
from ptce_kg.rdf import TripleSink, graph

PTCE = "https://w3id.org/ptce-kg/def#"
ID = "https://w3id.org/ptce-kg/id/"


def load(folder):
    sink = TripleSink(graph("territories"))
    ctx = BuildContext()
    TerritoriesSource(folder).load(sink, ctx)
    store = pyoxigraph.Store()
    store.extend(sink.quads)
    return store, ctx


@pytest.fixture(scope="module")
def fixture_store():
    return load(TERRITORY_FIXTURES)[0]


def types(store, iri):
    return {r["t"] for r in select(store, f"SELECT ?t {{ <{iri}> a ?t }}")}


def test_commune_goes_up_to_epci_departement_and_region(fixture_store):
    rows = select(fixture_store, f"""
        SELECT ?epci ?dep ?reg {{ <{ID}commune/01001> <{PTCE}epci> ?epci ;
            <{PTCE}departement> ?dep . ?dep <{PTCE}region> ?reg }}""")
    assert rows == [{"epci": f"{ID}epci/200069193", "dep": f"{ID}departement/01", "reg": f"{ID}region/84"}]


def test_communes_deleguees_and_associees_are_not_plain_communes(fixture_store):
    deleguee = f"{ID}commune-deleguee/01015"
    assert f"{PTCE}CommuneDeleguee" in types(fixture_store, deleguee)
    assert f"{PTCE}Commune" not in types(fixture_store, deleguee)
    assert select(fixture_store, f"SELECT ?c {{ <{deleguee}> <{PTCE}parentCommune> ?c }}") == [{"c": f"{ID}commune/01015"}]
    associee = f"{ID}commune-associee/01120"
    assert f"{PTCE}CommuneAssociee" in types(fixture_store, associee)
    assert select(fixture_store, f"SELECT ?c {{ <{associee}> <{PTCE}parentCommune> ?c }}") == [{"c": f"{ID}commune/01262"}]


def test_municipal_arrondissement_belongs_to_its_commune(fixture_store):
    node = f"{ID}arrondissement-municipal/13201"
    assert f"{PTCE}ArrondissementMunicipal" in types(fixture_store, node)
    assert select(fixture_store, f"SELECT ?c {{ <{node}> <{PTCE}parentCommune> ?c }}") == [{"c": f"{ID}commune/13055"}]


def test_overseas_collectivity_and_its_communes(fixture_store):
    assert f"{PTCE}CollectiviteOutreMer" in types(fixture_store, f"{ID}collectivite-outre-mer/975")
    assert f"{PTCE}Region" not in types(fixture_store, f"{ID}collectivite-outre-mer/975")
    rows = select(fixture_store, f"""SELECT ?c {{ ?c <{PTCE}collectiviteOutreMer> <{ID}collectivite-outre-mer/975> ;
                                       a <{PTCE}CommuneOutreMer> }} ORDER BY ?c""")
    assert [r["c"] for r in rows] == [f"{ID}commune-outre-mer/97501", f"{ID}commune-outre-mer/97502"]


def test_insee_identifiers_and_epci_nature(fixture_store):
    rows = select(fixture_store, f"""
        PREFIX adms: <http://www.w3.org/ns/adms#>
        PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
        SELECT ?code ?label {{ <{ID}commune/13055> adms:identifier ?i ; <http://www.w3.org/2000/01/rdf-schema#label> ?label .
                               ?i skos:notation ?code }}""")
    assert rows == [{"code": "13055", "label": "Marseille"}]
    nature = select(fixture_store, f"SELECT ?n {{ <{ID}epci/200054807> <{PTCE}epciNature> ?n }}")
    assert nature == [{"n": "https://w3id.org/ptce-kg/code/epci-nature/METRO"}]


def test_context_indexes_every_level():
    _, ctx = load(TERRITORY_FIXTURES)
    assert {"region:84", "departement:01", "commune:01001", "epci:200046977", "collectivite-outre-mer:975",
            "commune-deleguee:01015", "arrondissement-municipal:13201"} <= set(ctx.territories)


def _broken_copy(tmp_path, edit):
    folder = tmp_path / "pkg"
    shutil.copytree(TERRITORY_FIXTURES, folder)
    path = folder / "data" / "communes.json"
    items = json.loads(path.read_text(encoding="utf-8"))
    edit(items)
    path.write_text(json.dumps(items, ensure_ascii=False, indent=1), encoding="utf-8")
    return folder


def test_unknown_departement_says_file_item_and_field(tmp_path):
    def edit(items):
        items[0]["departement"] = "99"
    with pytest.raises(IngestError) as error:
        load(_broken_copy(tmp_path, edit))
    message = str(error.value)
    assert "communes.json" in message and "item 0" in message and "departement" in message and "99" in message


def test_missing_name_says_field(tmp_path):
    def edit(items):
        del items[2]["nom"]
    with pytest.raises(IngestError) as error:
        load(_broken_copy(tmp_path, edit))
    assert error.value.file.endswith("communes.json") and error.value.field == "nom"


def test_invalid_json_says_line(tmp_path):
    folder = tmp_path / "pkg"
    shutil.copytree(TERRITORY_FIXTURES, folder)
    path = folder / "data" / "epci.json"
    path.write_text("[\n {\"code\": \"1\",\n oops\n]", encoding="utf-8")
    with pytest.raises(IngestError) as error:
        load(folder)
    assert error.value.line == 3 and "epci.json" in str(error.value)


def test_missing_package_tells_how_to_install(tmp_path):
    with pytest.raises(IngestError) as error:
        load(tmp_path)
    assert "npm ci" in str(error.value)
