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
    assert [r["phase"] for r in rows] == [f"{P}ami-2021-phase-2", f"{P}ami-2022-phase-2", f"{P}ami-2023-phase-2",
                                          f"{P}ami-2024-phase-2"]
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


def _edit_statement(tmp_path, subject, prop, n, field, value):
    path = tmp_path / "statements.csv"
    shutil.copy(HERE / "statements.csv", path)
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    line = None
    for i, row in enumerate(rows):
        if (row["subject"], row["property"], row["n"]) == (subject, prop, str(n)):
            row[field] = value
            line = i + 2
    assert line
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path, line


def load_statements_table(path, ctx):
    sink = TripleSink(graph("programmes"))
    ProgrammesSource(statements=path).load(sink, ctx)
    return sink


def test_non_numeric_figure_names_file_line_and_field(tmp_path, real_ctx):
    path, line = _edit_statement(tmp_path, "aap-2013", "applications", 1, "value", "cent quatre-vingts")
    with pytest.raises(IngestError) as error:
        load_statements_table(path, real_ctx)
    assert (error.value.field, error.value.line) == ("value", line)
    assert "statements.csv" in str(error.value)


def test_two_preferred_values_are_refused(tmp_path, real_ctx):
    path, line = _edit_statement(tmp_path, "aap-2013", "applications", 2, "rank", "preferred")
    with pytest.raises(IngestError) as error:
        load_statements_table(path, real_ctx)
    assert (error.value.field, error.value.line) == ("rank", line)


def test_no_verbatim_passage_from_a_web_page(tmp_path, real_ctx):
    path, line = _edit_statement(tmp_path, "ami-2025", "laureates", 1, "passage", "huit Pôles territoriaux")
    with pytest.raises(IngestError) as error:
        load_statements_table(path, real_ctx)
    assert (error.value.field, error.value.line) == ("passage", line)


def test_a_seed_statement_quotes_its_passage(tmp_path, real_ctx):
    path, line = _edit_statement(tmp_path, "aap-2013", "laureates", 1, "passage", "")
    with pytest.raises(IngestError) as error:
        load_statements_table(path, real_ctx)
    assert (error.value.field, error.value.line) == ("passage", line)


# The programmes' figures as the documents give them: (programme, property, n) -> (value, precision, status, rank).
GOLDEN = {
    ("appels-interministeriels-2013-2015", "laureates", 1): ("37", "exact", "result", "preferred"),  # « 37 d'entre eux »
    ("aap-2013", "applications", 1): ("180", "exact", "result", "preferred"),
    ("aap-2013", "applications", 2): ("182", "exact", "result", "normal"),
    ("aap-2013", "admissible", 1): ("130", "exact", "result", "preferred"),
    ("aap-2013", "laureates", 1): ("23", "exact", "result", "preferred"),
    ("aap-2013", "budget", 1): ("3000000", "exact", "result", "preferred"),
    ("aap-2015", "year", 1): ("2015", "exact", "result", "preferred"),
    ("aap-2015", "year", 2): ("2016", "exact", "result", "normal"),
    ("aap-2015", "year", 3): ("2016", "exact", "result", "normal"),
    ("aap-2015", "year", 4): ("2015", "exact", "announced", "normal"),
    ("aap-2015", "applications", 1): ("125", "exact", "result", "preferred"),
    ("aap-2015", "admissible", 1): ("85", "exact", "result", "preferred"),
    ("aap-2015", "admissible", 2): ("99", "exact", "result", "normal"),
    ("aap-2015", "laureates", 1): ("14", "exact", "result", "preferred"),
    ("aap-2015", "budget", 1): ("2750000", "exact", "result", "preferred"),
    ("aap-2015", "budget", 2): ("2700000", "exact", "announced", "normal"),
    ("aap-2015", "budget", 3): ("2700000", "exact", "result", "normal"),
    ("ami-phase-1", "laureates", 1): ("147", "exact", "result", "preferred"),
    ("ami-phase-2", "laureates", 1): ("31", "exact", "result", "preferred"),
    ("ami-phase-2", "amount-per-laureate", 1): ("100000", "exact", "result", "preferred"),
    ("ami-2021-phase-1", "applications", 1): ("135", "exact", "result", "preferred"),
    ("ami-2021-phase-1", "applications", 2): ("134", "exact", "result", "normal"),
    ("ami-2021-phase-1", "laureates", 1): ("107", "exact", "result", "preferred"),
    ("ami-2021-phase-2", "invited", 1): ("40", "exact", "result", "preferred"),
    ("ami-2021-phase-2", "laureates", 1): ("15", "exact", "result", "preferred"),
    ("ami-2021-phase-2", "laureates", 2): ("15", "at-least", "announced", "normal"),
    ("ami-2021-phase-2", "laureates", 3): ("20", "at-most", "announced", "normal"),
    ("ami-2021-phase-2", "amount-per-laureate", 1): ("100000", "exact", "result", "preferred"),
    ("ami-2022-phase-2", "laureates", 1): ("15", "exact", "announced", "normal"),
    ("ami-2022-phase-2", "amount-per-laureate", 1): ("100000", "exact", "announced", "normal"),
    ("ami-2023-phase-2", "applications", 1): ("72", "exact", "result", "preferred"),
    ("ami-2023-phase-2", "laureates", 1): ("15", "exact", "result", "preferred"),
    ("ami-2023-phase-2", "amount-per-laureate", 1): ("100000", "exact", "result", "preferred"),
    ("ami-2023-phase-2", "budget", 1): ("1500000", "exact", "announced", "preferred"),
    ("ami-2024-phase-2", "applications", 1): ("64", "exact", "result", "preferred"),       # DEETS La Réunion, 2024
    ("ami-2024-phase-2", "laureates", 1): ("15", "exact", "result", "preferred"),
    ("ami-2024-phase-2", "amount-per-laureate", 1): ("100000", "exact", "result", "preferred"),
    ("ami-2025", "applications", 1): ("79", "exact", "result", "preferred"),
    ("ami-2025", "laureates", 1): ("8", "exact", "result", "preferred"),
    ("ami-2025", "budget", 1): ("500000", "exact", "result", "preferred"),
    ("appel-poles-temoins-2011", "laureates", 1): ("20", "about", "result", "preferred"),
    ("appel-poles-temoins-2011", "laureates", 2): ("20", "at-least", "result", "normal"),
}
ST = "https://w3id.org/ptce-kg/id/statement/programme/"


def test_golden_list_of_programme_figures(real_ctx):
    store = load(ctx=real_ctx)
    rows = select(store, f"""PREFIX wikibase: <http://wikiba.se/ontology#>
        SELECT ?st ?value ?precision ?status ?rank ?doc {{ ?st a <{PTCE}Statement> ; <http://www.w3.org/1999/02/22-rdf-syntax-ns#value> ?value ;
            <{PTCE}precision> ?precision ; <{PTCE}statementStatus> ?status ; wikibase:rank ?rank ;
            <http://www.w3.org/ns/prov#wasDerivedFrom>/<http://purl.org/dc/terms/source> ?doc }}""")
    got = {tuple(r["st"][len(ST):].split("/")): (r["value"], r["precision"].rsplit("/", 1)[1],
                                                  r["status"].rsplit("/", 1)[1],
                                                  r["rank"].rsplit("#", 1)[1].replace("Rank", "").lower())
           for r in rows}
    assert {(p, k, int(n)): v for (p, k, n), v in got.items()} == GOLDEN


def test_truthy_triples_only_for_preferred_exact_values(real_ctx):
    store = load(ctx=real_ctx)
    rows = select(store, f"""SELECT ?p ?v {{ <{P}aap-2013> ?p ?v
        FILTER(?p IN (<{PTCE}applicationCount>, <{PTCE}admissibleCount>, <{PTCE}laureateCount>, <{PTCE}budget>)) }}""")
    assert {r["p"].rsplit("#", 1)[1]: r["v"] for r in rows} == {
        "applicationCount": "180", "admissibleCount": "130", "laureateCount": "23", "budget": "3000000"}
    # the 2022 wave's 15 laureates are an announcement: no plain laureate count
    assert select(store, f"SELECT ?v {{ <{P}ami-2022-phase-2> <{PTCE}laureateCount> ?v }}") == []
    assert select(store, f"SELECT ?v {{ <{P}aap-2015> <{PTCE}year> ?v }}") == [{"v": "2015"}]
    # the waves of phase 2 with a laureate count stay within their parent's 31
    rows = select(store, f"""PREFIX dct: <http://purl.org/dc/terms/>
        SELECT (SUM(?n) AS ?total) {{ ?w dct:isPartOf <{P}ami-phase-2> ; <{PTCE}laureateCount> ?n ;
            <{PTCE}year> ?year FILTER(STR(?year) <= "2023") }}""")  # the parent's 31 is of October 2023
    assert int(rows[0]["total"]) <= 31


def test_unknown_funder_is_refused(tmp_path, real_ctx):
    path, line = _edit(tmp_path, "aap-2015", "funders", "ministere-imaginaire")
    with pytest.raises(IngestError) as error:
        load(path, real_ctx)
    assert (error.value.field, error.value.line) == ("funders", line)


@pytest.mark.parametrize("key, field, value, reason", [
    ("ami-2025", "passage", "huit Pôles territoriaux de coopération économique", "no verbatim passage from a web page"),
    ("ami-2025", "retrieved", "", "required value"),
    ("ami-2025", "retrieved", "2026-13-01", "not a date YYYY-MM-DD"),
    ("ami-2025", "note", "", "required value"),
    ("aap-2013", "note", "L'appel de 2013 a reçu 180 candidatures.", "a seed is quoted (passage), not paraphrased"),
])
def test_a_programme_row_quotes_a_seed_or_dates_a_note_on_a_web_page(tmp_path, real_ctx, key, field, value, reason):
    path, line = _edit(tmp_path, key, field, value)
    with pytest.raises(IngestError) as error:
        load(path, real_ctx)
    assert (error.value.field, error.value.line) == (field, line)
    assert error.value.file.endswith("programmes.csv") and reason in str(error.value)


def test_a_web_page_programme_row_keeps_its_note_and_date_read(real_ctx):
    store = load(ctx=real_ctx)
    rows = select(store, f"""PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        SELECT ?note ?read {{ <https://w3id.org/ptce-kg/id/citation/programmes/ami-2025> rdfs:comment ?note ;
            <{PTCE}retrieved> ?read
            FILTER NOT EXISTS {{ <https://w3id.org/ptce-kg/id/citation/programmes/ami-2025> <{PTCE}passage> ?p }} }}""")
    assert len(rows) == 1 and rows[0]["read"] == "2026-12-01" and "Coorace" in rows[0]["note"]


def test_a_funder_stated_with_its_reference_is_direct_only_as_a_result(real_ctx):
    """Seed 004 announces State funding for phase 2 (2021, future tense) and lists the minister's communiqué of
    25 November 2021 on the financial support of 15 PTCE: the announcement stays a statement, the result is
    also the wave's direct ptce:funder."""
    store = load(ctx=real_ctx)
    etat = "https://w3id.org/ptce-kg/id/organisation/etat"
    rows = select(store, f"""PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
        SELECT ?subject ?status ?passage {{
          ?s <{PTCE}statementProperty> <{PTCE}funder> ; <{PTCE}statementSubject> ?subject ; rdf:value <{etat}> ;
             <{PTCE}statementStatus> ?status ; <http://www.w3.org/ns/prov#wasDerivedFrom>/<{PTCE}passage> ?passage }}
        ORDER BY ?subject""")
    assert [(r["subject"], r["status"].rsplit("/", 1)[-1]) for r in rows] == [
        (f"{P}ami-2021-phase-2", "result"), (f"{P}ami-phase-2", "announced")]
    assert "financement de l’État de 100 000€ pour 2 ans" in rows[1]["passage"]
    assert select(store, f"SELECT ?f {{ <{P}ami-2021-phase-2> <{PTCE}funder> ?f }}") == [{"f": etat}]
    assert select(store, f"SELECT ?f {{ <{P}ami-phase-2> <{PTCE}funder> ?f }}") == []


def test_a_funder_in_the_table_and_in_a_statement_is_refused(tmp_path, real_ctx):
    table, _ = _edit(tmp_path, "ami-2021-phase-2", "funders", "etat")
    sink = TripleSink(graph("programmes"))
    with pytest.raises(IngestError) as error:
        ProgrammesSource(table).load(sink, real_ctx)
    assert error.value.field == "property" and "funder of 'ami-2021-phase-2' is given both" in str(error.value)
