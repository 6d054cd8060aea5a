"""What portals harvest: dumps under /dumps/, the DCAT-AP 3 catalogue at /catalog, VoID at /.well-known/void."""

from __future__ import annotations

from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

import rdflib
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from rdflib.namespace import DCAT, DCTERMS, FOAF, VOID

from ptce_kg import iris
from ptce_kg.errors import StoreError
from ptce_kg.export import ALL, read_manifest, read_tables
from ptce_kg.rdf import GRAPH
from ptce_kg.iris import read_query

from .deps import Svc, service_of
from . import negotiation, turtle
from .turtle import RDF_DIR

router = APIRouter(tags=["publication"])
ID = rdflib.Namespace(iris.ID)
SPDX = rdflib.Namespace("http://spdx.org/rdf/terms#")
PROV = rdflib.Namespace("http://www.w3.org/ns/prov#")
HYDRA = rdflib.Namespace("http://www.w3.org/ns/hydra/core#")
SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
FILE_TYPE = {"nt": "RDF_N_TRIPLES", "ttl": "RDF_TURTLE", "nq": "RDF_N_QUADS", "jsonld": "JSON_LD"}
IANA = "https://www.iana.org/assignments/media-types/"
LICENCE = "https://www.etalab.gouv.fr/licence-ouverte-open-licence"
EU = "http://publications.europa.eu/resource/authority/"
# Licences as IRIs of the EU Publications Office's licence authority list (what the MQA calls a known
# licence), each beside the licence's own page; and the rights statement a reuser must honour.
EU_LICENCE = {
    "https://www.etalab.gouv.fr/licence-ouverte-open-licence": EU + "licence/ETALAB_2_0",
    "https://creativecommons.org/licenses/by/4.0/": EU + "licence/CC_BY_4_0",
}
CATALOG_LICENCE = EU_LICENCE[LICENCE]
OFFERS = {"text/turtle": "turtle", "application/ld+json": "json-ld", "application/rdf+xml": "xml",
          "application/n-triples": "nt", "application/json": "json-ld", "application/xml": "xml", "text/plain": "nt"}


def _dumps_dir(request: Request) -> Path | None:
    live = service_of(request).live
    return live.root.dumps_of(live.root.current_name())


def _manifest(request: Request):
    folder = _dumps_dir(request)
    return (folder, read_manifest(folder)) if folder and folder.is_dir() else (folder, [])


# -- dumps ------------------------------------------------------------------------------------------

@router.get("/dumps/", summary="Liste des dumps / list of dumps")
def dumps_index(request: Request, svc: Svc) -> Response:
    folder, files = _manifest(request)
    base = svc.settings.public_url  # PTCE_KG_PUBLIC_URL, never the Host header
    items = [{"name": f.name, "url": f"{base}dumps/{f.name}", "graph": f.graph, "format": f.format,
              "media_type": f.media_type, "triples": f.triples, "bytes": f.bytes, "sha256": f.sha256} for f in files]
    if negotiation.wants_html(request.headers.get("accept")):
        return svc.templates.TemplateResponse(request, "dumps.html", {"files": items},
                                                            headers={"Vary": "Accept"})
    tables = [{"name": t.name, "url": f"{base}dumps/{t.name}", "media_type": t.media_type, "rows": t.rows,
               "bytes": t.bytes, "sha256": t.sha256, "conforms_to": t.conforms_to} for t in read_tables(folder)] if folder else []
    return JSONResponse({"files": items, "checksums": f"{base}dumps/SHA256SUMS", "tables": tables},
                        headers={"Vary": "Accept"})


@router.api_route("/dumps/{name}", methods=["GET", "HEAD"], summary="Un dump (gzip) / one dump file")
def dump_file(request: Request, name: str) -> Response:
    """Served with Last-Modified, ETag and byte ranges; names come from the manifest, never from the path."""
    folder, files = _manifest(request)
    allowed = {f.name: f for f in files} | ({t.name: t for t in read_tables(folder)} if folder else {})
    if name not in allowed and name not in ("SHA256SUMS", "manifest.json"):
        return PlainTextResponse("No such dump / dump inconnu\n", status_code=404)
    media = "application/gzip" if name.endswith(".gz") else "text/csv; charset=utf-8" if name.endswith(".csv") else (
        "application/json" if name.endswith(".json") else "text/plain")
    path = folder / name
    headers = {"Cache-Control": "public, max-age=3600",
               "Last-Modified": formatdate(path.stat().st_mtime, usegmt=True)}
    if name in allowed:  # the content's own SHA-256 is a strong validator
        headers["ETag"] = f'"{allowed[name].sha256}"'
        headers["Digest"] = f"sha-256={allowed[name].sha256}"
        if request.headers.get("if-none-match") in (headers["ETag"], "*"):
            return Response(status_code=304, headers=headers)
    since = request.headers.get("if-modified-since")
    if since and "if-none-match" not in request.headers:
        try:
            if parsedate_to_datetime(since).timestamp() >= int(path.stat().st_mtime):
                return Response(status_code=304, headers=headers)
        except (TypeError, ValueError):
            pass
    return FileResponse(path, media_type=media, filename=name, headers=headers,
                        content_disposition_type="attachment")


# -- DCAT-AP catalogue ----------------------------------------------------------------------------

def _meta_graphs(request: Request) -> list[dict]:
    store = service_of(request).live.get_or_none()
    if store is None:
        return []
    rows = store.query(read_query(RDF_DIR / "catalog-graphs.rq"))
    names = [v.value for v in rows.variables]
    found = [{n: row[n] for n in names} for row in rows]
    graphs = {row["graph"].value for row in found}
    if len(graphs) != len(found):  # the meta graph gives each graph one title per language, source, licence…
        raise StoreError(f"the metadata graph describes {len(graphs)} graphs in {len(found)} rows")
    return found


def _licence(iri: str | None) -> str:
    """A source's licence as the EU licence list's IRI (the licence's own page when it has none there)."""
    return EU_LICENCE.get(iri or LICENCE, iri or CATALOG_LICENCE)


def catalog_graph(request: Request, page: int = 1) -> rdflib.Graph:
    """One page of the catalogue, from the template api/rdf/catalog.ttl.j2: the main dataset on the first
    page, the per-source datasets PTCE_KG_CATALOG_PAGE_SIZE a page (default 50), so that a harvester
    following Hydra's links reads each dataset once."""
    base = service_of(request).settings.public_url  # PTCE_KG_PUBLIC_URL, never the Host header
    _, files = _manifest(request)
    graphs = _meta_graphs(request)
    modified = next((row["modified"].value for row in graphs if row.get("modified") is not None), None)
    size = service_of(request).settings.catalog_page_size
    start = (page - 1) * size
    value = lambda row, name: row[name].value if row.get(name) is not None else None  # noqa: E731
    datasets = []
    for row in graphs[start:start + size]:  # the rows come sorted by graph IRI
        graph, triples = row["graph"].value, int(row["triples"].value)
        name = graph[len(GRAPH):]
        datasets.append({
            "iri": f"{iris.ID}dataset/{name}", "graph": graph, "name": name, "triples": triples,
            "titles": {lang: value(row, f"title_{lang}") for lang in ("fr", "en") if value(row, f"title_{lang}")},
            # each source keeps its own licence (today all are Licence Ouverte 2.0)
            "licence": _licence(value(row, "licence")), "source": value(row, "source"),
            "version": value(row, "version"), "activity": value(row, "activity"), "files": []})
    owner = {ds["graph"]: ds for ds in datasets}
    shown, main_files = [], []
    for f in files:
        ds = owner.get(f.graph)
        if ds is None and not (f.graph == ALL and page == 1):
            continue
        dump = {"dist": f"{iris.ID}distribution/{f.name}", "name": f.name, "media_type": f.media_type,
                "file_type": FILE_TYPE[f.format], "bytes": f.bytes, "sha256": f.sha256, "triples": f.triples,
                "licence": ds["licence"] if ds else CATALOG_LICENCE}
        (ds["files"] if ds else main_files).append(dump)
        shown.append(dump)
    folder = _dumps_dir(request)
    tables = [{"dist": f"{iris.ID}distribution/{t.name}", "name": t.name, "rows": t.rows, "bytes": t.bytes,
               "media_type": t.media_type, "sha256": t.sha256, "conforms_to": t.conforms_to}
              for t in (read_tables(folder) if folder and page == 1 else [])]
    graph = turtle.render("catalog.ttl.j2", id=iris.ID, base=base, page=page, last=max(1, -(-len(graphs) // size)),
                          modified=modified, main_licence=CATALOG_LICENCE, datasets=datasets, files=shown,
                          main_files=main_files, tables=tables, iana=IANA, ftype=EU + "file-type/")
    for prefix, ns in (("dcat", DCAT), ("dct", DCTERMS), ("foaf", FOAF), ("spdx", SPDX), ("prov", PROV),
                       ("hydra", HYDRA), ("id", ID)):
        graph.bind(prefix, ns)
    return graph


def _rdf(request: Request, graph: rdflib.Graph, fmt: str | None) -> Response:
    name = {"ttl": "turtle", "turtle": "turtle", "jsonld": "json-ld", "json-ld": "json-ld", "rdf": "xml",
            "rdfxml": "xml", "xml": "xml", "nt": "nt"}.get((fmt or "").lower())
    media = None
    if name is None:
        media = negotiation.best(request.headers.get("accept"), OFFERS)
        if media is None:
            return PlainTextResponse("Not acceptable: text/turtle, application/ld+json, application/rdf+xml\n",
                                     status_code=406, headers={"Vary": "Accept"})
        name = OFFERS[media]
    media = {"turtle": "text/turtle", "json-ld": "application/ld+json", "xml": "application/rdf+xml",
             "nt": "application/n-triples"}[name]
    return Response(graph.serialize(format=name), media_type=media, headers={"Vary": "Accept"})


@router.get("/catalog", summary="Catalogue DCAT-AP 3 / DCAT-AP 3 catalogue")
def catalog(request: Request, page: int = 1, format: str | None = None) -> Response:
    return _rdf(request, catalog_graph(request, max(1, page)), format)


# -- VoID ----------------------------------------------------------------------------------------

@router.get("/.well-known/void", summary="Description VoID / VoID description")
def void(request: Request, svc: Svc, format: str | None = None) -> Response:
    base = svc.settings.public_url  # PTCE_KG_PUBLIC_URL, never the Host header
    store = svc.live.get_or_none()
    _, files = _manifest(request)
    g = turtle.render("void.ttl.j2", id=iris.ID, base=base, vocabulary=iris.DEF, licence=LICENCE,
                      dumps=[f"{base}dumps/{f.name}" for f in files if f.graph == ALL])
    g.bind("void", VOID)
    g.bind("dct", DCTERMS)
    if store is not None:
        for triple in store.query(read_query(RDF_DIR / "void.rq")):
            g.add(tuple(_to_rdflib(t) for t in (triple.subject, triple.predicate, triple.object)))
    return _rdf(request, g, format)


def _to_rdflib(term):
    import pyoxigraph

    if isinstance(term, pyoxigraph.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, pyoxigraph.BlankNode):
        return rdflib.BNode(term.value)
    if term.language:
        return rdflib.Literal(term.value, lang=term.language)
    return rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value))

