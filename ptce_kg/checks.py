"""Build checks: ASK queries (checks/*.rq) that answer true when the new graph is broken.

A build publishes only if every check answers false.
"""

from __future__ import annotations

from pathlib import Path

import pyoxigraph

from .errors import BuildError
from .iris import read_query

CHECKS_DIR = Path(__file__).resolve().parent / "checks"


def _header(text: str, key: str) -> str:
    for line in text.splitlines():
        if line.startswith(f"# {key}:"):
            return line.split(":", 1)[1].strip()
    return ""


def run_checks(store: pyoxigraph.Store) -> None:
    failures = []
    for path in sorted(CHECKS_DIR.glob("*.rq")):
        text = read_query(path)
        if bool(store.query(text)):
            failures.append(f"{path.name}: {_header(text, 'message')}")
    if failures:
        raise BuildError("checks failed, nothing published / contrôles en échec, rien n'est publié:\n  "
                         + "\n  ".join(failures))
