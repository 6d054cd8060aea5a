"""A build publishes only when complete and valid; a failed one leaves the served graph intact."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import TERRITORY_FIXTURES, select
from ingest.territories import TerritoriesSource
from ptce_kg.build import build
from ptce_kg.errors import BuildError, IngestError
from ptce_kg.store import StoreRoot

COUNT_COMMUNES = "SELECT (COUNT(*) AS ?n) { ?c a <https://w3id.org/ptce-kg/def#Commune> }"


def _broken_package(tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree(TERRITORY_FIXTURES, folder)
    path = folder / "data" / "communes.json"
    items = json.loads(path.read_text(encoding="utf-8"))
    items[3]["region"] = "00"
    path.write_text(json.dumps(items), encoding="utf-8")
    return folder


def test_failed_build_leaves_the_published_graph_untouched(tmp_path):
    root = StoreRoot(tmp_path / "store")
    build(root.path, sources=[TerritoriesSource(TERRITORY_FIXTURES)], progress=lambda m: None)
    published = root.current_name()
    before = select(root.open_read(), COUNT_COMMUNES)
    assert before == [{"n": "7"}]

    with pytest.raises(IngestError) as error:
        build(root.path, sources=[TerritoriesSource(_broken_package(tmp_path))], progress=lambda m: None)
    assert "communes.json" in str(error.value) and error.value.field == "region"

    assert root.current_name() == published
    assert select(root.open_read(), COUNT_COMMUNES) == before
    assert [p.name for p in root.builds.iterdir()] == [published]  # the half-built store was removed


def test_failed_check_publishes_nothing(tmp_path, monkeypatch):
    from ptce_kg import checks

    root = StoreRoot(tmp_path / "store")
    build(root.path, sources=[TerritoriesSource(TERRITORY_FIXTURES)], progress=lambda m: None)
    published = root.current_name()
    broken_checks = tmp_path / "checks"
    broken_checks.mkdir()
    (broken_checks / "always.rq").write_text("# message: always broken\nASK { GRAPH ?g { ?s ?p ?o } }\n", encoding="utf-8")
    monkeypatch.setattr(checks, "CHECKS_DIR", broken_checks)
    with pytest.raises(BuildError) as error:
        build(root.path, sources=[TerritoriesSource(TERRITORY_FIXTURES)], progress=lambda m: None)
    assert "always.rq" in str(error.value)
    assert root.current_name() == published


def test_same_inputs_give_the_same_triples(tmp_path):
    dumps = []
    for name in ("a", "b"):
        root = StoreRoot(tmp_path / name)
        build(root.path, sources=[TerritoriesSource(TERRITORY_FIXTURES)], progress=lambda m: None)
        store = root.open_read()
        quads = {str(q) for q in store.quads_for_pattern(None, None, None, None)
                 if q.graph_name.value != "https://w3id.org/ptce-kg/graph/meta"}
        dumps.append(quads)
    assert len(dumps[0]) > 400
    assert dumps[0] == dumps[1]
    assert not any("_:" in q for q in dumps[0])  # no blank nodes: everything has a stable IRI


def test_cli_build_reports_the_source_file_and_field(tmp_path, monkeypatch, capsys):
    import cli

    monkeypatch.setenv("PTCE_KG_DECOUPAGE_DIR", str(_broken_package(tmp_path)))
    code = cli.main(["build", "--store", str(tmp_path / "store")])
    err = capsys.readouterr().err
    assert code == 2
    assert "[territories]" in err and "communes.json" in err and "field 'region'" in err


def test_a_long_lived_reader_sees_every_publication_at_once(tmp_path):
    """The server's StoreRoot keeps CURRENT's name between requests; another process's publication (a new
    file renamed over it, even of the same size within the same clock tick) is seen on the next call."""
    reader = StoreRoot(tmp_path / "store")
    writer = StoreRoot(tmp_path / "store")
    assert reader.current_name() is None
    names = []
    for _ in range(5):
        build_dir = writer.new_build_dir()
        writer.publish(build_dir)
        names.append(build_dir.name)
        assert reader.current_name() == build_dir.name
        assert reader.current_name() == build_dir.name  # and again, from what it kept
    assert len(set(names)) == 5
    (tmp_path / "store" / "CURRENT").unlink()
    assert reader.current_name() is None
