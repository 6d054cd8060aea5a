"""Linked data: every IRI the graph mints dereferences, whatever host serves it.

Pattern (documented in the README): the IRIs of things are slash IRIs (`…/id/commune/01001`); asking for
one answers `303 See Other` to its document `/doc/id/commune/01001`, which negotiates HTML, Turtle,
JSON-LD, N-Triples and RDF/XML (`Vary: Accept`), or takes a suffix (`.ttl`, `.jsonld`, `.nt`, `.rdf`,
`.html`) for "download as" links. Hash IRIs (`…/commune/01001#insee`, `…/def#PTCE`) are described in the
document of the IRI before the `#`. The vocabulary (`/def`) and the shapes (`/shapes/…`) are documents.
"""

from __future__ import annotations

import functools
import io
from collections import OrderedDict

import pyoxigraph
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response

from ptce_kg import iris
from ptce_kg.config import ONTOLOGY_DIR, SHAPES_DIR
from ptce_kg.describe import RDF_TYPE, describe
from ptce_kg.engine import GRAPH_FORMATS
from ptce_kg.rdf import PREFIXES

from .deps import Svc, service_of
from .turtle import RDF_DIR
from . import negotiation

router = APIRouter(tags=["linked data"])

DOC_OFFERS = {"text/html": "html", **{k: v for k, v in negotiation.GRAPH_OFFERS.items()},
              "application/xhtml+xml": "html"}
SUFFIXES = {"ttl": "turtle", "jsonld": "jsonld", "nt": "ntriples", "rdf": "rdfxml", "html": "html"}
SUFFIX_OF = {v: k for k, v in SUFFIXES.items()}


def public_base(request: Request) -> str:
    """Where the service is reached (PTCE_KG_PUBLIC_URL, ending in "/"): absolute links never come from Host."""
    return service_of(request).settings.public_url


def local_path(request: Request, iri: str) -> str | None:
    """The path on this server of one of its own IRIs (ptce_kg/iris.py), or None for an outside IRI."""
    path = iris.local_path(iri)
    return None if path is None else "/" + path


def _format(request: Request, suffix: str | None) -> str | None:
    if suffix:
        return SUFFIXES.get(suffix)
    accept = request.headers.get("accept")
    if negotiation.wants_html(accept):
        return "html"
    return negotiation.choose(accept, {k: v for k, v in DOC_OFFERS.items() if v != "html"}) or (
        "html" if negotiation.choose(accept, {"text/html": "html"}) else None)


def _not_acceptable() -> PlainTextResponse:
    return PlainTextResponse("Not acceptable / format non disponible: text/html, text/turtle, application/ld+json, "
                             "application/n-triples, application/rdf+xml\n", status_code=406, headers={"Vary": "Accept"})


def rdf_response(triples, fmt: str, headers: dict | None = None) -> Response:
    media, rdf_format = GRAPH_FORMATS[fmt]
    buffer = io.BytesIO()
    kwargs = {"prefixes": PREFIXES} if rdf_format in (pyoxigraph.RdfFormat.TURTLE, pyoxigraph.RdfFormat.RDF_XML) else {}
    pyoxigraph.serialize(list(triples), buffer, format=rdf_format, **kwargs)
    return Response(buffer.getvalue(), media_type=media, headers={"Vary": "Accept", **(headers or {})})


# -- things: 303 to their document ----------------------------------------------------------------

def _see_other(request: Request, space: str, rest: str) -> Response:
    target = f"/doc/{space}/{rest}"
    if request.url.query:
        target += "?" + request.url.query
    return RedirectResponse(target, status_code=303, headers={"Vary": "Accept"})


def _things_under(prefix: str):
    def thing(request: Request, rest: str) -> Response:
        return _see_other(request, prefix, rest)

    return thing


for _prefix in ("id", "code", "graph", "def/criterion"):  # a thing's IRI: 303 to its document
    router.add_api_route(f"/{_prefix}/{{rest:path}}", _things_under(_prefix), methods=["GET", "HEAD"],
                         include_in_schema=False)


@router.get("/doc/{path:path}", include_in_schema=False, name="document")
def document(request: Request, svc: Svc, path: str) -> Response:
    stem, dot, suffix = path.rpartition(".")
    if dot and suffix in SUFFIXES and "/" not in suffix:
        path, suffix = stem, suffix
    else:
        suffix = None
    fmt = _format(request, suffix)
    if fmt is None:
        return _not_acceptable()
    iri = iris.served_iri(path)
    store = svc.live.get_or_none()
    try:
        found = describe(store, iri, incoming=(fmt == "html")) if store is not None else None
    except ValueError:
        found = None
    if found is None or not found.exists:
        return PlainTextResponse(f"Nothing is known about <{iri}> / rien n'est connu de cette ressource\n",
                                 status_code=404, headers={"Vary": "Accept"})
    links = ", ".join(f'</doc/{path}.{s}>; rel="alternate"; type="{GRAPH_FORMATS[f][0] if f != "html" else "text/html"}"'
                      for s, f in SUFFIXES.items())
    if fmt != "html":
        return rdf_response(found.triples, fmt, {"Link": links})
    context = page_context(request, found, path)
    # a former commune says which current commune it was merged into (issue 21; ptce:currentCommune)
    context["merged_into"] = [v for b in context["blocks"] if b["iri"] == iri for p in b["properties"]
                              if p["iri"] == iris.DEF + "currentCommune" for v in p["values"]]
    template = "resource.html"
    if path.startswith("id/ptce/"):
        from .pages import ptce_context

        context |= ptce_context(request, store, iri)
        context["map_slug"] = path.removeprefix("id/")  # /map/ptce/<slug>.svg (api/maps.py)
        template = "ptce.html"
    return svc.templates.TemplateResponse(
        request, template, context, headers={"Vary": "Accept", "Link": links})


def _label(labels: dict, iri: str) -> tuple[str, str]:
    found = labels.get(iri, {})
    fr = found.get("fr") or found.get("") or found.get("en") or ""
    en = found.get("en") if found.get("en") and found.get("en") != fr else ""
    return fr, en


def _short(iri: str) -> str:
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace):
            return f"{prefix}:{iri[len(namespace):]}"
    return iri


def _term(request: Request, labels: dict, term) -> dict:
    if isinstance(term, pyoxigraph.NamedNode):
        fr, en = _label(labels, term.value)
        return {"iri": term.value, "href": local_path(request, term.value) or term.value,
                "text": fr or _short(term.value), "en": en}
    if isinstance(term, pyoxigraph.Literal):
        datatype = term.datatype.value if term.datatype and not term.language else ""
        return {"literal": term.value, "lang": term.language or "",
                "datatype": _short(datatype) if datatype and not datatype.endswith("#string") else ""}
    return {"literal": str(term)}


def page_context(request: Request, found, path: str) -> dict:
    labels = found.labels
    subjects: "OrderedDict[str, OrderedDict]" = OrderedDict()
    for quad in sorted(found.quads, key=lambda q: (q.subject.value != found.iri, q.subject.value, q.predicate.value)):
        rows = subjects.setdefault(quad.subject.value, OrderedDict())
        rows.setdefault(quad.predicate.value, []).append(
            {**_term(request, labels, quad.object), "graph": quad.graph_name.value if hasattr(quad.graph_name, "value") else ""})
    blocks = []
    for subject, props in subjects.items():
        blocks.append({"iri": subject, "anchor": subject.partition("#")[2], "properties": [
            {"iri": p, "href": local_path(request, p) or p, "text": _label(labels, p)[0] or _short(p),
             "en": _label(labels, p)[1], "values": values} for p, values in props.items()]})
    fr, en = _label(labels, found.iri)
    types = [_term(request, labels, q.object) for q in found.quads
             if q.subject.value == found.iri and q.predicate.value == RDF_TYPE]
    graphs = sorted({q.graph_name.value for q in found.quads if hasattr(q.graph_name, "value")})
    incoming = [{"subject": _term(request, labels, pyoxigraph.NamedNode(s)),
                 "predicate": {"text": _label(labels, p)[0] or _short(p), "href": local_path(request, p) or p},
                 "graph": g} for s, p, g in found.incoming]
    return {"iri": found.iri, "title": fr or _short(found.iri), "title_en": en, "types": types, "blocks": blocks,
            "graphs": [{"iri": g, "href": local_path(request, g) or g} for g in graphs],
            "incoming": incoming, "incoming_total": found.incoming_total,
            "downloads": [(s, f"/doc/{path}.{s}") for s in ("ttl", "jsonld", "nt", "rdf")]}


# -- the vocabulary and the shapes, at their namespace ------------------------------------------

@functools.lru_cache(maxsize=1)
def vocabulary_html() -> str:
    from pylode import OntPub

    return OntPub(ontology=str(ONTOLOGY_DIR / "ptce.ttl")).make_html()


def _file_triples(path) -> list:
    return list(pyoxigraph.parse(path=str(path), format=pyoxigraph.RdfFormat.TURTLE))


@router.get("/def", include_in_schema=False)
@router.get("/def/0.1", include_in_schema=False)
def vocabulary(request: Request, format: str | None = None) -> Response:
    fmt = SUFFIXES.get(format or "") or _format(request, None)
    if fmt is None:
        return _not_acceptable()
    if fmt == "html":
        return HTMLResponse(vocabulary_html(), headers={"Vary": "Accept"})
    return rdf_response(_file_triples(ONTOLOGY_DIR / "ptce.ttl"), fmt)


@router.get("/def/candidate.schema.json", include_in_schema=False)
def candidate_schema() -> Response:
    return Response((SHAPES_DIR / "candidate.schema.json").read_bytes(), media_type="application/schema+json")


@router.get("/shapes/{name}", include_in_schema=False)
def shapes(request: Request, svc: Svc, name: str, format: str | None = None) -> Response:
    files = {p.stem: p for p in SHAPES_DIR.glob("*.ttl")}
    stem = name.rsplit(".", 1)[0] if name.rsplit(".", 1)[-1] in SUFFIXES else name
    suffix = name.rsplit(".", 1)[1] if stem != name else None
    if stem not in files:
        return PlainTextResponse("Not found / introuvable\n", status_code=404)
    fmt = SUFFIXES.get(format or suffix or "") or _format(request, None)
    if fmt is None:
        return _not_acceptable()
    if fmt == "html":
        return svc.templates.TemplateResponse(request, "shapes.html", {
            "name": stem, "turtle": files[stem].read_text(encoding="utf-8")}, headers={"Vary": "Accept"})
    return rdf_response(_file_triples(files[stem]), fmt)


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    return RedirectResponse("/assets/site/favicon.svg", status_code=301)


@router.get("/robots.txt", include_in_schema=False)
def robots(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"User-agent: *\nAllow: /\nDisallow: /sparql?\nSitemap: {public_base(request)}sitemap.xml\n")


@router.get("/sitemap.xml", include_in_schema=False)
def sitemap(request: Request, svc: Svc) -> Response:
    """Resource pages a crawler should index: PTCE, organisations, programmes (not the 35,000 communes)."""
    from xml.sax.saxutils import escape

    store = svc.live.get_or_none()
    site = public_base(request)
    urls = [site, f"{site}sparql", f"{site}catalog", f"{site}eligibility", f"{site}def"]
    if store is not None:
        rows = store.query(iris.read_query(RDF_DIR / "sitemap.rq"))
        paths = (iris.local_path(r["s"].value) for r in rows)
        urls += [f"{site}doc/{p}" for p in paths if p is not None]
    body = ['<?xml version="1.0" encoding="UTF-8"?>',
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    body += [f"  <url><loc>{escape(u)}</loc></url>" for u in urls]
    body.append("</urlset>")
    return Response("\n".join(body) + "\n", media_type="application/xml")


def not_found_json(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=404)
