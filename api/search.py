"""`/search`: ranked full-text search with type facets and highlighting (HTML, works without JavaScript, or
JSON), `/search/suggest` for the header box's autocomplete, and the SPARQL hook that answers
`SERVICE <https://w3id.org/ptce-kg/search>` (ptce_kg/search.py)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from markupsafe import Markup, escape

from ptce_kg import iris
from ptce_kg import search as text_search
from ptce_kg.errors import InputError
from ptce_kg.sparql_guard import QueryRefused

from .deps import Svc, service_of
from .i18n import chosen

router = APIRouter(tags=["search"])
PAGE = 20
MAX_Q = 200


def index_of(request: Request) -> text_search.SearchIndex | None:
    return text_search.for_root(service_of(request).live.root)


def local(iri: str) -> str:
    path = iris.local_path(iri)
    return iri if path is None else "/" + path


def marked(text: str, results: text_search.Results) -> Markup:
    return Markup("").join(Markup("<mark>{}</mark>").format(piece) if hit else escape(piece)
                           for piece, hit in text_search.highlight(text, results.stems, results.prefix))


def type_label(name: str, lang: str) -> str:
    _, fr, en = text_search.TYPES[name]
    return en if lang == "en" else fr


def expand_sparql(request: Request, text: str) -> str:
    """The SPARQL hook: search blocks replaced by their matches as VALUES rows (QueryRefused if unreadable)."""
    try:
        return text_search.expand_service(text, index_of(request))
    except text_search.SearchPatternError as exc:
        raise QueryRefused(InputError.MALFORMED, "Bloc de recherche SERVICE <https://w3id.org/ptce-kg/search> illisible.",
                           "Unreadable SERVICE <https://w3id.org/ptce-kg/search> block.", str(exc)) from exc


def _hit_dict(hit: text_search.Hit, results: text_search.Results, lang: str, places: dict) -> dict:
    label = hit.label(lang)
    where = [places[p].label(lang) for p in hit.places if p in places][:3]
    return {"id": hit.iri, "href": local(hit.iri), "label": label, "type": hit.type,
            "type_label": type_label(hit.type, lang), "score": hit.score, "marked": marked(label, results),
            "description": hit.description[:240], "identifiers": hit.ident[:3], "places": where}


@router.get("/search", summary="Recherche / full-text search (HTML, or JSON with format=json)")
def search_page(request: Request, svc: Svc, q: str = "", type: list[str] = Query(default=[]), page: int = 1,
                format: str | None = None):
    lang = chosen(request)
    term = q.strip()[:MAX_Q]
    types = [t for t in type if t in text_search.TYPES]
    page = max(1, min(page, 50))
    index = index_of(request) if term else None
    results = index.search(term, types=types, limit=PAGE, offset=(page - 1) * PAGE) if index else None
    hits = []
    if results is not None:
        places = index.get({p for h in results.hits for p in h.places})
        hits = [_hit_dict(h, results, lang, places) for h in results.hits]
    if format == "json":
        return JSONResponse({"q": term, "types": types, "total": results.total if results else 0,
                             "facets": results.facets if results else {},
                             "results": [{k: (str(v) if k == "marked" else v) for k, v in h.items()} for h in hits]})
    facets = [{"type": name, "label": type_label(name, lang), "count": (results.facets.get(name, 0) if results else 0),
               "checked": name in types} for name in text_search.TYPES]
    total = results.total if results else 0
    return svc.templates.TemplateResponse(
        request, "search.html",
        {"q": term, "results": hits, "facets": facets, "total": total, "page": page, "types": types,
         "pages": (total + PAGE - 1) // PAGE})


@router.get("/search/suggest", summary="Autocomplétion / autocomplete (JSON)")
def suggest(request: Request, q: str = "", limit: int = 8):
    term = q.strip()[:MAX_Q]
    lang = chosen(request)
    index = index_of(request) if len(term) >= 2 else None
    if index is None:
        return JSONResponse({"q": term, "results": []})
    results = index.search(term, limit=max(1, min(limit, 20)), prefix=True)
    return JSONResponse({"q": term, "results": [
        {"id": h.iri, "href": local(h.iri), "label": h.label(lang), "type": h.type,
         "type_label": type_label(h.type, lang)} for h in results.hits]})
