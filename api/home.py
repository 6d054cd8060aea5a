"""The home page: what is served, from which sources, and where to go next."""

from __future__ import annotations


from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ptce_kg import iris
from ptce_kg import queries as query_files
from ptce_kg.iris import read_query

from .deps import Svc, service_of
from .turtle import RDF_DIR

router = APIRouter()


def published_graphs(request: Request) -> list[dict]:
    store = service_of(request).live.get_or_none()
    if store is None:
        return []
    return query_files.rows(store, read_query(RDF_DIR / "graphs.rq"), union=False)


def counts(request: Request) -> dict | None:
    store = service_of(request).live.get_or_none()
    if store is None:
        return None
    rows = query_files.rows(store, read_query(RDF_DIR / "home-counts.rq"))
    return rows[0] if rows else None


def coverage_shares(request: Request) -> dict | None:
    """What is known and what is not, from the coverage queries (the /coverage page's figures)."""
    from .pages import coverage_data

    store = service_of(request).live.get_or_none()
    return coverage_data(store) if store is not None else None


def schema_org(request: Request, graphs: list[dict]) -> dict:
    """schema.org Dataset for search engines (Google Dataset Search reads it from the home page)."""
    from ptce_kg.export import ALL, read_manifest

    base = service_of(request).settings.public_url  # PTCE_KG_PUBLIC_URL, never the Host header
    live = service_of(request).live
    folder = live.root.dumps_of(live.root.current_name())
    dumps = [f for f in read_manifest(folder) if f.graph == ALL] if folder else []
    return {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "@id": iris.DATASET,
        "name": "Graphe de connaissances des PTCE",
        "alternateName": "PTCE knowledge graph",
        "description": "Les pôles territoriaux de coopération économique (article 9 de la loi n° 2014-856), leurs "
                       "membres, territoires et financements, en données ouvertes liées.",
        "url": base,
        "inLanguage": ["fr", "en"],
        "license": "https://www.etalab.gouv.fr/licence-ouverte-open-licence",
        "isAccessibleForFree": True,
        "keywords": ["PTCE", "économie sociale et solidaire", "ESS", "linked data"],
        "spatialCoverage": {"@type": "Place", "name": "France"},
        "temporalCoverage": "2013/..",
        "dateModified": graphs[0]["modified"] if graphs and graphs[0].get("modified") else None,
        "includedInDataCatalog": {"@type": "DataCatalog", "name": "ptce-kg", "url": base + "catalog"},
        "distribution": [{"@type": "DataDownload", "encodingFormat": f.media_type,
                          "contentUrl": f"{base}dumps/{f.name}", "contentSize": str(f.bytes)} for f in dumps],
    }


@router.get("/", response_class=HTMLResponse, name="home")
def home(request: Request, svc: Svc):
    graphs = published_graphs(request)
    return svc.templates.TemplateResponse(request, "home.html", {
        "graphs": graphs,
        "counts": counts(request),
        "total": sum(int(g["triples"]) for g in graphs),
        "modified": graphs[0]["modified"] if graphs else None,
        "queries": query_files.all_queries(),
        "schema_org": schema_org(request, graphs),
        "coverage": coverage_shares(request),
    })
