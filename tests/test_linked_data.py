"""Linked open data: IRIs dereference, dumps are whole and checked, the catalogue is DCAT-AP 3 conformant."""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import random
import re

import httpx
import pyoxigraph
import pytest
import rdflib
from rdflib.namespace import RDF, SH

from ptce_kg.config import PROJECT_ROOT

BASE = "https://w3id.org/ptce-kg/"
# The official DCAT-AP 3.0.1 shapes (SEMIC), copied with their source and licence (tests/fixtures/dcat-ap-3.0.1).
DCAT_AP = PROJECT_ROOT / "tests" / "fixtures" / "dcat-ap-3.0.1"
DCAT_AP_SHA256 = {"dcat-ap-SHACL.ttl": "990d3e42721de6a4be8cc338a7171559f195e62dea89c0b56531356b78cc026f",
                  "ranges.ttl": "a6eed0fae8d0f5ca977fe2098ca12081ac60b0efe1ddce802d5c08e49505ebcc"}
FORMATS = {"text/turtle": "turtle", "application/ld+json": "json-ld", "application/n-triples": "nt",
           "application/rdf+xml": "xml"}


@pytest.fixture(scope="module")
def manifest(server):
    return {f["name"]: f for f in httpx.get(server + "/dumps/", headers={"Accept": "application/json"}).json()["files"]}


_SUBJECTS: dict[str, dict[str, set]] = {}  # the triples of each subject of the whole dump, by the dump's SHA-256


@pytest.fixture(scope="module")
def dump_subjects(server, manifest) -> dict[str, set]:
    """Each subject's triples in the server's whole dump (rdflib terms). Every engine serves the same dump
    files (a remote back end from its local build cache): read once for all of them."""
    digest = manifest["all.nq.gz"]["sha256"]
    if digest not in _SUBJECTS:
        body = httpx.get(server + "/dumps/all.nq.gz", timeout=60).content
        assert hashlib.sha256(body).hexdigest() == digest
        by_subject: dict[str, set] = {}
        for q in pyoxigraph.parse(gzip.decompress(body), format=pyoxigraph.RdfFormat.N_QUADS):
            by_subject.setdefault(q.subject.value, set()).add((_rdflib(q.subject), _rdflib(q.predicate), _rdflib(q.object)))
        _SUBJECTS[digest] = by_subject
    return _SUBJECTS[digest]


WKT = rdflib.URIRef("http://www.opengis.net/ont/geosparql#wktLiteral")


def _same_up_to_wkt(got: set, expected: set) -> bool:
    """The same triples, WKT literals compared as geometries (equal within 1e-5 degree)."""
    import shapely

    def split(triples):
        wkt = {(s, p): o for s, p, o in triples if isinstance(o, rdflib.Literal) and o.datatype == WKT}
        return {t for t in triples if (t[0], t[1]) not in wkt}, wkt
    got_rest, got_wkt = split(got)
    expected_rest, expected_wkt = split(expected)
    return got_rest == expected_rest and got_wkt.keys() == expected_wkt.keys() and all(
        shapely.equals_exact(shapely.from_wkt(str(got_wkt[k])), shapely.from_wkt(str(expected_wkt[k])), 1e-5)
        for k in got_wkt)


def _rdflib(term):
    if isinstance(term, pyoxigraph.NamedNode):
        return rdflib.URIRef(term.value)
    if term.language:
        return rdflib.Literal(term.value, lang=term.language)
    if term.datatype.value == "http://www.w3.org/2001/XMLSchema#string":  # RDF 1.1: a simple literal
        return rdflib.Literal(term.value)
    return rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value))


def test_sample_of_200_subjects_dereference_in_every_format(server, dump_subjects, request):
    by_subject = dump_subjects
    # Virtuoso keeps geo:wktLiteral values as its own geometries and writes them back in its own text,
    # coordinates in single precision (README, "On an existing SPARQL server"): there, WKT values are compared
    # as geometries, to a hundred-thousandth of a degree; every other term exactly.
    same = _same_up_to_wkt if request.node.callspec.params["server"] == "virtuoso" else (lambda a, b: a == b)
    ours = sorted(s for s in by_subject if s.startswith(BASE))
    sample = random.Random(2026).sample(ours, 200)
    checked = 0
    with httpx.Client(base_url=server, follow_redirects=True, timeout=30) as client:
        for subject in sample:
            path = "/" + subject[len(BASE):].split("#", 1)[0]
            for media, fmt in FORMATS.items():
                response = client.get(path, headers={"Accept": media})
                assert response.status_code == 200, (subject, media, response.text[:200])
                assert response.headers["content-type"].startswith(media)
                assert "Accept" in response.headers["vary"]
                graph = rdflib.Graph().parse(data=response.content, format=fmt)
                got = {t for t in graph if str(t[0]) == subject}
                assert same(got, by_subject[subject]), (subject, media, got ^ by_subject[subject])
                checked += 1
            page = client.get(path, headers={"Accept": "text/html"})
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert checked == 800


def test_thing_iri_answers_303_to_its_document(server):
    response = httpx.get(server + "/id/commune/39300", headers={"Accept": "text/turtle"})
    assert response.status_code == 303 and response.headers["location"] == "/doc/id/commune/39300"
    doc = httpx.get(server + "/doc/id/commune/39300.ttl")
    assert doc.status_code == 200 and doc.headers["content-type"].startswith("text/turtle")
    assert "Lons-le-Saunier" in doc.text
    assert httpx.get(server + "/doc/id/commune/00000").status_code == 404
    assert httpx.get(server + "/doc/id/commune/39300", headers={"Accept": "image/png"}).status_code == 406


def test_html_page_of_a_ptce(server):
    page = httpx.get(server + "/doc/id/ptce/cluster-jura", headers={"Accept": "text/html"})
    text = page.text
    assert page.status_code == 200
    assert "Clus&#39;Ter Jura" in text or "Clus'Ter Jura" in text
    assert 'href="/id/organisation/juratri"' in text  # links stay on this server
    assert "https://w3id.org/ptce-kg/graph/registry" in text  # the source graph
    assert "/doc/id/ptce/cluster-jura.ttl" in text  # download as
    assert "Liens entrants" in text  # incoming links (memberships, awards…)
    region = httpx.get(server + "/doc/id/region/27", headers={"Accept": "text/html"}).text
    assert "Bourgogne-Franche-Comté" in region and re.search(r"Liens entrants \(\d{3,}\)", region)


def test_a_ptce_page_in_english(server):
    page = httpx.get(server + "/doc/id/ptce/cluster-jura?lang=en", headers={"Accept": "text/html"})
    text = page.text
    assert page.status_code == 200 and '<html lang="en"' in text
    for heading in ("<h2>Where</h2>", "<h2>Members (", "<h2>Programmes won</h2>", "<h2>Article 9:", "Incoming links ("):
        assert heading in text, heading
    assert "Membres" not in text and "Programmes remportés" not in text
    assert "Legal text (French)" in text and '<q lang="fr">' in text  # the law is quoted as written
    # the choice is remembered: the next page, without ?lang, stays in English
    follow = httpx.get(server + "/doc/id/region/27", headers={"Accept": "text/html"}, cookies=page.cookies)
    assert "Incoming links (" in follow.text and '<html lang="en"' in follow.text


def test_vocabulary_and_shapes_at_their_namespace(server):
    html = httpx.get(server + "/def", headers={"Accept": "text/html"})
    assert html.status_code == 200 and "PTCE" in html.text and "pyLODE" in html.text
    ttl = rdflib.Graph().parse(data=httpx.get(server + "/def", headers={"Accept": "text/turtle"}).text, format="turtle")
    assert (rdflib.URIRef(BASE + "def"), RDF.type, rdflib.OWL.Ontology) in ttl
    jsonld = httpx.get(server + "/def", headers={"Accept": "application/ld+json"})
    assert jsonld.status_code == 200 and json.loads(jsonld.text)
    shapes = rdflib.Graph().parse(data=httpx.get(server + "/shapes/article-9", headers={"Accept": "text/turtle"}).text,
                                  format="turtle")
    assert len(set(shapes.subjects(RDF.type, SH.NodeShape))) >= 8
    assert httpx.get(server + "/shapes/article-9", headers={"Accept": "text/html"}).status_code == 200
    assert httpx.get(server + "/def/candidate.schema.json").json()["title"]


# Triples parsed from each dump, by the SHA-256 of its bytes: every engine serves the same dump files (a remote
# back end from its local build cache), so bytes already parsed on one engine are not parsed again on another.
_PARSED: dict[str, int] = {}


def test_every_dump_parses_matches_its_checksum_and_the_endpoint_count(server, manifest):
    sums = dict(reversed(line.split("  ")) for line in httpx.get(server + "/dumps/SHA256SUMS").text.splitlines())
    assert set(sums) == set(manifest)
    formats = {"nq": pyoxigraph.RdfFormat.N_QUADS, "nt": pyoxigraph.RdfFormat.N_TRIPLES,
               "ttl": pyoxigraph.RdfFormat.TURTLE, "jsonld": pyoxigraph.RdfFormat.JSON_LD}
    counts: dict[str, int] = {}
    for name, entry in manifest.items():
        body = httpx.get(server + f"/dumps/{name}", timeout=60).content
        assert len(body) == entry["bytes"]
        assert hashlib.sha256(body).hexdigest() == entry["sha256"] == sums[name]
        if entry["sha256"] not in _PARSED:
            parsed = list(pyoxigraph.parse(gzip.decompress(body), format=formats[entry["format"]]))
            _PARSED[entry["sha256"]] = len(set(parsed)) if entry["format"] in ("nt", "ttl") else len(parsed)
        assert _PARSED[entry["sha256"]] == entry["triples"], name
        counts[name] = entry["triples"]

    def count(query):
        r = httpx.get(server + "/sparql", params={"query": query}, timeout=30)
        assert r.status_code == 200, r.text
        return int(r.json()["results"]["bindings"][0]["n"]["value"])

    assert counts["all.nq.gz"] == count("SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } }")
    for name in ("registry", "programmes", "territories", "ontology", "meta"):
        n = count(f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{BASE}graph/{name}> {{ ?s ?p ?o }} }}")
        assert counts[f"{name}.nt.gz"] == counts[f"{name}.nq.gz"] == counts[f"{name}.jsonld.gz"] == n


def test_dumps_are_served_like_files(server, manifest):
    name = "registry.ttl.gz"
    head = httpx.head(server + f"/dumps/{name}")
    assert head.status_code == 200 and int(head.headers["content-length"]) == manifest[name]["bytes"]
    assert head.headers["etag"] and head.headers["last-modified"]
    partial = httpx.get(server + f"/dumps/{name}", headers={"Range": "bytes=0-1"})
    assert partial.status_code == 206 and partial.content == b"\x1f\x8b"  # the gzip magic number
    again = httpx.get(server + f"/dumps/{name}", headers={"If-None-Match": head.headers["etag"]})
    assert again.status_code == 304
    for bad in ("../CURRENT", "..%2FCURRENT", "%2e%2e/CURRENT", "nothing.nt.gz"):
        assert httpx.get(server + f"/dumps/{bad}").status_code == 404


def test_catalog_conforms_to_dcat_ap_3(server):
    import pyshacl

    for name, digest in DCAT_AP_SHA256.items():
        assert hashlib.sha256((DCAT_AP / name).read_bytes()).hexdigest() == digest, name
    response = httpx.get(server + "/catalog", headers={"Accept": "text/turtle"})
    assert response.status_code == 200
    data = rdflib.Graph().parse(data=response.text, format="turtle")
    shapes = rdflib.Graph().parse(DCAT_AP / "dcat-ap-SHACL.ttl").parse(DCAT_AP / "ranges.ttl")
    # The official files reference a few property shapes they never define (pySHACL refuses those
    # references); drop just the dangling references, keep every defined constraint.
    dangling = [(s, o) for s, o in shapes.subject_objects(SH.property) if (o, SH.path, None) not in shapes]
    assert len(dangling) < 10
    for s, o in dangling:
        shapes.remove((s, SH.property, o))
    conforms, _, text = pyshacl.validate(data, shacl_graph=shapes, inference="none")
    assert conforms, text
    dcat = rdflib.Namespace("http://www.w3.org/ns/dcat#")
    main = rdflib.URIRef(BASE + "id/dataset/ptce-kg")
    assert data.value(main, rdflib.DCTERMS.license)
    assert len(list(data.objects(main, dcat.distribution))) >= 5  # 4 dumps + SPARQL
    assert any(data.subjects(RDF.type, dcat.DataService))
    assert data.value(main, rdflib.DCTERMS.modified)
    for fmt in ("application/ld+json", "application/rdf+xml"):
        assert httpx.get(server + "/catalog", headers={"Accept": fmt}).headers["content-type"].startswith(fmt)


def test_void_sitemap_robots_and_schema_org(server):
    void = rdflib.Graph().parse(data=httpx.get(server + "/.well-known/void", headers={"Accept": "text/turtle"}).text,
                                format="turtle")
    v = rdflib.Namespace("http://rdfs.org/ns/void#")
    main = rdflib.URIRef(BASE + "id/dataset/ptce-kg")
    assert void.value(main, v.sparqlEndpoint) == rdflib.URIRef(server + "/sparql")
    assert any(void.objects(main, v.dataDump))
    territories = rdflib.URIRef(BASE + "graph/territories")
    assert (main, v.subset, territories) in void
    partitions = {str(void.value(p, v["class"])): int(void.value(p, v.entities))
                  for p in void.objects(territories, v.classPartition)}
    assert partitions[BASE + "def#Commune"] > 34_000
    sitemap = httpx.get(server + "/sitemap.xml").text
    assert "/doc/id/ptce/cluster-jura</loc>" in sitemap
    assert "Sitemap:" in httpx.get(server + "/robots.txt").text
    home = httpx.get(server + "/").text
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', home, re.S).group(1))
    assert data["@type"] == "Dataset" and data["license"].startswith("https://www.etalab.gouv.fr")
    assert any(d["contentUrl"].endswith("all.nt.gz") for d in data["distribution"])


def test_cli_export(tmp_path):
    from conftest import TERRITORY_FIXTURES
    from ingest.territories import TerritoriesSource
    import cli
    from ptce_kg.build import build

    build(tmp_path / "store", sources=[TerritoriesSource(TERRITORY_FIXTURES)], progress=lambda m: None,
          with_dumps=False)
    assert cli.main(["export", "--store", str(tmp_path / "store"), str(tmp_path / "dumps")]) == 0
    files = json.loads((tmp_path / "dumps" / "manifest.json").read_text())["files"]
    assert {f["name"] for f in files} >= {"all.nq.gz", "territories.ttl.gz", "territories.jsonld.gz"}
    for f in files:
        assert hashlib.sha256((tmp_path / "dumps" / f["name"]).read_bytes()).hexdigest() == f["sha256"]


@pytest.mark.parametrize("path, english, french", [
    ("/sparql", "<h1>SPARQL endpoint</h1>", "Point d'accès SPARQL"),
    ("/dumps/", "<h1>Dumps</h1>", "Téléchargements"),
    ("/shapes/article-9", "<h1>SHACL shapes: article-9</h1>", "<h1>Formes SHACL :"),
])
def test_service_pages_follow_the_language_switch(server, path, english, french):
    fr_page = httpx.get(server + path, headers={"Accept": "text/html"})
    en_page = httpx.get(server + path + "?lang=en", headers={"Accept": "text/html"})
    assert fr_page.status_code == en_page.status_code == 200
    assert french in html.unescape(fr_page.text) and english not in fr_page.text
    assert english in en_page.text and french not in html.unescape(en_page.text)
