"""`python -m bench.request_path [--store DIR]`: where a SPARQL request's time goes, in process.

Each stage of the endpoint's path beside its reference, in the same run (medians over `--reps` runs):

  guard       the tokenizer's first reading of each research query, and the cached verdict after it
  results     engine.execute() (evaluation, row and byte caps, pyoxigraph's writers) vs pyoxigraph alone
              (evaluation + QuerySolutions.serialize), SPARQL JSON and XML
  hand-off    one `ASK {}` through the worker pool (send, evaluate in the confined worker, receive on the
              event loop) vs the same execute() in process
  app         one `ASK {}` through the whole ASGI application (middleware, negotiation, limits, pool)
              in process, vs the pool alone

Nothing is asserted: the README's "Benchmarks" section reports the last run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ptce_kg import queries  # noqa: E402
from ptce_kg.engine import RESULT_FORMATS, QueryJob, QueryPool, execute  # noqa: E402


def comparable() -> list:
    """The research queries a plain SPARQL store can answer (not those calling the project's text search)."""
    return [q for q in queries.all_queries() if "SERVICE" not in q.text.upper()]


def median_s(fn, reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
        if sum(times) > 5:  # a slow query: a few runs are enough
            break
    return statistics.median(times)


def guard(reps: int) -> dict:
    from ptce_kg import sparql_guard

    cold, warm = [], []
    for q in comparable():
        cold.append(median_s(lambda: sparql_guard.check_query(q.text), reps))
        sparql_guard.check_query_cached(q.text)
        warm.append(median_s(lambda: sparql_guard.cached_verdict(q.text), reps))
    return {"first_reading_us": statistics.median(cold) * 1e6, "cached_us": statistics.median(warm) * 1e6}


def results(store, reps: int) -> list[dict]:
    rows = []
    for q in comparable():
        entry = {"query": q.name}
        for name in ("json", "xml"):
            fmt = RESULT_FORMATS[name][1]
            raw = median_s(lambda: store.query(q.text, use_default_graph_as_union=True).serialize(format=fmt), reps)
            ours = median_s(lambda: execute(store, QueryJob(q.text, results_format=name)), reps)
            entry[name] = (ours, raw)
        rows.append(entry)
    return rows


async def _pool_and_app(store_path: Path, store, reps: int) -> dict:
    import httpx

    from api.app import create_app
    from ptce_kg.config import settings as load_settings

    job = QueryJob("ASK {}")
    in_process = median_s(lambda: execute(store, job), reps * 10)
    pool = QueryPool(str(store_path), size=2, timeout_s=30, memory_mb=1024)
    await pool.start()
    try:
        await pool.run(job)
        times = []
        for _ in range(reps * 10):
            started = time.perf_counter()
            await pool.run(job)
            times.append(time.perf_counter() - started)
        through_pool = statistics.median(times)
    finally:
        pool.close()
    import dataclasses

    app = create_app(dataclasses.replace(load_settings(), store=str(store_path)))
    times = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            for i in range(reps * 10 + 1):
                started = time.perf_counter()
                response = await client.get("/sparql", params={"query": "ASK {}"},
                                            headers={"Accept": "application/sparql-results+json"})
                if i:
                    times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
    return {"in_process_us": in_process * 1e6, "pool_us": through_pool * 1e6,
            "app_us": statistics.median(times) * 1e6}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.request_path")
    parser.add_argument("--store", default=None, help="a built store (default: the configured one)")
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args(argv)
    from ptce_kg.config import settings as load_settings
    from ptce_kg.store import StoreRoot

    store_path = Path(args.store or load_settings().store)
    store = StoreRoot(store_path).open_read()
    g = guard(args.reps)
    print(f"guard: first reading {g['first_reading_us']:.0f} µs (median over the research queries), "
          f"cached verdict {g['cached_us']:.1f} µs")
    rows = results(store, args.reps)
    print("\n| query | execute() JSON (ms) | pyoxigraph JSON (ms) | ratio | execute() XML (ms) | pyoxigraph XML (ms) | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        (oj, rj), (ox, rx) = r["json"], r["xml"]
        print(f"| {r['query']} | {oj * 1000:.2f} | {rj * 1000:.2f} | {oj / rj:.2f} | {ox * 1000:.2f} | "
              f"{rx * 1000:.2f} | {ox / rx:.2f} |")
    ratios = [r["json"][0] / r["json"][1] for r in rows]
    print(f"\nexecute() / pyoxigraph, SPARQL JSON: median {statistics.median(ratios):.2f}×")
    p = asyncio.run(_pool_and_app(store_path, store, args.reps))
    print(f"ASK {{}}: in process {p['in_process_us']:.0f} µs, through the worker pool {p['pool_us']:.0f} µs "
          f"(hand-off {p['pool_us'] - p['in_process_us']:.0f} µs), through the ASGI app {p['app_us']:.0f} µs "
          f"(app {p['app_us'] - p['pool_us']:.0f} µs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
