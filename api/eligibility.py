"""`/eligibility`: check a candidate PTCE against article 9 — JSON for programs, a form and a report for people."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel

from ptce_kg import iris
from ptce_kg import candidate, checking, eligibility, records

from ptce_kg.errors import InputError

from .deps import Svc, service_of
from . import negotiation
from .errors import refused
from .security import authorised

router = APIRouter(tags=["eligibility"])
RuleSet = Literal[tuple(eligibility.RULESETS)]  # article-9, aap-2013, ami-emergents, decret-2015-431


# -- the JSON report, documented in the OpenAPI ---------------------------------------------------

class Text(BaseModel):
    fr: str
    en: str


class Detail(BaseModel):
    severity: Literal["Violation", "Warning"]
    fr: str
    en: str


class CriterionResult(BaseModel):
    criterion: str
    id: str
    title: Text
    verdict: Literal["met", "not-met", "not-enough-information"]
    details: list[Detail]
    legal_text: str
    source: str
    article_version: str


class CandidateResult(BaseModel):
    candidate: str
    label: str
    verdict: Literal["eligible", "not-eligible", "incomplete"]
    criteria: list[CriterionResult]


class RuleSetVersion(BaseModel):
    name: str
    requirement: str
    text_version: str  # date of the version of the text encoded
    in_force_from: str
    in_force_until: str | None  # None: in force as far as is known


class TerritoryRef(BaseModel):
    iri: str
    code: str | None = None
    label: str


class TerritoryOnDate(BaseModel):
    """A perimeter or location code not simply in force on the check's date (ptce_kg/territory_dates.py)."""
    territory: str  # the IRI the candidate's code names
    code: str | None = None
    label: str
    as_of: str  # the check's date (YYYY-MM-DD)
    status: Literal["ended", "not-yet", "not-known"]
    when: dict[str, str]  # INSEE's date, or the COG / EPCI-list years that bound the change
    in_force_on_date: list[TerritoryRef] | None = None  # what stood in its place on that date
    current: list[TerritoryRef] | None = None  # for an ended commune: today's commune
    fr: str
    en: str


class EligibilityReport(BaseModel):
    verdict: Literal["eligible", "not-eligible", "incomplete"]
    ruleset: str
    law: str
    rule_set_version: RuleSetVersion  # the version applied: the one in force on as_of (today by default)
    as_of: str | None = None  # the date of the file, when the check named one (?as_of=YYYY-MM-DD)
    scope_note: Text | None = None  # what the rule set cannot read from data (decret-2015-431: 5°)
    data_snapshot: str | None
    checked_at: str
    candidates: list[CandidateResult]
    records: list[str] | None = None  # with ?record=true: the IRIs of the reports kept in the graph
    territories: list[TerritoryOnDate] | None = None  # codes ended, not yet in force or not known on as_of


class ErrorBody(BaseModel):
    error: str
    where: str | None = None


REQUEST_BODY = {
    "required": True,
    "description": "Un candidat : formulaire JSON/YAML (schéma : /eligibility/schema.json) ou RDF (Turtle, JSON-LD, "
                   "RDF/XML, N-Triples). / A candidate: JSON/YAML form or RDF.",
    "content": {
        "application/json": {"schema": {k: v for k, v in candidate.schema().items() if not k.startswith("$")}},
        "application/yaml": {"schema": {"type": "string"}},
        "text/turtle": {"schema": {"type": "string"}},
        "application/ld+json": {"schema": {"type": "object"}},
        "application/rdf+xml": {"schema": {"type": "string"}},
        "application/n-triples": {"schema": {"type": "string"}},
    },
}
ERRORS = {400: {"model": ErrorBody, "description": "Input that does not parse, or is refused (remote context, DOCTYPE)"},
          201: {"model": EligibilityReport, "description": "With record=true: the report, kept in the graph"},
          401: {"model": ErrorBody, "description": "record=true without the bearer token"},
          406: {"model": ErrorBody}, 413: {"model": ErrorBody}, 415: {"model": ErrorBody},
          422: {"model": ErrorBody, "description": "A form that breaks the schema, unknown SIREN or territory"}}
REPORT_OFFERS = {"application/json": "json", "text/turtle": "turtle", "application/ld+json": "json-ld",
                 "text/html": "html"}


def version_error(rules: str, as_of: dt.date | None) -> JSONResponse | None:
    """422 when the rule set has no version in force on `as_of` (the date of the file)."""
    try:
        eligibility.ruleset_version(rules, as_of)
    except eligibility.RuleSetError as exc:
        return refused(str(exc), InputError.INVALID, "as_of")
    return None


def _snapshot(request: Request) -> str | None:
    return service_of(request).live.root.current_name()


def _respond(request: Request, report: eligibility.Report, accept: str | None) -> Response:
    media = negotiation.best(accept, {k: v for k, v in REPORT_OFFERS.items()
                                      if k != "text/html" or negotiation.wants_html(accept)})
    if media is None:
        return JSONResponse({"error": "Not acceptable / format non disponible",
                             "where": "Accept: application/json, text/turtle, application/ld+json"}, status_code=406)
    kind = REPORT_OFFERS[media]
    headers = {"Vary": "Accept"}
    if kind == "json":
        return JSONResponse(report.as_dict(), headers=headers)
    if kind == "html":
        return service_of(request).templates.TemplateResponse(
            request, "eligibility-report.html", {"report": report.as_dict()}, headers=headers)
    return Response(report.shacl.serialize(format=kind), media_type=media, headers=headers)


def _kind(content_type: str) -> str | None:
    media = content_type.split(";")[0].strip().lower()
    return {**candidate.FORMATS, "application/json": "json"}.get(media)


@router.post("/eligibility", response_model=EligibilityReport, responses=ERRORS,
             openapi_extra={"requestBody": REQUEST_BODY},
             summary="Vérifier un candidat / check a candidate against article 9")
async def check_candidate(request: Request, svc: Svc, rules: RuleSet = "article-9", record: bool = False,
                          as_of: dt.date | None = None) -> Response:
    """Verdict per criterion of article 9: met, not met, or not enough information, with the legal text.
    `Accept: text/turtle` or `application/ld+json` returns the SHACL `sh:ValidationReport` instead.

    `as_of=YYYY-MM-DD` (the date of the file) checks against the version of the rule set in force that day;
    422 when none was.

    `record=true` (bearer token required) keeps the report in the graph with its provenance — rule-set
    version, data snapshot, time — and answers 201 with its IRI in `Location` and in `records`."""
    if record and not authorised(request):
        return JSONResponse({"error": "recording a report is a write: it needs the bearer token / "
                                      "enregistrer un rapport est une écriture : un jeton est nécessaire",
                             "where": "Authorization"}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
    if (refused := version_error(rules, as_of)) is not None:
        return refused
    kind = _kind(request.headers.get("content-type", "application/json"))
    if kind is None:
        return JSONResponse({"error": "Unsupported media type / type de contenu non pris en charge",
                             "where": "Content-Type"}, status_code=415)
    body = await request.body()  # capped while it streams (api/limits.py)
    checked = await _run(request, checking.check_content, body, kind, rules, _snapshot(request), as_of)
    if isinstance(checked, Response):
        return checked
    report, graph = checked
    if record:
        from starlette.concurrency import run_in_threadpool

        root = svc.live.root
        report.records = await run_in_threadpool(records.record, report, graph, root)
        response = _respond(request, report, request.headers.get("accept"))
        if response.status_code == 200:
            response.status_code = 201
            response.headers["Location"] = report.records[0] if report.records else ""
        return response
    return _respond(request, report, request.headers.get("accept"))


async def _run(request: Request, function, *args):
    """An eligibility check in a confined worker (ptce_kg.checking), within the client's limits: the same
    timeout, memory limit and per-client budget as queries. Returns the task's value, or a Response."""
    from ptce_kg.engine import TaskJob

    settings = service_of(request).settings
    client = request.client.host if request.client else "-"
    limits = service_of(request).limits
    wait = limits.acquire(client)
    if wait is not None:
        return JSONResponse({"error": "too many checks from this client, retry later / trop de requêtes de ce "
                                      "client, réessayez plus tard", "where": "client"},
                            status_code=429, headers={"Retry-After": str(wait)})
    started = time.monotonic()
    try:
        outcome = await service_of(request).pool.run(TaskJob(function, args), client=client)
    finally:
        limits.release(client, time.monotonic() - started)
    if outcome.status == "ok":
        if isinstance(outcome.value, checking.Refusal):
            refusal = outcome.value
            return refused(refusal.message, refusal.reason, refusal.where)
        return outcome.value
    if outcome.status == "server_limit":
        return JSONResponse({"error": "check stopped by the SPARQL server's own limits / vérification interrompue "
                                      "par les limites du serveur SPARQL", "where": None},
                            status_code=503, headers={"Retry-After": "5", "X-Query-Limit": "server"})
    if outcome.status == "timeout":
        return JSONResponse({"error": f"check stopped after {settings.query_timeout_s:g} s / vérification "
                                      f"interrompue après {settings.query_timeout_s:g} s", "where": None},
                            status_code=503, headers={"Retry-After": "5", "X-Query-Limit": "timeout"})
    if outcome.status == "memory":
        return JSONResponse({"error": f"check stopped: over the memory allowed ({settings.worker_memory_mb} MB) / "
                                      f"vérification interrompue : mémoire permise dépassée", "where": None},
                            status_code=503, headers={"X-Query-Limit": "memory"})
    if outcome.status == "unavailable":
        return JSONResponse({"error": "no graph published yet / aucun graphe publié", "where": None}, status_code=503)
    return JSONResponse({"error": f"check failed / échec de la vérification: {outcome.message}", "where": None},
                        status_code=500)


@router.get("/eligibility/schema.json", include_in_schema=False)
def form_schema() -> JSONResponse:
    return JSONResponse(candidate.schema(), media_type="application/schema+json")


@router.get("/eligibility", response_class=HTMLResponse, summary="Formulaire / form for people")
def form_page(request: Request, svc: Svc):
    return svc.templates.TemplateResponse(request, "eligibility-form.html", {
        "schema": candidate.schema(), "rows": range(6)})


@router.post("/eligibility/form", response_class=HTMLResponse, include_in_schema=False)
async def form_submit(request: Request, svc: Svc):
    """The HTML form, turned into the JSON form, checked, and shown as a report."""
    from urllib.parse import parse_qs

    fields = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=False)
    one = lambda k: (fields.get(k) or [""])[0].strip()  # noqa: E731
    form: dict = {"name": one("name") or "Candidat sans nom"}
    for key in ("grouping_kind", "perimeter_kind", "legal_personality", "strategy", "local_development"):
        if one(key):
            form[key] = one(key)
    form["perimeter"] = [p.strip() for p in one("perimeter").replace(",", " ").split() if p.strip()]
    if one("awards"):
        form["awards"] = one("awards").replace(",", " ").split()
    rules = one("rules") if one("rules") in eligibility.RULESETS else "article-9"
    for key in ("cooperation_modes", "innovation", "sectors"):
        if fields.get(key):
            form[key] = fields[key]
    for key in ("continuous_strategy", "sustainable_local_development", "meets_call_specifications",
                "previous_state_support"):
        if one(key) in ("true", "false"):
            form[key] = one(key) == "true"
    as_of = None
    if one("as_of"):
        try:
            as_of = dt.date.fromisoformat(one("as_of"))
        except ValueError:
            as_of = "invalid"
    members = []
    for i in range(20):
        name, role = one(f"m{i}_name"), one(f"m{i}_role")
        if not name:
            continue
        member = {"key": f"m{i + 1}", "name": name}
        if role:
            member["role"] = role
        if one(f"m{i}_ess") in ("true", "false"):
            member["ess"] = one(f"m{i}_ess") == "true"
        if one(f"m{i}_location"):
            member["location"] = one(f"m{i}_location")
        if one(f"m{i}_siren"):
            member["siren"] = one(f"m{i}_siren")
        for key in ("legal_form", "legal_personality"):
            if one(f"m{i}_{key}"):
                member[key] = one(f"m{i}_{key}")
        members.append(member)
        if one("carrier") == str(i):
            form["carrier"] = member["key"]
    form["members"] = members
    if as_of == "invalid":
        checked = JSONResponse({"error": f"as_of: '{one('as_of')}' is not a date YYYY-MM-DD / n'est pas une date",
                                "where": "as_of"}, status_code=422)
    else:
        checked = version_error(rules, as_of) or await _run(request, checking.check_form, form, rules,
                                                            _snapshot(request), as_of)
    if isinstance(checked, JSONResponse) and checked.status_code < 500 and checked.status_code != 429:
        error = json.loads(checked.body)
        return svc.templates.TemplateResponse(
            request, "eligibility-form.html", {"schema": candidate.schema(), "rows": range(6),
                                               "error": error["error"],
                                               "submitted": json.dumps(form, ensure_ascii=False, indent=1)},
            status_code=checked.status_code)
    if isinstance(checked, Response):
        return checked
    report, _ = checked
    return svc.templates.TemplateResponse(request, "eligibility-report.html", {"report": report.as_dict()})


@router.get("/eligibility/{ptce_id}", response_model=EligibilityReport, responses={404: {"model": ErrorBody}},
            summary="Vérifier un PTCE du graphe / check a PTCE of the graph")
async def check_known(request: Request, svc: Svc, ptce_id: str,
                      rules: RuleSet = "article-9", as_of: dt.date | None = None) -> Response:
    if (refused := version_error(rules, as_of)) is not None:
        return refused
    store = svc.live.get_or_none()
    iri = iris.resource(f"ptce/{ptce_id}")
    if store is None or not ptce_id.replace("-", "").isalnum() or not bool(store.query(
            f"ASK {{ <{iri}> a <{iris.DEF}PTCE> }}", use_default_graph_as_union=True)):
        return JSONResponse({"error": f"no PTCE '{ptce_id}' in the graph / PTCE inconnu"}, status_code=404)
    report = await _run(request, checking.check_known, iri, rules, _snapshot(request), as_of)
    if isinstance(report, Response):
        return report
    return _respond(request, report, request.headers.get("accept"))
