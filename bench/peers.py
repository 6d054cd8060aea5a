"""`python -m bench.peers [--store DIR] [--out bench/reports/peers.md]`: ptce-kg beside Oxigraph server.

The same graph (Oxigraph server gets a store loaded from the build's own N-Quads dump, served by
`oxigraph serve-read-only --union-default-graph`), the same research queries (queries/*.rq), the same
loopback HTTP client (stdlib http.client, keep-alive, one connection per client thread):

  latency      each query, sequentially: p50/p95 over HTTP on both servers, and in-process pyoxigraph
               (query + SPARQL JSON serialisation) as the floor
  answers      row count and a digest of the sorted rows, checked equal on both servers
  throughput   the query mix from 1, 8 and 32 clients for a few seconds each

Every ratio has its reference from the same run (ptce-kg / Oxigraph server). Nothing here is asserted by
the tests; the README's "Benchmarks" section reports the last run.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pyoxigraph

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conftest import free_port, stop  # noqa: E402
from ptce_kg import queries  # noqa: E402

JSON_RESULTS = "application/sparql-results+json"
TARGET_MEDIAN_RATIO = 1.5
INTERACTIVE_S = 0.05  # in-process p50 under which a query is part of the interactive mix


def comparable() -> list:
    """The research queries both servers can answer: not those calling the project's own text-search
    SERVICE, which Oxigraph server does not have."""
    return [q for q in queries.all_queries() if "SERVICE" not in q.text.upper()]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


class Client:
    """One keep-alive HTTP/1.1 connection: POST a form-encoded query, read the whole answer."""

    def __init__(self, base: str, path: str, source: str | None = None):
        parts = urlsplit(base)
        self.host, self.port, self.path = parts.hostname, parts.port, path
        self.source = (source, 0) if source else None
        self.conn = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=300, source_address=self.source)

    def query(self, text: str, accept: str = JSON_RESULTS) -> tuple[int, bytes]:
        body = urlencode({"query": text})
        for attempt in (0, 1):
            try:
                self.conn.request("POST", self.path, body=body, headers={
                    "Content-Type": "application/x-www-form-urlencoded", "Accept": accept})
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = self._connect()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def digest(body: bytes) -> tuple[int, str]:
    """Rows and a digest of the sorted rows of a SPARQL JSON answer (blank node labels left out)."""
    data = json.loads(body)
    if "boolean" in data:
        return 1, str(data["boolean"])
    rows = []
    for binding in data["results"]["bindings"]:
        row = []
        for var in sorted(binding):
            term = binding[var]
            value = "_:" if term["type"] == "bnode" else term["value"]
            row.append((var, term["type"].replace("typed-literal", "literal"), value,
                        term.get("xml:lang", ""), term.get("datatype", "")))
        rows.append(repr(row))
    return len(rows), hashlib.sha256("\n".join(sorted(rows)).encode()).hexdigest()[:16]


# -- the peers ------------------------------------------------------------------------------------

def oxigraph_binary() -> str:
    binary = shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or shutil.which("oxigraph")
    if binary is None:
        raise SystemExit("the `oxigraph` server is not installed (pip install oxigraph)")
    return binary


def start_oxigraph(store: Path, work: Path) -> tuple[subprocess.Popen, str]:
    """`oxigraph serve-read-only` on a store loaded from the published build's N-Quads dump."""
    from ptce_kg.store import StoreRoot

    build = StoreRoot(store).current_name()
    dump = store / "dumps" / build / "all.nq.gz"
    nq = work / "all.nq"
    with gzip.open(dump, "rb") as src, open(nq, "wb") as dst:
        shutil.copyfileobj(src, dst)
    location = work / "oxigraph"
    binary = oxigraph_binary()
    subprocess.run([binary, "load", "--location", str(location), "--file", str(nq)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run([binary, "optimize", "--location", str(location)], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = free_port()
    process = subprocess.Popen([binary, "serve-read-only", "--location", str(location), "--bind",
                                f"127.0.0.1:{port}", "--union-default-graph", "--timeout-s", "120"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            status, _ = Client(base, "/query").query("ASK {}")
            if status == 200:
                return process, base
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("oxigraph server did not start")


def start_ptce_kg(store: Path, root: Path = ROOT) -> tuple[subprocess.Popen, str]:
    # The default settings, but the per-client query-time budget (one machine plays every client for
    # minutes): the timeout, the row cap, the guard and the per-client concurrency stay on.
    # Started as a user would (`ptce-kg serve`), without the tests' connection-auditing sitecustomize.
    env = {**os.environ, "PTCE_KG_STORE": str(store), "PTCE_KG_CLIENT_BUDGET": "1e9"}
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix=f"ptce-kg-peers-{port}-", suffix=".log", delete=False)
    process = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port),
                                "--log-level", "warning"], cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(Path(log.name).read_text(errors="replace")[-3000:])
        try:
            if Client(base, "/sparql").query("ASK {}")[0] == 200:
                return process, base
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("ptce-kg serve did not start")


# -- measurements ---------------------------------------------------------------------------------

def latency(store: Path, servers: dict[str, tuple[str, str]], reps: int) -> list[dict]:
    from ptce_kg.store import StoreRoot

    local = StoreRoot(store).open_read()
    clients = {name: Client(base, path) for name, (base, path) in servers.items()}
    rows = []
    probes = [("ask-empty", "ASK {}")] + [(q.name, q.text) for q in comparable()]
    for name, text in probes:
        entry: dict = {"query": name}

        def in_process():
            result = local.query(text, use_default_graph_as_union=True)
            return result.serialize(format=pyoxigraph.QueryResultsFormat.JSON)
        started = time.perf_counter()
        in_process()
        slow = time.perf_counter() - started > 0.5
        times = []
        for _ in range(min(reps, 3) if slow else reps):
            t = time.perf_counter()
            in_process()
            times.append(time.perf_counter() - t)
        entry["in_process_p50"] = pct(times, .5)
        for server, client in clients.items():
            started = time.perf_counter()
            status, body = client.query(text)  # warm-up, and the answer compared
            slow = time.perf_counter() - started > 0.5
            entry[f"{server}_status"] = status
            entry[f"{server}_answer"] = digest(body) if status == 200 else None
            times = []
            for _ in range(min(reps, 3) if slow else reps):  # a slow query: a few runs are enough
                t = time.perf_counter()
                client.query(text)
                times.append(time.perf_counter() - t)
            entry[f"{server}_p50"], entry[f"{server}_p95"] = pct(times, .5), pct(times, .95)
        entry["same_answer"] = len({repr(entry[f"{s}_answer"]) for s in clients}) == 1
        rows.append(entry)
    for client in clients.values():
        client.close()
    return rows


def throughput(base: str, path: str, texts: list[str], clients: int, seconds: float) -> dict:
    done, errors, latencies = [0], [0], []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(i: int):
        # Each client from its own loopback address, as distinct users are: the per-client limits count
        # addresses (the default lets one address hold fewer queries at once than there are workers).
        client = Client(base, path, source=f"127.0.{1 + i // 250}.{2 + i % 250}")
        k = i
        mine = []
        ok = bad = 0
        while time.monotonic() < deadline:
            t = time.perf_counter()
            status, _ = client.query(texts[k % len(texts)])
            mine.append(time.perf_counter() - t)
            k += 1
            if status == 200:
                ok += 1
            else:
                bad += 1
        client.close()
        with lock:
            done[0] += ok
            errors[0] += bad
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return {"clients": clients, "requests_per_s": done[0] / elapsed, "errors": errors[0],
            "p50": pct(latencies, .5), "p99": pct(latencies, .99)}


def ms(x: float | None) -> str:
    return "–" if x is None else f"{x * 1000:.2f}"


def report(path: Path, results: dict) -> str:
    lat = results["latency"]
    research = [r for r in lat if r["query"] != "ask-empty"]
    ratios = [r["ptce_kg_p50"] / r["oxigraph_p50"] for r in research]
    lines = [f"# ptce-kg beside Oxigraph server ({results['date']})", "",
             f"Graph: {results['quads']:,} quads; {results['reps']} runs per query; ptce-kg with "
             f"{results['workers']} query workers; both on loopback, same client (stdlib http.client, keep-alive).", "",
             "## Ratios ptce-kg / Oxigraph server", "",
             "| measure | ptce-kg | Oxigraph server | ratio | target |", "|---|---:|---:|---:|---:|",
             f"| median over the research queries of the p50 ratio | | | {statistics.median(ratios):.2f}× | "
             f"≤ {TARGET_MEDIAN_RATIO}× |",
             f"| range of the p50 ratios | | | {min(ratios):.2f}–{max(ratios):.2f}× | |"]
    ask = next(r for r in lat if r["query"] == "ask-empty")
    lines.append(f"| `ASK {{}}` p50 (ms) | {ms(ask['ptce_kg_p50'])} | {ms(ask['oxigraph_p50'])} | "
                 f"{ask['ptce_kg_p50'] / ask['oxigraph_p50']:.2f}× | |")
    for ours, theirs in zip(results["throughput"]["ptce_kg"], results["throughput"]["oxigraph"]):
        lines.append(f"| throughput, {ours.get('mix', 'all')} queries, {ours['clients']} clients (req/s) | "
                     f"{ours['requests_per_s']:.0f} | "
                     f"{theirs['requests_per_s']:.0f} | {ours['requests_per_s'] / theirs['requests_per_s']:.2f} | ≥ 0.6 |")
    lines += ["", "## Per query (ms)", "",
              "| query | in-process p50 | ptce-kg p50 | ptce-kg p95 | Oxigraph p50 | Oxigraph p95 | ratio p50 | rows | same answer |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in lat:
        answer = r["ptce_kg_answer"]
        lines.append(f"| {r['query']} | {ms(r['in_process_p50'])} | {ms(r['ptce_kg_p50'])} | {ms(r['ptce_kg_p95'])} | "
                     f"{ms(r['oxigraph_p50'])} | {ms(r['oxigraph_p95'])} | {r['ptce_kg_p50'] / r['oxigraph_p50']:.2f}× | "
                     f"{answer[0] if answer else r['ptce_kg_status']} | {'yes' if r['same_answer'] else '**no**'} |")
    lines += ["", "## Throughput (query mixes: all research queries; the interactive ones, under "
              f"{INTERACTIVE_S * 1000:.0f} ms in process)", "",
              "| server | mix | clients | req/s | p50 (ms) | p99 (ms) | errors |", "|---|---|---:|---:|---:|---:|---:|"]
    for server, runs in results["throughput"].items():
        for t in runs:
            lines.append(f"| {server} | {t.get('mix', 'all')} | {t['clients']} | {t['requests_per_s']:.0f} | "
                         f"{ms(t['p50'])} | {ms(t['p99'])} | {t['errors']} |")
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.with_suffix(".json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers")
    parser.add_argument("--store", help="a built store (default: build one in a temporary folder)")
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each throughput run")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--out", default=str(ROOT / "bench" / "reports" / "peers.md"))
    parser.add_argument("--root", default=str(ROOT),
                        help="the checkout whose `ptce-kg serve` is measured (e.g. an older commit, for before/after)")
    args = parser.parse_args(argv)
    from ptce_kg.config import settings as load_settings
    from ptce_kg.store import StoreRoot

    with tempfile.TemporaryDirectory(prefix="ptce-kg-peers-") as tmp:
        work = Path(tmp)
        store = Path(args.store) if args.store else work / "store"
        if not args.store:
            print("[peers] build…", flush=True)
            subprocess.run([sys.executable, "-m", "cli", "build", "--store", str(store)], cwd=ROOT,
                           check=True, stdout=subprocess.DEVNULL)
        quads = sum(1 for _ in StoreRoot(store).open_read().quads_for_pattern(None, None, None, None))
        print("[peers] Oxigraph server…", flush=True)
        oxi_process, oxi_base = start_oxigraph(store, work)
        ours_process = None
        try:
            ours_process, ours_base = start_ptce_kg(store, Path(args.root))
            servers = {"ptce_kg": (ours_base, "/sparql"), "oxigraph": (oxi_base, "/query")}
            print("[peers] latency…", flush=True)
            lat = latency(store, servers, args.reps)
            # Two mixes: every research query, and the interactive ones (under 50 ms in process), where the
            # request path rather than evaluation sets the pace.
            fast = {r["query"] for r in lat if r["in_process_p50"] < INTERACTIVE_S}
            mixes = {"all": [q.text for q in comparable()],
                     "interactive": [q.text for q in comparable() if q.name in fast]}
            runs: dict = {"ptce_kg": [], "oxigraph": []}
            for mix, texts in mixes.items():
                for n in [int(c) for c in args.clients.split(",")]:
                    for server, (base, path) in servers.items():
                        print(f"[peers] throughput {server}, {mix} queries × {n}…", flush=True)
                        runs[server].append(throughput(base, path, texts, n, args.seconds) | {"mix": mix})
        finally:
            if ours_process is not None:
                stop(ours_process)
            stop(oxi_process)
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "quads": quads, "reps": args.reps,
               "workers": int(os.environ.get("PTCE_KG_WORKERS", load_settings().workers)),
               "latency": lat, "throughput": runs}
    print(report(Path(args.out), results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
