"""The home page: what is served, from which sources, and where to go next."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ptce_kg import queries as query_files

RDF_DIR = Path(__file__).resolve().parent / "rdf"
router = APIRouter()


def published_graphs(request: Request) -> list[dict]:
    store = request.app.state.live.get_or_none()
    if store is None:
        return []
    rows = store.query((RDF_DIR / "graphs.rq").read_text(encoding="utf-8"))
    names = [v.value for v in rows.variables]
    return [{n: (row[n].value if row[n] is not None else None) for n in names} for row in rows]


@router.get("/", response_class=HTMLResponse, name="home")
def home(request: Request):
    graphs = published_graphs(request)
    return request.app.state.templates.TemplateResponse(request, "home.html", {
        "graphs": graphs,
        "total": sum(int(g["triples"]) for g in graphs),
        "modified": graphs[0]["modified"] if graphs else None,
        "queries": query_files.all_queries(),
    })
