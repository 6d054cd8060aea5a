"""`/reconcile`: a W3C Entity Reconciliation service (the API version 0.2 that OpenRefine 3.x speaks).

GET  /reconcile                                  manifest (service description)
GET|POST /reconcile  queries={"q0": {...}, …}    batch reconciliation queries
GET|POST /reconcile  extend={"ids": […], "properties": [{"id": …}]}   data extension
GET  /reconcile/preview?id=…                     a small HTML card of an entity (no script)
GET  /reconcile/suggest/entity|type|property?prefix=…   suggest services
GET  /reconcile/propose_properties?type=…        properties the extension offers for a type

Every JSON answer can be wrapped in a JSONP `callback`; CORS is open (api/app.py). Candidates come from the
text index (ptce_kg/search.py), scores (0–100) from how alike the names are and whether the properties agree
(SIREN, INSEE code, commune); extension values are read from the graph with SPARQL (api/rdf/search.rq).
"""

from __future__ import annotations

import json
import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import escape

from ptce_kg import iris
from ptce_kg import queries, search as text_search
from ptce_kg.iris import with_values
from ptce_kg.iris import read_query

from .deps import service_of
from .turtle import RDF_DIR
from .search import index_of, local

router = APIRouter(tags=["reconciliation"])
DEF = iris.DEF
ID_SPACE = iris.ID
MAX_QUERIES = 500  # queries in one batch (OpenRefine sends 10 by default)
MAX_LIMIT = 50
MATCH_SCORE = 90.0  # a top candidate at or above this, well ahead of the next, is a match
MATCH_GAP = 10.0

# Reconciliation types: (id, name, internal index type)
TYPES = [(DEF + "PTCE", "PTCE", "ptce"), (DEF + "Organisation", "Organisation", "organisation"),
         (DEF + "Commune", "Commune", "commune"), (DEF + "EPCI", "EPCI", "epci"),
         (DEF + "Departement", "Département", "departement"), (DEF + "Region", "Région", "region")]
TYPE_OF_ID = {tid: name for tid, _, name in TYPES} | {name: name for _, _, name in TYPES}
TYPE_ENTRY = {name: {"id": tid, "name": label} for tid, label, name in TYPES}

# Properties a reconciliation query may give.
QUERY_PROPERTIES = [("siren", "SIREN"), ("insee", "Code INSEE / INSEE code"), ("commune", "Commune (nom, code INSEE ou IRI)")]
# Properties of the data extension, per type: (id, name, predicate)
EXTEND = {
    "commune": [("epci", "EPCI", DEF + "epci"), ("departement", "Département", DEF + "departement"),
                ("region", "Région", DEF + "region")],
    "organisation": [("siren", "SIREN", DEF + "siren"),
                     ("legal_form", "Forme juridique / legal form", "http://www.w3.org/ns/regorg#orgType"),
                     ("ess_status", "Statut ESS / ESS status", DEF + "essStatus"),
                     ("ess_enterprise", "Entreprise de l'ESS / SSE enterprise", DEF + "essEnterprise")],
}
EXTEND_BY_ID = {pid: (name, pred) for props in EXTEND.values() for pid, name, pred in props}
_CALLBACK = re.compile(r"^[A-Za-z_$][\w$.]{0,100}$")


def _answer(request: Request, body, status: int = 200) -> Response:
    callback = request.query_params.get("callback")
    if callback and _CALLBACK.match(callback):
        return Response(f"/**/{callback}({json.dumps(body, ensure_ascii=False)});",
                        media_type="application/javascript", status_code=status)
    return JSONResponse(body, status_code=status)


def _error(request: Request, status: int, fr: str, en: str) -> Response:
    return _answer(request, {"status": "error", "message": f"{en} / {fr}"}, status)


def manifest(request: Request) -> dict:
    base = service_of(request).settings.public_url  # PTCE_KG_PUBLIC_URL, never the Host header
    service = base + "reconcile"
    return {
        "versions": ["0.2"],
        "name": "ptce-kg — PTCE, organisations et territoires / PTCE, organisations and territories",
        "identifierSpace": ID_SPACE,
        "schemaSpace": DEF,
        "defaultTypes": [TYPE_ENTRY[name] for _, _, name in TYPES],
        "view": {"url": "{{id}}"},  # identifiers are the resources' IRIs, which dereference
        "preview": {"url": service + "/preview?id={{id}}", "width": 400, "height": 160},
        "suggest": {
            "entity": {"service_url": service, "service_path": "/suggest/entity"},
            "type": {"service_url": service, "service_path": "/suggest/type"},
            "property": {"service_url": service, "service_path": "/suggest/property"},
        },
        "extend": {
            "propose_properties": {"service_url": service, "service_path": "/propose_properties"},
            "property_settings": [],
        },
    }


async def _param(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    if value is None and request.method == "POST":
        form = await request.form()  # the body is capped while it streams (api/limits.py)
        found = form.get(name)
        value = found if isinstance(found, str) else None
    return value


@router.api_route("/reconcile", methods=["GET", "POST"], summary="Réconciliation (W3C, OpenRefine) / reconciliation")
async def reconcile(request: Request):
    queries_text = await _param(request, "queries")
    extend_text = None if queries_text is not None else await _param(request, "extend")
    if queries_text is None and extend_text is None:
        single = request.query_params.get("query")
        if single is None:
            return _answer(request, manifest(request))
        queries_text = json.dumps({"q0": json.loads(single) if single.startswith("{") else {"query": single}})
    try:
        payload = json.loads(queries_text if queries_text is not None else extend_text)
    except ValueError as exc:
        return _error(request, 400, f"JSON illisible : {exc}", f"Unreadable JSON: {exc}")
    if not isinstance(payload, dict):
        return _error(request, 400, "Un objet JSON est attendu.", "A JSON object is expected.")
    index = index_of(request)
    if index is None:
        return _error(request, 503, "Aucun graphe publié.", "No graph published yet.")
    if queries_text is not None:
        if len(payload) > MAX_QUERIES:
            return _error(request, 413, f"Au plus {MAX_QUERIES} requêtes par lot.",
                          f"At most {MAX_QUERIES} queries in a batch.")
        answers = {}
        for key, query in payload.items():
            if not isinstance(query, dict) or not isinstance(query.get("query", ""), str):
                return _error(request, 400, f"Requête {key} : un objet avec « query » est attendu.",
                              f"Query {key}: an object with 'query' is expected.")
            answers[key] = {"result": reconcile_one(index, query)}
        return _answer(request, answers)
    return _answer(request, extend(request, index, payload))


def _types_of(query: dict) -> list[str]:
    asked = query.get("type")
    asked = [asked] if isinstance(asked, str) else (asked if isinstance(asked, list) else [])
    return [TYPE_OF_ID[t] for t in asked if isinstance(t, str) and t in TYPE_OF_ID]


def _property_values(query: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for prop in query.get("properties") or []:
        if not isinstance(prop, dict):
            continue
        pid = prop.get("pid") or prop.get("p")
        values = prop.get("v")
        values = values if isinstance(values, list) else [values]
        for v in values:
            if isinstance(v, dict):  # a reconciled cell: {"id": …, "name": …}
                v = v.get("id") or v.get("name")
            if isinstance(v, (str, int)) and str(v).strip() and isinstance(pid, str):
                out.setdefault(pid.rsplit("#", 1)[-1].lower(), []).append(str(v).strip())
    return out


def _communes(index, values: list[str]) -> set[str]:
    """Territory IRIs a commune property names, with the EPCI, département and région above each commune."""
    found: set[str] = set()
    for value in values:
        if value.startswith(ID_SPACE):
            hits = list(index.get([value]).values())
        elif re.fullmatch(r"\d[0-9AB]\d{3}", value):
            hits = index.by_identifier(value, ["commune"])
        else:
            hits = [h for h in index.search(value, types=["commune"], limit=5).hits
                    if text_search.similarity(value, h.names) >= 0.95]
        for hit in hits:
            found.add(hit.iri)
            found.update(hit.places)
    return found


def reconcile_one(index, query: dict) -> list[dict]:
    text = (query.get("query") or "").strip()[:300]
    types = _types_of(query)
    try:
        limit = max(1, min(int(query.get("limit") or 5), MAX_LIMIT))
    except (TypeError, ValueError):
        limit = 5
    props = _property_values(query)
    candidates: dict[str, text_search.Hit] = {}
    for key in ("siren", "insee"):
        for value in props.get(key, []):
            for hit in index.by_identifier(value, types or None):
                candidates.setdefault(hit.iri, hit)
    if text:
        for hit in index.search(text, types=types or None, limit=max(20, 4 * limit)).hits:
            candidates.setdefault(hit.iri, hit)
        if len(candidates) < limit:  # every word did not match: any of them may
            stems = text_search.analyse(text, joined=False)
            if stems:
                for hit in index._hits(text_search.fts_query(stems, any_word=True), types or None, 4 * limit):
                    candidates.setdefault(hit.iri, hit)
    places = _communes(index, props["commune"]) if props.get("commune") else None
    scored = []
    for hit in candidates.values():
        score = 100.0 * text_search.similarity(text, hit.names) if text else 50.0
        idents = {text_search.compact(i) for i in hit.ident}
        for key in ("siren", "insee"):
            given = {text_search.compact(v) for v in props.get(key, [])}
            if given and given & idents:
                score = 100.0
            elif given and hit.type in ("organisation", "commune", "epci") and idents:
                score -= 40.0  # it has identifiers, and not this one
        if places is not None:
            mine = set(hit.places) | {hit.iri}
            if mine & places:
                score = min(100.0, score + 10.0)
            elif hit.places:
                score -= 30.0
            else:
                score -= 5.0
        scored.append((round(max(score, 0.0), 1), hit))
    scored.sort(key=lambda pair: (-pair[0], -pair[1].score, pair[1].iri))
    scored = scored[:limit]
    out = []
    for rank, (score, hit) in enumerate(scored):
        ahead = len(scored) == 1 or score - scored[1][0] >= MATCH_GAP
        out.append({"id": hit.iri, "name": hit.label_fr, "type": [_type_entry(hit.type)], "score": score,
                    "match": rank == 0 and score >= MATCH_SCORE and ahead,
                    "description": hit.description[:200]})
    return out


def _type_entry(name: str) -> dict:
    if name in TYPE_ENTRY:
        return TYPE_ENTRY[name]
    classes, fr, _ = text_search.TYPES[name]
    return {"id": classes[0], "name": fr}


def extend(request: Request, index, payload: dict) -> dict:
    ids = [i for i in payload.get("ids") or [] if isinstance(i, str) and i.startswith(ID_SPACE)][:MAX_QUERIES]
    wanted = [p.get("id") for p in payload.get("properties") or [] if isinstance(p, dict)]
    wanted = [p for p in wanted if p in EXTEND_BY_ID]
    rows: dict[str, dict[str, list]] = {i: {p: [] for p in wanted} for i in ids}
    if ids and wanted:
        store = service_of(request).live.get_or_none()
        text = with_values(read_query(RDF_DIR / "search.rq"), "item", ids)
        by_predicate = {pred: pid for pid, (_, pred) in EXTEND_BY_ID.items()}
        for row in queries.rows(store, text) if store is not None else []:
            pid = by_predicate.get(row["p"])
            if row["p"] == DEF + "matchedUnit":  # a registry organisation's SIRENE unit: its SIREN
                pid, row = "siren", {**row, "value": row["value"].rsplit("/", 1)[-1], "label": None}
            if pid not in wanted:
                continue
            cell = rows[row["item"]][pid]
            if row["value"].startswith("http"):
                entry = {"id": row["value"], "name": row["label"] or row["value"].rsplit("/", 1)[-1]}
            elif pid == "ess_enterprise":
                entry = {"bool": row["value"] == "true"}
            else:
                entry = {"str": row["value"]}
            if entry not in cell:
                cell.append(entry)
    return {"meta": [{"id": p, "name": EXTEND_BY_ID[p][0]} for p in wanted], "rows": rows}


@router.get("/reconcile/propose_properties", summary="Propriétés d'extension / extension properties")
def propose_properties(request: Request, type: str = "", limit: int = 20):
    name = TYPE_OF_ID.get(type)
    props = EXTEND.get(name, []) if name else [p for ps in EXTEND.values() for p in ps]
    return _answer(request, {"type": type, "limit": limit,
                             "properties": [{"id": pid, "name": label} for pid, label, _ in props][:max(1, limit)]})


@router.get("/reconcile/suggest/entity", summary="Suggestion d'entités / entity suggest")
def suggest_entity(request: Request, prefix: str = "", type: str = "", cursor: int = 0):
    index = index_of(request) if prefix.strip() else None
    if index is None:
        return _answer(request, {"result": []})
    types = [TYPE_OF_ID[type]] if type in TYPE_OF_ID else None
    results = index.search(prefix.strip()[:200], types=types, limit=10, offset=max(0, min(cursor, 500)), prefix=True)
    return _answer(request, {"result": [
        {"id": h.iri, "name": h.label_fr, "description": text_search.TYPES[h.type][1]
         + (" — " + h.description[:120] if h.description else ""), "notable": [_type_entry(h.type)]}
        for h in results.hits]})


@router.get("/reconcile/suggest/type", summary="Suggestion de types / type suggest")
def suggest_type(request: Request, prefix: str = ""):
    folded = text_search.fold(prefix.strip())
    return _answer(request, {"result": [
        {"id": tid, "name": label} for tid, label, name in TYPES
        if not folded or folded in text_search.fold(label) or folded in name]})


@router.get("/reconcile/suggest/property", summary="Suggestion de propriétés / property suggest")
def suggest_property(request: Request, prefix: str = "", type: str = ""):
    folded = text_search.fold(prefix.strip())
    name = TYPE_OF_ID.get(type)
    props = [(pid, label) for pid, label in QUERY_PROPERTIES]
    props += [(pid, label) for pid, label, _ in (EXTEND.get(name, []) if name else
                                                 [p for ps in EXTEND.values() for p in ps])]
    seen, out = set(), []
    for pid, label in props:
        if pid not in seen and (not folded or folded in text_search.fold(label) or folded in pid):
            seen.add(pid)
            out.append({"id": pid, "name": label})
    return _answer(request, {"result": out})


@router.get("/reconcile/preview", response_class=HTMLResponse, summary="Aperçu / preview")
def preview(request: Request, id: str = ""):
    index = index_of(request)
    hit = index.get([id]).get(id) if index is not None and id.startswith(ID_SPACE) else None
    if hit is None:
        return HTMLResponse("<p>Inconnu / unknown</p>", status_code=404)
    places = index.get(hit.places)
    where = ", ".join(p.label_fr for p in places.values())
    html = (f"<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>{escape(hit.label_fr)}</title>"
            f"</head><body style=\"font: 14px sans-serif; margin: 8px\"><p><strong><a href=\"{escape(local(hit.iri))}\" "
            f"target=\"_blank\">{escape(hit.label_fr)}</a></strong> — {escape(text_search.TYPES[hit.type][1])}</p>"
            + (f"<p>{escape(where)}</p>" if where else "")
            + (f"<p>{escape(', '.join(hit.ident[:4]))}</p>" if hit.ident else "")
            + (f"<p>{escape(hit.description[:300])}</p>" if hit.description else "")
            + "</body></html>")
    # OpenRefine shows it in a frame: this card (no script, nothing loaded) may be framed anywhere.
    return HTMLResponse(html, headers={
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors *",
        "X-Frame-Options": "ALLOWALL"})
