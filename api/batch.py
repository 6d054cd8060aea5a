"""`POST /eligibility/batch`: many candidates at once, answered as a stream — one line per candidate and
criterion, written as each candidate is checked.

Each candidate is checked like a single one (`checking.check_form`) in the confined query workers, through
`api.eligibility._run`: the same timeout, memory limit and per-client limits. A batch keeps at most the
client's concurrency in flight and waits when the client's budget is spent (429 inside a batch means "later",
not "never"). The body is capped like every other (`api/limits.py`); the number of candidates by
`PTCE_KG_BATCH_MAX_CANDIDATES`. Reading is in `ptce_kg/batch.py`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections import deque
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from ptce_kg import __version__, batch, checking
from ptce_kg.config import SHAPES_DIR

from .deps import Svc, service_of
from . import eligibility as single
from .eligibility import ErrorBody, RuleSet
from .errors import status_of

router = APIRouter(tags=["eligibility"])
TEMPLATES = SHAPES_DIR / "batch"
MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/x-ndjson"}
_in_flight: set = set()  # checks still running for a batch whose client went away: let them finish

REQUEST_BODY = {
    "required": True,
    "description": "Des candidats : `multipart/form-data` avec le fichier `candidates` (CSV, une ligne par candidat) "
                   "et, facultatif, `members` (CSV, une ligne par membre, colonne `candidate`) ; ou `text/csv` (les "
                   "candidats seuls) ; ou un tableau JSON de formulaires (schéma : /eligibility/schema.json). Modèles : "
                   "/eligibility/batch/template/candidates.csv et members.csv. / Candidates: a CSV upload (candidates, "
                   "members keyed by candidate id), a CSV body, or a JSON array of forms.",
    "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["candidates"], "properties": {
            "candidates": {"type": "string", "format": "binary"}, "members": {"type": "string", "format": "binary"}}}},
        "text/csv": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
    },
}
RESPONSES = {
    200: {"description": "Une ligne par candidat et critère, au fil des vérifications (CSV, ou NDJSON : un objet JSON "
                         "par ligne) ; un candidat qui ne peut être vérifié donne une ligne `error` avec fichier, ligne "
                         "et champ. / One line per candidate and criterion, streamed.",
          "content": {"text/csv": {"schema": {"type": "string"}}, "application/x-ndjson": {"schema": {"type": "string"}}}},
    400: {"model": ErrorBody, "description": "A file that cannot be read (not UTF-8, not CSV, unknown column)"},
    413: {"model": ErrorBody, "description": "Body over PTCE_KG_MAX_BODY, or more candidates than PTCE_KG_BATCH_MAX_CANDIDATES"},
    415: {"model": ErrorBody}, 422: {"model": ErrorBody, "description": "JSON that is not an array of candidates"},
}


def _error(status: int, error: str, where: str | None) -> JSONResponse:
    return JSONResponse({"error": error, "where": where}, status_code=status)


def _file_name(upload, default: str) -> str:
    """What to call an uploaded file in messages: its base name, printable, short; else the default."""
    name = getattr(upload, "filename", None) or ""
    name = re.sub(r"[^\w.\- ]", "_", name.replace("\\", "/").rsplit("/", 1)[-1])[:80]
    return name or default


async def _content(request: Request) -> tuple[str, bytes, bytes | None, str] | Response:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        try:
            form = await request.form(max_files=2, max_fields=2)
        except Exception as exc:  # starlette's MultiPartException and parser errors: a malformed body
            return _error(400, f"malformed multipart body: {str(exc)[:120]} / corps multipart illisible", "body")
        uploads = {}
        for key in ("candidates", "members"):
            value = form.get(key)
            if value is None:
                continue
            uploads[key] = (value.encode("utf-8"), f"{key}.csv") if isinstance(value, str) else (
                await value.read(), _file_name(value, f"{key}.csv"))
        if "candidates" not in uploads:
            return _error(422, "the 'candidates' file is required / le fichier 'candidates' est obligatoire",
                          "candidates")
        content, name = uploads["candidates"]
        members, members_name = uploads.get("members", (None, batch.MEMBERS_FILE))
        if members_name == name:
            members_name = f"members-{members_name}"
        return name, content, members, members_name  # a .json upload is a JSON array (ptce_kg.batch.read)
    if media in ("text/csv", "application/csv"):
        return batch.CANDIDATES_FILE, await request.body(), None, batch.MEMBERS_FILE
    if media in ("application/json", ""):
        return "candidates.json", await request.body(), None, batch.MEMBERS_FILE
    return _error(415, "Unsupported media type: multipart/form-data, text/csv or application/json / type de "
                       "contenu non pris en charge", "Content-Type")


async def _check(request: Request, item: batch.Item, rules: str, snapshot: str | None, as_of=None,
                 reports: dict | None = None) -> list[dict]:
    """One candidate in a worker, within the client's limits; its lines (an `error` line if refused). With
    `reports`, the candidate's whole report (eligibility.Report.as_dict) is kept there under its id."""
    if item.error is not None or not isinstance(item.form, dict):
        return batch.error_lines(item, "the candidate must be a JSON object / le candidat doit être un objet JSON")
    while True:
        checked = await single._run(request, checking.check_form, item.form, rules, snapshot, as_of)
        if not isinstance(checked, Response):
            if reports is not None and not isinstance(checked, checking.Refusal):
                reports[item.id] = checked[0].as_dict()
            return batch.lines_of(item, checked)
        if checked.status_code == 429:  # the client's concurrency or budget: wait, as the client would be told
            await asyncio.sleep(min(60, int(checked.headers.get("Retry-After", "1"))))
            continue
        body = json.loads(checked.body)
        return batch.error_lines(item, body.get("error") or "check failed / échec", body.get("where"))


async def _next(pending: deque, render) -> str:
    """The lines of the oldest candidate in flight. Shielded: a client that goes away cancels the answer,
    never a check in a worker (the pool would lose track of it)."""
    lines = await asyncio.shield(pending[0])
    pending.popleft()
    return "".join(render(line) for line in lines)


def _format(request: Request, fmt: str | None) -> str:
    if fmt:
        return fmt
    accept = request.headers.get("accept", "").lower()
    if "text/html" in accept.split(",")[0]:
        return "html"
    return "csv" if "text/csv" in accept and "ndjson" not in accept else "json"


async def _printable(request: Request, items: list, rules: str, snapshot: str | None, as_of) -> Response:
    """`format=html`: every candidate's report in one printable page (one printed page per candidate), the
    candidates that could not be checked listed at the end with file, line and field."""
    from ptce_kg import eligibility

    reports: dict = {}
    errors = []
    width = max(1, service_of(request).limits.concurrency)
    for start in range(0, len(items), width):
        chunk = items[start:start + width]
        done = await asyncio.gather(*(_check(request, item, rules, snapshot, as_of, reports) for item in chunk))
        errors += [line for lines in done for line in lines if line["verdict"] == batch.ERROR]
    checked = [reports[item.id] for item in items if item.id in reports]
    version = eligibility.ruleset_version(rules, as_of)
    header = checked[0] if checked else {
        "ruleset": f"{rules}@{__version__}", "law": eligibility.requirement_source(version),
        "rule_set_version": version.as_dict(), "as_of": as_of.isoformat() if as_of else None,
        "scope_note": eligibility.scope_note(version), "data_snapshot": snapshot, "checked_at": ""}
    report = {**{k: v for k, v in header.items() if k not in ("candidates", "verdict")},
              "candidates": [c for r in checked for c in r["candidates"]],
              "errors": [{"candidate": e["candidate"] or "?", "error": e["error"]} for e in errors]}
    return service_of(request).templates.TemplateResponse(
        request, "eligibility-report.html", {"report": report},
        headers={"X-Batch-Candidates": str(len(items)), "X-Ruleset": f"{rules}@{__version__}", "Vary": "Accept"})


@router.post("/eligibility/batch", responses=RESPONSES, openapi_extra={"requestBody": REQUEST_BODY},
             response_class=StreamingResponse,
             summary="Vérifier une liste de candidats / check many candidates (CSV or JSON), streamed")
async def check_batch(request: Request, svc: Svc, rules: RuleSet = "article-9",
                      format: Literal["csv", "json", "html"] | None = None, as_of: dt.date | None = None) -> Response:
    """Each candidate is checked as by `POST /eligibility`, in the same workers and within the same limits;
    the answer streams one line per candidate and criterion (`format=csv`, or `json`: NDJSON; by default
    from `Accept`, NDJSON otherwise): candidate, label, criterion, verdict, details, eligibility, file, line,
    field. A candidate that cannot be checked gives one line with verdict `error`, its file, line and field.
    `format=html` (or `Accept: text/html` first) answers instead, once all are checked, the printable report of
    every candidate, one printed page each, with the unchecked ones listed at the end."""
    if (refused := single.version_error(rules, as_of)) is not None:
        return refused
    read = await _content(request)
    if isinstance(read, Response):
        return read
    name, content, members, members_name = read
    try:
        items = await asyncio.to_thread(batch.read, name, content, members, members_name)
    except batch.BatchError as exc:
        return _error(status_of(exc.reason), str(exc), exc.where)
    limit = service_of(request).settings.batch_max_candidates
    if len(items) > limit:
        return _error(413, f"more than {limit} candidates in one batch (PTCE_KG_BATCH_MAX_CANDIDATES) / plus de "
                           f"{limit} candidats dans un lot", name)
    fmt = _format(request, format)
    snapshot = single._snapshot(request)
    if fmt == "html":
        return await _printable(request, items, rules, snapshot, as_of)
    render = batch.as_csv if fmt == "csv" else batch.as_json
    width = max(1, svc.limits.concurrency)

    async def lines():
        if fmt == "csv":
            yield batch.csv_header()
        pending: deque = deque()
        try:
            for item in items:
                pending.append(asyncio.ensure_future(_check(request, item, rules, snapshot, as_of)))
                if len(pending) >= width:
                    yield await _next(pending, render)
            while pending:
                yield await _next(pending, render)
        finally:
            for task in pending:  # the client went away: what runs in a worker finishes there
                if not task.done():
                    _in_flight.add(task)
                    task.add_done_callback(_in_flight.discard)

    headers = {"X-Batch-Candidates": str(len(items)), "X-Ruleset": f"{rules}@{__version__}",
               "X-Data-Snapshot": snapshot or "", "Vary": "Accept", "X-Content-Type-Options": "nosniff"}
    return StreamingResponse(lines(), media_type=MEDIA[fmt], headers=headers)


@router.get("/eligibility/batch/template/{name}", include_in_schema=True, responses={404: {"model": ErrorBody}},
            summary="Modèles CSV d'un lot / CSV templates of a batch (candidates.csv, members.csv)")
def template(name: Literal["candidates.csv", "members.csv"]) -> Response:
    return FileResponse(TEMPLATES / name, media_type="text/csv; charset=utf-8", filename=name)
