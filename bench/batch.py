"""`python -m bench.batch [--candidates 500] [--store DIR] [--no-api]`: times a batch check of N candidates.

The candidates are the 30 of tests/fixtures/batch/ (eligible, not eligible, not enough information, one bad
cell) repeated under new ids until there are N, with their members. Timed: the whole `ptce-kg check --batch`
process (start, store opened, every candidate checked, lines written), and, unless --no-api, the whole
`POST /eligibility/batch` answer of a `ptce-kg serve` on loopback (the server started beforehand, not timed).
Prints the timings and the verdict counts; the target (issue 24) is under a minute for 500 candidates.
Not a test: never run by the suite.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIXTURES = ROOT / "tests" / "fixtures" / "batch"


def _rows(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, newline="", encoding="utf-8") as source:
        reader = csv.DictReader(source)
        return list(reader.fieldnames or []), list(reader)


def make_batch(count: int, folder: Path) -> tuple[Path, Path]:
    """candidates.csv and members.csv of `count` candidates, the fixture's repeated under new ids."""
    header, candidates = _rows(FIXTURES / "candidates.csv")
    member_header, members = _rows(FIXTURES / "members.csv")
    by_candidate: dict[str, list[dict]] = {}
    for member in members:
        by_candidate.setdefault(member["candidate"], []).append(member)
    out_candidates, out_members = io.StringIO(), io.StringIO()
    write_c = csv.DictWriter(out_candidates, header, lineterminator="\n")
    write_m = csv.DictWriter(out_members, member_header, lineterminator="\n")
    write_c.writeheader()
    write_m.writeheader()
    for n in range(count):
        row = dict(candidates[n % len(candidates)])
        original, row["id"] = row["id"], f"{row['id']}-{n + 1}"
        write_c.writerow(row)
        for member in by_candidate.get(original, []):
            write_m.writerow({**member, "candidate": row["id"]})
    paths = folder / "candidates.csv", folder / "members.csv"
    paths[0].write_text(out_candidates.getvalue(), encoding="utf-8")
    paths[1].write_text(out_members.getvalue(), encoding="utf-8")
    return paths


def eligibilities(text: str) -> Counter:
    seen = {}
    for row in csv.DictReader(io.StringIO(text)):
        seen.setdefault(row["candidate"], row["eligibility"])
    return Counter(seen.values())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=500)
    parser.add_argument("--store", help="published store (default: $PTCE_KG_STORE or var/store)")
    parser.add_argument("--rules", default="article-9")
    parser.add_argument("--no-api", action="store_true", help="time the command line only")
    args = parser.parse_args(argv)
    store = args.store or os.environ.get("PTCE_KG_STORE") or str(ROOT / "var" / "store")
    with tempfile.TemporaryDirectory(prefix="ptce-kg-batch-") as tmp:
        candidates, members = make_batch(args.candidates, Path(tmp))
        size = candidates.stat().st_size + members.stat().st_size
        print(f"{args.candidates} candidates, {size:,} bytes of CSV, rules {args.rules}, store {store}")
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "cli", "check", "--store", store, "--rules", args.rules,
                               "--batch", str(candidates), "--members", str(members), "--format", "csv"],
                              cwd=ROOT, capture_output=True, text=True)
        cli_seconds = time.monotonic() - started
        if done.returncode not in (0, 1, 2) or not done.stdout:
            print(done.stderr[-3000:], file=sys.stderr)
            return 1
        counts = eligibilities(done.stdout)
        print(f"CLI  ptce-kg check --batch: {cli_seconds:6.1f} s for the whole process "
              f"({1000 * cli_seconds / args.candidates:.1f} ms a candidate); {dict(sorted(counts.items()))}")
        if args.no_api:
            return 0
        from conftest import start_server, stop

        process, base = start_server(store)
        try:
            started = time.monotonic()
            with httpx.stream("POST", base + "/eligibility/batch", params={"format": "csv", "rules": args.rules},
                              files={"candidates": ("candidates.csv", candidates.read_bytes(), "text/csv"),
                                     "members": ("members.csv", members.read_bytes(), "text/csv")},
                              timeout=600) as response:
                first = None
                chunks = []
                for chunk in response.iter_text():
                    if first is None and chunk.count("\n") > 1:
                        first = time.monotonic() - started
                    chunks.append(chunk)
            api_seconds = time.monotonic() - started
        finally:
            stop(process)
        text = "".join(chunks)
        same = "same lines as the CLI" if text == done.stdout else "LINES DIFFER FROM THE CLI"
        print(f"API  POST /eligibility/batch: {api_seconds:6.1f} s for the whole answer "
              f"(status {response.status_code}, first candidate after {first or 0:.2f} s); {same}")
        return 0 if text == done.stdout else 1


if __name__ == "__main__":
    raise SystemExit(main())
