"""`python -m bench.load [--clients 32] [--seconds 60] [--rebuild] [--attack-seconds 30]`: a bounded load
test on loopback, then a mixed attack beside normal clients.

Clients replay the `queries/` mix plus page and dump requests against `ptce-kg serve`; with --rebuild, a
rebuild switches the store in the middle. Every SPARQL answer names the build it came from and a count
from the data graphs, so a half-built graph would show as a pair that no build holds. Reports throughput,
p50/p99 latency, status counts and consistency to bench/reports/load.md.

Then (unless --attack-seconds 0) a fresh server with the default settings takes, for that long, slow queries
at the per-client limit, half-open sockets and oversized chunked bodies (bench/attack.py), each from its own
loopback address (127.0.0.3-5), while normal clients from 127.0.0.1/127.0.0.2 run the same mix; the report
gains a "Mixed attack" section: their latency and statuses, what each attacker got, the server's peak memory,
and whether their p99 stayed under 2 s with no 5xx.
"""

from __future__ import annotations

import argparse
import asyncio
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


async def run_load(base: str, clients: int, seconds: float, busy=lambda: False, *, sources=(None,),
                   start_at: float | None = None, tail_s: float = 5.0) -> dict:
    """Load for `seconds`, and on while `busy()` (a rebuild or an attack in progress) plus `tail_s` after it.

    Client i sends from loopback address sources[i % len(sources)] (None: the system's choice); with
    `start_at` (wall clock), all begin then. Every request is kept in `records` as (start offset in s, kind,
    what, status, latency in s)."""
    texts = [(q.name, q.text) for q in queries.all_queries()]
    pages = ["/", "/doc/id/ptce/cluster-jura", "/eligibility", "/catalog", "/dumps/", "/.well-known/void"]
    statuses: Counter = Counter()
    latencies: list[float] = []
    records: list[tuple] = []
    pairs: Counter = Counter()
    if start_at is not None:
        await asyncio.sleep(max(0.0, start_at - time.time()))
    started = time.monotonic()
    deadline = [started + seconds]

    def going() -> bool:
        if busy():
            deadline[0] = max(deadline[0], time.monotonic() + tail_s)
            return True
        return time.monotonic() < deadline[0]

    def client_for(source):
        transport = httpx.AsyncHTTPTransport(local_address=source) if source else None
        return httpx.AsyncClient(base_url=base, timeout=60, transport=transport,
                                 limits=httpx.Limits(max_connections=clients))

    pool = {source: client_for(source) for source in sources}
    try:
        async def worker(i: int):
            client = pool[sources[i % len(sources)]]
            k = i
            while going():
                t = time.perf_counter()
                offset = time.monotonic() - started
                kind = k % 4
                try:
                    if kind == 0:
                        what = "probe"
                        r = await client.post("/sparql", data={"query": PROBE},
                                              headers={"Accept": "application/sparql-results+json"})
                        if r.status_code == 200:
                            for b in r.json()["results"]["bindings"]:
                                pairs[(b["build"]["value"], b["n"]["value"])] += 1
                    elif kind == 1:
                        what, text = texts[k % len(texts)]
                        r = await client.post("/sparql", data={"query": text})
                    elif kind == 2:
                        what = pages[k % len(pages)]
                        r = await client.get(what, headers={"Accept": "text/html"})
                    else:
                        what = "/dumps/registry.ttl.gz (range)"
                        r = await client.get("/dumps/registry.ttl.gz", headers={"Range": "bytes=0-1023"})
                    status = r.status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                statuses[status] += 1
                latency = time.perf_counter() - t
                latencies.append(latency)
                records.append((offset, ("probe", "query", "page", "dump")[kind], what, status, latency))
                k += 1
        await asyncio.gather(*[worker(i) for i in range(clients)])
    finally:
        for client in pool.values():
            await client.aclose()
    total = sum(statuses.values())
    seconds = time.monotonic() - started
    return {"clients": clients, "seconds": seconds, "requests": total, "per_second": total / seconds,
            "p50": pct(latencies, .5), "p95": pct(latencies, .95), "p99": pct(latencies, .99),
            "max": max(latencies, default=0.0), "statuses": dict(statuses), "pairs": dict(pairs), "records": records}


def rebuild_in_background(store: Path, delay: float, results: dict) -> threading.Thread:
    def work():
        time.sleep(delay)
        from cli import build  # every declared source (the composition root)

        t = time.perf_counter()
        results["summary"] = build(store, progress=lambda m: None)
        results["seconds"] = time.perf_counter() - t
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def load_sources(clients: int) -> tuple[str, ...]:
    """One loopback address (127.0.1.1, 127.0.1.2, …) for every two clients."""
    return tuple(f"127.0.1.{i + 1}" for i in range(min(254, max(1, (clients + 1) // 2))))


# -- the mixed attack ------------------------------------------------------------------------------

NORMAL_SOURCES = ("127.0.0.1", "127.0.0.2")
ATTACKERS = {  # name: (source address, function of bench/attack.py)
    "slow queries at the per-client limit": ("127.0.0.3", "slow_queries"),
    "half-open sockets": ("127.0.0.4", "half_open"),
    "oversized chunked bodies": ("127.0.0.5", "chunked_bodies"),
}
LATENCY_TARGET_S = 2.0


def _attacker_main(name, function, kwargs, ready, go, start_at, results):
    """In a process of its own: say ready, wait for the shared start, attack, send back what happened."""
    from bench import attack

    ready.release()
    if not go.wait(120):
        results.put((name, {"error": "never started"}))
        return
    try:
        results.put((name, getattr(attack, function)(start_at=start_at.value, **kwargs)))
    except Exception as exc:  # reported, not raised: the other attackers and the normal clients go on
        results.put((name, {"error": repr(exc)}))


def _log_summary(path: str, offset: int) -> dict:
    """What the server logged since `offset`: lines, tracebacks, and its 'refused or closed' tallies summed."""
    import re

    with open(path, "rb") as handle:
        handle.seek(offset)
        text = handle.read().decode("utf-8", errors="replace")
    tallies: Counter = Counter()
    for line in text.splitlines():
        if "connections refused or closed:" in line:
            what = line.split("connections refused or closed:", 1)[1].split(";")[0].split(" (at most")[0]
            for count, kind in re.findall(r"(\d+) ([^,]+)", what):
                tallies[kind.strip()] += int(count)
    others = [line for line in text.splitlines()
              if line.strip() and "connections refused or closed:" not in line]
    return {"lines": len(text.splitlines()), "tracebacks": text.count("Traceback"), "tallies": dict(tallies),
            "other_lines": others[:8]}


def run_attack(store: Path, seconds: float, clients: int = 8) -> dict:
    """A fresh server with the project's default settings; the attackers of bench/attack.py, each in its own
    process and from its own loopback address, beside `clients` normal clients from 127.0.0.1/127.0.0.2,
    all starting together. The normal clients go on until every attacker has stopped."""
    import multiprocessing

    from bench.attack import ServerMemory
    from ptce_kg.config import settings

    # The rebuild phase's PTCE_KG_CLIENT_CONCURRENCY / PTCE_KG_CLIENT_BUDGET overrides are not applied: its 32
    # clients share one address, but here the per-client limit is what the slow-query attacker runs into.
    cfg = settings()  # what the server reads: the defaults, unless the environment sets them (as for `make run`)
    grace = cfg.query_timeout_s + 15
    plans = {
        "slow queries at the per-client limit": dict(slots=cfg.client_concurrency + 1, grace_s=grace),
        "half-open sockets": dict(hold=300, rate=100.0, max_connects=4000),
        "oversized chunked bodies": dict(body_bytes=256 * 1024 * 1024, max_requests=2000),
    }
    process, base = start_server(store)
    log_offset = Path(process.log_path).stat().st_size
    ctx = multiprocessing.get_context("spawn")
    ready, go, start_at, results = ctx.Semaphore(0), ctx.Event(), ctx.Value("d", 0.0), ctx.Queue()
    children = []
    outcome: dict = {"attackers": {}}
    try:
        for name, (source, function) in ATTACKERS.items():
            kwargs = dict(plans[name], base=base, source=source, seconds=seconds)
            child = ctx.Process(target=_attacker_main, args=(name, function, kwargs, ready, go, start_at, results),
                                name=f"bench-attack-{function}", daemon=True)
            child.start()
            children.append(child)
        for _ in children:
            if not ready.acquire(timeout=120):
                raise RuntimeError("an attacker process did not start within 120 s")
        with ServerMemory(process.pid) as memory:
            start_at.value = time.time() + 1.0
            go.set()
            hard_end = start_at.value + seconds + grace + 30  # the attackers stop by themselves well before
            normal = asyncio.run(run_load(base, clients, seconds,
                                          busy=lambda: time.time() < hard_end and any(c.is_alive() for c in children),
                                          sources=NORMAL_SOURCES, start_at=start_at.value, tail_s=0.0))
            for _ in children:
                name, result = results.get(timeout=grace + 60)
                outcome["attackers"][name] = result
        for child in children:
            child.join(timeout=10)
    finally:
        go.set()
        for child in children:
            if child.is_alive():
                child.kill()
                child.join(timeout=5)
        stop(process)
    outcome.update(normal=normal, seconds=seconds, clients=clients, settings=cfg, memory=memory,
                   log=_log_summary(process.log_path, log_offset), plans=plans)
    return outcome


def _mb(n: float) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


def _ms(s: float) -> str:
    return f"{s * 1000:.0f} ms"


def _counts(d: dict) -> str:
    return ", ".join(f"{k} ×{v}" for k, v in sorted(d.items(), key=lambda kv: (-kv[1], str(kv[0])))) or "none"


def attack_verdict(result: dict) -> tuple[bool, int, int]:
    normal = result["normal"]
    five_xx = sum(n for s, n in normal["statuses"].items() if isinstance(s, int) and s >= 500)
    errors = sum(n for s, n in normal["statuses"].items() if not isinstance(s, int))
    return normal["p99"] < LATENCY_TARGET_S and not five_xx and not errors, five_xx, errors


def attack_report(result: dict) -> list[str]:
    from bench.attack import SLOW_QUERY

    cfg, normal, memory, log = result["settings"], result["normal"], result["memory"], result["log"]
    met, five_xx, errors = attack_verdict(result)
    records = normal["records"]
    lines = ["## Mixed attack", "",
             f"{result['seconds']:g} s of attack, loopback, against a fresh server with the project's default settings "
             f"({cfg.workers} query workers; per client {cfg.client_concurrency} queries at once and "
             f"{cfg.client_budget_s:g} s of query time a minute; query timeout {cfg.query_timeout_s:g} s; header "
             f"timeout {cfg.header_timeout_s:g} s; {cfg.max_connections_per_client} connections per address; "
             f"body cap {cfg.max_body_bytes} bytes). The phase above's per-client overrides are not applied here. "
             f"Each attacker runs in its own process from its own address; the normal clients start with them "
             f"and go on until the last attacker has stopped.", "",
             f"### Normal clients ({result['clients']}, from {' and '.join(NORMAL_SOURCES)}; the mix above)", "",
             f"- requests: {normal['requests']} in {normal['seconds']:.1f} s ({normal['per_second']:.1f}/s)",
             f"- latency p50 {_ms(normal['p50'])}, p95 {_ms(normal['p95'])}, p99 {_ms(normal['p99'])}, "
             f"max {_ms(normal['max'])}; over {LATENCY_TARGET_S:g} s: "
             f"{sum(1 for r in records if r[4] >= LATENCY_TARGET_S)}",
             f"- statuses: {_counts({str(k): v for k, v in normal['statuses'].items()})}",
             f"- 5xx: **{five_xx}**, transport errors: **{errors}**"]
    refused = [r for r in records if r[3] == 429]
    if refused:
        answered = [r[4] for r in records if isinstance(r[3], int) and r[3] < 300]
        lines.append(f"- 429 ×{len(refused)}: the per-client limit ({cfg.client_concurrency} queries at once per "
                     f"address) also holds for the {result['clients'] // len(NORMAL_SOURCES)} normal clients sharing "
                     f"an address; p99 of the 2xx answers alone: {_ms(pct(answered, .99))}")
    lines += ["", "| kind | requests | p50 ms | p95 ms | p99 ms | max ms | statuses |", "|---|---:|---:|---:|---:|---:|---|"]
    for kind in ("query", "probe", "page", "dump"):
        mine = [r for r in records if r[1] == kind]
        if mine:
            values = [r[4] for r in mine]
            lines.append(f"| {kind} | {len(mine)} | {pct(values, .5) * 1000:.0f} | {pct(values, .95) * 1000:.0f} | "
                         f"{pct(values, .99) * 1000:.0f} | {max(values) * 1000:.0f} | "
                         f"{_counts(Counter(str(r[3]) for r in mine))} |")
    slowest = sorted(records, key=lambda r: -r[4])[:5]
    lines += ["", "Slowest normal requests: " + "; ".join(
        f"{r[2]} → {r[3]} in {_ms(r[4])} (at {r[0]:.1f} s)" for r in slowest) + ".", "", "### Attackers", "",
        "| attacker | address | sent | got |", "|---|---|---|---|"]
    for name, (source, _) in ATTACKERS.items():
        got = result["attackers"].get(name, {"error": "no result"})
        plan = result["plans"][name]
        if "error" in got:
            lines.append(f"| {name} | {source} | — | failed: {got['error']} |")
            continue
        if name.startswith("slow"):
            sent = (f"{got['requests']} POST /sparql `{SLOW_QUERY}` from "
                    f"{plan['slots']} loops (the limit {cfg.client_concurrency} + 1; a 429 retried after ≤ 1 s); "
                    f"at most {got['peak_in_flight']} in flight")
            spans = "; ".join(f"{k}: {lo:.1f}–{hi:.1f} s" for k, (lo, hi) in sorted(got["durations"].items()))
            lines.append(f"| {name} | {source} | {sent} | {_counts(got['statuses'])} ({spans}) |")
        elif name.startswith("half"):
            sent = (f"{got['connects']} connections, each a partial request head; up to {plan['hold']} held, "
                    f"reopened at ≤ {plan['rate']:g}/s; peak open at once {got['peak_open']}")
            held = "; ".join(f"{k} after {p50:.2f} s (max {hi:.2f})" for k, (p50, hi) in sorted(got["held"].items()))
            lines.append(f"| {name} | {source} | {sent} | {_counts(got['outcomes'])}; still open at the end "
                         f"(closed by us) {got['open_at_end']} — {held} |")
        else:
            sent = (f"{got['requests']} POST /sparql, chunked, no Content-Length, up to {_mb(got['body_bytes'])} "
                    f"each; {_mb(got['sent_total'])} sent in all (bytes the kernel took before the answer came, its "
                    f"buffers included), per request median {got['sent_p50'] / 1024:.0f} KiB, "
                    f"max {got['sent_max'] / 1024:.0f} KiB")
            lines.append(f"| {name} | {source} | {sent} | {_counts(got['outcomes'])}; answer after "
                         f"{_ms(got['answer_p50'])} median, {_ms(got['answer_max'])} max |")
    half = result["attackers"].get("half-open sockets", {})
    if any("then reset" in outcome for outcome in half.get("outcomes", {})):
        lines += ["", "“then reset”: a refused connection had already sent its partial head, which the server never "
                      "reads; closing a socket with unread input makes the kernel send a reset after the 503."]
    lines += ["", f"Server memory (main process + its children, the query workers; resident, from /proc every "
                  f"{memory.interval_s:g} s, {memory.samples} samples): {_mb(memory.first_total or 0)} at the start, "
                  f"peak **{_mb(memory.peak_total)}** (main process peak {_mb(memory.peak_main)}, largest worker "
                  f"{_mb(memory.peak_worker)}).", "",
              f"Server log during the phase: {log['lines']} lines, {log['tracebacks']} tracebacks; connections refused "
              f"or closed (its summary lines, summed): {_counts(log['tallies'])}."]
    if log["other_lines"]:
        lines += ["Other log lines:", "", "```", *[line[:300] for line in log["other_lines"]], "```"]
    lines += ["", f"**Verdict: normal p99 < {LATENCY_TARGET_S:g} s and 0 5xx: {'met' if met else 'not met'}** "
                  f"(p99 {_ms(normal['p99'])}, {five_xx} 5xx, {errors} transport errors).", ""]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rebuild", action="store_true", help="switch the store to a new build during the load")
    parser.add_argument("--attack-seconds", type=float, default=30.0,
                        help="then a mixed attack of this length beside normal clients (0: skip it)")
    parser.add_argument("--attack-clients", type=int, default=8, help="normal clients during the attack")
    parser.add_argument("--store", help="an existing store (default: build one in a temporary folder)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "reports" / "load.md"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ptce-kg-load-") as tmp:
        store = Path(args.store) if args.store else Path(tmp) / "store"
        if not args.store:
            from cli import build  # every declared source (the composition root)

            print("[load] building the graph…", flush=True)
            build(store, progress=lambda m: None)
        process, base = start_server(store, PTCE_KG_CLIENT_CONCURRENCY=10_000, PTCE_KG_CLIENT_BUDGET=1e9)
        # The server keeps a client's concurrency below the pool size whatever PTCE_KG_CLIENT_CONCURRENCY says:
        # two clients per loopback address (at most two queries at once from each) keep this phase free of 429s.
        sources = load_sources(args.clients)
        rebuilt: dict = {}
        try:
            thread = rebuild_in_background(store, 5, rebuilt) if args.rebuild else None
            print(f"[load] {args.clients} clients for {args.seconds:g} s…", flush=True)
            result = asyncio.run(run_load(base, args.clients, args.seconds,
                                          busy=(lambda: thread.is_alive()) if thread else (lambda: False),
                                          sources=sources))
            if thread:
                thread.join()
        finally:
            stop(process)
        attacked = None
        if args.attack_seconds > 0:
            print(f"[load] mixed attack for {args.attack_seconds:g} s beside {args.attack_clients} normal clients…",
                  flush=True)
            attacked = run_attack(store, args.attack_seconds, args.attack_clients)
    five_xx = sum(n for s, n in result["statuses"].items() if isinstance(s, int) and s >= 500)
    errors = sum(n for s, n in result["statuses"].items() if not isinstance(s, int))
    counts = {n for (_, n) in result["pairs"]}
    lines = ["# Load test", "", f"{args.clients} clients, {result['seconds']:.0f} s, loopback (from {len(sources)} "
             f"addresses, {sources[0]}–{sources[-1]}, two clients each); mix: `queries/` (¼), a "
             "consistency probe (¼), HTML pages (¼), dump ranges (¼)." + (" A rebuild started at 5 s and switched "
             f"the store after {rebuilt.get('seconds', 0):.0f} s; the load went on 5 s past the switch."
             if args.rebuild else ""), "",
             f"- requests: {result['requests']} ({result['per_second']:.1f}/s)",
             f"- latency p50 {result['p50'] * 1000:.0f} ms, p99 {result['p99'] * 1000:.0f} ms",
             f"- statuses: {dict(sorted((str(k), v) for k, v in result['statuses'].items()))}",
             f"- 5xx: **{five_xx}**, transport errors: **{errors}**",
             f"- builds seen by the probe: {len({b for (b, _) in result['pairs']})}; commune counts seen: "
             f"{sorted(counts)} (one per build: no answer mixed two versions)", ""]
    if attacked:
        lines += attack_report(attacked)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 1 if five_xx or errors or (attacked and not attack_verdict(attacked)[0]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
