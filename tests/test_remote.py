"""The same service on an existing SPARQL server (Oxigraph server from PyPI, started by the tests)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ptce_kg import queries


def _rows(server: str, text: str) -> list[tuple]:
    response = httpx.post(server + "/sparql", data={"query": text},
                          headers={"Accept": "application/sparql-results+json"}, timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    names = body["head"]["vars"]
    return [tuple(json_term(b.get(n)) for n in names) for b in body["results"]["bindings"]]


def json_term(term):
    if term is None:
        return None
    datatype = term.get("datatype")
    if datatype == "http://www.w3.org/2001/XMLSchema#string":
        datatype = None
    return (term["type"].replace("typed-literal", "literal"), term["value"], term.get("xml:lang"), datatype)


@pytest.mark.parametrize("name", [q.name for q in queries.all_queries()])
def test_every_query_gives_identical_results_on_both_back_ends(embedded_server, remote_server, name):
    text = queries.find(name).text
    embedded, remote = _rows(embedded_server, text), _rows(remote_server, text)
    if "ORDER BY" in text.upper():
        # Same order where the query fixes it; ties may come in another order on another engine.
        assert sorted(embedded, key=repr) == sorted(remote, key=repr)
        assert len(embedded) == len(remote)
    else:
        assert sorted(embedded, key=repr) == sorted(remote, key=repr)
    assert embedded or name == "organisations-in-several-ptce", f"{name} returns no row"


def test_remote_reads_only_published_graphs(remote_store, remote_server):
    """A graph written on the server outside a build is invisible to the service."""
    from ptce_kg.remote import RemoteRoot

    spec, cache = remote_store
    root = RemoteRoot(spec, cache)
    store = root.open_read()
    store.update('INSERT DATA { GRAPH <https://w3id.org/ptce-kg/graph/staging/x/registry> '
                 '{ <urn:a> a <https://w3id.org/ptce-kg/def#PTCE> } }')
    try:
        count = _rows(remote_server, "SELECT (COUNT(*) AS ?n) { ?p a <https://w3id.org/ptce-kg/def#PTCE> }")
        graphs = _rows(remote_server, "SELECT DISTINCT ?g { GRAPH ?g { ?s ?p ?o } }")
    finally:
        store.update("DROP SILENT GRAPH <https://w3id.org/ptce-kg/graph/staging/x/registry>")
    ptce_csv = Path(__file__).resolve().parents[1] / "ingest" / "registry" / "ptce.csv"
    assert count[0][0][1] == str(len(ptce_csv.read_text(encoding="utf-8").strip().splitlines()) - 1)  # no urn:a
    assert not any("staging" in g[0][1] for g in graphs)


def test_rebuild_uploads_only_what_changed_and_switches(remote_store):
    from ptce_kg.build import build
    import os

    spec, cache = remote_store
    messages: list[str] = []
    os.environ["PTCE_KG_REMOTE_CACHE"] = str(cache)
    try:
        build(spec, progress=messages.append)
    finally:
        os.environ.pop("PTCE_KG_REMOTE_CACHE", None)
    assert any("territories unchanged, kept" in m for m in messages)
    assert any("switched" in m for m in messages)
