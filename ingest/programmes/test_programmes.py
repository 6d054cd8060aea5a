"""Funding programmes: the curated table, its figures and its errors."""

from __future__ import annotations

import csv
import shutil

import pyoxigraph
import pytest

from conftest import select
from ingest.base import BuildContext
from ingest.programmes import ProgrammesSource
from ingest.programmes.mapping import HERE
from ptce_kg.errors import IngestError
from ptce_kg.rdf import TripleSink, graph

P = "https://w3id.org/ptce-kg/id/programme/"
PTCE = "https://w3id.org/ptce-kg/def#"


def load(table=None, ctx=None):
    sink = TripleSink(graph("programmes"))
    ProgrammesSource(table).load(sink, ctx or BuildContext())
    store = pyoxigraph.Store()
    store.extend(sink.quads)
    return store


def test_phases_belong_to_their_call(real_ctx):
    store = load(ctx=real_ctx)
    rows = select(store, f"""PREFIX dct: <http://purl.org/dc/terms/>
        SELECT ?phase {{ ?phase dct:isPartOf <{P}ami-phase-2> }} ORDER BY ?phase""")
    assert [r["phase"] for r in rows] == [f"{P}ami-2021-phase-2", f"{P}ami-2022-phase-2", f"{P}ami-2023-phase-2"]
    rows = select(store, f"""PREFIX dct: <http://purl.org/dc/terms/>
        SELECT ?call {{ <{P}ami-2021-phase-1> dct:isPartOf+ ?call }} ORDER BY ?call""")
    assert [r["call"] for r in rows] == [f"{P}ami-phase-1", f"{P}ami-ptce-emergents"]


def test_each_programme_cites_its_document(real_ctx):
    store = load(ctx=real_ctx)
    rows = select(store, f"""PREFIX dct: <http://purl.org/dc/terms/>
        SELECT ?p (COUNT(?d) AS ?n) {{ ?p a <{PTCE}FundingProgramme> OPTIONAL {{ ?p dct:source ?d }} }} GROUP BY ?p""")
    assert len(rows) >= 17
    assert all(int(r["n"]) >= 1 for r in rows)


def test_regional_scheme_is_funded_by_its_region(real_ctx):
    store = load(ctx=real_ctx)
    rows = select(store, f"SELECT ?f {{ <{P}acte-hauts-de-france> <{PTCE}funder> ?f }}")
    assert rows == [{"f": "https://w3id.org/ptce-kg/id/region/32"}]
    rows = select(store, f"SELECT ?f {{ <{P}oise-soutien-ptce> <{PTCE}funder> ?f }}")
    assert rows == [{"f": "https://w3id.org/ptce-kg/id/departement/60"}]


def _edit(tmp_path, key, field, value):
    path = tmp_path / "programmes.csv"
    shutil.copy(HERE / "programmes.csv", path)
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    fields = list(rows[0])
    line = None
    for i, row in enumerate(rows):
        if row["id"] == key:
            row[field] = value
            line = i + 2  # header is line 1
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path, line


def test_non_numeric_figure_names_file_line_and_field(tmp_path, real_ctx):
    path, line = _edit(tmp_path, "aap-2013", "applications", "cent quatre-vingts")
    with pytest.raises(IngestError) as error:
        load(path, real_ctx)
    assert (error.value.field, error.value.line) == ("applications", line)
    assert "programmes.csv" in str(error.value)


def test_unknown_funder_is_refused(tmp_path, real_ctx):
    path, line = _edit(tmp_path, "aap-2015", "funders", "ministere-imaginaire")
    with pytest.raises(IngestError) as error:
        load(path, real_ctx)
    assert (error.value.field, error.value.line) == ("funders", line)
