"""`python -m bench.peers [--store DIR] [--scales 1,10] [--out bench/reports/peers.md]`: ptce-kg beside its peers.

The same graph (Oxigraph server gets a store loaded from the build's own N-Quads dump, served by
`oxigraph serve-read-only --union-default-graph`; rdflib-endpoint, in its own venv `.venv-rdflib-endpoint`,
loads the same N-Quads into rdflib's in-memory Dataset), the same research queries (queries/*.rq), the same
loopback HTTP client (stdlib http.client, keep-alive, one connection per client thread):

  latency      each query, sequentially: p50/p95 over HTTP on both servers, and in-process pyoxigraph
               (query + SPARQL JSON serialisation) as the floor
  answers      row count and a digest of the sorted rows, checked equal on both servers
  throughput   the query mix from 1, 8 and 32 clients for a few seconds each
  memory       each server's peak resident memory (VmHWM, with its child processes)
  scale        at N× (`--scales 1,10`: synthetic graphs of the same shape, bench/synthetic.py) the same
               ratios against Oxigraph server, and the growth of p99 at 32 clients from 1× to N×

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
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
TARGET_MEDIAN_RATIO = 1.5
TARGET_RDFLIB_SPEEDUP = 5.0  # rdflib-endpoint p50 / ptce-kg p50, median over the research queries
RDFLIB_TIMEOUT_S = 20.0  # a query rdflib-endpoint has not answered by then is reported as "> 20 s"
RDFLIB_VENV = ROOT / ".venv-rdflib-endpoint"
RDFLIB_PATH = "/"  # rdflib-endpoint serves SPARQL at its root
RDFLIB_FREE_WAIT_S = 60.0  # after a timeout, how long rdflib-endpoint gets to finish the query
RDFLIB_RESTART_MAX_S = 300.0  # then it is restarted if it loads in less than this, else the rest is left out
INTERACTIVE_S = 0.05  # in-process p50 under which a query is part of the interactive mix
REPEAT = 10  # the repeated-query mix: each research query this many times in a row
REPEATED = "repeated"  # its name in the throughput runs (ptce-kg with its answer cache on)
TARGET_JOIN_RATIO = 1.3  # join-heavy queries (bench.__main__.JOIN_HEAVY triple patterns or more)
TARGET_REPEATED_RATIO = 2.0  # throughput on the repeated mix, ptce-kg (cache on) / Oxigraph server
OXIGRAPH_TIMEOUT_S = 120  # both servers' query timeout in the run (--timeout-s)


def comparable() -> list:
    """The research queries both servers can answer: not those calling the project's own text-search
    SERVICE, which Oxigraph server does not have."""
    return [q for q in queries.all_queries() if "SERVICE" not in q.text.upper()]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


class Client:
    """One keep-alive HTTP/1.1 connection: POST a form-encoded query, read the whole answer."""

    def __init__(self, base: str, path: str, source: str | None = None, timeout: float = 300):
        parts = urlsplit(base)
        self.host, self.port, self.path = parts.hostname, parts.port, path
        self.source = (source, 0) if source else None
        self.timeout = timeout
        self.conn = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout, source_address=self.source)

    def query(self, text: str, accept: str = JSON_RESULTS) -> tuple[int, bytes]:
        body = urlencode({"query": text})
        for attempt in (0, 1):
            try:
                self.conn.request("POST", self.path, body=body, headers={
                    "Content-Type": "application/x-www-form-urlencoded", "Accept": accept})
                response = self.conn.getresponse()
                return response.status, response.read()
            except TimeoutError:
                self.conn.close()
                self.conn = self._connect()
                raise
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
            datatype = term.get("datatype", "")
            if datatype == XSD_STRING:  # RDF 1.1: a plain literal is an xsd:string, however it is written
                datatype = ""
            row.append((var, term["type"].replace("typed-literal", "literal"), value,
                        term.get("xml:lang", ""), datatype))
        rows.append(repr(row))
    return len(rows), hashlib.sha256("\n".join(sorted(rows)).encode()).hexdigest()[:16]


# -- the peers ------------------------------------------------------------------------------------

def oxigraph_binary() -> str:
    binary = shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or shutil.which("oxigraph")
    if binary is None:
        raise SystemExit("the `oxigraph` server is not installed (pip install oxigraph)")
    return binary


def nquads(store: Path, work: Path) -> Path:
    """The published build's N-Quads dump, unzipped (a synthetic store has none: its quads serialised)."""
    from ptce_kg.store import StoreRoot

    root = StoreRoot(store)
    dump = store / "dumps" / root.current_name() / "all.nq.gz"
    nq = work / f"all-{store.name}.nq"
    if nq.exists():
        return nq
    if dump.exists():
        with gzip.open(dump, "rb") as src, open(nq, "wb") as dst:
            shutil.copyfileobj(src, dst)
    else:
        with open(nq, "wb") as dst:
            pyoxigraph.serialize(root.open_read().quads_for_pattern(None, None, None, None), dst,
                                 format=pyoxigraph.RdfFormat.N_QUADS)
    return nq


def start_oxigraph(store: Path, work: Path, timeout_s: float = OXIGRAPH_TIMEOUT_S) -> tuple[subprocess.Popen, str]:
    """`oxigraph serve-read-only` on a store loaded from the published build's N-Quads dump."""
    nq = nquads(store, work)
    location = work / f"oxigraph-{store.name}"
    binary = oxigraph_binary()
    if not (location / ".ptce-kg-loaded").exists():  # a restart (after it was killed) reuses the loaded store
        subprocess.run([binary, "load", "--location", str(location), "--file", str(nq)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([binary, "optimize", "--location", str(location)], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        (location / ".ptce-kg-loaded").touch()
    port = free_port()
    process = subprocess.Popen([binary, "serve-read-only", "--location", str(location), "--bind",
                                f"127.0.0.1:{port}", "--union-default-graph", "--timeout-s", f"{timeout_s:g}"],
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


def rdflib_endpoint_binary(venv: Path = RDFLIB_VENV) -> Path | None:
    binary = venv / "bin" / "rdflib-endpoint"
    return binary if binary.exists() else None


def start_rdflib_endpoint(nq: Path, binary: Path, load_timeout: float = 900) -> tuple[subprocess.Popen, str, float]:
    """`rdflib-endpoint serve all.nq`: the whole dump parsed into rdflib's in-memory Dataset (default graph =
    union). Returns the process, its base URL and the seconds it took to load and answer."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix=f"rdflib-endpoint-{port}-", suffix=".log", delete=False)
    started = time.monotonic()
    process = subprocess.Popen([str(binary), "serve", str(nq), "--host", "127.0.0.1", "--port", str(port)],
                               stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    while time.monotonic() < started + load_timeout:
        if process.poll() is not None:
            raise RuntimeError(Path(log.name).read_text(errors="replace")[-3000:])
        try:
            if Client(base, RDFLIB_PATH, timeout=30).query("ASK {}")[0] == 200:
                return process, base, time.monotonic() - started
        except OSError:
            time.sleep(1)
    process.kill()
    raise RuntimeError(f"rdflib-endpoint did not answer within {load_timeout:.0f} s")


def peak_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process and its children, in MB."""
    total = 0.0
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    for p in [pid] + [int(c) for c in children]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def start_ptce_kg(store: Path, root: Path = ROOT, cache: bool = False,
                  timeout_s: float = OXIGRAPH_TIMEOUT_S) -> tuple[subprocess.Popen, str]:
    # The default settings, but the per-client query-time budget (one machine plays every client for
    # minutes): the timeout, the row cap, the guard and the per-client concurrency stay on.
    # The answer cache is off (PTCE_KG_ANSWER_CACHE_BYTES=0) unless `cache`: the latency and throughput
    # tables compare evaluation with evaluation (every request repeats a query, which the cache would
    # answer without evaluating); the repeated-query mix is measured with the cache on, separately.
    # Started as a user would (`ptce-kg serve`), without the tests' connection-auditing sitecustomize.
    # The query timeout is Oxigraph server's (`--timeout-s`, start_oxigraph), so that neither p99 is capped
    # lower than the other's.
    env = {**os.environ, "PTCE_KG_STORE": str(store), "PTCE_KG_CLIENT_BUDGET": "1e9",
           "PTCE_KG_QUERY_TIMEOUT": f"{timeout_s:g}"}
    if not cache:
        env["PTCE_KG_ANSWER_CACHE_BYTES"] = "0"
    else:
        env.pop("PTCE_KG_ANSWER_CACHE_BYTES", None)  # the default bound
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
    from bench.__main__ import triple_patterns

    for name, text in probes:
        entry: dict = {"query": name}
        try:
            entry["triple_patterns"] = triple_patterns(text)
        except Exception:  # rdflib cannot parse it: not counted
            entry["triple_patterns"] = None

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


def free_again(base: str, seconds: float) -> bool:
    """Whether a server busy with a timed-out query answers `ASK {}` again within `seconds`."""
    try:
        return Client(base, RDFLIB_PATH, timeout=seconds).query("ASK {}")[0] == 200
    except OSError:
        return False


def latency_rdflib(nq: Path, binary: Path, rows: list[dict], reps: int) -> dict:
    """rdflib-endpoint on the same probes as `latency`, fewer runs (its queries take up to seconds).

    rdflib-endpoint evaluates on its event loop, one query at a time, with no timeout: a query it has not
    answered within RDFLIB_TIMEOUT_S is reported as such; the server gets RDFLIB_FREE_WAIT_S more to finish
    it, else it is restarted if it loads in less than RDFLIB_RESTART_MAX_S, else the remaining queries are left unmeasured (the query
    would hold it for every later one). Its answers are compared with ptce-kg's."""
    process, base, load_s = start_rdflib_endpoint(nq, binary)
    info = {"load_seconds": load_s, "timeouts": [], "restarts": 0, "restart_max_s": RDFLIB_RESTART_MAX_S}
    texts = {"ask-empty": "ASK {}"} | {q.name: q.text for q in comparable()}
    try:
        client = Client(base, RDFLIB_PATH, timeout=RDFLIB_TIMEOUT_S)
        for entry in rows:
            text = texts[entry["query"]]
            print(f"[peers] rdflib-endpoint: {entry['query']}…", flush=True)
            try:
                started = time.perf_counter()
                status, body = client.query(text)
                first = time.perf_counter() - started
            except TimeoutError:
                entry.update(rdflib_endpoint_status="timeout", rdflib_endpoint_answer=None,
                             rdflib_endpoint_p50=None, rdflib_endpoint_p95=None, rdflib_endpoint_same=None)
                info["timeouts"].append(entry["query"])
                info["peak_mb"] = max(info.get("peak_mb", 0), peak_mb(process.pid))
                if not free_again(base, RDFLIB_FREE_WAIT_S):
                    # still busy: restart it when it loads quickly, else leave the rest unmeasured
                    if load_s > RDFLIB_RESTART_MAX_S:
                        info["not_measured"] = [r["query"] for r in rows[rows.index(entry) + 1:]]
                        for r in rows[rows.index(entry) + 1:]:
                            r.update(rdflib_endpoint_status="not measured", rdflib_endpoint_answer=None,
                                     rdflib_endpoint_p50=None, rdflib_endpoint_p95=None, rdflib_endpoint_same=None)
                        break
                    stop(process)
                    info["restarts"] += 1
                    process, base, _ = start_rdflib_endpoint(nq, binary)
                client = Client(base, RDFLIB_PATH, timeout=RDFLIB_TIMEOUT_S)
                continue
            entry["rdflib_endpoint_status"] = status
            try:
                entry["rdflib_endpoint_answer"] = digest(body) if status == 200 else None
            except (ValueError, KeyError):
                entry["rdflib_endpoint_answer"] = None
            times = [first]  # a slow query (over 0.5 s): its first answer and two more runs
            for _ in range(2 if first > 0.5 else max(1, reps - 1)):
                t = time.perf_counter()
                client.query(text)
                times.append(time.perf_counter() - t)
            entry["rdflib_endpoint_p50"], entry["rdflib_endpoint_p95"] = pct(times, .5), pct(times, .95)
            entry["rdflib_endpoint_same"] = entry["rdflib_endpoint_answer"] == entry["ptce_kg_answer"]
        client.close()
        info["base"], info["process"] = base, process
        return info
    except BaseException:
        stop(process)
        raise


def complete(body: bytes) -> bool:
    """Whether a 200 answer is whole. Oxigraph server answers a query stopped by its timeout with a 200 and the
    results written so far, followed by "The SPARQL operation has been cancelled": not an answer."""
    return body.rstrip()[-1:] in (b"}", b"]")


def throughput(base: str, path: str, texts: list[str], clients: int, seconds: float,
               timeout_s: float = OXIGRAPH_TIMEOUT_S) -> dict:
    """`clients` closed-loop clients for `seconds`; every request's latency counts towards p50/p99, failed ones
    included. `errors` are the answers that were not a whole 200, of which `cut_off` the 200s cut short."""
    done, errors, cut, latencies = [0], [0], [0], []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(i: int):
        # Each client from its own loopback address, as distinct users are: the per-client limits count
        # addresses (the default lets one address hold fewer queries at once than there are workers).
        client = Client(base, path, source=f"127.0.{1 + i // 250}.{2 + i % 250}", timeout=max(300, timeout_s + 60))
        k = i
        mine = []
        ok = bad = short = 0
        while time.monotonic() < deadline:
            t = time.perf_counter()
            try:
                status, body = client.query(texts[k % len(texts)])
            except (OSError, http.client.HTTPException):  # the server is gone (killed, crashed): an error; this client stops
                mine.append(time.perf_counter() - t)
                bad += 1
                break
            mine.append(time.perf_counter() - t)
            k += 1
            if status == 200 and complete(body):
                ok += 1
            else:
                bad += 1
                short += status == 200
        client.close()
        with lock:
            done[0] += ok
            errors[0] += bad
            cut[0] += short
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return {"clients": clients, "requests_per_s": done[0] / elapsed, "errors": errors[0], "cut_off": cut[0],
            "p50": pct(latencies, .5) if latencies else None, "p99": pct(latencies, .99) if latencies else None}


def ms(x: float | None) -> str:
    return "–" if x is None else f"{x * 1000:.2f}"


def ratio(a: float | None, b: float | None) -> str:
    return "–" if not a or not b else f"{a / b:.2f}×"


def median_ratio(rows: list[dict], ours: str, theirs: str) -> float | None:
    values = [r[f"{ours}_p50"] / r[f"{theirs}_p50"] for r in rows
              if r["query"] != "ask-empty" and r.get(f"{ours}_p50") and r.get(f"{theirs}_p50")]
    return statistics.median(values) if values else None


def join_threshold() -> int:
    from bench.__main__ import JOIN_HEAVY

    return JOIN_HEAVY


def join_heavy(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["query"] != "ask-empty" and (r.get("triple_patterns") or 0) >= join_threshold()]


def runs_of(scale: dict, server: str, mix: str) -> dict:
    # a run in which no request got an answer (the server was gone) is not a measure
    return {t["clients"]: t for t in scale["throughput"].get(server, [])
            if t.get("mix", "all") == mix and t.get("p50") is not None}


def summary(results: dict) -> list[str]:
    """The tables that answer issue 23's targets (ratios to Oxigraph server and rdflib-endpoint, the repeated
    mix, the scale growth): the start of peers.md and the first section of `python -m bench`'s report.md."""
    scales = [s for s in results["scales"] if str(s) in results["by_scale"]]  # those measured so far
    one = results["by_scale"][str(scales[0])]
    lat = one["latency"]
    research = [r for r in lat if r["query"] != "ask-empty"]
    ratios = [r["ptce_kg_p50"] / r["oxigraph_p50"] for r in research]
    joins = join_heavy(research)
    lines = ["## Ratios ptce-kg / Oxigraph server (answer cache off)", "",
             "| measure | ptce-kg | Oxigraph server | ratio | target |", "|---|---:|---:|---:|---:|",
             f"| median over the {len(research)} research queries of the p50 ratio | | | {statistics.median(ratios):.2f}× | "
             f"≤ {TARGET_MEDIAN_RATIO}× |",
             f"| range of the p50 ratios | | | {min(ratios):.2f}–{max(ratios):.2f}× | |"]
    if joins:
        jr = [r["ptce_kg_p50"] / r["oxigraph_p50"] for r in joins]
        lines.append(f"| median p50 ratio over the {len(joins)} join-heavy queries (≥ {join_threshold()} triple "
                     f"patterns) | | | {statistics.median(jr):.2f}× | ≤ {TARGET_JOIN_RATIO}× |")
    ask = next(r for r in lat if r["query"] == "ask-empty")
    lines.append(f"| `ASK {{}}` p50 (ms) | {ms(ask['ptce_kg_p50'])} | {ms(ask['oxigraph_p50'])} | "
                 f"{ask['ptce_kg_p50'] / ask['oxigraph_p50']:.2f}× | |")
    for mix in ("all", "interactive"):
        theirs_by = runs_of(one, "oxigraph", mix)
        for n, ours in sorted(runs_of(one, "ptce_kg", mix).items()):
            theirs = theirs_by.get(n)
            if theirs:
                lines.append(f"| throughput, {mix} queries, {n} clients (req/s) | {ours['requests_per_s']:.1f} | "
                             f"{theirs['requests_per_s']:.1f} | {ours['requests_per_s'] / max(theirs['requests_per_s'], 1e-9):.2f} | "
                             f"{'≥ 0.6' if n in (8, 32) else ''} |")
    rep_ours, rep_theirs = runs_of(one, "ptce_kg", REPEATED), runs_of(one, "oxigraph", REPEATED)
    rd = one.get("rdflib_endpoint")
    if rd and not rd.get("skipped"):
        answered = [r for r in research if r.get("rdflib_endpoint_status") == 200 and r.get("rdflib_endpoint_p50")]
        speed = statistics.median(r["rdflib_endpoint_p50"] / r["ptce_kg_p50"] for r in answered) if answered else None
        # a query rdflib-endpoint did not answer within the timeout counts as the timeout (a lower bound)
        bounded = statistics.median((r.get("rdflib_endpoint_p50") or RDFLIB_TIMEOUT_S) / r["ptce_kg_p50"]
                                    for r in research if r.get("rdflib_endpoint_status") in (200, "timeout"))
        same = sum(1 for r in answered if r.get("rdflib_endpoint_same"))
        lines += ["", "## Ratios ptce-kg / rdflib-endpoint (answer cache off)", "",
                  "| measure | ptce-kg / rdflib-endpoint | rdflib-endpoint / ptce-kg (how many times faster ptce-kg is) | target |",
                  "|---|---:|---:|---:|",
                  f"| median over the queries both answered of the p50 ratio | "
                  f"{'–' if speed is None else f'{1 / speed:.3f}×'} | {'–' if speed is None else f'{speed:.1f}×'} | "
                  f"rdflib-endpoint / ptce-kg ≥ {TARGET_RDFLIB_SPEEDUP:.0f}× |"]
        for t in rd.get("throughput", []):
            ours = runs_of(one, "ptce_kg", t["mix"]).get(t["clients"])
            if ours:
                r_ = ours["requests_per_s"] / max(t["requests_per_s"], 1e-9)
                lines.append(f"| throughput, {t['mix']} queries, {t['clients']} clients ({ours['requests_per_s']:.1f} "
                             f"vs {t['requests_per_s']:.1f} req/s) | {r_:.1f} | | |")
        lines += ["", "### rdflib-endpoint details", "",
                  f"rdflib-endpoint {rd['version']} (PyPI, its own venv `.venv-rdflib-endpoint`), the same N-Quads "
                  f"dump parsed into rdflib's in-memory Dataset (default graph = union): loaded and answering in "
                  f"{rd['load_seconds']:.0f} s, peak {rd['peak_mb']:.0f} MB. It evaluates one query at a time on its "
                  f"event loop, with no timeout: a query not answered within {RDFLIB_TIMEOUT_S:.0f} s counts as "
                  f"“> {RDFLIB_TIMEOUT_S:.0f} s”; it then got {RDFLIB_FREE_WAIT_S:.0f} s more to finish it before a restart "
                  f"({rd['restarts']} restarts) when it loads in less than {rd.get('restart_max_s', RDFLIB_FREE_WAIT_S):.0f} s, "
                  f"else the queries after it were left unmeasured.", "",
                  "| measure | value | target |", "|---|---:|---:|",
                  f"| median over the queries both answered of rdflib-endpoint p50 / ptce-kg p50 | "
                  f"{'–' if speed is None else f'{speed:.1f}×'} | ≥ {TARGET_RDFLIB_SPEEDUP:.0f}× |",
                  f"| the same, a timed-out query counted as {RDFLIB_TIMEOUT_S:.0f} s (lower bound) | {bounded:.1f}× | |",
                  f"| queries answered / timed out / not measured after a timeout / failed | {len(answered)} / "
                  f"{len(rd['timeouts'])} / {len(rd.get('not_measured', []))} / "
                  f"{len(research) - len(answered) - len(rd['timeouts']) - len(rd.get('not_measured', []))} "
                  f"of {len(research)} | |",
                  f"| answers equal to ptce-kg's (rows and digest) | {same} of {len(answered)} | all |"]
    elif rd:
        lines += ["", f"rdflib-endpoint: not measured ({rd['skipped']}).", ""]
    if rep_ours:
        lines += ["", "## Repeated-query mix, ptce-kg's answer cache on (issue 23 item 5)", "",
                  f"Each research query {REPEAT} times in a row, cycled by every client (each client starting at "
                  f"another place in the list); ptce-kg restarted with its default answer cache (a repeated query is "
                  f"answered from the cache of the build), Oxigraph server as above (it has no answer cache). This "
                  f"measures the cache, not evaluation.", "",
                  "| clients | ptce-kg, cache on (req/s) | Oxigraph server (req/s) | ratio | target |",
                  "|---:|---:|---:|---:|---:|"]
        for n, ours in sorted(rep_ours.items()):
            theirs = rep_theirs.get(n)
            if theirs:
                lines.append(f"| {n} | {ours['requests_per_s']:.1f} | {theirs['requests_per_s']:.1f} | "
                             f"{ours['requests_per_s'] / max(theirs['requests_per_s'], 1e-9):.2f} | ≥ {TARGET_REPEATED_RATIO:.0f} |")
    if len(scales) > 1:
        lines += ["", "## Scale (answer cache off but in the repeated mix)", "",
                  "| measure | " + " | ".join(f"{s}×" for s in scales) + " |", "|---|" + "---:|" * len(scales)]
        by = [results["by_scale"][str(s)] for s in scales]
        lines.append("| quads | " + " | ".join(f"{b['quads']:,}" for b in by) + " |")
        lines.append("| median p50 ratio ptce-kg / Oxigraph server | "
                     + " | ".join(f"{median_ratio(b['latency'], 'ptce_kg', 'oxigraph'):.2f}×" for b in by) + " |")
        lines.append("| median p50 ratio, join-heavy queries | " + " | ".join(
            f"{median_ratio(join_heavy(b['latency']), 'ptce_kg', 'oxigraph') or 0:.2f}×" for b in by) + " |")
        for mix in ("all", "interactive", REPEATED):
            for n in sorted(runs_of(by[0], "ptce_kg", mix) | runs_of(by[-1], "ptce_kg", mix)):
                cells = []
                for b in by:
                    o, x = runs_of(b, "ptce_kg", mix).get(n), runs_of(b, "oxigraph", mix).get(n)
                    cells.append("–" if not (o and x) else f"{o['requests_per_s'] / x['requests_per_s']:.2f} "
                                 f"({o['requests_per_s']:.1f} vs {x['requests_per_s']:.1f})")
                lines.append(f"| throughput ratio, {mix} queries, {n} clients (req/s) | " + " | ".join(cells) + " |")
        for server, label in (("ptce_kg", "ptce-kg"), ("oxigraph", "Oxigraph server")):
            lines.append(f"| {label} peak memory (MB, with its workers) | "
                         + " | ".join(f"{b['peak_mb'][server]:.0f}" if b['peak_mb'].get(server) else "–" for b in by) + " |")
        lines.append("| ptce-kg peak memory, answer cache on, after the repeated mix (MB) | "
                     + " | ".join(f"{b['peak_mb'].get('ptce_kg_cache_on', 0):.0f}" for b in by) + " |")
        for mix in ("all", "interactive"):
            for server, label in (("ptce_kg", "ptce-kg"), ("oxigraph", "Oxigraph server")):
                p99 = [runs_of(b, server, mix).get(32, {}).get("p99") for b in by]
                growth = f" (×{p99[-1] / p99[0]:.1f} from {scales[0]}× to {scales[-1]}×)" if p99[0] and p99[-1] else ""
                lines.append(f"| {label} p99 at 32 clients, {mix} queries (ms) | "
                             + " | ".join(ms(v) for v in p99[:-1]) + f" | {ms(p99[-1])}{growth} |")
        g = {}
        for mix in ("all", "interactive"):
            p = {srv: [runs_of(b, srv, mix).get(32, {}).get("p99") for b in (by[0], by[-1])] for srv in ("ptce_kg", "oxigraph")}
            if all(v[0] and v[1] for v in p.values()):
                g[mix] = (p["ptce_kg"][1] / p["ptce_kg"][0], p["oxigraph"][1] / p["oxigraph"][0])
        for mix, (ours, theirs) in g.items():
            failed = {label: sum(runs_of(b, srv, mix).get(32, {}).get("errors", 0) for b in (by[0], by[-1]))
                      for srv, label in (("ptce_kg", "ptce-kg"), ("oxigraph", "Oxigraph server"))}
            caveat = "; ".join(f"{label}'s include {n} answers that failed or were cut off at the "
                               f"{results.get('timeout_s', OXIGRAPH_TIMEOUT_S):g} s timeout, which caps them"
                               for label, n in failed.items() if n)
            lines.append(f"\np99 at 32 clients, {mix} queries, grew ×{ours:.2f} for ptce-kg and ×{theirs:.2f} for "
                         f"Oxigraph server from {scales[0]}× to {scales[-1]}× (target: no faster than Oxigraph "
                         f"server's: {'met' if ours <= theirs else 'missed'})" + (f"; {caveat}." if caveat else "."))
    return lines


def report(path: Path, results: dict) -> str:
    """The whole report (peers.md): how it was run, the summary tables, then every query and run."""
    scales = [s for s in results["scales"] if str(s) in results["by_scale"]]  # those measured so far
    one = results["by_scale"][str(scales[0])]
    loads = "; ".join(f"{s}× {results['by_scale'][str(s)].get('started', '?')}–{results['by_scale'][str(s)].get('ended', '?')}, "
                      f"load average {results['by_scale'][str(s)].get('load_average_start', '?')} at the start, "
                      f"{results['by_scale'][str(s)].get('load_average_end', '?')} at the end, throughput runs of "
                      f"{results['by_scale'][str(s)].get('seconds', results.get('seconds', '?'))} s" for s in scales)
    lines = [f"# ptce-kg beside Oxigraph server and rdflib-endpoint ({results['date']})", "",
             f"`{results.get('command', 'python -m bench.peers')}`. Graph at {scales[0]}×: {one['quads']:,} quads; "
             f"{results['reps']} runs per query (3 for a query over 0.5 s); throughput runs of "
             f"{results.get('seconds', '?')} s; ptce-kg with {results['workers']} query workers; every server on "
             f"loopback, same client (stdlib http.client, keep-alive), whole-process timings (client to server and "
             f"back). Machine: {os.cpu_count()} cores ({loads}); small latencies are noisy, ratios are within one "
             f"run.", "",
             "**ptce-kg's answer cache is off** (`PTCE_KG_ANSWER_CACHE_BYTES=0`) in every table but the "
             "repeated-query mix: they compare evaluation with evaluation. The repeated-query mix "
             "(section below) is the one measured with the cache on.", ""]
    lines += summary(results)
    for scale in scales:
        b = results["by_scale"][str(scale)]
        with_rd = any("rdflib_endpoint_p50" in r for r in b["latency"])
        lines += ["", f"## Per query at {scale}× (ms)", "",
                  "| query | triple patterns | in-process p50 | ptce-kg p50 | ptce-kg p95 | Oxigraph p50 | Oxigraph p95 | ratio p50 |"
                  + (" rdflib-endpoint p50 | rdflib-endpoint p95 | rdflib-endpoint / ptce-kg |" if with_rd else "")
                  + " rows | same answer |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|---:|" if with_rd else "") + "---:|---|"]
        for r in b["latency"]:
            answer = r["ptce_kg_answer"]
            rdcells = ""
            if with_rd:
                st = r.get("rdflib_endpoint_status")
                if st == "not measured":
                    rdcells = " not measured | | – |"
                elif st == "timeout":
                    rdcells = f" > {RDFLIB_TIMEOUT_S * 1000:.0f} | | > {RDFLIB_TIMEOUT_S / r['ptce_kg_p50']:.0f}× |"
                elif st != 200:
                    rdcells = f" status {st} | | – |"
                else:
                    rdcells = (f" {ms(r['rdflib_endpoint_p50'])} | {ms(r['rdflib_endpoint_p95'])} | "
                               f"{ratio(r['rdflib_endpoint_p50'], r['ptce_kg_p50'])} |")
            same = "yes" if r["same_answer"] else "**no**"
            if with_rd and r.get("rdflib_endpoint_status") == 200:
                same += "; rdflib-endpoint " + ("yes" if r.get("rdflib_endpoint_same") else
                                                f"**no** ({(r.get('rdflib_endpoint_answer') or ['?'])[0]} rows)")
            lines.append(f"| {r['query']} | {r.get('triple_patterns', '?')} | {ms(r['in_process_p50'])} | {ms(r['ptce_kg_p50'])} | {ms(r['ptce_kg_p95'])} | "
                         f"{ms(r['oxigraph_p50'])} | {ms(r['oxigraph_p95'])} | {r['ptce_kg_p50'] / r['oxigraph_p50']:.2f}× |"
                         f"{rdcells} {answer[0] if answer else r['ptce_kg_status']} | {same} |")
        lines += ["", f"## Throughput at {scale}× (query mixes: all research queries; the interactive ones, under "
                  f"{INTERACTIVE_S * 1000:.0f} ms in process at 1×)", "",
                  "Errors are the answers that were not a whole 200; in brackets, those cut short at the query "
                  "timeout but sent as 200 (Oxigraph server's way). p50 and p99 are over every request, errors "
                  "included.", "",
                  "| server | mix | clients | req/s | p50 (ms) | p99 (ms) | errors |", "|---|---|---:|---:|---:|---:|---:|"]
        for server, runs in b["throughput"].items():
            for t in runs:
                mix_label = t.get("mix", "all") + (" (answer cache on)" if t.get("mix") == REPEATED and server == "ptce_kg" else "")
                lines.append(f"| {server} | {mix_label} | {t['clients']} | {t['requests_per_s']:.1f} | "
                             f"{ms(t['p50'])} | {ms(t['p99'])} | {t['errors']}"
                             + (f" ({t['cut_off']} cut off)" if t.get("cut_off") else "") + " |")
        lines.append("")
        lines.append("Peak memory (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in b["peak_mb"].items()) + ".")
        if b.get("exited"):
            lines.append("")
            lines.append("**Exited during the runs** (exit status and run; -9: killed, e.g. by the kernel for its "
                         "memory; restarted on its loaded store for the next run): " + "; ".join(
                f"{k}: {', '.join(v)}" for k, v in b["exited"].items()) + ".")
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    return text


def run_scale(store: Path, work: Path, args, fast: set[str] | None) -> tuple[dict, set[str]]:
    """Every measurement on one store: latency and throughput of ptce-kg and Oxigraph server (and, if asked,
    rdflib-endpoint), each server's peak memory."""
    from ptce_kg.store import StoreRoot

    quads = sum(1 for _ in StoreRoot(store).open_read().quads_for_pattern(None, None, None, None))
    print(f"[peers] {store.name}: {quads:,} quads; Oxigraph server…", flush=True)
    oxi_process, oxi_base = start_oxigraph(store, work, args.timeout_s)
    ours_process = None
    entry: dict = {"quads": quads, "peak_mb": {}, "load_average_start": load_average(),
                   "started": time.strftime("%H:%M UTC", time.gmtime())}
    try:
        ours_process, ours_base = start_ptce_kg(store, Path(args.root), timeout_s=args.timeout_s)
        servers = {"ptce_kg": (ours_base, "/sparql"), "oxigraph": (oxi_base, "/query")}
        print("[peers] latency…", flush=True)
        lat = latency(store, servers, args.reps)
        # Two mixes: every research query, and the interactive ones (under 50 ms in process at the first
        # scale, the same set at every scale), where the request path rather than evaluation sets the pace.
        if fast is None:
            fast = {r["query"] for r in lat if r["in_process_p50"] < INTERACTIVE_S}
        mixes = {"all": [q.text for q in comparable()],
                 "interactive": [q.text for q in comparable() if q.name in fast]}
        runs: dict = {"ptce_kg": [], "oxigraph": []}
        exited: dict = {}
        oxi_peak = [peak_mb(oxi_process.pid)]

        def measure(server: str, texts: list[str], n: int, mix: str) -> None:
            # Oxigraph server killed during a run (at 10× and 32 clients the kernel's out-of-memory killer may
            # stop it): said so, restarted on its loaded store for the next run, its peak kept from before.
            nonlocal oxi_process
            base, path = servers[server]
            runs[server].append(throughput(base, path, texts, n, args.seconds, args.timeout_s) | {"mix": mix})
            if server == "oxigraph":
                if oxi_process.poll() is None:
                    oxi_peak.append(peak_mb(oxi_process.pid))
                else:
                    exited.setdefault("oxigraph", []).append(f"{oxi_process.returncode} in the {mix} run × {n}")
                    runs[server][-1]["server_exited"] = oxi_process.returncode
                    oxi_process, oxi_base2 = start_oxigraph(store, work, args.timeout_s)
                    servers["oxigraph"] = (oxi_base2, "/query")

        for mix, texts in mixes.items():
            for n in [int(c) for c in args.clients.split(",")]:
                for server in list(servers):
                    print(f"[peers] throughput {server}, {mix} queries × {n}…", flush=True)
                    measure(server, texts, n, mix)
        entry["peak_mb"] = {"ptce_kg": peak_mb(ours_process.pid), "oxigraph": max(oxi_peak)}
        # The repeated-query mix (issue 23 item 5): each research query REPEAT times in a row, ptce-kg
        # restarted with its answer cache on (default bound), Oxigraph server as before (it has no cache).
        stop(ours_process)
        ours_process = None
        ours_process, ours_base = start_ptce_kg(store, Path(args.root), cache=True, timeout_s=args.timeout_s)
        servers["ptce_kg"] = (ours_base, "/sparql")
        repeated = [q.text for q in comparable() for _ in range(REPEAT)]
        for n in [int(c) for c in args.clients.split(",")]:
            for server in list(servers):
                print(f"[peers] throughput {server}, repeated queries × {n}…", flush=True)
                measure(server, repeated, n, REPEATED)
        entry["peak_mb"]["ptce_kg_cache_on"] = peak_mb(ours_process.pid)
        entry["peak_mb"]["oxigraph"] = max(oxi_peak)
        if ours_process.poll() is not None:
            exited["ptce_kg"] = [f"{ours_process.returncode}"]
        entry["exited"] = exited
    finally:
        if ours_process is not None:
            stop(ours_process)
        stop(oxi_process)
    entry["latency"], entry["throughput"] = lat, runs
    entry["load_average_end"] = load_average()
    entry["ended"] = time.strftime("%H:%M UTC", time.gmtime())
    return entry, fast


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def with_rdflib_endpoint(entry: dict, store: Path, work: Path, args, fast: set[str]) -> None:
    """rdflib-endpoint on the same store's dump, alone on the machine (the other servers are stopped)."""
    binary = rdflib_endpoint_binary(Path(args.rdflib_endpoint_venv))
    if binary is None:
        entry["rdflib_endpoint"] = {"skipped": f"not installed in {args.rdflib_endpoint_venv} (make bench installs it)"}
        print(f"[peers] rdflib-endpoint: {entry['rdflib_endpoint']['skipped']}", flush=True)
        return
    version = subprocess.run([str(binary.parent / "python"), "-c",
                              "import importlib.metadata as m; print(m.version('rdflib-endpoint'))"],
                             capture_output=True, text=True).stdout.strip()
    print(f"[peers] rdflib-endpoint {version}: loading the dump…", flush=True)
    info = latency_rdflib(nquads(store, work), binary, entry["latency"], args.reps)
    process, base = info.pop("process"), info.pop("base")
    try:
        # The interactive mix only, less what it failed or timed out on: the whole mix holds queries it
        # takes longer than a run to answer, one at a time.
        if info["timeouts"]:  # it may still be busy with a query it did not finish: start afresh
            stop(process)
            info["restarts"] += 1
            process, base, _ = start_rdflib_endpoint(nquads(store, work), binary)
        answered = {r["query"] for r in entry["latency"] if r.get("rdflib_endpoint_status") == 200}
        texts = [q.text for q in comparable() if q.name in fast and q.name in answered]
        info["throughput"] = []
        for n in [int(c) for c in args.clients.split(",")]:
            print(f"[peers] throughput rdflib-endpoint, interactive queries × {n}…", flush=True)
            info["throughput"].append(throughput(base, RDFLIB_PATH, texts, n, args.seconds) | {"mix": "interactive"})
        info["peak_mb"] = max(info.get("peak_mb", 0), peak_mb(process.pid))
    finally:
        stop(process)
    info["version"] = version
    entry["rdflib_endpoint"] = info
    entry["peak_mb"]["rdflib_endpoint"] = info["peak_mb"]
    entry["throughput"]["rdflib_endpoint"] = info["throughput"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers")
    parser.add_argument("--store", help="a built store (default: build one in a temporary folder)")
    parser.add_argument("--scales", default="1", help="comma-separated factors, e.g. 1,10 (synthetic graphs "
                        "of the same shape, bench/synthetic.py); the first is the reference of the growth")
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each throughput run")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--timeout-s", type=float, default=OXIGRAPH_TIMEOUT_S,
                        help="both servers' query timeout; a p99 near it is capped by it (at 10× some answers "
                             "take minutes at 32 clients)")
    parser.add_argument("--scaled-seconds", type=float, default=None,
                        help="duration of each throughput run at the scales after the first (default: --seconds); "
                             "at 10x some queries take seconds, and a short run holds too few answers for a p99")
    parser.add_argument("--rdflib-endpoint-venv", default=str(RDFLIB_VENV),
                        help="venv holding rdflib-endpoint (measured at 1× only; `make bench` installs it)")
    parser.add_argument("--no-rdflib-endpoint", action="store_true")
    parser.add_argument("--work", help="folder for the servers' stores and dumps (default: a temporary one)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "reports" / "peers.md"))
    parser.add_argument("--root", default=str(ROOT),
                        help="the checkout whose `ptce-kg serve` is measured (e.g. an older commit, for before/after)")
    args = parser.parse_args(argv)
    from ptce_kg.config import settings as load_settings

    scales = [int(s) for s in args.scales.split(",")]
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "reps": args.reps, "scales": scales,
               "timeout_s": args.timeout_s,
               "workers": int(os.environ.get("PTCE_KG_WORKERS", load_settings().workers)),
               "load_average": load_average(), "seconds": args.seconds, "by_scale": {},
               "command": ("python -m bench.peers " + " ".join(sys.argv[1:] if argv is None else argv)).replace(str(ROOT) + "/", "")}
    with tempfile.TemporaryDirectory(prefix="ptce-kg-peers-", dir=args.work) as tmp:
        work = Path(tmp)
        store = Path(args.store) if args.store else work / "store"
        if not args.store:
            print("[peers] build…", flush=True)
            subprocess.run([sys.executable, "-m", "cli", "build", "--store", str(store)], cwd=ROOT,
                           check=True, stdout=subprocess.DEVNULL)
        fast = None
        for scale in scales:
            if scale == 1:
                scaled = store
            else:
                from bench.__main__ import synthetic_store

                print(f"[peers] synthetic graph at {scale}×…", flush=True)
                t = time.monotonic()
                scaled = synthetic_store(store, work, scale)
                print(f"[peers] synthetic graph at {scale}× in {time.monotonic() - t:.0f} s", flush=True)
            # at the larger scales the throughput runs may be longer (--scaled-seconds)
            scale_args = argparse.Namespace(**{**vars(args), "seconds": args.seconds if scale == scales[0]
                                               else (args.scaled_seconds or args.seconds)})
            entry, fast = run_scale(scaled, work, scale_args, fast)
            entry["seconds"] = scale_args.seconds
            if scale == 1 and not args.no_rdflib_endpoint:
                try:
                    with_rdflib_endpoint(entry, scaled, work, args, fast)
                except Exception as exc:  # it could not load, start or answer: say so, keep the other measures
                    entry["rdflib_endpoint"] = {"skipped": f"rdflib-endpoint failed: {str(exc)[-300:]}"}
            elif not args.no_rdflib_endpoint:
                entry["rdflib_endpoint"] = {"skipped": f"at {scale}× rdflib's in-memory Dataset would hold "
                                            f"{entry['quads']:,} quads: measured at 1× only"}
            results["by_scale"][str(scale)] = entry
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)  # the raw results first, should the report fail
            out.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
            print(report(out, results), flush=True)  # each scale's results kept as they come
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
