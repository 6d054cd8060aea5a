"""Pages for people (search is api/search.py): statistics (charts drawn server-side, each with its SPARQL query), PTCE pages."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ptce_kg import iris
from ptce_kg import eligibility, queries
from ptce_kg.iris import with_values
from ptce_kg.iris import read_query

from .deps import Svc
from .turtle import RDF_DIR

router = APIRouter(tags=["pages"])

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
def stats(request: Request, svc: Svc):
    store = svc.live.get_or_none()
    return svc.templates.TemplateResponse(
        request, "stats.html", {"charts": chart_data(store) if store is not None else []})


def _local(iri: str) -> str:
    path = iris.local_path(iri)
    return iri if path is None else "/" + path


def ptce_context(request: Request, store, iri: str) -> dict:
    def run(file: str) -> list[dict]:
        return queries.rows(store, with_values(read_query(RDF_DIR / file), "ptce", [iri]))
    members = run("ptce-members.rq")
    awards = run("ptce-awards.rq")
    for m in members:
        m["href"] = _local(m["member"])
    for c in members + awards:  # each membership and award with its own citation
        c["document_href"] = _local(c["document"]) if c.get("document") else None
    statements = run("ptce-statements.rq")
    # Each statement gets a footnote number and an anchor; a direct ("truthy") triple of the "All properties"
    # table points to the statements it comes from (same property, same value).
    notes: dict[str, list[dict]] = {}
    for number, s in enumerate(statements, start=1):
        s["number"] = number
        s["anchor"] = "statement-" + "-".join(s["statement"].rsplit("/", 2)[1:])
        s["href"], s["document_href"] = _local(s["statement"]), _local(s["document"])
        # an item (territory, carrier, code) links to its page; a number is shown as it is
        s["value_href"] = _local(s["value"]) if s["value"].startswith(("http://", "https://")) else None
        notes.setdefault(f"{s['property']}|{s['value']}", []).append(s)
    report = eligibility.evaluate(eligibility.ptce_graph(store, iri)).as_dict()
    return {"members": members, "awards": awards, "report": report, "statements": statements,
            "statement_notes": notes}


# -- what is known and what is not -------------------------------------------------------------

COVERAGE_FACTS = [("territory", "ont un territoire connu (périmètre)", "PTCE have a known territory (perimeter)"),
                  ("carrier", "ont une structure porteuse connue", "PTCE have a known carrier"),
                  ("members", "ont des membres connus", "PTCE have known members"),
                  ("awards", "ont une aide de programme connue", "PTCE have a known programme award")]


def coverage_data(store) -> dict:
    """The two coverage queries of queries/ and the shares the home page states, computed from their rows."""
    per_programme = queries.find("coverage")
    per_ptce = queries.find("coverage-per-ptce")
    counts = queries.find("ptce-counts")
    programmes = queries.rows(store, per_programme.text)
    ptces = queries.rows(store, per_ptce.text)
    for r in programmes:
        r["href"] = _local(r["programme"])
        r["statement_href"] = _local(r["statement"]) if r.get("statement") else None
    for r in ptces:
        r["href"] = _local(r["ptce"])
    counted = [r for r in programmes if r.get("in_total") == "true"]
    facts = [{"key": key, "fr": fr, "en": en, "known": sum(r.get(key) == "true" for r in ptces)}
             for key, fr, en in COVERAGE_FACTS]
    return {
        "programmes": programmes, "ptces": ptces, "facts": facts, "ptce_total": len(ptces),
        "published_total": sum(int(r["published"]) for r in counted),
        "named_total": sum(int(r["named"]) for r in counted),
        "all_exact": all(r.get("precision") == "exact" for r in counted),
        "programme_query": {"name": per_programme.name, "title": per_programme.title,
                            "title_en": per_programme.title_en,
                            "sparql_href": f"/sparql?format=csv&query={quote(per_programme.text)}"},
        "ptce_query": {"name": per_ptce.name, "title": per_ptce.title, "title_en": per_ptce.title_en,
                       "sparql_href": f"/sparql?format=csv&query={quote(per_ptce.text)}"},
        # how many PTCE the documents count (queries/ptce-counts.rq), beside the graph's own number
        "counts": [{**r, "href": _local(r["statement"])} for r in queries.rows(store, counts.text)],
        "counts_query": {"name": counts.name, "sparql_href": f"/sparql?format=csv&query={quote(counts.text)}"},
    }


@router.get("/coverage", response_class=HTMLResponse, summary="Ce qui est connu et ce qui ne l'est pas / coverage")
def coverage(request: Request, svc: Svc):
    store = svc.live.get_or_none()
    return svc.templates.TemplateResponse(
        request, "coverage.html", {"coverage": coverage_data(store) if store is not None else None})
