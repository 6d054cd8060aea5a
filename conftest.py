"""Shared test fixtures: one full build from the pinned package, a live server over it."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
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
    from cli import build  # every declared source (the composition root)

    store = tmp_path_factory.mktemp("store") / "store"
    build(store, progress=lambda message: None)
    return store


@pytest.fixture(scope="session")
def store(built_store):
    from ptce_kg.store import StoreRoot

    return StoreRoot(built_store).open_read()


def form_variant(base: dict, **changes) -> dict:
    """A copy of a candidate form with fields replaced, or removed when given None."""
    import copy

    form = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            form.pop(key, None)
        else:
            form[key] = value
    return form


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


# Every server the tests start runs under tests/guard/sitecustomize.py: outbound connections are refused and
# written here, so the hostile-input tests can check that the server itself reached nothing.
CONNECT_LOG = Path(tempfile.gettempdir()) / f"ptce-kg-connects-{os.getpid()}.log"
GUARD = ROOT / "tests" / "guard"


def guarded_env(**env) -> dict:
    path = os.pathsep.join(p for p in (str(GUARD), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "PTCE_KG_CONNECT_LOG": str(CONNECT_LOG),
            **{k: str(v) for k, v in env.items()}}


def start_server(store_dir, **env) -> tuple[subprocess.Popen, str]:
    port = free_port()
    environment = guarded_env(PTCE_KG_STORE=store_dir, **env)
    # The server's log goes to a file: an unread pipe fills up (64 KB) and then blocks the server.
    log = tempfile.NamedTemporaryFile(prefix=f"ptce-kg-serve-{port}-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=log,
    )
    process.log_path = log.name
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {Path(log.name).read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(base + "/sparql?query=ASK%7B%7D", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start within 60 s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


SERVER_SETTINGS = dict(PTCE_KG_QUERY_TIMEOUT=3, PTCE_KG_UPDATE_TOKEN=UPDATE_TOKEN, PTCE_KG_MAX_ROWS=5000)


@pytest.fixture(scope="session")
def embedded_server(built_store):
    """`ptce-kg serve` on a free loopback port, over the full graph in the embedded store."""
    process, base = start_server(built_store, **SERVER_SETTINGS)
    yield base
    stop(process)


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory):
    """A real Oxigraph server (the `oxigraph` package from PyPI) on a free loopback port."""
    import shutil

    binary = shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or shutil.which("oxigraph")
    if binary is None:
        pytest.fail("the `oxigraph` server is not installed (pip install oxigraph)")
    port = free_port()
    location = tmp_path_factory.mktemp("oxigraph")
    # Its own timeout stops queries our service gave up on (the HTTP client going away does not).
    process = subprocess.Popen([binary, "serve", "--location", str(location / "db"), "--bind", f"127.0.0.1:{port}",
                                "--timeout-s", "10"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/query", params={"query": "ASK {}"}, timeout=2)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield f"sparql+{base}/query"
    stop(process)


@pytest.fixture(scope="session")
def remote_store(oxigraph_server, tmp_path_factory):
    """The full graph built against the Oxigraph server; returns (store spec, local cache for dumps)."""
    from cli import build  # every declared source (the composition root)

    cache = tmp_path_factory.mktemp("remote-cache")
    previous = os.environ.get("PTCE_KG_REMOTE_CACHE")
    os.environ["PTCE_KG_REMOTE_CACHE"] = str(cache)
    try:
        build(oxigraph_server, progress=lambda message: None)
    finally:
        if previous is None:
            os.environ.pop("PTCE_KG_REMOTE_CACHE", None)
        else:
            os.environ["PTCE_KG_REMOTE_CACHE"] = previous
    return oxigraph_server, cache


@pytest.fixture(scope="session")
def remote_server(remote_store):
    """`ptce-kg serve` over the Oxigraph server."""
    spec, cache = remote_store
    process, base = start_server(spec, PTCE_KG_REMOTE_CACHE=cache, **SERVER_SETTINGS)
    yield base
    stop(process)


@pytest.fixture(scope="session", params=["embedded", "remote"])
def server(request):
    """The service on each back end: every test using it runs against both."""
    return request.getfixturevalue(f"{request.param}_server")


# -- per engine: how many tests ran on each back end (printed at the end of every run) -----------------------

ENGINES = {"embedded": "pyoxigraph (embedded)", "remote": "Oxigraph server (remote)",
           "oxigraph": "Oxigraph server (remote)", "virtuoso": "Virtuoso (remote)"}


def pytest_terminal_summary(terminalreporter):
    import re
    from collections import Counter

    counts: dict[str, Counter] = {}
    for outcome in ("passed", "failed", "skipped", "xfailed", "xpassed", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") not in ("call", "setup") or (report.when == "setup" and outcome == "passed"):
                continue
            ids = re.findall(r"\[([^\]]*)\]", getattr(report, "nodeid", ""))
            engines = {ENGINES[part] for i in ids for part in i.split("-") if part in ENGINES}
            for engine in engines:
                counts.setdefault(engine, Counter())[outcome] += 1
    if counts:
        terminalreporter.section("tests per SPARQL engine")
        for engine, tally in sorted(counts.items()):
            terminalreporter.write_line(f"{engine}: " + ", ".join(f"{n} {k}" for k, n in sorted(tally.items())))
