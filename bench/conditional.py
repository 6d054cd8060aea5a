"""`python -m bench.conditional [--store DIR] [--reps N] [--out bench/reports/conditional.md]`: what a client that
keeps answers pays to check one is still current (issue 23 item 5: a conditional GET of an unchanged answer
gets 304 in < 2 ms p50).

Over the same loopback HTTP client as bench/peers.py (stdlib http.client, one keep-alive connection), for
each research query that a plain SPARQL store answers:

  304          GET /sparql?query=… with `If-None-Match` set to the ETag of a first answer: ptce-kg answers
               304 Not Modified from the digest of (build, query, dataset, format), without evaluating
  200 cached   the same GET without `If-None-Match`: the whole answer from ptce-kg's answer cache
  Oxigraph     the same GET on Oxigraph server (`oxigraph serve-read-only`, loaded from the build's N-Quads
               dump): it has no ETag, so each check of an answer is the whole query again

Whole-request timings on the client (send to last byte), medians over `--reps` requests per query; the
reference (Oxigraph server) is measured in the same run. Nothing is asserted by the tests.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.peers import JSON_RESULTS, comparable, load_average, pct, start_oxigraph, start_ptce_kg  # noqa: E402
from conftest import stop  # noqa: E402

TARGET_304_MS = 2.0


def _get(conn: http.client.HTTPConnection, path: str, text: str, etag: str | None = None) -> tuple[int, str, float]:
    headers = {"Accept": JSON_RESULTS}
    if etag:
        headers["If-None-Match"] = etag
    started = time.perf_counter()
    conn.request("GET", f"{path}?{urlencode({'query': text})}", headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status, response.headers.get("ETag", ""), time.perf_counter() - started


def measure(ours: str, theirs: str | None, reps: int) -> list[dict]:
    """Per query: the p50 (seconds) of the 304s, of the cached 200s on ptce-kg, and of Oxigraph's 200s."""
    mine = http.client.HTTPConnection(urlsplit(ours).hostname, urlsplit(ours).port, timeout=120)
    other = http.client.HTTPConnection(urlsplit(theirs).hostname, urlsplit(theirs).port, timeout=120) if theirs else None
    rows = []
    try:
        for query in comparable():
            status, etag, _ = _get(mine, "/sparql", query.text)
            row = {"query": query.name, "first_status": status, "etag": bool(etag)}
            if status != 200 or not etag:
                rows.append(row)
                continue
            not_modified = [_get(mine, "/sparql", query.text, etag) for _ in range(reps)]
            row["statuses_304"] = sorted({s for s, _, _ in not_modified})
            row["p50_304"] = statistics.median(t for _, _, t in not_modified)
            row["p95_304"] = pct([t for _, _, t in not_modified], 0.95)
            row["p50_cached"] = statistics.median(_get(mine, "/sparql", query.text)[2] for _ in range(reps))
            if other is not None:
                answers = [_get(other, "/query", query.text) for _ in range(max(3, reps // 10))]
                row["oxigraph_status"] = answers[0][0]
                row["p50_oxigraph"] = statistics.median(t for _, _, t in answers)
            rows.append(row)
    finally:
        mine.close()
        if other is not None:
            other.close()
    return rows


def report(results: dict) -> str:
    rows = [r for r in results["rows"] if "p50_304" in r]
    every = sorted(r["p50_304"] for r in rows)
    median_304 = statistics.median(every) * 1000 if every else None
    ms = lambda s: f"{s * 1000:.2f}" if s is not None else "—"  # noqa: E731
    lines = [f"# Conditional GET of an unchanged answer ({results['date']})", "",
             f"`{results['command']}`. Graph: {results['store']}; {results['reps']} requests per query and "
             f"kind; ptce-kg with its default answer cache; every server on loopback, one keep-alive connection, "
             f"whole-request timings on the client. Load average {results['load_average']} at the start, "
             f"{results['load_average_end']} at the end (2 shared cores).", "",
             "| measure | value | target |", "|---|---:|---:|",
             f"| median over {len(rows)} research queries of the p50 of a 304 (ms) | "
             f"{median_304:.2f} | < {TARGET_304_MS:g} |" if median_304 is not None else "| no 304 measured | | |",
             f"| slowest query's p50 of a 304 (ms) | {every[-1] * 1000:.2f} | |" if every else "",
             f"| queries answered 304 every time | {sum(r['statuses_304'] == [304] for r in rows)} of {len(rows)} | all |",
             "", "| query | 304 p50 | 304 p95 | 200 from the cache p50 | Oxigraph server 200 p50 | Oxigraph / 304 |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in results["rows"]:
        if "p50_304" not in r:
            lines.append(f"| {r['query']} | first answer {r['first_status']}, ETag {'yes' if r['etag'] else 'no'} | | | | |")
            continue
        theirs = r.get("p50_oxigraph")
        lines.append(f"| {r['query']} | {ms(r['p50_304'])} | {ms(r['p95_304'])} | {ms(r['p50_cached'])} | "
                     f"{ms(theirs)} | {theirs / r['p50_304']:.1f}× |" if theirs else
                     f"| {r['query']} | {ms(r['p50_304'])} | {ms(r['p95_304'])} | {ms(r['p50_cached'])} | — | |")
    return "\n".join(line for line in lines if line is not None) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.conditional")
    parser.add_argument("--store", default=str(ROOT / "var" / "store"), help="a built store (default var/store)")
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--no-oxigraph", action="store_true", help="leave the reference out")
    parser.add_argument("--out", default=str(ROOT / "bench" / "reports" / "conditional.md"))
    args = parser.parse_args(argv)
    store = Path(args.store)
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "reps": args.reps,
               "store": str(store.resolve()).replace(str(ROOT) + "/", ""), "load_average": load_average(),
               "command": ("python -m bench.conditional " + " ".join(sys.argv[1:] if argv is None else argv)
                           ).replace(str(ROOT) + "/", "").strip()}
    with tempfile.TemporaryDirectory(prefix="ptce-kg-conditional-") as tmp:
        ours_process, ours = start_ptce_kg(store, cache=True)
        oxi_process, theirs = (None, None) if args.no_oxigraph else start_oxigraph(store, Path(tmp))
        try:
            results["rows"] = measure(ours, theirs, args.reps)
        finally:
            stop(ours_process)
            if oxi_process is not None:
                stop(oxi_process)
    results["load_average_end"] = load_average()
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    text = report(results)
    out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
