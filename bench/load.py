"""`python -m bench.load [--clients 32] [--seconds 60] [--rebuild]`: a bounded load test on loopback.

Clients replay the `queries/` mix plus page and dump requests against `ptce-kg serve`; with --rebuild, a
rebuild switches the store in the middle. Every SPARQL answer names the build it came from and a count
from the data graphs, so a half-built graph would show as a pair that no build holds. Reports throughput,
p50/p99 latency, status counts and consistency to bench/reports/load.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conftest import start_server, stop  # noqa: E402
from ptce_kg import queries  # noqa: E402

PROBE = """SELECT ?build (COUNT(DISTINCT ?c) AS ?n) WHERE {
  GRAPH <https://w3id.org/ptce-kg/graph/meta> { ?build a <http://www.w3.org/ns/prov#Activity> }
  GRAPH <https://w3id.org/ptce-kg/graph/territories> { ?c a <https://w3id.org/ptce-kg/def#Commune> } }
GROUP BY ?build"""


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else 0.0


async def run_load(base: str, clients: int, seconds: float, busy=lambda: False) -> dict:
    """Load for `seconds`, and on while `busy()` (a rebuild in progress) plus 5 s after it."""
    texts = [q.text for q in queries.all_queries()]
    pages = ["/", "/doc/id/ptce/cluster-jura", "/eligibility", "/catalog", "/dumps/", "/.well-known/void"]
    statuses: Counter = Counter()
    latencies: list[float] = []
    pairs: Counter = Counter()
    started = time.monotonic()
    deadline = [started + seconds]

    def going() -> bool:
        if busy():
            deadline[0] = max(deadline[0], time.monotonic() + 5)
        return time.monotonic() < deadline[0]

    async with httpx.AsyncClient(base_url=base, timeout=60, limits=httpx.Limits(max_connections=clients)) as client:
        async def worker(i: int):
            k = i
            while going():
                t = time.perf_counter()
                kind = k % 4
                try:
                    if kind == 0:
                        r = await client.post("/sparql", data={"query": PROBE},
                                              headers={"Accept": "application/sparql-results+json"})
                        if r.status_code == 200:
                            for b in r.json()["results"]["bindings"]:
                                pairs[(b["build"]["value"], b["n"]["value"])] += 1
                    elif kind == 1:
                        r = await client.post("/sparql", data={"query": texts[k % len(texts)]})
                    elif kind == 2:
                        r = await client.get(pages[k % len(pages)], headers={"Accept": "text/html"})
                    else:
                        r = await client.get("/dumps/registry.ttl.gz", headers={"Range": "bytes=0-1023"})
                    statuses[r.status_code] += 1
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1
                latencies.append(time.perf_counter() - t)
                k += 1
        await asyncio.gather(*[worker(i) for i in range(clients)])
    total = sum(statuses.values())
    seconds = time.monotonic() - started
    return {"clients": clients, "seconds": seconds, "requests": total, "per_second": total / seconds,
            "p50": pct(latencies, .5), "p99": pct(latencies, .99), "statuses": dict(statuses), "pairs": dict(pairs)}


def rebuild_in_background(store: Path, delay: float, results: dict) -> threading.Thread:
    def work():
        time.sleep(delay)
        from ptce_kg.build import build

        t = time.perf_counter()
        results["summary"] = build(store, progress=lambda m: None)
        results["seconds"] = time.perf_counter() - t
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rebuild", action="store_true", help="switch the store to a new build during the load")
    parser.add_argument("--store", help="an existing store (default: build one in a temporary folder)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "reports" / "load.md"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ptce-kg-load-") as tmp:
        store = Path(args.store) if args.store else Path(tmp) / "store"
        if not args.store:
            from ptce_kg.build import build

            print("[load] building the graph…", flush=True)
            build(store, progress=lambda m: None)
        process, base = start_server(store, PTCE_KG_CLIENT_CONCURRENCY=10_000, PTCE_KG_CLIENT_BUDGET=1e9)
        rebuilt: dict = {}
        try:
            thread = rebuild_in_background(store, 5, rebuilt) if args.rebuild else None
            print(f"[load] {args.clients} clients for {args.seconds:g} s…", flush=True)
            result = asyncio.run(run_load(base, args.clients, args.seconds,
                                          busy=(lambda: thread.is_alive()) if thread else (lambda: False)))
            if thread:
                thread.join()
        finally:
            stop(process)
    five_xx = sum(n for s, n in result["statuses"].items() if isinstance(s, int) and s >= 500)
    errors = sum(n for s, n in result["statuses"].items() if not isinstance(s, int))
    counts = {n for (_, n) in result["pairs"]}
    lines = ["# Load test", "", f"{args.clients} clients, {result['seconds']:.0f} s, loopback; mix: `queries/` (¼), a "
             "consistency probe (¼), HTML pages (¼), dump ranges (¼)." + (" A rebuild started at 5 s and switched "
             f"the store after {rebuilt.get('seconds', 0):.0f} s; the load went on 5 s past the switch."
             if args.rebuild else ""), "",
             f"- requests: {result['requests']} ({result['per_second']:.1f}/s)",
             f"- latency p50 {result['p50'] * 1000:.0f} ms, p99 {result['p99'] * 1000:.0f} ms",
             f"- statuses: {dict(sorted((str(k), v) for k, v in result['statuses'].items()))}",
             f"- 5xx: **{five_xx}**, transport errors: **{errors}**",
             f"- builds seen by the probe: {len({b for (b, _) in result['pairs']})}; commune counts seen: "
             f"{sorted(counts)} (one per build: no answer mixed two versions)", ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 1 if five_xx or errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
