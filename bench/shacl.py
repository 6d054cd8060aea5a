"""`python -m bench.shacl [--store DIR] [--engines-venv DIR]`: faster SHACL engines beside pySHACL (issue 23, item 4).

On the project's own shapes (shapes/data-quality.ttl and shapes/article-9.ttl for the whole graph, as
`ptce-kg validate` runs them; each rule set's shapes for single eligibility checks, on the completed graphs
of the form candidates of tests/fixtures/candidates), it runs:

  pySHACL        the product's path (ptce_kg/shacl.py: SPARQL parsed once, validated in place), in process
  pyshacl-turbo  PyPI, Rust, pySHACL-compatible `validate`        } in the engines' venv (not product
  pyrudof        PyPI, Rust (rudof), `Rudof.validate_shacl`       } dependencies), bench/shacl_engines.py

and compares what each reports: results reduced to (focus node, path, constraint component, severity,
source shape when named), counted by shape and severity, and as a set against pySHACL's. An engine could
replace pySHACL only if every result is the same (the report says which differ and how); times are the
validation call alone, the graphs already parsed. Writes bench/reports/shacl.md (and .json).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ENGINES = ("pyshacl-turbo", "pyrudof")
ENGINES_VENV = ROOT / ".venv-shacl-engines"
WHOLE_GRAPH_SHAPES = ("data-quality.ttl", "article-9.ttl")
RULESETS = ("article-9", "aap-2013", "ami-emergents")
CANDIDATES = ("eligible.json", "public-carrier.json")


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def prepare(store_path: Path, work: Path) -> dict:
    """Write the whole data graph (as `ptce-kg validate` loads it) and each check's completed candidate graph
    as N-Triples, the shapes as Turtle; time pySHACL (the product's path) on each."""
    import rdflib
    from bench.shacl_engines import keys
    from ptce_kg import candidate, eligibility, shacl
    from ptce_kg.config import SHAPES_DIR
    from ptce_kg.store import StoreRoot
    from ptce_kg.validate import load_graph

    store = StoreRoot(store_path).open_read()
    jobs = []
    t = time.perf_counter()
    data = load_graph(store)
    print(f"[shacl] whole graph: {len(data):,} triples read in {time.perf_counter() - t:.0f} s", flush=True)
    whole = work / "whole.nt"
    data.serialize(whole, format="nt", encoding="utf-8")
    for name in WHOLE_GRAPH_SHAPES:
        shapes = rdflib.Graph().parse(SHAPES_DIR / name, format="turtle")
        print(f"[shacl] pySHACL, whole graph, {name}…", flush=True)
        t = time.perf_counter()
        results = shacl.validate(data, shapes)
        jobs.append({"kind": "whole graph", "shapes": str(SHAPES_DIR / name), "label": name, "data": [str(whole)],
                     "pyshacl": {"times": [time.perf_counter() - t], "results": [keys(results)]}})
    del data
    for ruleset in RULESETS:
        shapes_graph = eligibility.shapes_graph(ruleset)
        shapes_file = work / f"shapes-{ruleset}.ttl"
        shapes_graph.serialize(shapes_file, format="turtle")
        files, times, found = [], [], []
        for name in CANDIDATES:
            body = (ROOT / "tests" / "fixtures" / "candidates" / name).read_bytes()
            g = eligibility.complete_from_store(candidate.read(body, "form", store), store)
            path = work / f"check-{ruleset}-{name}.nt"
            g.serialize(path, format="nt", encoding="utf-8")
            files.append(str(path))
            shacl.validate(g, shapes_graph)  # warm
            for _ in range(20):
                t = time.perf_counter()
                results = shacl.validate(g, shapes_graph)
                times.append(time.perf_counter() - t)
            found.append(keys(results))
        jobs.append({"kind": "single check", "shapes": str(shapes_file), "label": f"{ruleset} × {len(files)} candidates",
                     "data": files, "pyshacl": {"times": times, "results": found}})
    return {"jobs": jobs}


def run_engine(python: Path, engine: str, job: dict, reps: int) -> dict:
    out = subprocess.run([str(python), str(ROOT / "bench" / "shacl_engines.py"), engine, job["shapes"], *job["data"],
                          "--reps", str(reps)], capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1][:300] if out.stderr.strip() else f"exit {out.returncode}"}
    data = json.loads(out.stdout.strip().splitlines()[-1])
    runs = data["runs"]
    return {"version": data["version"], "times": [t for r in runs for t in r["times"]],
            "results": [r["results"] for r in runs], "error": next((r["error"] for r in runs if r.get("error")), None)}


def by_shape(results: list[list[list[str]]]) -> Counter:
    c = Counter()
    for run in results:
        for focus, path, component, severity, shape in run:
            name = shape if shape != "_:" else f"(property shape) {path or component}"
            c[(name.rsplit("/", 1)[-1], severity)] += 1
    return c


def compare(ref: list, other: list) -> dict:
    a = Counter(tuple(k) for run in ref for k in run)
    b = Counter(tuple(k) for run in other for k in run)
    return {"same": a == b, "missing": sum((a - b).values()), "extra": sum((b - a).values()),
            "missing_examples": [list(k) for k in list((a - b))[:3]], "extra_examples": [list(k) for k in list((b - a))[:3]]}


def ms(x: float | None) -> str:
    return "–" if x is None else (f"{x:.1f} s" if x >= 1 else f"{x * 1000:.1f} ms")


def report(path: Path, results: dict) -> str:
    lines = [f"# SHACL engines beside pySHACL ({results['date']})", "",
             f"pySHACL {results['pyshacl_version']} on the product's path (`ptce_kg/shacl.py`); "
             + ", ".join(f"{e} {results['versions'].get(e, '?')}" for e in ENGINES)
             + " from PyPI in their own venv. Times are the validation call, the graphs already parsed "
             "(the whole graph: one run; a single check: p50 over its runs). Machine load average at the start "
             f"{results['load_average']}.", "",
             "A ratio above 1 means the engine is faster than pySHACL; “same results” means the same multiset of "
             "(focus node, path, constraint component, severity, named source shape) as pySHACL's.", "",
             "| job | pySHACL | " + " | ".join(ENGINES) + " |", "|---|---:|" + "---:|" * len(ENGINES)]
    for job in results["jobs"]:
        cells = []
        ref = pct(job["pyshacl"]["times"], .5)
        for e in ENGINES:
            r = job.get(e, {})
            if r.get("error") and not r.get("times"):
                cells.append(f"failed: {r['error'][:120]}")
                continue
            t = pct(r.get("times", []), .5)
            verdict = "same results" if r["comparison"]["same"] else (
                f"**different**: {r['comparison']['missing']} missing, {r['comparison']['extra']} extra")
            if r.get("error"):
                verdict += f"; failed on some: {r['error'][:120]}"
            cells.append(f"{ms(t)} (pySHACL / it: {ref / t:.2f}×; {verdict})" if t else verdict)
        lines.append(f"| {job['kind']}, {job['label']} | {ms(ref)} | " + " | ".join(cells) + " |")
    lines += ["", "## Results by shape and severity", ""]
    for job in results["jobs"]:
        counts = {"pySHACL": by_shape(job["pyshacl"]["results"])}
        for e in ENGINES:
            if job.get(e, {}).get("results") is not None:
                counts[e] = by_shape(job[e]["results"])
        shapes = sorted(set().union(*counts.values()))
        lines += [f"### {job['kind']}, {job['label']}", "", "| shape | severity | " + " | ".join(counts) + " |",
                  "|---|---|" + "---:|" * len(counts)]
        for key in shapes:
            row = [counts[e].get(key, 0) for e in counts]
            mark = "" if len(set(row)) == 1 else " **≠**"
            lines.append(f"| {key[0]}{mark} | {key[1]} | " + " | ".join(str(v) for v in row) + " |")
        for e in ENGINES:
            c = job.get(e, {}).get("comparison")
            if c and not c["same"]:
                lines.append(f"\n{e}: e.g. missing {c['missing_examples'][:2]}, extra {c['extra_examples'][:2]}")
        lines.append("")
    lines += ["## Verdict", ""]
    for e in ENGINES:
        bad = [j["label"] for j in results["jobs"] if j.get(e, {}).get("error")
               or not j.get(e, {}).get("comparison", {}).get("same")]
        lines.append(f"- {e}: " + ("the same results as pySHACL on every job here; adopting it would still need "
                                   "every eligibility and validation test to give the same verdicts and messages "
                                   "through it." if not bad else
                                   f"not adoptable as it stands: failed or reported differently on {', '.join(bad)}."))
    lines += ["", "pySHACL stays the product's engine (ptce_kg/shacl.py): a faster engine is adopted only when "
              "every verdict is identical.", ""]
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    # paths relative to the checkout: the raw results name no machine's folders
    raw = json.dumps(results, indent=1).replace(json.dumps(str(ROOT) + "/")[1:-1], "")
    path.with_suffix(".json").write_text(raw, encoding="utf-8")
    return text


def main(argv=None) -> int:
    import os

    import pyshacl

    parser = argparse.ArgumentParser(prog="python -m bench.shacl")
    parser.add_argument("--store", help="a built store (default: PTCE_KG_STORE or var/store)")
    parser.add_argument("--engines-venv", default=str(ENGINES_VENV),
                        help="venv with pyshacl-turbo and pyrudof (`make bench` installs it)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "reports" / "shacl.md"))
    args = parser.parse_args(argv)
    from ptce_kg.config import settings

    python = Path(args.engines_venv) / "bin" / "python"
    if not python.exists():
        print(f"[shacl] no engines venv at {args.engines_venv}: skipped", flush=True)
        return 0
    store = Path(args.store or settings().store)
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "pyshacl_version": pyshacl.__version__,
               "load_average": " ".join(f"{x:.1f}" for x in os.getloadavg()), "versions": {}}
    with tempfile.TemporaryDirectory(prefix="ptce-kg-shacl-") as tmp:
        results |= prepare(store, Path(tmp))
        for job in results["jobs"]:
            for engine in ENGINES:
                print(f"[shacl] {engine}, {job['kind']}, {job['label']}…", flush=True)
                r = run_engine(python, engine, job, 1 if job["kind"] == "whole graph" else 10)
                if r.get("results") is not None:
                    ref = job["pyshacl"]["results"]
                    # single checks: the engine ran each candidate `reps` times but reports its last results once
                    r["comparison"] = compare(ref, r["results"])
                    results["versions"][engine] = r.get("version")
                job[engine] = r
    print(report(Path(args.out), results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
