"""`python -m bench.search [--store DIR] [--reps 200] [--out bench/reports/search.md]`: latency of the text search.

Times, on the published graph (1×, the default store; the index is built first if the build has none):
- each query of QUERIES in process (`SearchIndex.search`), the autocomplete form (`prefix=True`) and a batch
  of 50 reconciliation queries (api/reconcile.py `reconcile_one`), p50/p95;
- the same searches through HTTP on a `ptce-kg serve` started on loopback (`/search?format=json`,
  `/search/suggest`, a SPARQL query with a search block), beside `ASK {}` through `/sparql` as the reference
  of the same run (what any request costs on this machine);
- the former search: the CONTAINS scan over PTCE labels that `/search` ran before the index (api/rdf/search.rq
  in git history), in process.
Target (issue 20): every search under 50 ms p95 at 1×. Not a test: never run by the suite.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES = ["cluster jura", "ecossolie", "lons le saunier", "recyclerie", "saint", "économie circulaire",
           "213903008", "38.32Z", "pole", "association"]
SPARQL = """PREFIX search: <https://w3id.org/ptce-kg/search#>
PREFIX ptce: <https://w3id.org/ptce-kg/def#>
SELECT ?c ?score ?d WHERE { SERVICE <https://w3id.org/ptce-kg/search> {
  ?c search:query "saint" ; search:type "commune" ; search:score ?score ; search:limit 100 }
  ?c ptce:departement ?d }"""
CONTAINS = """PREFIX ptce: <https://w3id.org/ptce-kg/def#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT DISTINCT ?ptce ?label WHERE { ?ptce a ptce:PTCE ; rdfs:label ?label .
  FILTER(CONTAINS(LCASE(STR(?label)), "%s")) } ORDER BY ?label LIMIT 100"""


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def timed(fn, reps: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search")
    parser.add_argument("--store", default=str(ROOT / "var" / "store"))
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--out", default=str(ROOT / "bench" / "reports" / "search.md"))
    args = parser.parse_args(argv)

    from api.reconcile import reconcile_one
    from ptce_kg import search
    from ptce_kg.store import StoreRoot
    from conftest import start_server, stop  # the suite's loopback server helper (conftest.py)

    root = StoreRoot(args.store)
    started = time.perf_counter()
    index = search.for_root(root)
    opened_s = time.perf_counter() - started
    store = root.open_read()
    rows: list[tuple[str, str, list[float]]] = []
    for q in QUERIES:
        rows.append(("in process", f"search {q!r}", timed(lambda: index.search(q), args.reps)))
    for q in ("ecoss", "lons le sau", "clus"):
        rows.append(("in process", f"suggest {q!r}", timed(lambda: index.search(q, limit=8, prefix=True), args.reps)))
    golden = list(csv.DictReader(open(ROOT / "tests" / "fixtures" / "reconcile" / "golden.csv", encoding="utf-8")))
    batch = [{"query": r["query"], "type": "https://w3id.org/ptce-kg/def#" + r["type"], "limit": 3,
              "properties": [{"pid": "commune", "v": r["commune"]}] if r["commune"] else []} for r in golden]
    rows.append(("in process", f"reconcile batch of {len(batch)}",
                 timed(lambda: [reconcile_one(index, q) for q in batch], max(5, args.reps // 20))))
    for q in ("jura", "cluster"):
        rows.append(("in process", f"former CONTAINS scan {q!r}",
                     timed(lambda: list(store.query(CONTAINS % q, use_default_graph_as_union=True)), args.reps)))

    process, base = start_server(args.store, PTCE_KG_WORKERS=2)
    try:
        with httpx.Client(timeout=60) as client:
            def get(path, **params):
                return lambda: client.get(base + path, params=params).raise_for_status()

            rows.append(("HTTP", "reference: ASK {} through /sparql", timed(
                lambda: client.post(base + "/sparql", data={"query": "ASK {}"}).raise_for_status(), args.reps)))
            for q in QUERIES:
                rows.append(("HTTP", f"/search {q!r} (JSON)", timed(get("/search", q=q, format="json"), args.reps)))
            rows.append(("HTTP", "/search 'lons le saunier' (HTML page)", timed(get("/search", q="lons le saunier"),
                                                                                 args.reps)))
            rows.append(("HTTP", "/search/suggest 'ecoss'", timed(get("/search/suggest", q="ecoss"), args.reps)))
            rows.append(("HTTP", "SPARQL with a search block (100 communes)", timed(
                lambda: client.post(base + "/sparql", data={"query": SPARQL},
                                    headers={"Accept": "application/sparql-results+json"}).raise_for_status(),
                max(20, args.reps // 4))))
            rows.append(("HTTP", f"/reconcile batch of {len(batch)}", timed(
                lambda: client.post(base + "/reconcile", data={"queries": json.dumps(
                    {f"q{i}": q for i, q in enumerate(batch)})}).raise_for_status(), max(5, args.reps // 20))))
    finally:
        stop(process)

    reference = next(p50 for kind, name, t in rows for p50 in [pct(t, .5)] if name.startswith("reference"))
    lines = ["# Text search latency (`python -m bench.search`)", "",
             f"Store `{args.store}` (build {root.current_name()}), index {index.path.stat().st_size / 1e6:.1f} MB, "
             f"opened (or built) in {opened_s:.2f} s; {args.reps} repetitions. Target: < 50 ms p95 per search.", "",
             "| where | what | p50 ms | p95 ms | p50 / ASK {} |", "|---|---|---:|---:|---:|"]
    for kind, name, t in rows:
        ratio = f"{pct(t, .5) / reference:.1f}" if kind == "HTTP" else ""
        lines.append(f"| {kind} | {name} | {pct(t, .5):.2f} | {pct(t, .95):.2f} | {ratio} |")
    searches = [t for kind, name, t in rows if "batch" not in name and "former" not in name]
    worst = max(pct(t, .95) for t in searches)
    lines += ["", f"Worst p95 of a single search: {worst:.2f} ms — target {'met' if worst < 50 else 'NOT met'}."]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
