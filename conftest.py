"""Shared test fixtures: one full build from the pinned package, a live server over it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent
TERRITORY_FIXTURES = ROOT / "ingest" / "territories" / "fixtures"
UPDATE_TOKEN = "test-token-4f1d"


@pytest.fixture(scope="session")
def built_store(tmp_path_factory) -> Path:
    """The whole graph, built once per test session from the installed npm package and the tables."""
    from ptce_kg.build import build

    store = tmp_path_factory.mktemp("store") / "store"
    build(store, progress=lambda message: None)
    return store


@pytest.fixture(scope="session")
def store(built_store):
    from ptce_kg.store import StoreRoot

    return StoreRoot(built_store).open_read()


def select(store, text: str) -> list[dict]:
    """Run a SELECT on the union of named graphs; rows as {variable: value string}."""
    result = store.query(text, use_default_graph_as_union=True)
    names = [v.value for v in result.variables]
    return [{n: (row[n].value if row[n] is not None else None) for n in names} for row in result]


@pytest.fixture(scope="session")
def real_ctx():
    """A build context holding every territory of the pinned package (for registry tests)."""
    from ingest.base import BuildContext
    from ingest.territories import TerritoriesSource
    from ptce_kg.config import settings
    from ptce_kg.rdf import TripleSink, graph

    ctx = BuildContext()
    TerritoriesSource(settings().decoupage_dir).load(TripleSink(graph("territories"), lambda quads: None), ctx)
    return ctx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(store_dir: Path, **env) -> tuple[subprocess.Popen, str]:
    port = free_port()
    environment = {**os.environ, "PTCE_KG_STORE": str(store_dir), **{k: str(v) for k, v in env.items()}}
    process = subprocess.Popen(
        [sys.executable, "-m", "ptce_kg.cli", "serve", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()}")
        try:
            if httpx.get(base + "/sparql?query=ASK%7B%7D", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start within 60 s")


@pytest.fixture(scope="session")
def server(built_store):
    """`ptce-kg serve` on a free loopback port, over the full graph, with a short timeout."""
    process, base = start_server(built_store, PTCE_KG_QUERY_TIMEOUT=3, PTCE_KG_UPDATE_TOKEN=UPDATE_TOKEN,
                                 PTCE_KG_MAX_ROWS=5000)
    yield base
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
