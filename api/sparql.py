"""`/sparql`: the SPARQL 1.1 Protocol, read-only by default, with limits that hold.

GET    ?query=…                         query
POST   application/x-www-form-urlencoded query=… | update=…
POST   application/sparql-query         the body is the query
POST   application/sparql-update        the body is the update (bearer token required)
GET    without query                    service description (RDF) or, for browsers, the YASGUI editor
"""

from __future__ import annotations

import io
import time
from urllib.parse import parse_qsl

import pyoxigraph
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from ptce_kg import queries as query_files
from ptce_kg.engine import GRAPH_FORMATS, QueryJob
from ptce_kg.sparql_guard import QueryRefused, cached_verdict, check_query_cached
from ptce_kg.iris import read_query

from .deps import Svc, service_of
from .turtle import RDF_DIR
from .errors import status_of
from . import answers, negotiation
from .security import authorised
from .updates import apply_update

INLINE_GUARD_CHARS = 8192  # the guard reads ~10 KB per millisecond: longer texts go to a thread
router = APIRouter()


def _error(status: int, fr: str, en: str, detail: str = "", headers: dict | None = None) -> PlainTextResponse:
    text = f"{en}\n{fr}\n" + (f"\n{detail}\n" if detail else "")
    return PlainTextResponse(text, status_code=status, headers={"Vary": "Accept", **(headers or {})})


async def _params(request: Request) -> tuple[dict[str, list[str]], str | None]:
    """Protocol parameters (URL and form) as lists, and an error message if the request is malformed."""
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    if request.method != "POST":
        return params, None
    body = await request.body()  # capped while it streams (api/limits.py BodyLimit answers 413)
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
        if ctype == "application/x-www-form-urlencoded":
            for key, value in parse_qsl(text, keep_blank_values=True, errors="strict"):
                params.setdefault(key, []).append(value)
        elif ctype == "application/sparql-query":
            params.setdefault("query", []).append(text)
        elif ctype == "application/sparql-update":
            params.setdefault("update", []).append(text)
        else:
            return params, f"unsupported content type: {ctype or '(none)'}"
    except UnicodeDecodeError as exc:
        return params, f"not UTF-8: byte {exc.start} / le corps n'est pas en UTF-8"
    return params, None


def service_description(request: Request, accept: str | None, fmt: str | None) -> Response:
    endpoint = service_of(request).settings.public_url + "sparql"  # PTCE_KG_PUBLIC_URL, never the Host header
    name = negotiation.override(fmt, "graph") or negotiation.choose(accept, negotiation.GRAPH_OFFERS)
    if name is None:
        return _error(406, "Aucun format acceptable.", "Not acceptable.", "Offered: " + ", ".join(negotiation.GRAPH_OFFERS))
    triples = list(pyoxigraph.parse(path=str(RDF_DIR / "service-description.ttl"), format=pyoxigraph.RdfFormat.TURTLE,
                                    base_iri=endpoint))
    store = service_of(request).live.get_or_none()
    if store is not None:
        constructed = store.query(
            read_query(RDF_DIR / "service-description.rq"),
            substitutions={pyoxigraph.Variable("dataset"): pyoxigraph.NamedNode(endpoint + "#dataset"),
                           pyoxigraph.Variable("default"): pyoxigraph.NamedNode(endpoint + "#default-graph")},
        )
        triples += list(constructed)
    buffer = io.BytesIO()
    media, rdf_format = GRAPH_FORMATS[name]
    from ptce_kg.rdf import PREFIXES

    kwargs = {"prefixes": PREFIXES} if rdf_format in (pyoxigraph.RdfFormat.TURTLE, pyoxigraph.RdfFormat.RDF_XML) else {}
    pyoxigraph.serialize(triples, buffer, format=rdf_format, **kwargs)
    return Response(buffer.getvalue(), media_type=media, headers={"Vary": "Accept"})


def editor(request: Request) -> HTMLResponse:
    examples = [
        {"name": q.name, "title": q.title, "title_en": q.title_en, "query": q.text}
        for q in query_files.all_queries()
    ]
    return service_of(request).templates.TemplateResponse(
        request, "sparql.html", {"examples": examples, "endpoint": service_of(request).settings.public_url + "sparql"},
        headers={"Vary": "Accept"},
    )


@router.api_route("/sparql", methods=["GET", "POST"], name="sparql")
async def sparql(request: Request, svc: Svc) -> Response:
    settings = svc.settings
    params, problem = await _params(request)
    if problem == "body too large":
        return _error(413, "Requête trop volumineuse.", "Request body too large.")
    if problem and problem.startswith("not UTF-8"):
        return _error(400, "Requête mal encodée.", "Badly encoded request.", problem)
    if problem:
        return _error(415, "Type de contenu non pris en charge.", "Unsupported media type.", problem)
    accept = request.headers.get("accept")
    fmt = (params.get("format") or [None])[-1]

    if "update" in params:
        if not authorised(request):
            return _error(403, "Le point d'accès est en lecture seule : une mise à jour demande un jeton.",
                          "The endpoint is read-only: an update needs a bearer token.")
        if request.method != "POST":
            return _error(405, "Les mises à jour passent par POST.", "Updates must be sent with POST.",
                          headers={"Allow": "POST"})
        if len(params["update"]) != 1:
            return _error(400, "Un seul paramètre update est permis.", "Exactly one update parameter is allowed.")
        return await apply_update(request, params)

    if "query" not in params:
        if request.method == "GET" and negotiation.wants_html(accept) and not fmt:
            return editor(request)
        return service_description(request, accept, fmt)
    if len(params["query"]) != 1:
        return _error(400, "Un seul paramètre query est permis.", "Exactly one query parameter is allowed.")
    text = params["query"][0]
    # -- text search (api/search.py): SERVICE <https://w3id.org/ptce-kg/search> blocks become VALUES rows --
    if "search" in text:
        from .search import expand_sparql
        try:
            text = await run_in_threadpool(expand_sparql, request, text)
        except QueryRefused as refused:
            return _error(status_of(refused.reason), refused.fr, refused.en, refused.detail)
    # -- end of text search --
    client = request.client.host if request.client else "-"
    wait = svc.limits.acquire(client)
    if wait is not None:
        return _error(429, "Trop de requêtes de ce client : réessayez plus tard.",
                      "Too many queries from this client: retry later.",
                      f"Limits per client: {svc.limits.concurrency} at once, "
                      f"{settings.client_budget_s:g} s of query time per minute.", headers={"Retry-After": str(wait)})
    started = time.monotonic()
    try:
        return await _query(request, params, text, accept, fmt, client)
    finally:
        svc.limits.release(client, time.monotonic() - started)


async def _query(request: Request, params: dict, text: str, accept: str | None, fmt: str | None,
                 client: str) -> Response:
    settings = service_of(request).settings
    limits = dict(max_bytes=settings.max_query_bytes, max_nesting=settings.max_nesting,
                  max_operators=settings.max_operators)
    try:
        # A text read before gets its verdict at once; a short one is read here (a few hundred
        # microseconds); a long one off the event loop, so that other clients do not wait for it.
        analysis = cached_verdict(text, settings.service_allowlist, **limits)
        if analysis is None:
            if len(text) <= INLINE_GUARD_CHARS:
                analysis = check_query_cached(text, settings.service_allowlist, **limits)
            else:
                analysis = await run_in_threadpool(check_query_cached, text, settings.service_allowlist, **limits)
    except QueryRefused as refused:
        return _error(status_of(refused.reason), refused.fr, refused.en, refused.detail)

    if fmt:
        results_format = negotiation.override(fmt, "results")
        graph_format = negotiation.override(fmt, "graph")
        if results_format is None and graph_format is None:
            return _error(406, f"Format inconnu : {fmt}.", f"Unknown format: {fmt}.",
                          "Formats: json, xml, csv, tsv, turtle, ntriples, jsonld, rdfxml")
    else:
        results_format = negotiation.choose(accept, negotiation.RESULT_OFFERS)
        graph_format = negotiation.choose(accept, negotiation.GRAPH_OFFERS)
        if results_format is None and graph_format is None:
            return _error(406, "Aucun des formats demandés n'est disponible.", "None of the accepted formats is available.",
                          "Offered: " + ", ".join(dict.fromkeys([*negotiation.RESULT_OFFERS, *negotiation.GRAPH_OFFERS])))

    for name in ("default-graph-uri", "named-graph-uri"):
        for value in params.get(name, []):
            try:
                pyoxigraph.NamedNode(value)
            except ValueError as exc:
                return _error(400, f"Paramètre {name} invalide : ce n'est pas une IRI.",
                              f"Invalid {name}: not an IRI.", str(exc))
    job = QueryJob(
        text=text,
        results_format=results_format,
        graph_format=graph_format,
        # The protocol's graph parameters, else the query's own FROM / FROM NAMED (passed explicitly, so
        # every back end gets the same dataset and none fetches anything), else the union of the graphs.
        union_default_graph=not analysis.has_dataset_clause,
        default_graphs=params.get("default-graph-uri") or (
            analysis.from_graphs if analysis.has_dataset_clause else None),
        named_graphs=params.get("named-graph-uri") or (
            analysis.from_named if analysis.has_dataset_clause else None),
        max_rows=settings.max_rows,
        max_bytes=settings.max_result_bytes,
    )
    # -- answers per build (api/answers.py): an unchanged answer is a 304 or a copy, never a second run --
    cache = service_of(request).answers
    build = service_of(request).live.root.current_name()
    key = (job.text, job.results_format, job.graph_format, job.union_default_graph, job.default_graphs,
           job.named_graphs, job.max_rows, job.max_bytes)
    if build:
        tag = answers.etag(build, key)
        if request.method in ("GET", "HEAD") and answers.matches(request.headers.get("if-none-match"), tag):
            return Response(status_code=304, headers={"ETag": tag, **CACHING})
        kept = cache.get(build, tag)
        if kept is not None:
            return Response(kept.body, media_type=kept.media_type,
                            headers={**dict(kept.headers), "ETag": tag, "X-Answer-Cache": "hit", **CACHING})
    pool = service_of(request).pool
    if build:  # the same query already running for another client: its answer, not a second run
        outcome, shared = await cache.once(tag, lambda: pool.run(job, client=client),
                                           complete=lambda o: o.status == "ok" and o.build == build)
    else:
        outcome, shared = await pool.run(job, client=client), False
    response = _answer(outcome, settings)
    if outcome.status == "ok" and outcome.build:
        tag = answers.etag(outcome.build, key)
        kept_headers = tuple((k, v) for k, v in response.headers.items()
                             if k.lower() not in ("content-length", "content-type", "vary"))
        cache.put(outcome.build, tag, answers.Answer(outcome.body, outcome.media_type, kept_headers))
        response.headers.update({"ETag": tag, "X-Answer-Cache": "shared" if shared else "miss", **CACHING})
    return response


# Answers may be kept a minute by clients and caches; the ETag tells them, after that, whether it still holds.
CACHING = {"Cache-Control": "public, max-age=60", "Vary": "Accept"}


def _answer(outcome, settings) -> Response:
    if outcome.status == "ok":
        headers = {"Vary": "Accept", "X-Result-Count": str(outcome.rows)}
        if outcome.truncated_by == "rows":
            headers["X-Result-Truncated"] = "true"
            headers["X-Result-Limit"] = str(settings.max_rows)
            headers["Warning"] = (f'199 ptce-kg "results truncated to {settings.max_rows} rows; '
                                  'page with ORDER BY, LIMIT and OFFSET"')
        elif outcome.truncated_by == "bytes":
            headers["X-Result-Truncated"] = "true"
            headers["X-Result-Limit-Bytes"] = str(settings.max_result_bytes)
            headers["Warning"] = (f'199 ptce-kg "results truncated to {outcome.rows} rows: their values exceed '
                                  f'{settings.max_result_bytes} bytes; page with ORDER BY, LIMIT and OFFSET"')
        return Response(outcome.body, media_type=outcome.media_type, headers=headers)
    if outcome.status == "syntax":
        return _error(400, "Requête SPARQL mal formée.", "Malformed SPARQL query.", outcome.message)
    if outcome.status == "not_acceptable":
        offers = negotiation.GRAPH_OFFERS if outcome.kind == "graph" else negotiation.RESULT_OFFERS
        return _error(406, "Aucun format acceptable pour ce type de résultat.",
                      "No acceptable format for this kind of result.", "Offered: " + ", ".join(offers))
    if outcome.status == "timeout":
        return _error(503, f"Requête interrompue après {settings.query_timeout_s:g} s.",
                      f"Query stopped after {settings.query_timeout_s:g} s (server timeout).", outcome.message,
                      headers={"Retry-After": "5", "X-Query-Limit": "timeout"})
    if outcome.status == "server_limit":
        return _error(503, "Requête refusée ou interrompue par le serveur SPARQL : elle dépasse ses propres limites.",
                      "Query refused or stopped by the SPARQL server: over its own limits.", outcome.message,
                      headers={"Retry-After": "5", "X-Query-Limit": "server"})
    if outcome.status == "memory":
        return _error(503, f"Requête interrompue : elle dépassait la mémoire permise ({settings.worker_memory_mb} Mo).",
                      f"Query stopped: it exceeded the memory allowed ({settings.worker_memory_mb} MB).",
                      outcome.message, headers={"X-Query-Limit": "memory"})
    if outcome.status == "too_large":
        return _error(413, f"Résultat trop volumineux : une seule ligne dépasse {settings.max_result_bytes} octets.",
                      f"Result too large: a single row exceeds {settings.max_result_bytes} bytes.",
                      outcome.message, headers={"X-Query-Limit": "result-bytes",
                                                "X-Result-Limit-Bytes": str(settings.max_result_bytes)})
    if outcome.status == "unavailable":
        return _error(503, "Aucun graphe publié.", "No graph published yet.", outcome.message)
    return _error(500, "Erreur d'évaluation.", "Query evaluation failed.", outcome.message)
