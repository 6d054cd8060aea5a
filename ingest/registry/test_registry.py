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
    ("statements.csv", {"subject": "cluster-jura", "property": "territory"}, "value", "commune:99999",
     "unknown territory"),
    ("statements.csv", {"subject": "cluster-jura", "property": "sector"}, "value", "alchimie", "alchimie"),
    ("statements.csv", {"subject": "cluster-jura", "property": "carrier"}, "value", "inconnue", "unknown organisation"),
    ("statements.csv", {"subject": "cluster-jura", "property": "territory"}, "precision", "exact",
     "precision is for numbers"),
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


GOLDEN = HERE / "golden-facts.tsv"
ST = f"{ID}statement/ptce/"
RDF_VALUE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#value"


def _short(term: str) -> str:
    """A statement's value as the golden file writes it: a number, commune:39300, juratri, sector:culture."""
    for prefix in (f"{ID}organisation/", "https://w3id.org/ptce-kg/code/"):
        if term.startswith(prefix):
            return term[len(prefix):].replace("/", ":", 1) if "code" in prefix else term[len(prefix):]
    if term.startswith(ID):
        kind, code = term[len(ID):].split("/", 1)
        return f"{kind}:{code}"
    return term


def test_golden_list_of_facts(registry):
    """Every statement of the registry, reviewed against its passage, is in ingest/registry/golden-facts.tsv:
    a fact that changes, appears or disappears fails here until the golden file is reviewed too."""
    rows = select(registry, f"""PREFIX wikibase: <http://wikiba.se/ontology#>
        SELECT ?st ?value ?precision ?status ?rank {{ ?st a <{PTCE}Statement> ; <{RDF_VALUE}> ?value ;
            <{PTCE}statementStatus> ?status ; wikibase:rank ?rank OPTIONAL {{ ?st <{PTCE}precision> ?precision }}
            FILTER(STRSTARTS(STR(?st), "{ST}")) }}""")
    got = set()
    for r in rows:
        ptce, prop, n = r["st"][len(ST):].split("/")
        got.add((ptce, prop, n, _short(r["value"]), (r.get("precision") or "").rsplit("/", 1)[-1],
                 r["status"].rsplit("/", 1)[1], r["rank"].rsplit("#", 1)[1].replace("Rank", "").lower()))
    with open(GOLDEN, encoding="utf-8") as handle:
        expected = {tuple(line.rstrip("\n").split("\t")[:7]) for line in handle
                    if line.strip() and not line.startswith("#")}
    assert sorted(got - expected) == [], "facts not in the golden file"
    assert sorted(expected - got) == [], "golden facts missing from the graph"


def test_member_counts_as_the_passages_say(registry):
    """The numbers the issue found mis-stored: a bound, an approximation, a split."""
    with open(GOLDEN, encoding="utf-8") as handle:
        golden = {tuple(line.split("\t")[:3]): line.split("\t")[3:6] for line in handle if not line.startswith("#")}
    assert golden[("organic-vallee", "member-count", "1")] == ["20", "at-least", "result"]        # « plus de 20 »
    assert golden[("village-documentaire-lussas", "member-count", "1")] == ["12", "about", "result"]  # « une douzaine »
    assert golden[("cluster-jura", "member-count", "1")] == ["40", "exact", "result"]
    assert golden[("cluster-jura", "ess-member-count", "1")] == ["15", "exact", "result"]
    assert golden[("cluster-jura", "other-enterprise-member-count", "1")] == ["25", "exact", "result"]


def test_no_bound_or_approximation_reads_as_a_plain_count(registry):
    rows = select(registry, f"SELECT ?p ?n {{ ?p <{PTCE}declaredMemberCount> ?n }} ORDER BY ?p")
    assert rows == [{"p": f"{ID}ptce/cluster-jura", "n": "40"}]
    # a SCIC's 200 cooperators are not the PTCE's members
    assert select(registry, f"""SELECT ?s {{ <{ID}ptce/matieres-couleurs-luberon> <{PTCE}hasStatement> ?s .
        ?s <{PTCE}statementProperty> <{PTCE}declaredMemberCount> }}""") == []


def test_an_intention_is_not_a_direct_fact(registry):
    """« le PTCE souhaite proposer des formations » is an announced sharing of knowledge, not a result."""
    rows = select(registry, f"""SELECT ?mode {{ <{ID}ptce/matieres-couleurs-luberon> <{PTCE}cooperationMode> ?mode }}
        ORDER BY ?mode""")
    assert [r["mode"].rsplit("/", 1)[1] for r in rows] == ["cooperation", "mutualisation"]


def test_an_old_fact_column_in_ptce_csv_is_refused(tmp_path, real_ctx):
    folder = tmp_path / "registry"
    shutil.copytree(HERE, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = folder / "ptce.csv"
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) + ["perimeter"])
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(IngestError) as error:
        load(folder, real_ctx)
    assert error.value.field == "perimeter" and "statements.csv (property 'territory')" in str(error.value)


def test_every_statement_has_its_reference_with_passage(registry):
    statements = select(registry, f"SELECT (COUNT(?st) AS ?n) {{ ?st a <{PTCE}Statement> }}")[0]["n"]
    rows = select(registry, f"""PREFIX prov: <http://www.w3.org/ns/prov#> PREFIX dct: <http://purl.org/dc/terms/>
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        SELECT ?st ?doc ?passage ?locator {{ ?st a <{PTCE}Statement> ; prov:wasDerivedFrom ?ref .
            ?ref a <{PTCE}Reference> ; dct:source ?doc ; <{PTCE}locator> ?locator .
            {{ ?ref <{PTCE}passage> ?passage }} UNION {{ ?ref rdfs:comment ?note ; <{PTCE}retrieved> ?read }} }}""")
    assert len({r["st"] for r in rows}) == int(statements) > 150
    jura = [r for r in rows if r["st"] == f"{ST}cluster-jura/member-count/1"]
    assert jura[0]["passage"].startswith("Le PTCE implique 40 partenaires")
    assert jura[0]["doc"] == f"{ID}document/edd-ptce-leviers"


def test_charter_signatories_as_the_passages_date_them(registry):
    """39 signatories in 2014 and « plus de 60 » in 2017: two dated statements, the later one a lower bound."""
    rows = select(registry, f"""PREFIX wikibase: <http://wikiba.se/ontology#>
        SELECT ?st ?value ?precision ?when ?rank ?passage {{ <{ID}charte/2014> <{PTCE}hasStatement> ?st .
            ?st <{RDF_VALUE}> ?value ; <{PTCE}precision> ?precision ; <{PTCE}pointInTime> ?when ; wikibase:rank ?rank ;
                <http://www.w3.org/ns/prov#wasDerivedFrom>/<{PTCE}passage> ?passage }} ORDER BY ?when""")
    assert [(r["value"], r["precision"].rsplit("/", 1)[1], r["when"], r["rank"].rsplit("#", 1)[1]) for r in rows] == [
        ("39", "exact", "2014", "NormalRank"), ("60", "at-least", "2017", "PreferredRank")]
    assert rows[1]["st"] == f"{ID}statement/charte/2014/signatories/2" and "plus de 60" in rows[1]["passage"]
    # a lower bound is never a plain count
    assert select(registry, f"SELECT ?n {{ <{ID}charte/2014> <{PTCE}signatoryCount> ?n }}") == []


def test_published_counts_of_ptce(registry):
    """How many PTCE there are, as the documents say: an estimate (about 160) and the State's dated count (140)."""
    rows = select(registry, f"""PREFIX wikibase: <http://wikiba.se/ontology#>
        SELECT ?value ?precision ?rank ?doc {{ <{ID}census/ptce-france> <{PTCE}hasStatement> ?st .
            ?st <{RDF_VALUE}> ?value ; <{PTCE}precision> ?precision ; wikibase:rank ?rank ;
                <http://www.w3.org/ns/prov#wasDerivedFrom>/<http://purl.org/dc/terms/source> ?doc }} ORDER BY ?value""")
    assert [(r["value"], r["precision"].rsplit("/", 1)[1], r["rank"].rsplit("#", 1)[1], r["doc"].rsplit("/", 1)[1])
            for r in rows] == [("140", "exact", "PreferredRank", "bdt-ami-2023"),
                               ("160", "about", "NormalRank", "edd-ptce-leviers")]
    assert select(registry, f"SELECT ?n {{ <{ID}census/ptce-france> <{PTCE}ptceCount> ?n }}") == [{"n": "140"}]
