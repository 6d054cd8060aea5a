"""SIAE and GEIQ from data·inclusion's export: kept with their status, site, commune and point; rejects named."""

from __future__ import annotations

import copy
import csv

import pyoxigraph
import pytest

from conftest import select
from ingest.inclusion import InclusionSource
from ingest.inclusion.mapping import statuses
from ingest.registry import RegistrySource
from ptce_kg.errors import IngestError
from ptce_kg.rdf import TripleSink, graph

HERE = __import__("pathlib").Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
ID = "https://w3id.org/ptce-kg/id/"
PTCE = "https://w3id.org/ptce-kg/def#"
GEO = "http://www.opengis.net/ont/geosparql#"


@pytest.fixture()
def ctx(real_ctx, tmp_path):
    ctx = copy.copy(real_ctx)
    ctx.organisations, ctx.rejects, ctx.report_dir = {}, {}, tmp_path
    RegistrySource().load(TripleSink(graph("registry")), ctx)
    return ctx


def load(path, ctx, **kwargs):
    sink = TripleSink(graph("inclusion"))
    InclusionSource(path, **kwargs).load(sink, ctx)
    store = pyoxigraph.Store()
    store.extend(sink.quads)
    return store


def test_siae_and_geiq_are_kept_with_status_commune_and_point(ctx):
    store = load(FIXTURES / "structures.json", ctx, max_reject_rate=1.0)
    rows = select(store, f"""PREFIX org: <http://www.w3.org/ns/org#>
        SELECT ?unit ?status ?commune ?wkt {{ ?unit <{PTCE}essStatus> ?status ; org:hasSite ?site .
          ?site <{PTCE}location> ?commune OPTIONAL {{ ?site <{GEO}hasGeometry>/<{GEO}asWKT> ?wkt }} }} ORDER BY ?unit""")
    assert [(r["unit"].removeprefix(ID), r["status"].rsplit("/", 1)[1], r["commune"].removeprefix(ID), r["wkt"])
            for r in rows] == [
        ("siren/812000008", "siae", "commune/01004", "POINT(5.358600 45.958100)"),  # one point, not one per producer
        ("siren/812010007", "geiq", "commune/64445", "POINT(-0.370700 43.295100)"),
    ]


def test_other_structures_are_left_out_and_rejects_named(ctx):
    store = load(FIXTURES / "structures.json", ctx, max_reject_rate=1.0)
    assert not select(store, f"SELECT ?s {{ ?s ?p <{ID}siren/210100012> }}")  # the town hall
    with open(ctx.report_dir / "inclusion-rejects.csv", encoding="utf-8") as handle:
        got = {(r["file"], r["line"], r["field"]) for r in csv.DictReader(handle)}
    assert got == {("structures.json", "item 3", "siret"), ("structures.json", "item 4", "code_insee"),
                   ("structures.json", "item 5", "latitude")}


def test_too_many_rejects_fail_the_source_with_the_rejects_file(ctx):
    with pytest.raises(IngestError, match=r"3 of 6 rows rejected .*inclusion-rejects\.csv"):
        load(FIXTURES / "structures.json", ctx)


def test_registry_organisation_is_reconciled_by_name_in_its_departement(ctx):
    store = load(FIXTURES / "structures.json", ctx, max_reject_rate=1.0)
    rows = select(store, f"""SELECT ?unit ?method {{ <{ID}organisation/val-horizon> <{PTCE}unitMatch> ?m .
        ?m <{PTCE}matchedUnit> ?unit ; <{PTCE}matchMethod> ?method }}""")
    assert rows == [{"unit": f"{ID}siren/812000008",
                     "method": "https://w3id.org/ptce-kg/code/match-method/name-departement"}]


def test_the_v0_csv_export_gives_the_finer_siae_kind(ctx):
    store = load(FIXTURES / "structures_v0.csv", ctx)
    rows = select(store, f"SELECT ?unit ?status {{ ?unit <{PTCE}essStatus> ?status }} ORDER BY ?unit")
    assert [(r["unit"].removeprefix(ID), r["status"].rsplit("/", 1)[1]) for r in rows] == [
        ("siren/812020006", "ei"), ("siren/812030005", "etti")]


def test_networks_are_read_from_json_text_or_commas():
    assert statuses({"reseaux_porteurs": '["siae","plie"]'}) == {"siae"}
    assert statuses({"reseaux_porteurs": "geiq, siae"}) == {"geiq", "siae"}
    assert statuses({"typologie": "ACI", "reseaux_porteurs": ["siae"]}) == {"aci"}
    assert statuses({"typologie": "CCAS"}) == set()


def test_not_an_export_is_refused_with_its_name(tmp_path, ctx):
    bad = tmp_path / "structures.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"structures\.csv:1.*missing columns"):
        load(bad, ctx)


def test_build_command_takes_the_export_as_an_optional_source(monkeypatch, tmp_path, capsys):
    import cli
    import cli.wiring

    seen = {}

    def fake_build(store, sources, progress, cfg):
        seen["sources"] = [s.name for s in sources]
        return {"graphs": {}, "rejects": {"inclusion": {"unknown commune code": 2}}, "triples": 0, "seconds": 0,
                "store": str(store)}

    monkeypatch.setattr(cli.wiring.core, "build", fake_build)
    export = FIXTURES / "structures_v0.csv"
    assert cli.main(["build", "--store", str(tmp_path / "s"), "--source", f"inclusion={export}"]) == 0
    assert seen["sources"][-1] == "inclusion"
    assert "2  rejected by inclusion: unknown commune code" in capsys.readouterr().out
    assert cli.main(["build", "--source", "elsewhere=/x"]) == 2
