"""`python -m bench.store_layout --store var/store --factor 10`: does the way a store is written change how fast
the same engine evaluates the research queries on it? (issue 23, item 3)

The same quads (the published build, or `--factor` replicas of it made by bench/synthetic.py) written several
ways, each opened with `pyoxigraph.Store.read_only` in this one process:

  bulk_extend            how bench's synthetic store was written until 2 December 2026 (batches of 500,000
                         quads through `Store.bulk_extend`, not compacted; now `build_store` compacts it:
                         `compact=False` here); at 1× the published build itself (`ptce-kg build`: one
                         `bulk_extend` per source batch)
  bulk_extend+optimize   the same files, then `Store.optimize()` (a copy: SST files hard-linked)
  cli_load+optimize      what bench/peers.py gives Oxigraph server: `oxigraph load --file all.nq` then
                         `oxigraph optimize`
  bulk_load              `Store.bulk_load(path=all.nq)`: one streamed bulk load of the N-Quads file

The research queries (without SERVICE, default graph = union) run on every store in turn, the order rotated
each round, and each store's median is compared with the reference's (`cli_load+optimize`) in the same run.
Answers are compared as row counts and a digest of the sorted rows. The layout of each store (SST files,
bytes, files per LSM level and column family) is read from its RocksDB MANIFEST.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyoxigraph

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REFERENCE = "cli_load+optimize"
VARIANTS = ("bulk_extend", "bulk_extend+optimize", REFERENCE, "bulk_load")


# -- the layout of a RocksDB store, read from its MANIFEST ---------------------------------------

def _varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _slice(data: bytes, pos: int) -> tuple[bytes, int]:
    length, pos = _varint(data, pos)
    return data[pos:pos + length], pos + length


def _records(data: bytes):
    """The records of a RocksDB log file (32 KiB blocks, 7-byte headers; 11 for recyclable records)."""
    pos, parts = 0, []
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        if left < 7:
            pos += left
            continue
        length, kind = struct.unpack_from("<HB", data, pos + 4)
        header = 11 if kind >= 5 else 7
        if kind == 0 and length == 0:  # padding at the end of a block
            pos += left
            continue
        payload = data[pos + header:pos + header + length]
        pos += header + length
        kind = kind - 4 if kind >= 5 else kind
        if kind == 1:
            yield payload
        elif kind == 2:
            parts = [payload]
        elif kind == 3:
            parts.append(payload)
        elif kind == 4:
            parts.append(payload)
            yield b"".join(parts)
            parts = []


def manifest_layout(path: Path) -> dict:
    """{column family: {level: [file sizes]}} of the live SST files, replaying the MANIFEST's version edits."""
    name = (path / "CURRENT").read_text().strip()
    data = (path / name).read_bytes()
    families = {0: "default"}
    live: dict[tuple[int, int], tuple[int, int]] = {}  # (family, file number) -> (level, size)
    for record in _records(data):
        pos, family, added, deleted = 0, 0, [], []
        while pos < len(record):
            tag, pos = _varint(record, pos)
            if tag in (2, 3, 4, 9, 10):  # log number, next file, last sequence, prev log, min log to keep
                _, pos = _varint(record, pos)
            elif tag == 1:  # comparator
                _, pos = _slice(record, pos)
            elif tag == 5:  # compact cursor
                _, pos = _varint(record, pos)
                _, pos = _slice(record, pos)
            elif tag == 6:  # deleted file
                level, pos = _varint(record, pos)
                number, pos = _varint(record, pos)
                deleted.append(number)
            elif tag in (7, 100, 102, 103):  # new file (four formats)
                level, pos = _varint(record, pos)
                number, pos = _varint(record, pos)
                if tag == 102:
                    _, pos = _varint(record, pos)  # path id
                size, pos = _varint(record, pos)
                _, pos = _slice(record, pos)
                _, pos = _slice(record, pos)
                if tag != 7:
                    _, pos = _varint(record, pos)
                    _, pos = _varint(record, pos)
                if tag == 103:
                    while True:
                        custom, pos = _varint(record, pos)
                        if custom == 1:  # terminate
                            break
                        _, pos = _slice(record, pos)
                added.append((number, level, size))
            elif tag == 200:  # column family of this edit
                family, pos = _varint(record, pos)
            elif tag == 201:  # column family added
                value, pos = _slice(record, pos)
                families[family] = value.decode()
            elif tag == 202:  # column family dropped
                pass
            elif tag in (203, 300):  # max column family, atomic group
                _, pos = _varint(record, pos)
            elif tag & (1 << 13):  # forward-compatible record: length-prefixed, safe to skip
                _, pos = _slice(record, pos)
            else:
                raise ValueError(f"unknown MANIFEST tag {tag}")
        for number in deleted:
            live.pop((family, number), None)
        for number, level, size in added:
            live[(family, number)] = (level, size)
    layout: dict[str, dict[int, list[int]]] = {}
    for (family, _), (level, size) in live.items():
        layout.setdefault(families.get(family, str(family)), {}).setdefault(level, []).append(size)
    return layout


def describe(path: Path) -> dict:
    """SST files, bytes, and per column family its files by level and its sorted runs (each L0 file is one
    run, each non-empty deeper level one): a range scan merges one iterator per sorted run."""
    ssts = list(path.glob("*.sst"))
    entry = {"sst_files": len(ssts), "sst_mb": sum(p.stat().st_size for p in ssts) / 2**20,
             "dir_mb": sum(p.stat().st_size for p in path.iterdir() if p.is_file()) / 2**20}
    try:
        layout = manifest_layout(path)
    except Exception as exc:  # an unreadable MANIFEST: the file counts above still hold
        entry["manifest_error"] = repr(exc)
        return entry
    families = {}
    for family, levels in sorted(layout.items()):
        runs = len(levels.get(0, [])) + sum(1 for level in levels if level > 0)
        families[family] = {"levels": {level: len(sizes) for level, sizes in sorted(levels.items())},
                            "runs": runs, "mb": sum(sum(s) for s in levels.values()) / 2**20}
    entry["families"] = families
    quad_families = [f for f in families if f not in ("default", "id2str")]
    entry["max_runs"] = max((families[f]["runs"] for f in quad_families), default=0)
    entry["mean_runs"] = (statistics.mean(families[f]["runs"] for f in quad_families) if quad_families else 0)
    return entry


# -- writing the stores ----------------------------------------------------------------------------

def link_copy(source: Path, target: Path) -> None:
    """A copy whose SST files (immutable) are hard links; the MANIFEST, LOG and the rest are copied."""
    target.mkdir(parents=True)
    for p in source.iterdir():
        if p.name == "LOCK":
            continue
        if p.suffix == ".sst":
            try:
                os.link(p, target / p.name)
            except OSError:  # another file system
                shutil.copy2(p, target / p.name)
        elif p.is_file():
            shutil.copy2(p, target / p.name)


def oxigraph_binary() -> str:
    from bench.peers import oxigraph_binary as find

    return find()


def write_stores(source: Path, factor: int, work: Path, variants: list[str], log) -> tuple[dict, dict]:
    """The stores, by variant, and the seconds each step took."""
    from bench.synthetic import build_store
    from ptce_kg.store import StoreRoot

    root = StoreRoot(source)
    paths, seconds = {}, {}
    if factor == 1:
        paths["bulk_extend"] = root.current_path()  # the published build, opened read-only, never written
    else:
        quads = list(root.open_read().quads_for_pattern(None, None, None, None))
        log(f"bulk_extend: {factor} × {len(quads):,} quads…")
        t = time.monotonic()
        store = build_store(str(work / "bulk_extend"), quads, factor, compact=False)
        del store
        seconds["bulk_extend"] = time.monotonic() - t
        paths["bulk_extend"] = work / "bulk_extend"
        if "bulk_extend_once" in variants:  # the same quads in one streamed `bulk_extend` call
            from bench.synthetic import replicate

            log("bulk_extend_once…")
            t = time.monotonic()
            store = pyoxigraph.Store(str(work / "bulk_extend_once"))
            store.bulk_extend(replicate(quads, factor))
            store.flush()
            del store
            seconds["bulk_extend_once"] = time.monotonic() - t
            paths["bulk_extend_once"] = work / "bulk_extend_once"
    quads = None
    nq = work / "all.nq"
    log("N-Quads…")
    t = time.monotonic()
    with open(nq, "wb") as out:
        pyoxigraph.serialize(pyoxigraph.Store.read_only(str(paths["bulk_extend"])).quads_for_pattern(None, None, None, None),
                             out, format=pyoxigraph.RdfFormat.N_QUADS)
    seconds["serialise"] = time.monotonic() - t
    if "bulk_extend+optimize" in variants:
        log("bulk_extend+optimize…")
        target = work / "bulk_extend+optimize"
        link_copy(paths["bulk_extend"], target)
        t = time.monotonic()
        store = pyoxigraph.Store(str(target))
        store.optimize()
        del store
        seconds["bulk_extend+optimize"] = time.monotonic() - t
        paths["bulk_extend+optimize"] = target
    if REFERENCE in variants:
        log("oxigraph load + optimize…")
        target = work / "cli_load"
        binary = oxigraph_binary()
        t = time.monotonic()
        subprocess.run([binary, "load", "--location", str(target), "--file", str(nq)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds["cli_load"] = time.monotonic() - t
        if "cli_load" in variants:  # the load alone, before `optimize` (a hard-linked copy)
            link_copy(target, work / "cli_load-only")
            paths["cli_load"] = work / "cli_load-only"
        t = time.monotonic()
        subprocess.run([binary, "optimize", "--location", str(target)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds["cli_optimize"] = time.monotonic() - t
        paths[REFERENCE] = target
    if "bulk_load" in variants:
        log("bulk_load…")
        target = work / "bulk_load"
        t = time.monotonic()
        store = pyoxigraph.Store(str(target))
        store.bulk_load(path=str(nq), format=pyoxigraph.RdfFormat.N_QUADS)
        store.flush()
        del store
        seconds["bulk_load"] = time.monotonic() - t
        paths["bulk_load"] = target
    nq.unlink()
    return {v: paths[v] for v in variants if v in paths}, seconds


# -- timing the queries --------------------------------------------------------------------------

def answer_digest(result) -> tuple[int, str]:
    """Rows and a digest of the sorted rows (blank nodes as `_:`), as in bench/peers.py."""
    if isinstance(result, pyoxigraph.QueryBoolean):
        return 1, str(bool(result))
    if isinstance(result, pyoxigraph.QueryTriples):
        rows = sorted(str(t) for t in result)
        return len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]
    names = [v.value for v in result.variables]
    rows = []
    for solution in result:
        row = []
        for n in names:
            term = solution[n]
            row.append("" if term is None else "_:" if isinstance(term, pyoxigraph.BlankNode) else str(term))
        rows.append("\t".join(row))
    return len(rows), hashlib.sha256("\n".join(sorted(rows)).encode()).hexdigest()[:16]


def measure(paths: dict, reps: int, log) -> list[dict]:
    from bench.peers import comparable

    stores = {v: pyoxigraph.Store.read_only(str(p)) for v, p in paths.items()}
    names = list(stores)
    rows = []
    for q in comparable():
        entry = {"query": q.name, "answers": {}, "times": {v: [] for v in names}}
        warm = {}
        for v in names:  # warm-up, and the answers compared
            t = time.perf_counter()
            entry["answers"][v] = answer_digest(stores[v].query(q.text, use_default_graph_as_union=True))
            warm[v] = time.perf_counter() - t
        slowest = max(warm.values())
        runs = reps if slowest < 0.5 else min(reps, 3) if slowest < 3 else 1
        for i in range(runs):
            order = names[i % len(names):] + names[:i % len(names)]  # rotated: no store always first
            for v in order:
                t = time.perf_counter()
                result = stores[v].query(q.text, use_default_graph_as_union=True)
                if not isinstance(result, pyoxigraph.QueryBoolean):
                    for _ in result:  # every solution produced (evaluation is lazy)
                        pass
                entry["times"][v].append(time.perf_counter() - t)
        entry["p50"] = {v: statistics.median(ts) for v, ts in entry["times"].items()}
        entry["same_answer"] = len(set(entry["answers"].values())) == 1
        rows.append(entry)
        log(f"{q.name}: " + ", ".join(f"{v} {entry['p50'][v] * 1000:.1f} ms" for v in names)
            + ("" if entry["same_answer"] else "  ANSWERS DIFFER"))
    return rows


# -- report ----------------------------------------------------------------------------------------

def median_ratio(rows: list[dict], variant: str, reference: str) -> float:
    return statistics.median(r["p50"][variant] / r["p50"][reference] for r in rows if r["p50"][reference] > 0)


def report(results: dict) -> str:
    variants = list(results["layout"])
    reference = results["reference"]
    lines = [f"## {results['factor']}× ({results['quads']:,} quads), {results['date']}", "",
             f"`{results['command']}`. Load average {results['load_average']} at the start, "
             f"{results['load_average_end']} at the end (2 cores shared with other engineers). "
             f"Each store opened with `pyoxigraph.Store.read_only` (pyoxigraph {pyoxigraph.__version__}) in one process; "
             f"up to {results['reps']} runs per query (3 when a query takes over 0.5 s, 1 over 3 s), stores taken in "
             "rotated order each round. Ratio = median over the queries of (variant p50 / reference p50), "
             f"reference `{reference}`.", "",
             "| store | written in (s) | SST files | SST MB | sorted runs per quad index (mean / max) "
             "| median p50 ratio | range | answers equal to the reference's |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    rows = results["rows"]
    for v in variants:
        lay = results["layout"][v]
        secs = results["seconds"]
        written = {"bulk_extend": secs.get("bulk_extend"),
                   "bulk_extend+optimize": secs.get("bulk_extend+optimize"),
                   REFERENCE: (secs["cli_load"] + secs["cli_optimize"]) if "cli_load" in secs else None,
                   "cli_load": secs.get("cli_load"), "bulk_load": secs.get("bulk_load"),
                   "bulk_extend_once": secs.get("bulk_extend_once")}.get(v)
        ratios = [r["p50"][v] / r["p50"][reference] for r in rows if r["p50"][reference] > 0]
        equal = sum(1 for r in rows if r["answers"][v] == r["answers"][reference])
        runs = (f"{lay['mean_runs']:.1f} / {lay['max_runs']}" if "max_runs" in lay else "—")
        lines.append(f"| `{v}` | {'—' if written is None else f'{written:.0f}'} | {lay['sst_files']} "
                     f"| {lay['sst_mb']:.0f} | {runs} | {statistics.median(ratios):.2f}× "
                     f"| {min(ratios):.2f}–{max(ratios):.2f}× | {equal} of {len(rows)} |")
    lines += ["", "Files per LSM level (L0:count …) of each column family:", "",
              "| column family | " + " | ".join(f"`{v}`" for v in variants) + " |",
              "|---|" + "---|" * len(variants)]
    families = sorted({f for v in variants for f in results["layout"][v].get("families", {})})
    for f in families:
        cells = []
        for v in variants:
            fam = results["layout"][v].get("families", {}).get(f)
            cells.append("—" if fam is None else " ".join(f"L{lv}:{n}" for lv, n in fam["levels"].items())
                         + f" ({fam['mb']:.0f} MB)")
        lines.append(f"| {f} | " + " | ".join(cells) + " |")
    lines += ["", "| query | rows | " + " | ".join(f"`{v}` p50 ms" for v in variants) + " |",
              "|---|---:|" + "---:|" * len(variants)]
    for r in rows:
        cells = [f"{r['p50'][v] * 1000:.1f}" + ("" if v == reference else f" ({r['p50'][v] / r['p50'][reference]:.2f}×)")
                 for v in variants]
        lines.append(f"| {r['query']} | {r['answers'][reference][0]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store_layout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default=str(ROOT / "var" / "store"),
                        help="a store root with a published build (read only, never written)")
    parser.add_argument("--factor", type=int, default=10,
                        help="replicas of the graph (bench/synthetic.py); 1: the published build itself")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated, among {', '.join(VARIANTS + ('cli_load', 'bulk_extend_once'))} "
                        f"(cli_load: the load before `oxigraph optimize`; bulk_extend_once: the replicas in one "
                        f"streamed `bulk_extend` call, factor > 1 only); {REFERENCE} is the reference")
    parser.add_argument("--reps", type=int, default=7, help="runs per query (fewer for slow queries)")
    parser.add_argument("--work", help="folder for the stores (default: a temporary one, deleted after)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "reports" / "store-layout.md"),
                        help="Markdown report; the section of this factor replaced, the raw results beside as .json")
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if REFERENCE not in variants:
        parser.error(f"{REFERENCE} (the reference) must be among the variants")

    def log(message: str) -> None:
        print(f"[store-layout {time.strftime('%H:%M:%S', time.gmtime())}] {message}", flush=True)

    started = load_average()
    with tempfile.TemporaryDirectory(prefix="ptce-kg-store-layout-", dir=args.work) as tmp:
        work = Path(tmp)
        paths, seconds = write_stores(Path(args.store), args.factor, work, variants, log)
        layout = {v: describe(p) for v, p in paths.items()}
        quads = len(pyoxigraph.Store.read_only(str(paths[REFERENCE])))
        log("queries…")
        rows = measure(paths, args.reps, log)
    results = {"factor": args.factor, "quads": quads, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "reference": REFERENCE, "reps": args.reps, "seconds": seconds, "layout": layout,
               "rows": [{k: v for k, v in r.items() if k != "times"} for r in rows],
               "load_average": started, "load_average_end": load_average(),
               "command": "python -m bench.store_layout " + " ".join(
                   (sys.argv[1:] if argv is None else argv)).replace(str(ROOT) + "/", "")}
    out = Path(args.out)
    raw = out.with_suffix(".json")
    everything = json.loads(raw.read_text()) if raw.exists() else {}
    everything[str(args.factor)] = results
    raw.write_text(json.dumps(everything, indent=1, default=str), encoding="utf-8")
    text = out.read_text(encoding="utf-8") if out.exists() else ""
    head, marker, _ = text.partition("\n<!-- measurements -->\n")
    if not marker:
        head = ("# Store layout and evaluation speed (issue 23, item 3)\n\n"
                "Written by `python -m bench.store_layout` (see its docstring for what each store is). "
                "Findings first, then the measurements of each factor.\n")
    sections = "\n".join(report(everything[f]) for f in sorted(everything, key=int))
    out.write_text(head.rstrip("\n") + "\n\n<!-- measurements -->\n\n" + sections, encoding="utf-8")
    print(report(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
