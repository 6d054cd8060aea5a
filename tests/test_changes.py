"""The change feed (README, "Change feed"): a client that replays the LDES from an empty store ends with the
graph of the last build; pages are cached and negotiated as the LDES server primer asks."""

from __future__ import annotations

import gzip
import shutil

import pyoxigraph
import pytest
import rdflib
from fastapi.testclient import TestClient
from pyoxigraph import BlankNode, Literal, NamedNode, Quad, RdfFormat
from rdflib.compare import isomorphic

from ptce_kg import changes
from ptce_kg.config import Settings
from ptce_kg.rdf import GRAPH, PTCE
from ptce_kg.store import StoreRoot

LDES = rdflib.Namespace("https://w3id.org/ldes#")
TREE = rdflib.Namespace("https://w3id.org/tree#")
AS = rdflib.Namespace("https://www.w3.org/ns/activitystreams#")
PROV = rdflib.Namespace("http://www.w3.org/ns/prov#")
DEF = rdflib.Namespace("https://w3id.org/ptce-kg/def#")
PUBLIC = "http://127.0.0.1:8000/"
EX = "https://example.org/"
META = NamedNode(GRAPH + "meta")


def g(name: str) -> NamedNode:
    return NamedNode(GRAPH + name)


def ex(name: str) -> NamedNode:
    return NamedNode(EX + name)


def _fill(root: StoreRoot, quads: list[Quad], digests: dict[str, str]) -> tuple[str, pyoxigraph.Store]:
    """A tiny build: its quads and, like ptce_kg.build, one ptce:contentDigest per source graph."""
    path = root.new_build_dir()
    store = pyoxigraph.Store(str(path))
    store.extend(quads)
    store.extend(Quad(g(name), PTCE.contentDigest, Literal(d), META) for name, d in digests.items())
    store.extend([Quad(ex(path.name), ex("builtAs"), Literal(path.name), META)])
    store.flush()
    return path.name, store


def _build(root: StoreRoot, quads, digests) -> tuple[str, list[Quad]]:
    name, store = _fill(root, quads, digests)
    changes.record(root, name, store)
    everything = list(store.quads_for_pattern(None, None, None, None))
    del store
    root.publish(root.builds / name)
    return name, everything


A1 = [Quad(ex("a"), ex("p"), Literal(str(i)), g("alpha")) for i in range(5)]
A2 = A1[1:] + [Quad(ex("a"), ex("p"), Literal("new"), g("alpha")), Quad(ex("b"), ex("p"), ex("a"), g("alpha"))]


def _blank(label: str) -> list[Quad]:
    node = BlankNode()
    return [Quad(ex("shape"), ex("property"), node, g("beta")), Quad(node, ex("path"), Literal(label), g("beta"))]


SAME = [Quad(ex("s"), ex("p"), Literal("unchanged"), g("same"))]
GONE = [Quad(ex("s"), ex("p"), Literal("soon gone"), g("gone"))]
FRESH = [Quad(ex("s"), ex("p"), Literal("new graph", language="en"), g("fresh"))]


@pytest.fixture
def two_builds(tmp_path):
    """Build 1: alpha, beta (blank nodes), same, gone. Build 2: alpha changed, beta changed, same unchanged
    (same digest), gone dropped, fresh added."""
    root = StoreRoot(tmp_path / "store")
    first, _ = _build(root, A1 + _blank("one") + SAME + GONE,
                      {"alpha": "sha256:a1", "beta": "sha256:b1", "same": "sha256:s", "gone": "sha256:g"})
    second, quads = _build(root, A2 + _blank("two") + SAME + FRESH,
                           {"alpha": "sha256:a2", "beta": "sha256:b2", "same": "sha256:s", "fresh": "sha256:f"})
    return root, first, second, quads


def _client(root: StoreRoot, monkeypatch, page_size: int) -> TestClient:
    from api.app import create_app

    monkeypatch.setenv("PTCE_KG_CHANGES_PAGE_SIZE", str(page_size))
    return TestClient(create_app(Settings(store=str(root.path), public_url=PUBLIC)))


def _path(url) -> str:
    assert str(url).startswith(PUBLIC), url
    return "/" + str(url)[len(PUBLIC):]


def _parse(response, url: str) -> rdflib.Graph:
    assert response.status_code == 200, response.text
    return rdflib.Graph().parse(data=response.text, format="turtle", publicID=url)


def replay(client: TestClient, entry: str = "/changes") -> tuple[pyoxigraph.Store, list]:
    """An LDES client, unordered traversal then ordered application: find the stream from the root
    (`?s tree:view <>`), follow every tree:relation, gather the members, apply them by timestamp."""
    root = _parse(client.get(entry, headers={"Accept": "text/turtle"}), PUBLIC + "changes")
    view = rdflib.URIRef(PUBLIC + "changes")
    (stream,) = set(root.subjects(TREE.view, view))
    frontier = [n for r in root.objects(view, TREE.relation) for n in root.objects(r, TREE.node)]
    seen, members = set(), {}
    while frontier:
        url = frontier.pop()
        if url in seen:
            continue
        seen.add(url)
        page = _parse(client.get(_path(url), headers={"Accept": "text/turtle"}), str(url))
        for member in page.objects(stream, TREE.member):
            members[member] = {
                "time": page.value(member, PROV.generatedAtTime).toPython(),
                "type": page.value(member, rdflib.RDF.type),
                "graph": page.value(member, AS.object),
                "replaces": bool(page.value(member, DEF.replacesGraph)),
                "removed": page.value(member, DEF.removedQuads),
                "added": page.value(member, DEF.addedQuads),
            }
        frontier += [n for r in page.objects(url, TREE.relation) for n in page.objects(r, TREE.node)]
    store = pyoxigraph.Store()
    ordered = sorted(members.values(), key=lambda m: m["time"])
    for m in ordered:
        graph = NamedNode(str(m["graph"]))
        if m["type"] == AS.Delete or m["replaces"]:
            store.clear_graph(graph)
        for key, apply in (("removed", store.remove), ("added", store.add)):
            if m[key] is not None:
                body = client.get(_path(m[key]))
                assert body.status_code == 200
                for quad in pyoxigraph.parse(gzip.decompress(body.content), format=RdfFormat.N_QUADS):
                    assert quad.graph_name == graph  # a change set touches its own graph only
                    apply(quad)
    return store, ordered


def _by_graph(quads) -> dict[str, rdflib.Graph]:
    graphs: dict[str, list] = {}
    for q in quads:
        graphs.setdefault(q.graph_name.value, []).append(q.triple)
    out = {}
    for name, triples in graphs.items():
        out[name] = rdflib.Graph().parse(data=pyoxigraph.serialize(triples, format=RdfFormat.N_TRIPLES),
                                         format="nt")
    return out


def assert_same_dataset(got: list[Quad], expected: list[Quad]) -> None:
    """Same named graphs, each isomorphic (blank nodes are renamed on the way); without blank nodes, equal."""
    a, b = _by_graph(got), _by_graph(expected)
    assert sorted(a) == sorted(b)
    for name in b:
        assert len(a[name]) == len(b[name]), name
        assert isomorphic(a[name], b[name]), name
    plain = lambda quads: {q for q in quads if not any(isinstance(t, BlankNode) for t in (q.subject, q.object))}
    assert plain(got) == plain(expected)


@pytest.mark.parametrize("page_size", [1, 2, 100])
def test_replaying_the_feed_from_an_empty_store_gives_the_last_build(two_builds, monkeypatch, page_size):
    root, first, second, expected = two_builds
    client = _client(root, monkeypatch, page_size)
    store, members = replay(client)
    assert_same_dataset(list(store.quads_for_pattern(None, None, None, None)), expected)
    last = {str(m["graph"])[len(GRAPH):]: m for m in members if m["time"] == members[-1]["time"]}
    assert set(last) == {"alpha", "beta", "gone", "fresh", "meta"}  # "same": same digest, no change set
    assert last["alpha"]["type"] == AS.Update and not last["alpha"]["replaces"]
    assert last["beta"]["replaces"]  # blank nodes: replaced whole
    assert last["gone"]["type"] == AS.Delete and last["fresh"]["type"] == AS.Create
    assert len(members) == 5 + 5  # build 1: alpha, beta, same, gone, meta


def test_a_change_set_holds_only_what_changed(two_builds):
    root, first, second, _ = two_builds
    log = changes.read_log(changes.folder(root))
    (alpha,) = [m for m in log if m.build == second and m.graph == GRAPH + "alpha"]
    read = lambda patch: sorted(gzip.decompress(changes.patch_path(root, alpha, patch).read_bytes()).splitlines())
    assert read(alpha.removed) == [b'<https://example.org/a> <https://example.org/p> "0" '
                                   b'<https://w3id.org/ptce-kg/graph/alpha> .']
    assert len(read(alpha.added)) == 2 and alpha.added.triples == 2
    assert all(m.build == first for m in log[:5]) and {m.kind for m in log[:5]} == {"create"}
    assert log[5].time > log[4].time  # the second build's members come strictly later


def test_the_feed_survives_a_previous_build_that_is_gone(tmp_path, monkeypatch):
    root = StoreRoot(tmp_path / "store")
    first, _ = _build(root, A1, {"alpha": "sha256:a1"})
    shutil.rmtree(root.builds / first)  # e.g. pruned after two SPARQL updates
    second, expected = _build(root, A2, {"alpha": "sha256:a2"})
    log = changes.read_log(changes.folder(root))
    assert all(m.replaces for m in log if m.build == second)
    store, _ = replay(_client(root, monkeypatch, 2))
    assert_same_dataset(list(store.quads_for_pattern(None, None, None, None)), expected)


def test_pages_have_etags_cache_control_and_negotiation(two_builds, monkeypatch):
    root, first, second, _ = two_builds
    client = _client(root, monkeypatch, 4)  # 10 members: pages 1 and 2 closed, 3 open
    for path in ("/changes", "/changes/1", "/changes/3"):
        response = client.get(path, headers={"Accept": "text/turtle"})
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/turtle")
        assert "Accept" in [v.strip() for v in response.headers["vary"].split(",")]
        etag = response.headers["etag"]
        assert client.get(path, headers={"Accept": "text/turtle"}).headers["etag"] == etag  # stable
        again = client.get(path, headers={"Accept": "text/turtle", "If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        assert client.get(path, headers={"Accept": "text/turtle", "If-None-Match": '"other"'}).status_code == 200
        jsonld = client.get(path, headers={"Accept": "application/ld+json"})
        assert jsonld.headers["content-type"].startswith("application/ld+json")
        assert jsonld.headers["etag"] != etag and "Accept" in jsonld.headers["vary"]
        url = PUBLIC + path.lstrip("/")
        assert isomorphic(rdflib.Graph().parse(data=jsonld.text, format="json-ld", publicID=url),
                          _parse(response, url))
    closed = client.get("/changes/1")
    assert "immutable" in closed.headers["cache-control"]
    page = _parse(closed, PUBLIC + "changes/1")
    assert page.value(rdflib.URIRef(PUBLIC + "changes/1"), LDES.immutable).toPython() is True
    for path in ("/changes", "/changes/3"):
        cache = client.get(path).headers["cache-control"]
        assert "immutable" not in cache and "max-age=60" in cache
    assert client.get("/changes/4").status_code == 404
    assert client.get("/changes/1", headers={"Accept": "image/png"}).status_code == 406
    redirect = client.get("/id/changes", follow_redirects=False)
    assert redirect.status_code == 303 and redirect.headers["location"] == PUBLIC + "changes"
    # the root bounds every page by time; closed pages link to the next one
    root_graph = _parse(client.get("/changes"), PUBLIC + "changes")
    relations = {(root_graph.value(r, rdflib.RDF.type), str(root_graph.value(r, TREE.node)))
                 for r in root_graph.objects(rdflib.URIRef(PUBLIC + "changes"), TREE.relation)}
    assert (TREE.GreaterThanOrEqualToRelation, PUBLIC + "changes/3") in relations
    assert (TREE.LessThanOrEqualToRelation, PUBLIC + "changes/2") in relations
    assert (TREE.LessThanOrEqualToRelation, PUBLIC + "changes/3") not in relations  # open: no upper bound yet
    # every member lies within the bounds the root gives its page (page 2 holds members of both builds)
    bounds = {}
    for r in root_graph.objects(rdflib.URIRef(PUBLIC + "changes"), TREE.relation):
        bounds.setdefault(str(root_graph.value(r, TREE.node)), {})[root_graph.value(r, rdflib.RDF.type)] = \
            root_graph.value(r, TREE.value).toPython()
    builds_on_page_2 = set()
    for n in (1, 2, 3):
        url = f"{PUBLIC}changes/{n}"
        page = _parse(client.get(f"/changes/{n}"), url)
        low = bounds[url][TREE.GreaterThanOrEqualToRelation]
        high = bounds[url].get(TREE.LessThanOrEqualToRelation)
        for member in page.objects(None, TREE.member):
            time = page.value(member, PROV.generatedAtTime).toPython()
            assert low <= time and (high is None or time <= high), (n, member)
            if n == 2:
                builds_on_page_2.add(page.value(member, PROV.wasGeneratedBy))
    assert len(builds_on_page_2) == 2


def test_patch_files_are_immutable_with_their_checksum(two_builds, monkeypatch):
    root, first, second, _ = two_builds
    client = _client(root, monkeypatch, 100)
    (alpha,) = [m for m in changes.read_log(changes.folder(root)) if m.build == second and m.graph == GRAPH + "alpha"]
    path = f"/changes/patches/{second}/{alpha.added.name}"
    response = client.get(path)
    assert response.status_code == 200 and "immutable" in response.headers["cache-control"]
    assert response.headers["etag"] == f'"{alpha.added.sha256}"'
    assert client.get(path, headers={"If-None-Match": response.headers["etag"]}).status_code == 304
    assert client.get(f"/changes/patches/{second}/..%2Flog.jsonl").status_code == 404
    assert client.get(f"/changes/patches/{first}/{alpha.added.name}").status_code == 200  # build 1 created alpha
    assert client.get(f"/changes/patches/{first}/alpha.removed.nq.gz").status_code == 404


def test_an_empty_feed_is_a_stream_without_pages(tmp_path, monkeypatch):
    root = StoreRoot(tmp_path / "store")
    client = _client(root, monkeypatch, 10)
    graph = _parse(client.get("/changes"), PUBLIC + "changes")
    assert (None, rdflib.RDF.type, LDES.EventStream) in graph
    assert not list(graph.objects(rdflib.URIRef(PUBLIC + "changes"), TREE.relation))
    assert client.get("/changes/1").status_code == 404


def test_two_real_builds_replay_to_the_second(tmp_path, monkeypatch):
    """End to end through ptce_kg.build: the territories fixture, then the same without one commune."""
    import json

    from conftest import TERRITORY_FIXTURES
    from ingest.territories import TerritoriesSource
    from ptce_kg.build import build

    smaller = tmp_path / "smaller"
    shutil.copytree(TERRITORY_FIXTURES, smaller)
    data = smaller / "data"
    communes = json.loads((data / "communes.json").read_text(encoding="utf-8"))
    (data / "communes.json").write_text(json.dumps([c for c in communes if c["code"] != "01001"]))
    epci = json.loads((data / "epci.json").read_text(encoding="utf-8"))
    for e in epci:
        e["membres"] = [m for m in e["membres"] if m["code"] != "01001"]
    (data / "epci.json").write_text(json.dumps([e for e in epci if e["membres"]]))

    store = tmp_path / "store"
    build(store, sources=[TerritoriesSource(TERRITORY_FIXTURES)], progress=lambda m: None, with_dumps=False)
    second = build(store, sources=[TerritoriesSource(smaller)], progress=lambda m: None, with_dumps=False)
    root = StoreRoot(store)
    log = changes.read_log(changes.folder(root))
    latest = {m.graph[len(GRAPH):]: m for m in log if m.build == second["build"]}
    assert set(latest) == {"territories", "meta"}  # the ontology's digest did not change: not even read
    removed = gzip.decompress(changes.patch_path(root, latest["territories"],
                                                 latest["territories"].removed).read_bytes()).decode()
    assert "/commune/01001>" in removed
    published = root.open_read()
    expected = list(published.quads_for_pattern(None, None, None, None))
    got, _ = replay(_client(root, monkeypatch, 3))
    assert_same_dataset(list(got.quads_for_pattern(None, None, None, None)), expected)


def test_a_page_has_the_same_etag_in_every_process(two_builds):
    """Several workers (or a restart) must give a closed page the same ETag: JSON-LD nodes are sorted."""
    import os
    import subprocess
    import sys

    root = two_builds[0]
    script = ("import os; os.environ['PTCE_KG_CHANGES_PAGE_SIZE'] = '4'\n"
              "from fastapi.testclient import TestClient\nfrom api.app import create_app\n"
              "from ptce_kg.config import Settings\n"
              f"c = TestClient(create_app(Settings(store={str(root.path)!r})))\n"
              "for a in ('text/turtle', 'application/ld+json', 'application/n-triples'):\n"
              "    print(c.get('/changes/1', headers={'Accept': a}).headers['etag'])\n")
    from conftest import ROOT

    tags = [subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")]
    assert tags[0].count('"') == 6 and tags[0] == tags[1] == tags[2]


def test_a_graph_with_the_same_digest_is_not_read(tmp_path, monkeypatch):
    root = StoreRoot(tmp_path / "store")
    _build(root, A1 + SAME, {"alpha": "sha256:a1", "same": "sha256:s"})
    read = []
    lines = changes._lines
    monkeypatch.setattr(changes, "_lines", lambda store, graph: read.append(graph) or lines(store, graph))
    _build(root, A2 + SAME, {"alpha": "sha256:a2", "same": "sha256:s"})
    assert GRAPH + "alpha" in read and GRAPH + "meta" in read  # the meta graph has no digest: always compared
    assert GRAPH + "same" not in read
