"""`python -m bench.fuzz [--examples N] [-k EXPR]`: the red-team's property-based tests, at length.

Runs every `tests/redteam/test_fuzz_*.py` (the candidate readers, the SPARQL guard, whatever is added next)
under the hypothesis profile `long` of tests/redteam/__init__.py — random examples, not CI's fixed ones —
with N examples per test (default 5000), then prints one line per test: outcome, time, examples tried and
how many hypothesis rejected. Exit status: pytest's (0 when every property held).

A failure prints the shrunk example and a `@reproduce_failure(...)` line to replay it in CI's profile.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REDTEAM = ROOT / "tests" / "redteam"
# A test's section in hypothesis' statistics, and its example counts.
_SECTION = re.compile(r"^(\S+::\S+):\s*$")
_COUNTS = re.compile(r"(\d+) passing(?: examples?)?, (\d+) failing(?: examples?)?, (?:and )?(\d+) invalid")


def fuzz_files() -> list[Path]:
    return sorted(REDTEAM.glob("test_fuzz_*.py"))


def _statistics(output: str) -> dict[str, tuple[int, int, int]]:
    """Examples per test (passing, failing, invalid), summed over hypothesis' phases."""
    counts: dict[str, tuple[int, int, int]] = {}
    current = None
    for line in output.splitlines():
        section = _SECTION.match(line.strip())
        if section and "::" in section.group(1):
            current = section.group(1).rsplit("::", 1)[-1]
            continue
        found = _COUNTS.search(line)
        if found and current:
            before = counts.get(current, (0, 0, 0))
            counts[current] = tuple(a + int(b) for a, b in zip(before, found.groups()))
    return counts


def _results(junit: Path) -> list[tuple[str, str, float]]:
    rows = []
    for case in ET.parse(junit).iter("testcase"):
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            if case.find(tag) is not None:
                outcome = {"failure": "FAILED", "error": "ERROR", "skipped": "skipped"}[tag]
        module = case.get("classname", "").rsplit(".", 1)[-1]
        rows.append((f"{module}::{case.get('name')}", outcome, float(case.get("time") or 0)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000, help="examples per test (default 5000)")
    parser.add_argument("-k", dest="keyword", help="only the tests matching this pytest -k expression")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds per test before pytest-timeout stops it (default: 0.5 s per example, 600 s at least)")
    args = parser.parse_args(argv)

    files = fuzz_files()
    if not files:
        print(f"no test_fuzz_*.py in {REDTEAM}", file=sys.stderr)
        return 2
    timeout = args.timeout or max(600.0, 0.5 * args.examples)
    env = {**os.environ, "PTCE_KG_FUZZ_PROFILE": "long", "PTCE_KG_FUZZ_EXAMPLES": str(args.examples)}
    with tempfile.TemporaryDirectory(prefix="ptce-kg-fuzz-") as tmp:
        junit = Path(tmp) / "junit.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--timeout={timeout:.0f}",
                   "--hypothesis-show-statistics", f"--junitxml={junit}", "-W", "ignore::DeprecationWarning",
                   *(["-k", args.keyword] if args.keyword else []), *(str(f.relative_to(ROOT)) for f in files)]
        print(f"fuzzing {len(files)} file(s), {args.examples} examples per test: {' '.join(f.name for f in files)}",
              flush=True)
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, errors="replace")
        output = []
        for line in process.stdout:
            output.append(line)
            sys.stdout.write(line)
        status = process.wait()
        elapsed = time.monotonic() - started
        rows = _results(junit) if junit.exists() else []

    counts = _statistics("".join(output))
    print(f"\n== fuzz summary: {len(rows)} tests, {elapsed:.0f} s, profile long, {args.examples} examples per test ==")
    width = max((len(name) for name, _, _ in rows), default=10)
    for name, outcome, seconds in rows:
        test = name.rsplit("::", 1)[-1]
        passing, failing, invalid = counts.get(test, (None, None, None))
        examples = f"{passing} examples, {invalid} rejected" if passing is not None else ""
        print(f"{name:<{width}}  {outcome:<7}  {seconds:7.1f} s  {examples}")
    failed = [name for name, outcome, _ in rows if outcome in ("FAILED", "ERROR")]
    print("every property held" if status == 0 else f"{len(failed)} failed: {', '.join(failed)}" if failed
          else f"pytest exited with status {status}")
    return status


if __name__ == "__main__":
    sys.exit(main())
