"""The programmes as Etalab « dispositifs d'aide » rows and the awards as SCDL « subventions » rows.

Both CSV files are written by every build beside the dumps, validated here with frictionless against the
vendored Table Schemas (ptce_kg/exports/schemas/, no network), checked on known rows, and served as
distributions of the main dataset in the DCAT catalogue.
"""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest
import rdflib
from frictionless import Resource, Schema
from rdflib.namespace import DCAT, DCTERMS

from ptce_kg import exports
from ptce_kg.export import read_tables
from ptce_kg.store import StoreRoot

BASE = "https://w3id.org/ptce-kg/"
AAP_2013 = BASE + "id/programme/aap-2013"
# The required fields the graph cannot fill (README, « Exports aux schémas français »): the only errors accepted.
ACCEPTED_EMPTY = {
    exports.DISPOSITIFS: {"eligibilite", "types_aides", "porteurs", "eligibilite_geographique"},
    exports.SUBVENTIONS: {"nomAttribuant", "idAttribuant", "dateConvention", "montant", "nature",
                          "conditionsVersement", "datesPeriodeVersement", "notificationUE", "pourcentageSubvention"},
}


@pytest.fixture(scope="module")
def folder(built_store):
    root = StoreRoot(built_store)
    return root.dumps_of(root.current_name())


def _rows(folder, name):
    return list(csv.DictReader(io.StringIO((folder / name).read_text(encoding="utf-8"))))


def _report(folder, name):
    schema = Schema.from_descriptor(json.loads(exports.SCHEMA_OF[name][1].read_text(encoding="utf-8")))
    return Resource(path=name, basepath=str(folder), schema=schema).validate()


@pytest.mark.parametrize("name", [exports.DISPOSITIFS, exports.SUBVENTIONS])
def test_the_exports_validate_but_for_the_documented_empty_required_fields(folder, name):
    report = _report(folder, name)
    task = report.tasks[0]
    assert task.stats["rows"] == len(_rows(folder, name)) > 0
    header = next(csv.reader(io.StringIO((folder / name).read_text(encoding="utf-8"))))
    assert header == [f["name"] for f in json.loads(exports.SCHEMA_OF[name][1].read_text())["fields"]]
    rows = _rows(folder, name)
    for error in task.errors:
        # no type, pattern, enum, length or structure error: only a required cell left empty, on a known field
        assert error.type == "constraint-error", error.message
        assert "required" in error.note, error.message
        assert error.field_name in ACCEPTED_EMPTY[name], error.message
        assert rows[error.row_number - 2][error.field_name] == ""


def test_rows_with_every_required_value_validate_fully(folder):
    errors = _report(folder, exports.DISPOSITIFS).tasks[0].errors
    rows = _rows(folder, exports.DISPOSITIFS)
    failing = {rows[e.row_number - 2]["titre"] for e in errors}
    aap = next(r for r in rows if r["url_source"] == AAP_2013)
    assert aap["titre"] not in failing  # the 2013 call has all its required fields
    assert len(failing) < len(rows)


def test_golden_rows(folder):
    rows = {r["url_source"]: r for r in _rows(folder, exports.DISPOSITIFS)}
    aap = rows[AAP_2013]
    assert aap["id"] == exports.programme_uuid(AAP_2013)
    assert aap["titre"] == "Appel à projets pour le développement des PTCE (2013)"
    assert aap["types_aides"] == "financement" and "enveloppe de 3000000 euros" in aap["description"]
    assert "23 lauréats" in aap["description"]
    porteurs = json.loads(aap["porteurs"])
    assert {"nom": "Caisse des Dépôts", "roles": ["financeur"]} in porteurs and len(porteurs) == 5
    assert aap["eligibilite_geographique"] == "PAYS-99100"
    assert aap["date_ouverture"] == "2013-07-15T00:00:00Z" and aap["date_cloture"] == ""
    assert aap["programmes_parents"] == "Appels à projets interministériels PTCE de 2013 et 2015"
    assert aap["eligibilite"].startswith("• Regroupement ESS et entreprises : ")
    oise = rows[BASE + "id/programme/oise-soutien-ptce"]
    assert oise["eligibilite_geographique"] == "DEP-60"
    grants = _rows(folder, exports.SUBVENTIONS)
    ardaines = next(r for r in grants if r["nomBeneficiaire"] == "ARDAINES")
    assert ardaines["dispositifAide"] == aap["id"]
    assert ardaines["objet"] == "Lauréat de « Appel à projets pour le développement des PTCE (2013) » (2013)"
    assert "Caisse des Dépôts" in ardaines["nomAttribuant"].split(" ; ")
    # unknown stays empty: no amount, SIRET or date is guessed
    assert ardaines["montant"] == ardaines["nature"] == ardaines["idAttribuant"] == ardaines["dateConvention"] == ""
    turfu = next(r for r in grants if r["nomBeneficiaire"] == "PTCE Turfu Productions en Val d'Allier")
    assert (turfu["montant"], turfu["nature"]) == ("100000", "aide en numéraire")
    assert turfu["idBeneficiaire"] == "" and turfu["notificationUE"] == ""


def test_served_and_catalogued(folder, embedded_server):
    tables = {t.name: t for t in read_tables(folder)}
    assert set(tables) == {exports.DISPOSITIFS, exports.SUBVENTIONS}
    catalogue = rdflib.Graph().parse(data=httpx.get(embedded_server + "/catalog",
                                                    headers={"Accept": "text/turtle"}).text, format="turtle")
    main = rdflib.URIRef(BASE + "id/dataset/ptce-kg")
    for name, table in tables.items():
        body = httpx.get(f"{embedded_server}/dumps/{name}")
        assert body.status_code == 200 and body.headers["content-type"].startswith("text/csv")
        assert body.content == (folder / name).read_bytes() and len(body.content) == table.bytes
        dist = rdflib.URIRef(BASE + "id/distribution/" + name)
        assert (main, DCAT.distribution, dist) in catalogue
        assert catalogue.value(dist, DCAT.mediaType) == rdflib.URIRef("https://www.iana.org/assignments/media-types/text/csv")
        assert catalogue.value(dist, DCTERMS.conformsTo) == rdflib.URIRef(exports.SCHEMA_OF[name][0])
        assert str(catalogue.value(dist, DCAT.downloadURL)).endswith(f"/dumps/{name}")
        assert int(catalogue.value(dist, DCAT.byteSize)) == table.bytes
