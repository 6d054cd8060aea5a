"""Pages for people: search, statistics (charts drawn server-side, each with its SPARQL query), PTCE pages."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pyoxigraph
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ptce_kg import eligibility, queries
from ptce_kg.eligibility import with_values

router = APIRouter(tags=["pages"])
RDF_DIR = Path(__file__).resolve().parent / "rdf"

# (title fr, title en, query of queries/, label variable(s), value variable)
CHARTS = [
    ("PTCE par région", "PTCE per région", "ptce-per-region", "name", "ptce_count"),
    ("Secteurs les plus représentés", "Most represented sectors", "sectors-most-represented", "label", "ptce_count"),
    ("PTCE par forme juridique du porteur", "PTCE by carrier's legal form", "ptce-by-carrier-legal-form", "label", "ptce_count"),
    ("Membres par nature d'acteur et statut", "Members by kind of actor and status", "member-roles", "label", "memberships"),
    ("Lauréats par programme", "Laureates per programme", "programme-figures", "name", "laureates"),
    ("Candidatures par programme", "Applications per programme", "programme-figures", "name", "applications"),
    ("Montants attribués aux lauréats connus, par programme et année (euros)",
     "Amounts awarded to known laureates, per programme and year (euros)", "laureates-per-programme",
     ("name", "year"), "total_eur"),
]


def chart_data(store) -> list[dict]:
    charts = []
    for title, title_en, name, label, value in CHARTS:
        query = queries.find(name)
        rows = [r for r in queries.rows(store, query.text) if r.get(value) not in (None, "")]
        names = (label,) if isinstance(label, str) else label
        bars = [{"label": " — ".join(r[n] for n in names if r.get(n)) or "—", "value": float(r[value])}
                for r in rows if value != "total_eur" or float(r[value]) > 0]  # the query sums unknown amounts as 0
        top = max((b["value"] for b in bars), default=1) or 1
        for i, bar in enumerate(bars):
            bar["width"] = round(400 * bar["value"] / top, 1)
            bar["y"] = i * 22
            bar["text"] = f"{bar['value']:,.0f}".replace(",", " ")
        charts.append({"title": title, "title_en": title_en, "query": name, "bars": bars,
                       "height": 22 * len(bars) + 4,
                       "sparql_href": f"/sparql?format=csv&query={quote(query.text)}"})
    return charts


@router.get("/stats", response_class=HTMLResponse, summary="Statistiques / statistics")
def stats(request: Request):
    store = request.app.state.live.get_or_none()
    return request.app.state.templates.TemplateResponse(
        request, "stats.html", {"charts": chart_data(store) if store is not None else []})


@router.get("/search", response_class=HTMLResponse, summary="Recherche / search by name or commune")
def search(request: Request, q: str = ""):
    store = request.app.state.live.get_or_none()
    term = q.strip().lower()[:100]
    results = []
    if store is not None and term:
        text = (RDF_DIR / "search.rq").read_text(encoding="utf-8")
        literal = str(pyoxigraph.Literal(term))  # a SPARQL string literal, escaped by pyoxigraph
        # Inlined where the filters use it (a BIND outside the UNION branches would not reach them).
        text = re.sub(r"\?q\b", lambda m: literal, text.split("SELECT", 1)[1])
        text = (RDF_DIR / "search.rq").read_text(encoding="utf-8").split("SELECT", 1)[0] + "SELECT" + text
        for row in queries.rows(store, text):
            results.append({**row, "href": "/" + row["ptce"].split("https://w3id.org/ptce-kg/", 1)[1]})
    return request.app.state.templates.TemplateResponse(request, "search.html", {"q": q, "results": results})


def ptce_context(request: Request, store, iri: str) -> dict:
    def run(file: str) -> list[dict]:
        return queries.rows(store, with_values((RDF_DIR / file).read_text(encoding="utf-8"), "ptce", [iri]))
    members = run("ptce-members.rq")
    for m in members:
        m["href"] = "/" + m["member"].split("https://w3id.org/ptce-kg/", 1)[1] if m["member"].startswith(
            "https://w3id.org/ptce-kg/") else m["member"]
    report = eligibility.evaluate(eligibility.ptce_graph(store, iri)).as_dict()
    return {"members": members, "awards": run("ptce-awards.rq"), "report": report}
