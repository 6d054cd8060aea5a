"""The curated PTCE registry: its content and the errors a curator gets for a bad row."""

from __future__ import annotations

import csv
import shutil

import pyoxigraph
import pytest

from conftest import select
from ingest.registry import RegistrySource
from ingest.registry.mapping import HERE
from ptce_kg.errors import IngestError
from ptce_kg.rdf import TripleSink, graph

ID = "https://w3id.org/ptce-kg/id/"
PTCE = "https://w3id.org/ptce-kg/def#"


def load(folder, ctx):
    sink = TripleSink(graph("registry"))
    RegistrySource(folder).load(sink, ctx)
    store = pyoxigraph.Store()
    store.extend(sink.quads)
    return store


@pytest.fixture(scope="module")
def registry(real_ctx):
    return load(None, real_ctx)


def test_every_row_cites_a_document_and_passage(registry):
    """A quoted passage (a seed) or, for a web page, the fact in our words and the date read; never both."""
    rows = select(registry, f"""PREFIX dct: <http://purl.org/dc/terms/> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        SELECT (COUNT(?p) AS ?n) {{ ?p a <{PTCE}PTCE>
          FILTER NOT EXISTS {{ ?p <{PTCE}citation> ?c . ?c dct:source ?d .
            {{ ?c <{PTCE}passage> ?text }} UNION {{ ?c rdfs:comment ?note ; <{PTCE}retrieved> ?read }} }} }}""")
    assert rows == [{"n": "0"}]
    rows = select(registry, f"""PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        SELECT ?c {{ ?c a <{PTCE}Citation> ; <{PTCE}passage> ?text ; rdfs:comment ?note }}""")
    assert rows == []


def test_a_web_page_row_is_a_dated_note(registry):
    rows = select(registry, f"""PREFIX dct: <http://purl.org/dc/terms/> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        PREFIX schema: <https://schema.org/>
        SELECT ?note ?read ?url {{ <{ID}citation/awards/ami-2021-phase-2--turfu-productions> rdfs:comment ?note ;
            <{PTCE}retrieved> ?read ; dct:source ?doc . ?doc schema:url ?url
            FILTER NOT EXISTS {{ <{ID}citation/awards/ami-2021-phase-2--turfu-productions> <{PTCE}passage> ?p }} }}""")
    assert len(rows) == 1 and "TURFU PRODUCTIONS" in rows[0]["note"] and rows[0]["read"] == "2026-12-01"
    assert rows[0]["url"] == "https://chorum.fr/actualite/15-nouveaux-ptce-obtiennent-100-000-euros-de-soutien"


def test_clus_ter_jura_as_the_documents_state_it(registry):
    rows = select(registry, f"""
        SELECT ?carrier ?perimeter ?count {{ <{ID}ptce/cluster-jura> <{PTCE}carrier> ?carrier ;
            <{PTCE}perimeter> ?perimeter ; <{PTCE}declaredMemberCount> ?count }}""")
    assert rows == [{"carrier": f"{ID}organisation/juratri", "perimeter": f"{ID}commune/39300", "count": "40"}]


def test_carrier_is_a_member_in_the_carrier_circle(registry):
    rows = select(registry, f"""PREFIX org: <http://www.w3.org/ns/org#>
        SELECT ?p {{ ?p a <{PTCE}PTCE> ; <{PTCE}carrier> ?c .
          FILTER NOT EXISTS {{ ?m org:organization ?p ; org:member ?c ;
                               <{PTCE}circle> <https://w3id.org/ptce-kg/code/circle/carrier> }} }}""")
    assert rows == []


def test_ami_2021_phase_2_has_its_15_laureates(registry):
    rows = select(registry, f"""SELECT (COUNT(?a) AS ?n) (SUM(?amount) AS ?total) {{
        ?a <{PTCE}programme> <{ID}programme/ami-2021-phase-2> ; <{PTCE}amount> ?amount }}""")
    assert rows == [{"n": "15", "total": "1500000"}]


def _edit(tmp_path, table, match, field, value):
    folder = tmp_path / "registry"
    shutil.copytree(HERE, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = folder / table
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    fields = list(rows[0])
    line = None
    for i, row in enumerate(rows):
        if all(row[k] == v for k, v in match.items()):
            row[field] = value
            line = i + 2
            break
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return folder, line


@pytest.mark.parametrize("table, match, field, value, reason", [
    ("ptce.csv", {"id": "cluster-jura"}, "perimeter", "commune:99999", "unknown territory"),
    ("ptce.csv", {"id": "cluster-jura"}, "sectors", "alchimie", "alchimie"),
    ("ptce.csv", {"id": "cluster-jura"}, "source", "document-inconnu", "unknown document"),
    ("ptce.csv", {"id": "cluster-jura"}, "id", "Cluster Jura", "not a slug"),
    ("organisations.csv", {"id": "juratri"}, "siren", "123456789", "not a valid SIREN"),
    ("members.csv", {"ptce": "cluster-jura", "member": "juratri"}, "role", "magicien", "magicien"),
    ("awards.csv", {"ptce": "turfu-productions"}, "programme", "ami-1999", "unknown programme"),
    ("statements.csv", {"subject": "cluster-jura", "property": "member-count"}, "precision", "environ", "environ"),
    ("statements.csv", {"subject": "cluster-jura", "property": "member-count"}, "subject", "jura", "unknown ptce"),
    ("statements.csv", {"subject": "cluster-jura", "property": "member-count"}, "property", "members", "members"),
    ("statements.csv", {"subject": "cluster-jura", "property": "member-count"}, "value", "40+", "not a non-negative"),
    # a web page is never quoted, and its fact is dated; a seed is quoted, not paraphrased
    ("awards.csv", {"ptce": "turfu-productions"}, "passage", "15 lauréats se sont vus octroyer",
     "no verbatim passage from a web page (chorum-ami-2021)"),
    ("ptce.csv", {"id": "reuniverre"}, "retrieved", "", "required value"),
    ("members.csv", {"ptce": "peccs", "member": "peccs-cci"}, "retrieved", "hier", "not a date YYYY-MM-DD"),
    ("organisations.csv", {"id": "peccs-cci"}, "note", "", "required value"),
    ("members.csv", {"ptce": "cluster-jura", "member": "juratri"}, "note", "Juratri porte le PTCE.",
     "a seed is quoted (passage), not paraphrased"),
    ("charters.csv", {"id": "2014"}, "retrieved", "2026-12-01", "no date read"),
    ("ptce.csv", {"id": "cluster-jura"}, "source", "edd-ptce-leviers|chorum-ami-2021", "either quoted or paraphrased"),
])
def test_bad_cell_names_file_line_field_and_reason(tmp_path, real_ctx, table, match, field, value, reason):
    folder, line = _edit(tmp_path, table, match, field, value)
    with pytest.raises(IngestError) as error:
        load(folder, real_ctx)
    assert error.value.file.endswith(table)
    assert error.value.line == line
    assert error.value.field == field
    assert reason in str(error.value)


# Every number statement of the registry: (ptce, property, n) -> (value, precision, status, rank).
GOLDEN = {
    ("organic-vallee", "member-count", 1): ("20", "at-least", "result", "preferred"),       # « plus de 20 membres »
    ("cluster-jura", "member-count", 1): ("40", "exact", "result", "preferred"),           # « 40 partenaires »
    ("cluster-jura", "ess-member-count", 1): ("15", "exact", "result", "preferred"),       # « 15 de l'ESS »
    ("cluster-jura", "other-enterprise-member-count", 1): ("25", "exact", "result", "preferred"),
    ("figeacteurs", "member-count", 1): ("60", "at-least", "result", "preferred"),         # « plus de 60 entreprises »
    ("village-documentaire-lussas", "member-count", 1): ("12", "about", "result", "preferred"),  # « une douzaine »
    ("dombinnov", "ess-member-count", 1): ("19", "exact", "result", "preferred"),          # « 19 entreprises sociales »
    ("culture-et-cooperation", "member-count", 1): ("20", "about", "result", "preferred"),  # « une vingtaine »
}
ST = f"{ID}statement/ptce/"
RDF_VALUE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#value"


def test_golden_list_of_member_counts(registry):
    rows = select(registry, f"""PREFIX wikibase: <http://wikiba.se/ontology#>
        SELECT ?st ?value ?precision ?status ?rank {{ ?st a <{PTCE}Statement> ; <{RDF_VALUE}> ?value ;
            <{PTCE}precision> ?precision ; <{PTCE}statementStatus> ?status ; wikibase:rank ?rank }}""")
    got = {}
    for r in rows:
        ptce, prop, n = r["st"][len(ST):].split("/")
        got[(ptce, prop, int(n))] = (r["value"], r["precision"].rsplit("/", 1)[1], r["status"].rsplit("/", 1)[1],
                                     r["rank"].rsplit("#", 1)[1].replace("Rank", "").lower())
    assert got == GOLDEN


def test_no_bound_or_approximation_reads_as_a_plain_count(registry):
    rows = select(registry, f"SELECT ?p ?n {{ ?p <{PTCE}declaredMemberCount> ?n }} ORDER BY ?p")
    assert rows == [{"p": f"{ID}ptce/cluster-jura", "n": "40"}]
    # a SCIC's 200 cooperators are not the PTCE's members
    assert select(registry, f"SELECT ?s {{ <{ID}ptce/matieres-couleurs-luberon> <{PTCE}hasStatement> ?s }}") == []


def test_every_statement_has_its_reference_with_passage(registry):
    rows = select(registry, f"""PREFIX prov: <http://www.w3.org/ns/prov#> PREFIX dct: <http://purl.org/dc/terms/>
        SELECT ?st ?doc ?passage ?locator {{ ?st a <{PTCE}Statement> ; prov:wasDerivedFrom ?ref .
            ?ref a <{PTCE}Reference> ; dct:source ?doc ; <{PTCE}passage> ?passage ; <{PTCE}locator> ?locator }}""")
    assert len(rows) == len(GOLDEN)
    jura = [r for r in rows if r["st"] == f"{ST}cluster-jura/member-count/1"]
    assert jura[0]["passage"].startswith("Le PTCE implique 40 partenaires")
    assert jura[0]["doc"] == f"{ID}document/edd-ptce-leviers"
