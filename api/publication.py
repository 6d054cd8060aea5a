"""What portals harvest: dumps under /dumps/, the DCAT-AP 3 catalogue at /catalog, VoID at /.well-known/void."""

from __future__ import annotations

import os
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

import rdflib
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, VOID, XSD

from ptce_kg import iris
from ptce_kg.export import ALL, read_manifest, read_tables
from ptce_kg.rdf import GRAPH
from ptce_kg.iris import read_query

from .deps import Svc, service_of
from . import negotiation

router = APIRouter(tags=["publication"])
RDF_DIR = Path(__file__).resolve().parent / "rdf"
ID = rdflib.Namespace(iris.ID)
SPDX = rdflib.Namespace("http://spdx.org/rdf/terms#")
PROV = rdflib.Namespace("http://www.w3.org/ns/prov#")
HYDRA = rdflib.Namespace("http://www.w3.org/ns/hydra/core#")
SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
FILE_TYPE = {"nt": "RDF_N_TRIPLES", "ttl": "RDF_TURTLE", "nq": "RDF_N_QUADS", "jsonld": "JSON_LD"}
IANA = "https://www.iana.org/assignments/media-types/"
LICENCE = rdflib.URIRef("https://www.etalab.gouv.fr/licence-ouverte-open-licence")
EU = "http://publications.europa.eu/resource/authority/"
# Licences as IRIs of the EU Publications Office's licence authority list (what the MQA calls a known
# licence), each beside the licence's own page; and the rights statement a reuser must honour.
EU_LICENCE = {
    "https://www.etalab.gouv.fr/licence-ouverte-open-licence": rdflib.URIRef(EU + "licence/ETALAB_2_0"),
    "https://creativecommons.org/licenses/by/4.0/": rdflib.URIRef(EU + "licence/CC_BY_4_0"),
}
CATALOG_LICENCE = EU_LICENCE[str(LICENCE)]
PUBLIC = rdflib.URIRef(EU + "access-right/PUBLIC")
FRANCE = rdflib.URIRef(EU + "country/FRA")
PERIOD = ID["period/since-2013"]  # from the 2013 call for projects to the last build
ISSUED = rdflib.Literal("2026-11-22", datatype=XSD.date)  # first publication of ptce-kg
THEMES = ("ECON", "REGI", "SOCI")
OFFERS = {"text/turtle": "turtle", "application/ld+json": "json-ld", "application/rdf+xml": "xml",
          "application/n-triples": "nt", "application/json": "json-ld", "application/xml": "xml", "text/plain": "nt"}
PAGE_SIZE = 50


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
    return [{n: row[n] for n in names} for row in rows]


def _licence(iri: str | None) -> rdflib.URIRef:
    """A source's licence as the EU licence list's IRI (the licence's own page when it has none there)."""
    return EU_LICENCE.get(iri or str(LICENCE), rdflib.URIRef(iri) if iri else CATALOG_LICENCE)


def _describe_dataset(g: rdflib.Graph, ds, licence: rdflib.URIRef, modified) -> None:
    """What every dataset of the catalogue carries, the per-source ones as much as the main one."""
    g.add((ds, DCTERMS.publisher, ID["publisher"]))
    g.add((ds, DCAT.contactPoint, ID["contact"]))
    g.add((ds, DCTERMS.license, licence))
    g.add((ds, DCTERMS.spatial, FRANCE))
    g.add((ds, DCTERMS.temporal, PERIOD))
    g.add((ds, DCTERMS.accessRights, PUBLIC))
    g.add((ds, DCTERMS.issued, ISSUED))
    if modified:
        g.add((ds, DCTERMS.modified, rdflib.Literal(modified, datatype=XSD.dateTime)))
    for theme in THEMES:
        g.add((ds, DCAT.theme, rdflib.URIRef(EU + f"data-theme/{theme}")))
    g.add((ds, DCTERMS.language, rdflib.URIRef(EU + "language/FRA")))


def _describe_distribution(g: rdflib.Graph, dist, licence: rdflib.URIRef, modified) -> None:
    g.add((dist, RDF.type, DCAT.Distribution))
    g.add((dist, DCTERMS.license, licence))
    g.add((dist, DCTERMS.rights, ID[f"rights/{str(licence).rsplit('/', 1)[-1]}"]))
    g.add((dist, DCTERMS.issued, ISSUED))
    if modified:
        g.add((dist, DCTERMS.modified, rdflib.Literal(modified, datatype=XSD.dateTime)))


def catalog_graph(request: Request, page: int = 1) -> rdflib.Graph:
    base = service_of(request).settings.public_url  # PTCE_KG_PUBLIC_URL, never the Host header
    g = rdflib.Graph()
    g.parse(RDF_DIR / "catalog.ttl", format="turtle")
    for prefix, ns in (("dcat", DCAT), ("dct", DCTERMS), ("foaf", FOAF), ("spdx", SPDX), ("prov", PROV),
                       ("hydra", HYDRA), ("id", ID)):
        g.bind(prefix, ns)
    catalog, main, service = ID["catalog"], ID["dataset/ptce-kg"], ID["service/sparql"]
    g.add((service, DCAT.endpointURL, rdflib.URIRef(base + "sparql")))
    g.add((service, DCAT.endpointDescription, rdflib.URIRef(base + "sparql")))  # GET answers the service description
    g.add((rdflib.URIRef(base + "sparql"), RDF.type, rdflib.RDFS.Resource))
    g.add((main, DCAT.landingPage, rdflib.URIRef(base)))
    g.add((rdflib.URIRef(base), RDF.type, FOAF.Document))
    _, files = _manifest(request)
    graphs = _meta_graphs(request)
    modified = next((row["modified"].value for row in graphs if row.get("modified") is not None), None)
    _describe_dataset(g, main, CATALOG_LICENCE, modified)
    g.add((main, DCAT.distribution, ID["distribution/sparql"]))
    sparql = ID["distribution/sparql"]
    _describe_distribution(g, sparql, CATALOG_LICENCE, modified)
    g.add((sparql, DCTERMS.title, rdflib.Literal("Point d'accès SPARQL", lang="fr")))
    g.add((sparql, DCTERMS.title, rdflib.Literal("SPARQL endpoint", lang="en")))
    g.add((sparql, DCAT.accessURL, rdflib.URIRef(base + "sparql")))
    g.add((sparql, DCAT.accessService, service))
    # What the endpoint answers by default to a SELECT: SPARQL results in JSON (IANA and EU file type)
    g.add((sparql, DCAT.mediaType, rdflib.URIRef(IANA + "application/sparql-results+json")))
    g.add((rdflib.URIRef(IANA + "application/sparql-results+json"), RDF.type, DCTERMS.MediaType))
    g.add((sparql, DCTERMS.format, rdflib.URIRef(EU + "file-type/SPARQLQRES")))
    g.add((rdflib.URIRef(EU + "file-type/SPARQLQRES"), RDF.type, DCTERMS.MediaTypeOrExtent))
    datasets = {ALL: main}
    for row in graphs:
        name = row["graph"].value[len(GRAPH):]
        datasets[row["graph"].value] = ID[f"dataset/{name}"]
    # Paging for harvesters: the main dataset on the first page, the per-source datasets PAGE_SIZE a page
    # (PTCE_KG_CATALOG_PAGE_SIZE), so that a harvester reads each dataset once.
    size = max(1, int(os.environ.get("PTCE_KG_CATALOG_PAGE_SIZE") or PAGE_SIZE))
    subsets = sorted((k, v) for k, v in datasets.items() if k != ALL)
    start = (page - 1) * size
    shown = dict(([(ALL, main)] if page == 1 else []) + subsets[start:start + size])
    licences: dict[str, rdflib.URIRef] = {str(main): CATALOG_LICENCE}
    for row in graphs:
        iri = row["graph"].value
        if iri not in shown:
            continue
        ds = shown[iri]
        name = iri[len(GRAPH):]
        g.add((catalog, DCAT.dataset, ds))
        g.add((main, DCTERMS.hasPart, ds))
        g.add((ds, RDF.type, DCAT.Dataset))
        g.add((ds, DCTERMS.identifier, rdflib.Literal(str(ds))))
        for lang in ("fr", "en"):
            if row.get(f"title_{lang}") is not None:
                g.add((ds, DCTERMS.title, rdflib.Literal(row[f"title_{lang}"].value, lang=lang)))
        triples = f"{int(row['triples'].value):,}"
        g.add((ds, DCTERMS.description, rdflib.Literal(
            f"Graphe nommé <{iri}> de ptce-kg, {triples.replace(',', ' ')} triplets.", lang="fr")))
        g.add((ds, DCTERMS.description, rdflib.Literal(
            f"Named graph <{iri}> of ptce-kg, {triples} triples.", lang="en")))
        # each source keeps its own licence (today all are Licence Ouverte 2.0; a CC BY source gets its rights text)
        licence = _licence(row["licence"].value if row.get("licence") is not None else None)
        licences[str(ds)] = licence
        g.add((ds, DCTERMS.isPartOf, main))
        _describe_dataset(g, ds, licence, modified)
        g.add((ds, DCAT.keyword, rdflib.Literal("PTCE", lang="fr")))
        g.add((ds, DCAT.keyword, rdflib.Literal(name, lang="en")))
        g.add((ds, VOID.triples, rdflib.Literal(int(row["triples"].value), datatype=XSD.integer)))
        if row.get("source") is not None:
            # Not dct:source: DCAT-AP reserves it for dcat:Dataset values; the sources are packages and tables.
            g.add((ds, PROV.wasDerivedFrom, rdflib.URIRef(row["source"].value)))
            statement = rdflib.URIRef(f"{ds}#provenance")
            g.add((ds, DCTERMS.provenance, statement))
            g.add((statement, RDF.type, DCTERMS.ProvenanceStatement))
            g.add((statement, rdflib.RDFS.label, rdflib.Literal(
                f"Construit par ptce-kg depuis {row['source'].value}"
                + (f", version {row['version'].value}" if row.get("version") is not None else ""), lang="fr")))
        if row.get("activity") is not None:
            g.add((ds, PROV.wasGeneratedBy, rdflib.URIRef(row["activity"].value)))
            g.add((rdflib.URIRef(row["activity"].value), RDF.type, PROV.Activity))
    for f in files:
        ds = shown.get(f.graph)
        if ds is None:
            continue
        dist = ID[f"distribution/{f.name}"]
        url = rdflib.URIRef(f"{base}dumps/{f.name}")
        g.add((ds, DCAT.distribution, dist))
        _describe_distribution(g, dist, licences.get(str(ds), CATALOG_LICENCE), modified)
        g.add((dist, DCTERMS.title, rdflib.Literal(f"{f.name} ({f.triples:,} triplets)".replace(",", " "), lang="fr")))
        g.add((dist, DCTERMS.title, rdflib.Literal(f"{f.name} ({f.triples:,} triples)", lang="en")))
        g.add((dist, DCAT.accessURL, url))
        g.add((dist, DCAT.downloadURL, url))
        g.add((dist, DCAT.mediaType, rdflib.URIRef(IANA + f.media_type)))
        g.add((rdflib.URIRef(IANA + f.media_type), RDF.type, DCTERMS.MediaType))
        g.add((dist, DCTERMS.format, rdflib.URIRef(EU + f"file-type/{FILE_TYPE[f.format]}")))
        g.add((rdflib.URIRef(EU + f"file-type/{FILE_TYPE[f.format]}"), RDF.type, DCTERMS.MediaTypeOrExtent))
        g.add((dist, DCAT.compressFormat, rdflib.URIRef(IANA + "application/gzip")))
        g.add((rdflib.URIRef(IANA + "application/gzip"), RDF.type, DCTERMS.MediaType))
        g.add((dist, DCAT.byteSize, rdflib.Literal(f.bytes, datatype=XSD.nonNegativeInteger)))
        checksum = rdflib.URIRef(f"{dist}#sha256")
        g.add((dist, SPDX.checksum, checksum))
        g.add((checksum, RDF.type, SPDX.Checksum))
        g.add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
        g.add((SPDX.checksumAlgorithm_sha256, RDF.type, SPDX.ChecksumAlgorithm))
        g.add((checksum, SPDX.checksumValue, rdflib.Literal(f.sha256, datatype=XSD.hexBinary)))
    folder = _dumps_dir(request)
    for table in (read_tables(folder) if folder and page == 1 else []):  # the French-schema CSV exports
        dist, url = ID[f"distribution/{table.name}"], rdflib.URIRef(f"{base}dumps/{table.name}")
        g.add((main, DCAT.distribution, dist))
        _describe_distribution(g, dist, CATALOG_LICENCE, modified)
        g.add((dist, DCTERMS.title, rdflib.Literal(f"{table.name} ({table.rows} lignes)", lang="fr")))
        g.add((dist, DCTERMS.title, rdflib.Literal(f"{table.name} ({table.rows} rows)", lang="en")))
        g.add((dist, DCAT.accessURL, url))
        g.add((dist, DCAT.downloadURL, url))
        g.add((dist, DCAT.mediaType, rdflib.URIRef(IANA + table.media_type)))
        g.add((rdflib.URIRef(IANA + table.media_type), RDF.type, DCTERMS.MediaType))
        g.add((dist, DCTERMS.format, rdflib.URIRef(EU + "file-type/CSV")))
        g.add((rdflib.URIRef(EU + "file-type/CSV"), RDF.type, DCTERMS.MediaTypeOrExtent))
        g.add((dist, DCTERMS.conformsTo, rdflib.URIRef(table.conforms_to)))
        g.add((rdflib.URIRef(table.conforms_to), RDF.type, DCTERMS.Standard))
        g.add((dist, DCAT.byteSize, rdflib.Literal(table.bytes, datatype=XSD.nonNegativeInteger)))
        checksum = rdflib.URIRef(f"{dist}#sha256")
        g.add((dist, SPDX.checksum, checksum))
        g.add((checksum, RDF.type, SPDX.Checksum))
        g.add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
        g.add((checksum, SPDX.checksumValue, rdflib.Literal(table.sha256, datatype=XSD.hexBinary)))
    if modified:
        g.add((catalog, DCTERMS.modified, rdflib.Literal(modified, datatype=XSD.dateTime)))
    if page > 1:  # the main dataset and its SPARQL distribution are described on the first page only
        for node in (main, sparql):
            g.remove((node, None, None))
        g.remove((catalog, DCAT.dataset, main))
    view = rdflib.URIRef(f"{base}catalog?page={page}")
    g.add((catalog, HYDRA.view, view))
    g.add((view, RDF.type, HYDRA.PartialCollectionView))
    g.add((view, HYDRA.first, rdflib.URIRef(f"{base}catalog?page=1")))
    last = max(1, -(-len(subsets) // size))
    g.add((view, HYDRA.last, rdflib.URIRef(f"{base}catalog?page={last}")))
    if page < last:
        g.add((view, HYDRA.next, rdflib.URIRef(f"{base}catalog?page={page + 1}")))
    if page > 1:
        g.add((view, HYDRA.previous, rdflib.URIRef(f"{base}catalog?page={page - 1}")))
    return g


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
    g = rdflib.Graph()
    g.bind("void", VOID)
    g.bind("dct", DCTERMS)
    main = ID["dataset/ptce-kg"]
    g.add((main, RDF.type, VOID.Dataset))
    g.add((main, DCTERMS.title, rdflib.Literal("Graphe de connaissances des PTCE", lang="fr")))
    g.add((main, DCTERMS.license, LICENCE))
    g.add((main, VOID.sparqlEndpoint, rdflib.URIRef(base + "sparql")))
    g.add((main, VOID.uriSpace, rdflib.Literal(iris.ID)))
    g.add((main, VOID.vocabulary, rdflib.URIRef(iris.DEF)))
    _, files = _manifest(request)
    for f in files:
        if f.graph == ALL:
            g.add((main, VOID.dataDump, rdflib.URIRef(f"{base}dumps/{f.name}")))
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

