"""`python -m bench.validate [--store DIR] [--runs N] [--out bench/reports/validate.md]`: whole-graph
validation (`ptce-kg validate`'s SHACL part) by the reference path and by the product's path, on the same
build, in the same run (issue 23 item 4).

  reference  `validate(store, whole=True)`: every triple of every graph but the geometry one, written as
             N-Triples by pyoxigraph and parsed by rdflib, then pySHACL (what `ptce-kg validate` did before)
  product    `validate(store)`: only the triples whose predicate the shapes can read
             (`ptce_kg.validate.reached_predicates`), built into rdflib from the store's terms, then pySHACL

Each run is a fresh process (imports, store opening, loading, both shapes files: whole-process wall time);
the two paths alternate. Every result of pySHACL is compared, not only the counts: the multiset of (focus
node, path, constraint component, severity, source shape, value, messages) must be the same. Nothing is
asserted by the tests (tests/test_validate.py pins the results of both paths on a real graph).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHAPES = ("data-quality.ttl", "article-9.ttl")


def child(store_path: str, mode: str, out: str) -> None:
    """One validation in this process; phases timed; every result written for the parent to compare."""
    started = time.monotonic()
    from ptce_kg import shacl
    from ptce_kg import validate as v
    from ptce_kg.store import StoreRoot

    store = StoreRoot(Path(store_path)).open_read()
    graphs = v.shapes_graphs(SHAPES)
    t = time.monotonic()
    data = v.load_graph(store) if mode == "reference" else v.load_reached(store, v.reached_predicates(graphs.values()))
    phases = {"load": time.monotonic() - t}
    results, summary = {}, v.ValidationSummary(0, 0.0)
    for name, shapes_graph in graphs.items():
        t = time.monotonic()
        report = shacl.validate(data, shapes_graph)
        phases[f"pySHACL {name}"] = time.monotonic() - t
        results[name] = v.result_keys(shapes_graph, report)
        v._summarise(summary, name, shapes_graph, report)  # the counts `ptce-kg validate` prints
    Path(out).write_text(json.dumps({"mode": mode, "loaded": len(data), "phases": phases, "results": results,
                                     "counts": [[*key, n] for key, n in sorted(summary.counts.items())],
                                     "in_process": time.monotonic() - started}))


def run(store_path: str, mode: str, work: Path) -> dict:
    out = work / f"{mode}.json"
    t = time.monotonic()
    subprocess.run([sys.executable, "-m", "bench.validate", "--child", mode, "--store", store_path, "--json", str(out)],
                   cwd=ROOT, check=True)
    answer = json.loads(out.read_text())
    answer["wall"] = time.monotonic() - t
    return answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.validate")
    parser.add_argument("--store", default=str(ROOT / "var" / "store"))
    parser.add_argument("--runs", type=int, default=1, help="runs of each path (alternating)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "reports" / "validate.md"))
    parser.add_argument("--child", choices=("reference", "product"), help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.store, args.child, args.json)
        return 0

    from ptce_kg.store import StoreRoot

    build = StoreRoot(Path(args.store)).current_path()
    load = os.getloadavg()
    runs: dict[str, list[dict]] = {"reference": [], "product": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            for mode in ("reference", "product"):
                print(f"[validate] run {i + 1}/{args.runs}: {mode}…", file=sys.stderr, flush=True)
                runs[mode].append(run(args.store, mode, Path(tmp)))
    ref, new = runs["reference"][0], runs["product"][0]
    identical = all(r["results"] == ref["results"] for r in runs["reference"] + runs["product"])
    wall = {mode: statistics.median(r["wall"] for r in rs) for mode, rs in runs.items()}

    def phase(mode: str, key: str) -> float:
        return statistics.median(r["phases"][key] for r in runs[mode])

    lines = [
        "# Whole-graph validation: reference path vs product path (`python -m bench.validate`)",
        "",
        f"Build `{build.name if build else '?'}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average "
        f"at the start {' '.join(f'{x:.1f}' for x in load)}; {args.runs} run(s) of each path, alternating, each a "
        "fresh process; medians. The reference is the N-Triples copy of every triple (the path before issue 23 "
        "item 4), measured in the same run.",
        "",
        "| | reference | product | product / reference |",
        "|---|---:|---:|---:|",
        f"| whole process (s) | {wall['reference']:.1f} | {wall['product']:.1f} | {wall['product'] / wall['reference']:.2f} |",
    ]
    for key in ref["phases"]:
        a, b = phase("reference", key), phase("product", key)
        lines.append(f"| {key} (s) | {a:.1f} | {b:.1f} | {b / a:.2f} |")
    lines += [f"| triples given to pySHACL | {ref['loaded']:,} | {new['loaded']:,} | {new['loaded'] / ref['loaded']:.2f} |",
              "",
              f"Results identical (every focus node, path, component, severity, source shape, value and message, "
              f"as multisets, every run of both paths): **{'yes' if identical else 'NO'}**.",
              "",
              "Counts by shape and severity, as `ptce-kg validate` prints them:",
              "",
              "| shapes | shape | severity | results (reference) | results (product) |",
              "|---|---|---|---:|---:|"]
    a = {tuple(row[:3]): row[3] for row in ref["counts"]}
    b = {tuple(row[:3]): row[3] for row in new["counts"]}
    for key in sorted(set(a) | set(b)):
        lines.append(f"| {' | '.join(key)} | {a.get(key, 0)} | {b.get(key, 0)} |")
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[:12 + len(ref["phases"])]))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
