"""`python -m bench [--scales 1,10] [--out bench/reports/report.md]`: speed and memory, side by side.

Every figure is measured in the same run as its reference and reported as a ratio:
  build          `ptce-kg build` (sources -> store, checks)   vs  raw pyoxigraph bulk load of the same quads
  SPARQL         each queries/ file through the HTTP endpoint vs  in-process pyoxigraph, and rdflib's engine
  throughput     1, 8 and 32 concurrent clients on loopback
  eligibility    one article 9 check (shapes parsed once), and the whole-graph validation
  export         dumps per format (gzip)                      vs  pyoxigraph's own serialisation
  memory         the server's peak resident memory at each scale
  peers          ptce-kg beside Oxigraph server (every scale) and rdflib-endpoint (1×) over HTTP, same dump
                 and queries (bench/peers.py: its summary is the first section of report.md, the rest peers.md)
  conditional    a conditional GET (If-None-Match) of an unchanged answer: 304 p50, beside the same GET on
                 Oxigraph server (bench/conditional.py, conditional.md)
  SHACL engines  pyshacl-turbo and pyrudof beside pySHACL on shapes/ (bench/shacl.py, shacl.md)
Targets are tracked in the report, never asserted by the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pyoxigraph

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conftest import start_server  # noqa: E402  (the tests' way of starting `ptce-kg serve`)
from ptce_kg import queries  # noqa: E402

from bench.peers import peak_mb as server_peak_mb  # noqa: E402  (server and its query workers, VmHWM summed)

TARGETS = {
    "http_overhead": 1.3,  # HTTP p50 / in-process p50 on cheap queries
    "rdflib_speedup": 20.0,  # rdflib / HTTP on join-heavy queries
    "build_ratio": 2.0,  # ptce-kg build / raw bulk load
    "check_p95_ms": 100.0,
    "server_mem_mb_10x": 1024.0,
}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def run_child(code: str, timeout: float = 900) -> dict:
    """Run measuring code in a fresh interpreter; it prints one JSON line (with its own peak memory)."""
    # VmHWM, not ru_maxrss: Linux carries the parent's ru_maxrss over fork + exec into the child.
    wrapped = code + ("\nimport re as _re, json as _j\n_result['peak_mb'] = int(_re.search(r'VmHWM:\\s+(\\d+) kB', "
                      "open('/proc/self/status').read()).group(1)) / 1024\nprint(_j.dumps(_result))\n")
    out = subprocess.run([sys.executable, "-c", wrapped], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- measurements ---------------------------------------------------------------------------------

def bench_build(work: Path) -> dict:
    built = run_child(f"""
import time
from cli import build  # every declared source (the composition root)
t = time.perf_counter()
summary = build({str(work / 'store')!r}, progress=lambda m: None, with_dumps=False)
_result = {{'seconds': time.perf_counter() - t, 'triples': summary['triples']}}
""")
    from ptce_kg.store import StoreRoot

    store = StoreRoot(work / "store").open_read()
    nq = work / "all.nq"
    with open(nq, "wb") as handle:
        pyoxigraph.serialize(store.quads_for_pattern(None, None, None, None), handle, format=pyoxigraph.RdfFormat.N_QUADS)
    raw = run_child(f"""
import time, pyoxigraph
t = time.perf_counter()
s = pyoxigraph.Store({str(work / 'raw')!r})
s.bulk_load(path={str(nq)!r}, format=pyoxigraph.RdfFormat.N_QUADS)
s.flush()
_result = {{'seconds': time.perf_counter() - t}}
""")
    return {"build": built, "raw": raw, "ratio": built["seconds"] / raw["seconds"]}


def bench_sirene(work: Path, rows: int) -> dict:
    """SIRENE ingest of a synthetic stock vs a plain csv.DictReader pass over the same two files."""
    from bench.sirene_synthetic import generate

    folder = work / "sirene"
    folder.mkdir()
    generate(folder, rows, ess_share=0.1, bad_share=0.0005)
    fixtures = ROOT / "ingest" / "territories" / "fixtures"
    ours = run_child(f"""
import time
from pathlib import Path
from ingest.base import BuildContext
from ingest.sirene import SireneSource
from ingest.territories import TerritoriesSource
from ptce_kg.rdf import TripleSink, graph
ctx = BuildContext(report_dir=Path({str(folder)!r}))
TerritoriesSource(Path({str(fixtures)!r})).load(TripleSink(graph('t'), lambda q: None), ctx)
sink = TripleSink(graph('sirene'), lambda quads: None)
t = time.perf_counter()
SireneSource({str(folder)!r}, max_reject_rate=1.0).load(sink, ctx)
_result = {{'seconds': time.perf_counter() - t, 'triples': sink.count}}
""")
    raw = run_child(f"""
import csv, time
from pathlib import Path
t = time.perf_counter()
n = 0
for f in sorted(Path({str(folder)!r}).glob('Stock*.csv')):
    with open(f, encoding='utf-8', newline='') as h:
        for row in csv.DictReader(h):
            n += 1
_result = {{'seconds': time.perf_counter() - t, 'rows': n}}
""")
    return {"rows": rows, "ours": ours, "raw": raw, "ratio": ours["seconds"] / raw["seconds"]}


def timed(fn, reps: int) -> list[float]:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


JOIN_HEAVY = 8  # triple patterns (property paths count one) from which a query is called join-heavy


def triple_patterns(text: str) -> int:
    """How many triple patterns the query joins, counted in its SPARQL algebra (rdflib's parser)."""
    from rdflib.plugins.sparql import prepareQuery
    from rdflib.plugins.sparql.parserutils import CompValue

    def count(node) -> int:
        if isinstance(node, CompValue):
            return (len(node.triples) if node.name == "BGP" else 0) + sum(count(v) for v in node.values())
        if isinstance(node, (list, tuple)):
            return sum(count(v) for v in node)
        return 0
    return count(prepareQuery(text).algebra)


def bench_queries(store_path: Path, server: str, reps: int) -> list[dict]:
    from ptce_kg.store import StoreRoot

    store = StoreRoot(store_path).open_read()
    from ptce_kg.search import expand_service, for_root  # in process, search blocks are answered here too

    index = for_root(StoreRoot(store_path))
    rows = []
    with httpx.Client(timeout=120) as client:
        for q in queries.all_queries():
            def local():
                list(store.query(expand_service(q.text, index), use_default_graph_as_union=True))

            def http():
                r = client.post(server + "/sparql", data={"query": q.text},
                                headers={"Accept": "application/sparql-results+json"})
                r.raise_for_status()
            local()
            http()  # warm caches on both sides
            lt, ht = timed(local, reps), timed(http, reps)
            rows.append({"query": q.name, "patterns": triple_patterns(q.text),
                         "local_p50": pct(lt, .5), "local_p95": pct(lt, .95),
                         "http_p50": pct(ht, .5), "http_p95": pct(ht, .95)})
    return rows


def bench_rdflib(nq: Path, timeout_s: int = 10) -> dict:
    """rdflib's in-memory engine (what rdflib-endpoint evaluates with), one run per query, bounded."""
    names = [q.name for q in queries.all_queries() if "ptce-kg/search>" not in q.text]  # our SERVICE: not rdflib's
    return run_child(f"""
import signal, time, rdflib
from ptce_kg import queries
t = time.perf_counter()
ds = rdflib.Dataset(default_union=True)
ds.parse({str(nq)!r}, format='nquads')
load = time.perf_counter() - t
class Timeout(Exception): pass
def alarm(*_): raise Timeout()
signal.signal(signal.SIGALRM, alarm)
times = {{}}
for q in queries.all_queries():
    if "ptce-kg/search>" in q.text:  # a text-search block: only ptce-kg's endpoint answers it (rdflib would fetch it)
        continue
    signal.alarm({timeout_s})
    t = time.perf_counter()
    try:
        list(ds.query(q.text))
        times[q.name] = time.perf_counter() - t
    except Timeout:
        times[q.name] = None
    except Exception as exc:  # rdflib's engine fails on some valid queries: report, go on
        times[q.name] = 'error: ' + type(exc).__name__
    finally:
        signal.alarm(0)
_result = {{'load_seconds': load, 'times': times}}
""", timeout=1800) | {"names": names, "timeout": timeout_s}


async def _clients(server: str, n: int, seconds: float) -> dict:
    texts = [q.text for q in queries.all_queries() if q.name not in ("ptce-sources",)]
    done, errors, latencies, statuses = 0, 0, [], {}
    deadline = time.monotonic() + seconds

    async def worker(i: int):
        # each client from its own loopback address, as distinct users are (bench/peers.py does the same):
        # from one address the per-client concurrency limit would answer 429 to all but a few of them
        nonlocal done, errors
        transport = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{2 + i}")
        async with httpx.AsyncClient(timeout=60, transport=transport) as client:
            k = i
            while time.monotonic() < deadline:
                t = time.perf_counter()
                r = await client.post(server + "/sparql", data={"query": texts[k % len(texts)]})
                latencies.append(time.perf_counter() - t)
                k += 1
                if r.status_code == 200:
                    done += 1
                else:
                    errors += 1
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    await asyncio.gather(*[worker(i) for i in range(n)])
    return {"clients": n, "requests_per_s": done / seconds, "errors": errors, "error_statuses": statuses,
            "p50": pct(latencies, .5), "p99": pct(latencies, .99)}


def bench_throughput(server: str, seconds: float) -> list[dict]:
    return [asyncio.run(_clients(server, n, seconds)) for n in (1, 8, 32)]


def bench_eligibility(store_path: Path, reps: int, with_validation: bool) -> dict:
    return run_child(f"""
import time
from ptce_kg.store import StoreRoot
from ptce_kg import candidate, eligibility
store = StoreRoot({str(store_path)!r}).open_read()
body = open('tests/fixtures/candidates/eligible.json', 'rb').read()
eligibility.shapes_graph(); eligibility.criteria()  # shapes parsed once
times = []
for _ in range({reps}):
    t = time.perf_counter()
    g = candidate.read(body, 'form', store)
    eligibility.evaluate(eligibility.complete_from_store(g, store))
    times.append(time.perf_counter() - t)
times.sort()
_result = {{'p50_ms': times[len(times)//2] * 1000, 'p95_ms': times[int(0.95 * (len(times) - 1))] * 1000}}
if {with_validation}:
    from ptce_kg.validate import validate
    t = time.perf_counter()
    summary = validate(store)
    _result['validation_seconds'] = time.perf_counter() - t
    _result['validation_triples'] = summary.triples
""", timeout=1800)


def bench_export(store_path: Path, work: Path) -> list[dict]:
    from ptce_kg.export import FORMATS, _write
    from ptce_kg.store import StoreRoot

    store = StoreRoot(store_path).open_read()
    quads = list(store.quads_for_pattern(None, None, None, None))
    triples = list(dict.fromkeys(q.triple for q in quads))
    rows = []
    for key, (fmt, _, suffix, keep) in FORMATS.items():
        items = quads if keep else triples
        t = time.perf_counter()
        _write(work / f"bench.{suffix}.gz", items, fmt)
        ours = time.perf_counter() - t
        t = time.perf_counter()
        with open(os.devnull, "wb") as sink:
            pyoxigraph.serialize(items, sink, format=fmt)
        raw = time.perf_counter() - t
        rows.append({"format": key, "ours": ours, "raw": raw, "ratio": ours / raw})
    return rows


_SYNTHETIC: dict[tuple[str, int], Path] = {}


def synthetic_store(source_store: Path, work: Path, factor: int) -> Path:
    """A published store holding `factor` replicas of the real graph; made once per run (the peers run reuses
    the one `python -m bench` made for its own tables: same quads, minutes saved)."""
    from bench.synthetic import build_store
    from ptce_kg.store import StoreRoot

    key = (str(Path(source_store).resolve()), factor)
    if key in _SYNTHETIC and _SYNTHETIC[key].exists():
        return _SYNTHETIC[key]

    quads = list(StoreRoot(source_store).open_read().quads_for_pattern(None, None, None, None))
    root = StoreRoot(work / f"store-{factor}x")
    build_dir = root.new_build_dir()
    store = build_store(str(build_dir), quads, factor)
    del store
    root.publish(build_dir)
    _SYNTHETIC[key] = root.path
    return root.path


# -- report ---------------------------------------------------------------------------------------

def ms(x: float | None) -> str:
    return "—" if x is None else f"{x * 1000:.1f}"


def write_report(path: Path, results: dict) -> None:
    lines = ["# ptce-kg benchmark", "",
             f"Run {results['date']} on {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
             f"pyoxigraph {pyoxigraph.__version__}. Medians and 95th percentiles; every ratio is measured in "
             "the same run as its reference.", ""]
    p = results.get("peers")
    if p:
        from bench import peers

        lines += ["Beside the servers a user would pick instead (`bench/peers.py`, same run; every query and "
                  "run in `peers.md`): Oxigraph server on a store loaded from the build's own N-Quads dump, "
                  "rdflib-endpoint at 1×, same queries, answers compared. ptce-kg's answer cache is off but in "
                  "the repeated-query mix.", ""]
        lines += peers.summary(p) + [""]
    b = results.get("build")
    if b:
        ok = b["ratio"] <= TARGETS["build_ratio"]
        lines += ["## Build (1×)", "",
                  "| step | seconds | peak MB |", "|---|---:|---:|",
                  f"| `ptce-kg build` (sources, checks; no dumps) | {b['build']['seconds']:.1f} | {b['build']['peak_mb']:.0f} |",
                  f"| raw pyoxigraph `bulk_load` of the same {b['build']['triples']:,} quads | {b['raw']['seconds']:.1f} | {b['raw']['peak_mb']:.0f} |",
                  "", f"Ratio **{b['ratio']:.2f}×** (target ≤ {TARGETS['build_ratio']}×: {'met' if ok else 'missed'})."
                  + ("" if ok else " The build reads and maps the JSON and CSV sources in Python, runs the checks "
                     "and VoID statistics; the raw load only parses N-Quads in Rust."), ""]
    sr = results.get("sirene")
    if sr:
        lines += [f"## SIRENE ingest ({sr['rows']:,} synthetic units + their establishments)", "",
                  "| step | seconds | rows/s | peak MB |", "|---|---:|---:|---:|",
                  f"| `SireneSource` (streamed, checked, mapped; {sr['ours']['triples']:,} triples) "
                  f"| {sr['ours']['seconds']:.1f} | {sr['raw']['rows'] / sr['ours']['seconds']:,.0f} "
                  f"| {sr['ours']['peak_mb']:.0f} |",
                  f"| reference: `csv.DictReader` over the same files | {sr['raw']['seconds']:.1f} "
                  f"| {sr['raw']['rows'] / sr['raw']['seconds']:,.0f} | {sr['raw']['peak_mb']:.0f} |",
                  "", f"Ratio **{sr['ratio']:.2f}×** the bare CSV pass: the rest is the Luhn checks and the "
                  "mapping of the ESS units kept (one in ten here). Memory grows with the units kept, not the file.", ""]
    for scale in results["scales"]:
        s = results["by_scale"][scale]
        lines += [f"## SPARQL at {scale}× ({s['triples']:,} quads)", "",
                  "| query | patterns | in-process p50 ms | HTTP p50 ms | HTTP p95 ms | HTTP / in-process | rdflib ms "
                  "| rdflib / HTTP |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        rd = s.get("rdflib", {}).get("times", {})
        for row in s["queries"]:
            ratio = row["http_p50"] / row["local_p50"] if row["local_p50"] else 0
            r = rd.get(row["query"], "n/a") if rd else "n/a"
            if isinstance(r, str):
                rtext, speed = r, "—"
            else:
                rtext = f"> {s['rdflib']['timeout'] * 1000:.0f}" if r is None else ms(r)
                speed = "—" if r is None else f"{r / row['http_p50']:.1f}×"
            if r is None:
                speed = f"> {s['rdflib']['timeout'] / row['http_p50']:.0f}×"
            lines.append(f"| {row['query']} | {row.get('patterns', '')} | {ms(row['local_p50'])} | {ms(row['http_p50'])} | {ms(row['http_p95'])} "
                         f"| {ratio:.2f}× | {rtext} | {speed} |")
        cheap = [r for r in s["queries"] if r["local_p50"] < 0.005]
        if cheap:
            overhead = statistics.median(r["http_p50"] / r["local_p50"] for r in cheap)
            absolute = statistics.median(r["http_p50"] - r["local_p50"] for r in cheap)
            lines += ["", f"HTTP overhead on cheap queries (in-process < 5 ms): median **{overhead:.2f}×**, "
                          f"{absolute * 1000:.1f} ms absolute (target ≤ {TARGETS['http_overhead']}×: "
                          f"{'met' if overhead <= TARGETS['http_overhead'] else 'missed'}). On sub-millisecond "
                          "queries the fixed cost of HTTP, the SPARQL guard and the hand-off to a worker process "
                          "(which is what makes the timeout real) dominates; it is a few milliseconds, not a factor "
                          "of the query's work."]
        heavy = [(r, rd.get(r["query"])) for r in s["queries"] if r.get("patterns", 0) >= JOIN_HEAVY] if rd else []
        heavy = [(r, t) for r, t in heavy if not isinstance(t, str)]  # rdflib errors are not a speed
        if heavy:
            cap = s["rdflib"]["timeout"]
            engine = statistics.median((t or cap) / r["local_p50"] for r, t in heavy)
            http = statistics.median((t or cap) / r["http_p50"] for r, t in heavy)
            met = engine >= TARGETS["rdflib_speedup"]
            lines += ["", f"Join-heavy queries ({JOIN_HEAVY} triple patterns or more in their algebra: "
                          f"{', '.join(r['query'] for r, _ in heavy)}): rdflib's engine is **{engine:.1f}×** slower "
                          f"than pyoxigraph in-process (median; engine against engine, the target's terms, "
                          f"≥ {TARGETS['rdflib_speedup']:.0f}×: {'met' if met else 'missed'}), and {http:.1f}× slower "
                          "than ptce-kg's HTTP endpoint (a timed-out rdflib query counts as the timeout: a lower bound)."
                          + ("" if met else " The gap grows with the data a query touches: on the registry-only "
                             "queries rdflib joins a few thousand triples about as fast as it parses the query.")]
        if rd:
            lines += ["", f"rdflib loaded the graph in {s['rdflib']['load_seconds']:.0f} s "
                          f"(peak {s['rdflib']['peak_mb']:.0f} MB); queries stopped after {s['rdflib']['timeout']} s show “>”."]
        lines += ["", "Throughput (`queries/` mix, loopback):", "",
                  "| clients | requests/s | p50 ms | p99 ms | errors |", "|---:|---:|---:|---:|---:|"]
        for t in s["throughput"]:
            lines.append(f"| {t['clients']} | {t['requests_per_s']:.1f} | {ms(t['p50'])} | {ms(t['p99'])} | {t['errors']} |")
        mem_ok = scale != 10 or s["server_peak_mb"] <= TARGETS["server_mem_mb_10x"]
        lines += ["", f"Server peak memory (uvicorn + query workers): **{s['server_peak_mb']:.0f} MB**"
                      + (f" (target at 10× ≤ {TARGETS['server_mem_mb_10x']:.0f} MB: {'met' if mem_ok else 'missed'})"
                         if scale == 10 else "") + ".", ""]
    e = results.get("eligibility")
    if e:
        ok = e["p95_ms"] <= TARGETS["check_p95_ms"]
        lines += ["## Eligibility (1×)", "",
                  f"One article 9 check (form → RDF → completed from the store → pySHACL → verdicts), shapes parsed "
                  f"once: p50 **{e['p50_ms']:.0f} ms**, p95 **{e['p95_ms']:.0f} ms** (target p95 ≤ "
                  f"{TARGETS['check_p95_ms']:.0f} ms: {'met' if ok else 'missed'})."
                  + ("" if ok else " Most of it is pySHACL evaluating 17 SPARQL-based shapes with rdflib's engine."), ""]
        if "validation_seconds" in e:
            lines += [f"Whole-graph validation (`ptce-kg validate`, {e['validation_triples']:,} triples): "
                      f"**{e['validation_seconds']:.0f} s**, peak {e['peak_mb']:.0f} MB.", ""]
    x = results.get("export")
    if x:
        lines += ["## Export (1×)", "", "| format | ptce-kg (gzip) s | pyoxigraph serialise s | ratio |",
                  "|---|---:|---:|---:|"]
        for row in x:
            lines.append(f"| {row['format']} | {row['ours']:.2f} | {row['raw']:.2f} | {row['ratio']:.1f}× |")
        lines += ["", "The difference is gzip (Python's zlib, level 6) on top of pyoxigraph's serialisation.", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (path.with_suffix(".json")).write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--scales", default="1,10", help="comma-separated factors (1 = the real graph)")
    parser.add_argument("--scale", type=int, help="shorthand for --scales 1,N (the real graph and N×)")
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each throughput run")
    parser.add_argument("--no-rdflib", action="store_true", help="skip rdflib's engine and rdflib-endpoint")
    parser.add_argument("--peer-reps", type=int, default=20, help="runs per query beside Oxigraph server")
    parser.add_argument("--sirene-rows", type=int, default=200_000, help="synthetic SIRENE units (0: skip)")
    parser.add_argument("--no-validation", action="store_true")
    parser.add_argument("--no-peers", action="store_true", help="skip the side-by-side run with Oxigraph server")
    parser.add_argument("--out", default=str(ROOT / "bench" / "reports" / "report.md"))
    args = parser.parse_args(argv)
    if args.scale:
        args.scales = "1" if args.scale == 1 else f"1,{args.scale}"
    scales = [int(s) for s in args.scales.split(",")]
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "scales": scales, "by_scale": {}}
    with tempfile.TemporaryDirectory(prefix="ptce-kg-bench-") as tmp:
        work = Path(tmp)
        print("[bench] build…", flush=True)
        results["build"] = bench_build(work)
        if args.sirene_rows:
            print("[bench] SIRENE…", flush=True)
            results["sirene"] = bench_sirene(work, args.sirene_rows)
        store1 = work / "store"
        for scale in scales:
            store = store1 if scale == 1 else synthetic_store(store1, work, scale)
            print(f"[bench] SPARQL at {scale}×…", flush=True)
            # One machine plays every client: lift the per-client limits meant for the public. The answer
            # cache off: every query is repeated, and the cache would answer it without evaluating it.
            process, server = start_server(store, PTCE_KG_QUERY_TIMEOUT=120, PTCE_KG_MAX_ROWS=100000,
                                           PTCE_KG_CLIENT_CONCURRENCY=1000, PTCE_KG_CLIENT_BUDGET=1e9,
                                           PTCE_KG_ANSWER_CACHE_BYTES=0)
            try:
                from ptce_kg.store import StoreRoot

                n = sum(1 for _ in StoreRoot(store).open_read().quads_for_pattern(None, None, None, None))
                entry = {"triples": n, "queries": bench_queries(store, server, args.reps),
                         "throughput": bench_throughput(server, args.seconds)}
                entry["server_peak_mb"] = server_peak_mb(process.pid)
            finally:
                process.terminate()
                process.wait(timeout=30)
            if scale == 1 and not args.no_rdflib:
                print("[bench] rdflib…", flush=True)
                entry["rdflib"] = bench_rdflib(work / "all.nq")
            results["by_scale"][scale] = entry
        if not args.no_peers:
            print("[bench] beside Oxigraph server (bench/peers.py)…", flush=True)
            from bench import peers

            # rdflib-endpoint at 1×, Oxigraph server at every scale (synthetic graphs built anew there)
            peers_out = Path(args.out).with_name("peers.md")
            # At the larger scales some queries take seconds: runs of 60 s, and a timeout that caps neither p99
            # (bench/reports/peers-p99.md: with 5 s runs and a 120 s timeout the p99 growth was not a measure).
            peers.main(["--store", str(store1), "--seconds", str(args.seconds), "--scales", args.scales,
                        "--scaled-seconds", "60", "--timeout-s", "900",
                        "--reps", str(args.peer_reps), "--work", str(work), "--out", str(peers_out)]
                       + (["--no-rdflib-endpoint"] if args.no_rdflib else []))
            results["peers"] = json.loads(peers_out.with_suffix(".json").read_text(encoding="utf-8"))
            print("[bench] conditional GET beside Oxigraph server (bench/conditional.py)…", flush=True)
            from bench import conditional

            conditional.main(["--store", str(store1), "--out", str(Path(args.out).with_name("conditional.md"))])
        print("[bench] text search (bench/search.py)…", flush=True)
        from bench import search as search_bench

        search_bench.main(["--store", str(store1), "--out", str(Path(args.out).with_name("search.md"))])
        print("[bench] eligibility…", flush=True)
        results["eligibility"] = bench_eligibility(store1, 30, not args.no_validation)
        print("[bench] SHACL engines beside pySHACL (bench/shacl.py)…", flush=True)
        from bench import shacl as shacl_bench

        shacl_bench.main(["--store", str(store1), "--out", str(Path(args.out).with_name("shacl.md"))])
        print("[bench] export…", flush=True)
        results["export"] = bench_export(store1, work)
    write_report(Path(args.out), results)
    print(f"[bench] report: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
