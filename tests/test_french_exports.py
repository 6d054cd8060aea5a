"""The programmes as Etalab « dispositifs d'aide » rows and the awards as SCDL « subventions » rows.

Both CSV files are written by every build beside the dumps and must be valid against the vendored Table
Schemas (ptce_kg/exports/schemas/, no network): checked here with frictionless' command line and its Python
API on the files of a real build, with no error accepted. A row the graph cannot fill in every required field
is left out; the rows left out must be exactly those ptce_kg/exports/README.md lists. Known rows are checked,
and both files are served as distributions of the main dataset in the DCAT catalogue.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from collections import Counter

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
DOC = exports.HERE / "README.md"
# The fields of SCDL « subventions » the graph never holds (README beside the exports).
NEVER_KNOWN = {"idAttribuant", "dateConvention", "conditionsVersement", "datesPeriodeVersement", "notificationUE"}


@pytest.fixture(scope="module")
def folder(built_store):
    root = StoreRoot(built_store)
    return root.dumps_of(root.current_name())


def _rows(folder, name):
    return list(csv.DictReader(io.StringIO((folder / name).read_text(encoding="utf-8"))))


def _schema_path(name):
    return exports.SCHEMA_OF[name][1]


@pytest.mark.parametrize("name", [exports.DISPOSITIFS, exports.SUBVENTIONS])
def test_frictionless_validate_passes(folder, name):
    """`frictionless validate` (the command line) on the build's file, with the vendored schema: valid, no error."""
    run = subprocess.run(
        [sys.executable, "-m", "frictionless", "validate", "--trusted", "--json", "--schema", str(_schema_path(name)), name],
        cwd=folder, capture_output=True, text=True, timeout=300)
    report = json.loads(run.stdout)
    assert run.returncode == 0 and report["valid"], run.stdout[-3000:]
    assert report["stats"]["errors"] == 0 and report["tasks"][0]["stats"].get("rows", 0) == len(_rows(folder, name))


@pytest.mark.parametrize("name", [exports.DISPOSITIFS, exports.SUBVENTIONS])
def test_the_exports_validate_with_the_python_api(folder, name):
    schema = Schema.from_descriptor(json.loads(_schema_path(name).read_text(encoding="utf-8")))
    report = Resource(path=name, basepath=str(folder), schema=schema).validate()
    assert report.valid, [e.message for e in report.flatten(["message"])][:20]
    header = next(csv.reader(io.StringIO((folder / name).read_text(encoding="utf-8"))))
    assert header == [f["name"] for f in json.loads(_schema_path(name).read_text())["fields"]]


def test_a_row_with_an_empty_required_field_would_fail_the_validator(folder, tmp_path):
    """The check above can fail: the same file with one required cell emptied is refused by frictionless."""
    rows = _rows(folder, exports.DISPOSITIFS)
    rows[0]["porteurs"] = ""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    (tmp_path / exports.DISPOSITIFS).write_text(buffer.getvalue(), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "frictionless", "validate", "--trusted", "--json", "--schema",
                          str(_schema_path(exports.DISPOSITIFS)), exports.DISPOSITIFS],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    report = json.loads(run.stdout)
    assert run.returncode != 0 and not report["valid"]
    assert [(e["type"], e["fieldName"]) for e in report["tasks"][0]["errors"]] == [("constraint-error", "porteurs")]


def _documented_programmes() -> dict[str, list[str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("### Programmes left out of `dispositifs-aide.csv`", 1)[1].split("\n\n", 2)[1]
    out = {}
    for line in section.splitlines()[2:]:
        slug, fields = re.fullmatch(r"\| `([^`]+)` \| (.+) \|", line).groups()
        out[BASE + "id/programme/" + slug] = re.findall(r"`([^`]+)`", fields)
    return out


def _documented_awards() -> Counter:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("### Awards left out of `subventions.csv`", 1)[1].split("| required fields", 1)[1]
    out = Counter()
    for line in section.split("\n\n", 1)[0].splitlines()[2:]:
        fields, count = re.fullmatch(r"\| (.+) \| (\d+) \|", line).groups()
        out[tuple(re.findall(r"`([^`]+)`", fields))] = int(count)
    return out


def test_the_rows_left_out_are_those_documented(store, folder):
    left_out = exports.left_out(store)
    assert dict(left_out[exports.DISPOSITIFS]) == _documented_programmes()
    assert Counter(tuple(m) for _, m in left_out[exports.SUBVENTIONS]) == _documented_awards()
    # each programme is either written or left out, never both; likewise each award
    written = {r["url_source"] for r in _rows(folder, exports.DISPOSITIFS)}
    programmes = {r["url_source"] for r in exports.dispositifs(store)}
    assert written | {k for k, _ in left_out[exports.DISPOSITIFS]} == programmes
    assert not written & {k for k, _ in left_out[exports.DISPOSITIFS]}
    awards = exports.subventions(store)
    assert len(_rows(folder, exports.SUBVENTIONS)) + len(left_out[exports.SUBVENTIONS]) == len(awards) > 0
    assert all(NEVER_KNOWN <= set(m) for _, m in left_out[exports.SUBVENTIONS])
    # the fields named are really the empty required ones of each row, nothing else
    required = set(exports.required_fields(exports.DISPOSITIFS))
    by_iri = {r["url_source"]: r for r in exports.dispositifs(store)}
    for iri, missing in left_out[exports.DISPOSITIFS]:
        assert set(missing) == {f for f in required if by_iri[iri][f] == ""}


def test_golden_rows(store, folder):
    rows = {r["url_source"]: r for r in _rows(folder, exports.DISPOSITIFS)}
    aap = rows[AAP_2013]  # the 2013 call has all its required fields: written
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
    wave = rows[BASE + "id/programme/ami-2021-phase-2"]  # its funder is a result statement (seed 004)
    assert json.loads(wave["porteurs"]) == [{"nom": "État", "roles": ["financeur"]}]
    assert wave["programmes_parents"] == "AMI « PTCE émergents » – phase 2 (toutes vagues)"
    assert wave["eligibilite_geographique"] == "PAYS-99100" and wave["date_ouverture"] == "2021-07-19T00:00:00Z"
    # rows before leaving out: the Oise's scheme has its département, the awards their known values
    every = {r["url_source"]: r for r in exports.dispositifs(store)}
    assert every[BASE + "id/programme/oise-soutien-ptce"]["eligibilite_geographique"] == "DEP-60"
    grants = exports.subventions(store)
    ardaines = next(r for r in grants if r["nomBeneficiaire"] == "ARDAINES")
    assert ardaines["dispositifAide"] == aap["id"]
    assert ardaines["objet"] == "Lauréat de « Appel à projets pour le développement des PTCE (2013) » (2013)"
    assert "Caisse des Dépôts" in ardaines["nomAttribuant"].split(" ; ")
    # unknown stays empty: no amount, SIRET or date is guessed
    assert ardaines["montant"] == ardaines["nature"] == ardaines["idAttribuant"] == ardaines["dateConvention"] == ""
    turfu = next(r for r in grants if r["nomBeneficiaire"] == "PTCE Turfu Productions en Val d'Allier")
    assert (turfu["montant"], turfu["nature"], turfu["pourcentageSubvention"]) == ("100000", "aide en numéraire", "1.00")
    assert turfu["idBeneficiaire"] == "" and turfu["notificationUE"] == ""


def test_served_and_catalogued(folder, embedded_server):
    tables = {t.name: t for t in read_tables(folder)}
    assert set(tables) == {exports.DISPOSITIFS, exports.SUBVENTIONS}
    assert tables[exports.DISPOSITIFS].rows == len(_rows(folder, exports.DISPOSITIFS)) >= 1
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
