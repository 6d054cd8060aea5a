"""The layers point one way (README, "Layout"): ontology → ingest → core (ptce_kg) → api, wired by cli.

ingest builds on core's contract (ptce_kg.sources, rdf, errors); core never imports a source, a route or the
command line; api never imports the command line. Every import counts, those inside functions included.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {  # package -> the packages it must not import
    "ptce_kg": {"ingest", "api", "cli"},
    "ingest": {"api", "cli"},
    "api": {"cli"},
}


def imported(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def product_files(package: str) -> list[Path]:
    return [p for p in sorted((ROOT / package).rglob("*.py")) if not p.name.startswith("test_")]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_points_up(package):
    files = product_files(package)
    assert len(files) > 5
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {name}"
             for path in files for line, name in imported(path)
             if name.split(".")[0] in FORBIDDEN[package]]
    assert wrong == []


def test_the_reader_sees_imports_inside_functions(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from ingest.base import Source\n    import api.app\n", encoding="utf-8")
    assert imported(sample) == [(2, "ingest.base"), (3, "api.app")]


def test_the_sources_run_in_the_declared_order():
    from ingest.sources import SOURCES, Declared, ordered

    names = [d.name for d in ordered()]
    for d in SOURCES:
        assert all(names.index(before) < names.index(d.name) for before in d.after)
    assert names[0] == "territories" and names.index("registry") < names.index("sirene")
    with pytest.raises(ValueError, match="wait on each other"):
        ordered((Declared("a", None, after=("b",)), Declared("b", None, after=("a",))))
    with pytest.raises(ValueError, match="unknown source"):
        ordered((Declared("a", None, after=("nowhere",)),))


def test_both_back_ends_follow_the_declared_contracts(tmp_path):
    from ptce_kg.backends import ReadableStore, Root
    from ptce_kg.remote import RemoteRoot, RemoteStore, open_root
    from ptce_kg.store import StoreRoot

    remote = RemoteRoot("sparql+http://127.0.0.1:9/sparql", cache=tmp_path / "cache")  # nothing is contacted
    assert isinstance(open_root(tmp_path / "embedded"), StoreRoot) and isinstance(StoreRoot(tmp_path), Root)
    assert isinstance(remote, Root) and isinstance(RemoteStore(remote.endpoint), ReadableStore)
    assert not isinstance(object(), Root)


@pytest.mark.parametrize("module", ["ptce_kg.backends", "ptce_kg.iris", "ptce_kg.remote", "ingest.sources", "api.turtle"])
def test_the_documented_examples_hold(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 3 and result.failed == 0
