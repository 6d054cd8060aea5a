"""SIRENE stock files: ESS units kept with their commune and status, rejects named, registry reconciled.

The fixtures are in the published layout; their SIRENs are made up (valid Luhn keys), including the one
matched by name and commune to the registry's « SCIC Tënk » — a test case, not Tënk's real number.
"""

from __future__ import annotations

import copy
import csv
import subprocess
import sys
import zipfile

import pyoxigraph
import pytest

from conftest import ROOT, select
from ingest.registry import RegistrySource
from ingest.sirene import SireneSource
from ingest.sirene.mapping import HERE, legal_categories
from ptce_kg.errors import IngestError
from ptce_kg.identifiers import siret_ok
from ptce_kg.rdf import TripleSink, graph

FIXTURES = HERE / "fixtures"
PTCE = "https://w3id.org/ptce-kg/def#"


@pytest.fixture(scope="module")
def ctx(real_ctx, tmp_path_factory):
    """Every territory, and the registry's organisations to reconcile."""
    ctx = copy.copy(real_ctx)
    ctx.organisations, ctx.rejects = {}, {}
    ctx.report_dir = tmp_path_factory.mktemp("reports")
    RegistrySource().load(TripleSink(graph("registry")), ctx)
    return ctx


def load(path, ctx, **kwargs):
    sink = TripleSink(graph("sirene"))
    SireneSource(path, **kwargs).load(sink, ctx)
    store = pyoxigraph.Store()
    store.extend(sink.quads)
    return store


@pytest.fixture(scope="module")
def sirene(ctx):
    return load(FIXTURES, ctx)


def test_every_mapped_legal_category_gives_its_legal_form_and_status(sirene):
    rows = select(sirene, f"""PREFIX rov: <http://www.w3.org/ns/regorg#>
        SELECT ?cat ?form ?status {{ ?u <{PTCE}legalCategory> ?c ; rov:orgType ?form ; <{PTCE}essEnterprise> true .
          ?c <http://www.w3.org/2004/02/skos/core#notation> ?cat OPTIONAL {{ ?u <{PTCE}essStatus> ?status }} }}""")
    got = {r["cat"]: (r["form"].rsplit("/", 1)[1], (r["status"] or "/").rsplit("/", 1)[1]) for r in rows}
    expected = {k: (v["form"], v["status"]) for k, v in legal_categories().items()}
    assert got == expected
    assert got["5458"] == ("scop", "") and got["9223"] == ("association", "ge") and got["9300"] == ("fondation", "")


def test_units_get_their_head_office_commune_and_territories(sirene, ctx):
    [row] = select(sirene, f"""SELECT ?commune ?siret ?page {{ <https://w3id.org/ptce-kg/id/siren/811000009>
        <{PTCE}location> ?commune ; <{PTCE}siretSiege> ?siret ; <http://xmlns.com/foaf/0.1/page> ?page }}""")
    assert row["commune"] == "https://w3id.org/ptce-kg/id/commune/07145"
    assert siret_ok(row["siret"]) and row["siret"].startswith("811000009")
    assert row["page"] == "https://annuaire-entreprises.data.gouv.fr/entreprise/811000009"


def test_not_ess_and_ceased_units_are_left_out(sirene):
    names = {r["n"] for r in select(sirene, "SELECT ?n { ?u <http://www.w3.org/ns/regorg#legalName> ?n }")}
    assert "ENTREPRISE ORDINAIRE" not in names and "ASSOCIATION DISSOUTE" not in names
    assert "SCIC TENK" in names and len(names) == len(legal_categories()) + 2  # + Tënk + the one without commune


def test_rejects_name_file_line_field_and_reason(sirene, ctx):
    with open(ctx.report_dir / "sirene-rejects.csv", encoding="utf-8") as handle:
        rejects = list(csv.DictReader(handle))
    got = {(r["file"], r["line"], r["field"]) for r in rejects}
    assert got == {
        ("StockUniteLegale_utf8.csv", "74", "siren"),
        ("StockUniteLegale_utf8.csv", "75", "categorieJuridiqueUniteLegale"),
        ("StockUniteLegale_utf8.csv", "77", "(row)"),
        ("StockEtablissement_utf8.csv", "73", "codeCommuneEtablissement"),
    }
    assert ctx.rejects["sirene"]["invalid SIREN (9 digits, Luhn key) / SIREN invalide"] == 1


def test_registry_member_given_by_name_is_reconciled_and_the_method_queryable(sirene):
    rows = select(sirene, f"""SELECT ?unit ?method ?confidence {{
        <https://w3id.org/ptce-kg/id/organisation/scic-tenk> <{PTCE}unitMatch> ?m .
        ?m <{PTCE}matchedUnit> ?unit ; <{PTCE}matchMethod> ?method ; <{PTCE}confidence> ?confidence }}""")
    assert rows == [{"unit": "https://w3id.org/ptce-kg/id/siren/811000009",
                     "method": "https://w3id.org/ptce-kg/code/match-method/name-commune", "confidence": "0.9"}]


def test_zipped_stock_files_read_the_same(sirene, ctx, tmp_path):
    for name in ("StockUniteLegale_utf8", "StockEtablissement_utf8"):
        with zipfile.ZipFile(tmp_path / f"{name}.zip", "w") as archive:
            archive.write(FIXTURES / f"{name}.csv", f"{name}.csv")
    zipped = load(tmp_path, ctx)
    assert len(zipped) == len(sirene)


def test_too_many_rejects_fail_the_source(ctx):
    with pytest.raises(IngestError) as error:
        load(FIXTURES, ctx, max_reject_rate=0.01)
    assert "above the threshold" in str(error.value) and "sirene-rejects.csv" in str(error.value)


def test_not_a_stock_file_is_refused_with_its_name(tmp_path, ctx):
    (tmp_path / "StockUniteLegale_utf8.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(IngestError) as error:
        load(tmp_path, ctx)
    assert "missing columns" in str(error.value) and error.value.line == 1


def test_la_poste_sirets_follow_their_documented_exception():
    assert siret_ok("35600000000048")  # digit sum 20: a multiple of 5, though the Luhn key fails
    assert not siret_ok("35600000000049")


def test_a_million_rows_build_in_bounded_memory(tmp_path):
    """The synthetic generator (bench/) writes 1,000,000 SIRENE-layout rows; the source streams them."""
    from bench.sirene_synthetic import generate

    generate(tmp_path, 1_000_000, ess_share=0.05, bad_share=0.0005)
    # Peak from VmHWM (this process's own memory); ru_maxrss would carry over pytest's peak through exec.
    script = f"""
import re, sys
sys.path.insert(0, {str(ROOT)!r})
from ingest.base import BuildContext
from ingest.sirene import SireneSource
from ingest.territories import TerritoriesSource
from ptce_kg.rdf import TripleSink, graph
ctx = BuildContext()
TerritoriesSource({str(ROOT / 'ingest' / 'territories' / 'fixtures')!r}).load(TripleSink(graph('t'), lambda q: None), ctx)
ctx.report_dir = __import__('pathlib').Path({str(tmp_path)!r})
sink = TripleSink(graph('sirene'), lambda quads: None)
SireneSource({str(tmp_path)!r}).load(sink, ctx)
hwm = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
print(sink.count, sum(ctx.rejects['sirene'].values()), hwm // 1024)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    triples, rejected, peak_mb = map(int, done.stdout.split())
    assert triples > 500_000 and rejected > 0
    assert peak_mb < 1024, f"peak memory {peak_mb} MB"
    with open(tmp_path / "sirene-rejects.csv", encoding="utf-8") as handle:
        first = next(csv.DictReader(handle))
    assert first["file"] == "StockUniteLegale_utf8.csv" and int(first["line"]) > 1 and first["reason"]
