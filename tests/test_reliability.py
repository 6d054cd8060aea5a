"""Faults, back-pressure and hostile input: the service keeps serving, loses nothing, reaches nothing."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import CONNECT_LOG, ROOT, TERRITORY_FIXTURES, UPDATE_TOKEN, guarded_env, select, start_server, stop


# -- faults ---------------------------------------------------------------------------------------

def test_kill_9_during_a_build_leaves_the_previous_graph_served(tmp_path):
    from ingest.territories import TerritoriesSource
    from ptce_kg.build import build
    from ptce_kg.store import StoreRoot

    root = StoreRoot(tmp_path / "store")
    build(root.path, sources=[TerritoriesSource(TERRITORY_FIXTURES)], progress=lambda m: None, with_dumps=False)
    published = root.current_name()
    # A full build from the package takes several seconds: kill it in the middle.
    process = subprocess.Popen([sys.executable, "-m", "cli", "build", "--store", str(root.path)],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(root.builds.iterdir())) < 2:
        time.sleep(0.1)
    time.sleep(1.5)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert root.current_name() == published
    assert select(root.open_read(), "SELECT (COUNT(*) AS ?n) { ?c a <https://w3id.org/ptce-kg/def#Commune> }") == [{"n": "7"}]
    # The next build succeeds and publishes.
    build(root.path, sources=[TerritoriesSource(TERRITORY_FIXTURES)], progress=lambda m: None, with_dumps=False)
    assert root.current_name() != published


def test_a_restarted_service_finds_its_store_intact(tmp_path):
    from ingest.territories import TerritoriesSource
    from ptce_kg.build import build

    build(tmp_path / "store", sources=[TerritoriesSource(TERRITORY_FIXTURES)], progress=lambda m: None)
    query = {"query": "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"}
    answers = []
    for _ in range(2):
        process, base = start_server(tmp_path / "store")
        try:
            answers.append(httpx.get(base + "/sparql", params=query).json()["results"]["bindings"][0]["n"]["value"])
        finally:
            stop(process)
    assert answers[0] == answers[1] and int(answers[0]) > 400


# -- back-pressure --------------------------------------------------------------------------------

def test_per_client_concurrency_gets_429_with_retry_after(built_store):
    process, base = start_server(built_store, PTCE_KG_QUERY_TIMEOUT=3, PTCE_KG_CLIENT_CONCURRENCY=1,
                                 PTCE_KG_WORKERS=2)
    try:
        slow = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f }"
        result = {}
        thread = threading.Thread(target=lambda: result.update(r=httpx.get(base + "/sparql", params={"query": slow}, timeout=30)))
        thread.start()
        time.sleep(0.5)
        second = httpx.get(base + "/sparql", params={"query": "ASK {}"})
        thread.join()
        assert second.status_code == 429 and int(second.headers["retry-after"]) >= 1
        assert result["r"].status_code == 503
        assert httpx.get(base + "/sparql", params={"query": "ASK {}"}).status_code == 200  # slot released
    finally:
        stop(process)


def test_per_client_time_budget_gets_429(built_store):
    process, base = start_server(built_store, PTCE_KG_QUERY_TIMEOUT=2, PTCE_KG_CLIENT_BUDGET=3)
    try:
        slow = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f }"
        statuses = []
        for _ in range(3):  # 2 s each (more on a loaded machine: the client is charged what it really took)
            statuses.append(httpx.get(base + "/sparql", params={"query": slow}, timeout=30).status_code)
            if statuses[-1] == 429:
                break
        assert statuses[0] == 503 and set(statuses[1:]) <= {503, 429}  # by the second, the 3 s budget is spent
        refused = httpx.get(base + "/sparql", params={"query": "ASK {}"})
        assert refused.status_code == 429 and "Retry-After" in refused.headers
    finally:
        stop(process)


# -- hostile input battery ------------------------------------------------------------------------

@pytest.fixture
def no_outbound(monkeypatch):
    """A socket guard: any connection to a non-loopback address, from this process or from the servers the
    tests started (tests/guard/sitecustomize.py logs theirs), fails the test."""
    real = socket.socket.connect
    attempts = []
    before = CONNECT_LOG.read_text(encoding="utf-8") if CONNECT_LOG.exists() else ""

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if not (host.startswith("127.") or host in ("::1", "localhost")):
            attempts.append(address)
            raise AssertionError(f"outbound connection attempted to {address}")
        return real(self, address)
    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield attempts
    assert attempts == []
    after = CONNECT_LOG.read_text(encoding="utf-8") if CONNECT_LOG.exists() else ""
    assert after == before, f"the server attempted: {after[len(before):]}"


def test_the_server_side_guard_refuses_and_logs_outbound_connections(tmp_path):
    log = tmp_path / "connects.log"
    env = {**guarded_env(), "PTCE_KG_CONNECT_LOG": str(log)}
    script = ("import socket\ntry:\n    socket.create_connection(('192.0.2.1', 9), timeout=1)\n"
              "except PermissionError as e:\n    print('refused', e)\n"
              "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); "
              "socket.create_connection(s.getsockname(), timeout=1); print('loopback ok')")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert "refused" in done.stdout and "loopback ok" in done.stdout, done.stderr
    assert "192.0.2.1" in log.read_text(encoding="utf-8")


@pytest.mark.parametrize("request_kwargs, status", [
    (dict(params={"query": "SELECT * { SERVICE <http://169.254.169.254/latest/meta-data/> { ?s ?p ?o } }"}), 403),
    (dict(params={"query": "SELECT * { SERVICE <http://[fe80::1]/sparql> { ?s ?p ?o } }"}), 403),
    (dict(params={"query": "SELECT * FROM <http://example.org/remote.ttl> { ?s ?p ?o }"}), 200),
    (dict(data={"update": "LOAD <http://example.org/data.ttl>"}, headers={"Authorization": f"Bearer {UPDATE_TOKEN}"}), 403),
    (dict(data={"update": "LOAD <file:///etc/passwd>"}), 403),
    (dict(data={"query": "SELECT * {" * 5000 + "}" * 5000}), 400),
    (dict(content=b"query=\xff\xfe\xfd", headers={"Content-Type": "application/x-www-form-urlencoded"}), 400),
    (dict(content=b"SELECT \xff * {}", headers={"Content-Type": "application/sparql-query"}), 400),
    (dict(content=b"x" * (2 * 1024 * 1024), headers={"Content-Type": "application/sparql-query"}), 413),
])
def test_hostile_sparql_requests(server, no_outbound, request_kwargs, status):
    method = httpx.post if ("data" in request_kwargs or "content" in request_kwargs) else httpx.get
    response = method(server + "/sparql", timeout=30, **request_kwargs)
    assert response.status_code == status, response.text[:300]
    if status == 200:
        assert response.json()["results"]["bindings"] == []  # FROM of a remote IRI reads nothing
    assert httpx.get(server + "/sparql", params={"query": "ASK {}"}).status_code == 200


def test_regex_bomb_is_cut_by_the_engine_or_the_timeout(server):
    bomb = 'SELECT ?m { VALUES ?s { "' + "a" * 5000 + '!" } BIND(REGEX(?s, "^(a+)+$") AS ?m) }'
    started = time.monotonic()
    response = httpx.get(server + "/sparql", params={"query": bomb}, timeout=30)
    assert response.status_code in (200, 503) and time.monotonic() - started < 5
    assert httpx.get(server + "/sparql", params={"query": "ASK {}"}).status_code == 200


def test_header_injection_through_format(server):
    response = httpx.get(server + "/sparql", params={"query": "ASK {}", "format": "json\r\nX-Injected: yes"})
    assert response.status_code == 406 and "x-injected" not in response.headers


@pytest.mark.parametrize("path", ["/dumps/..%2F..%2Fetc%2Fpasswd", "/doc/id/..%2F..%2F..%2Fetc%2Fpasswd",
                                  "/shapes/..%2F..%2Fpyproject", "/assets/site/..%2F..%2Fapp.py"])
def test_path_traversal(server, path):
    response = httpx.get(server + path)
    assert response.status_code in (400, 404)
    assert "root:" not in response.text and "[project]" not in response.text and "create_app" not in response.text


def test_security_headers_on_html(server):
    for path in ("/", "/sparql", "/eligibility", "/doc/id/ptce/cluster-jura"):
        response = httpx.get(server + path, headers={"Accept": "text/html"}, follow_redirects=True)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "<script>" not in response.text  # no inline script: CSP holds without exceptions


def test_security_headers_on_every_answer_and_the_language_cookie_on_pages(server):
    answer = httpx.get(server + "/sparql", params={"query": "ASK {}", "lang": "en"},
                       headers={"Accept": "application/sparql-results+json"})
    assert answer.status_code == 200 and answer.json()["boolean"] is True
    assert answer.headers["x-content-type-options"] == "nosniff" and answer.headers["x-frame-options"] == "DENY"
    assert "content-security-policy" not in answer.headers and "set-cookie" not in answer.headers  # not a page
    page = httpx.get(server + "/", params={"lang": "en"}, headers={"Accept": "text/html"})
    assert page.status_code == 200 and '<html lang="en"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("lang=en;") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    remembered = httpx.get(server + "/", headers={"Accept": "text/html"}, cookies={"lang": "en"})
    assert '<html lang="en"' in remembered.text and "set-cookie" not in remembered.headers
    assert "set-cookie" not in httpx.get(server + "/", params={"lang": "de"}).headers  # not a language offered


def test_secrets_are_never_logged(built_store, tmp_path):
    secret = "s3cr3t-token-never-logged"
    process, base = start_server(built_store, PTCE_KG_UPDATE_TOKEN=secret)
    try:
        httpx.post(base + "/sparql", data={"update": "CLEAR ALL"}, headers={"Authorization": f"Bearer {secret}x"})
    finally:
        stop(process)
    log = Path(process.log_path).read_text(errors="replace")
    assert secret not in log


def _fixture_without_one_commune(tmp_path):
    import json
    import shutil

    folder = tmp_path / "smaller"
    shutil.copytree(TERRITORY_FIXTURES, folder)
    communes = json.loads((folder / "data" / "communes.json").read_text(encoding="utf-8"))
    (folder / "data" / "communes.json").write_text(json.dumps([c for c in communes if c["code"] != "01001"]))
    epci = json.loads((folder / "data" / "epci.json").read_text(encoding="utf-8"))
    for e in epci:
        e["membres"] = [m for m in e["membres"] if m["code"] != "01001"]
    (folder / "data" / "epci.json").write_text(json.dumps([e for e in epci if e["membres"]]))
    return folder


def test_load_during_a_switch_sees_one_consistent_version_at_a_time(tmp_path):
    """Clients keep querying while a new build is published: no error, and no answer mixes two builds."""
    import asyncio

    from bench.load import run_load
    from ingest.territories import TerritoriesSource
    from ptce_kg.build import build

    store = tmp_path / "store"
    first = build(store, sources=[TerritoriesSource(TERRITORY_FIXTURES)], progress=lambda m: None)
    process, base = start_server(store, PTCE_KG_CLIENT_CONCURRENCY=1000, PTCE_KG_CLIENT_BUDGET=1e9)
    try:
        smaller = _fixture_without_one_commune(tmp_path)
        second = {}

        def rebuild():
            time.sleep(2)
            second.update(build(store, sources=[TerritoriesSource(smaller)], progress=lambda m: None))
        thread = threading.Thread(target=rebuild)
        thread.start()
        result = asyncio.run(run_load(base, clients=8, seconds=8))
        thread.join()
    finally:
        stop(process)
    assert all(isinstance(s, int) and s < 500 for s in result["statuses"]), result["statuses"]
    expected = {(f"https://w3id.org/ptce-kg/id/build/{first['build']}", "7"),
                (f"https://w3id.org/ptce-kg/id/build/{second['build']}", "6")}
    assert set(result["pairs"]) <= expected, result["pairs"]
    assert len(result["pairs"]) == 2  # both versions were served, each whole


def test_client_limits_count_a_sliding_minute(monkeypatch):
    """The per-client budget: query time of the last 60 s (one-second buckets), Retry-After until the oldest
    leaves the window, concurrency apart; clients idle for a minute are forgotten."""
    from api import limits as limits_module
    from api.limits import ClientLimits

    clock = [1000.0]
    monkeypatch.setattr(limits_module.time, "monotonic", lambda: clock[0])
    limits = ClientLimits(concurrency=2, budget_s=10.0)
    assert limits.acquire("a") is None and limits.acquire("a") is None
    assert limits.acquire("a") == 1  # a third at once: over the concurrency
    assert limits.acquire("b") is None  # another client is not affected
    limits.release("a", 4.0)
    limits.release("b", 0.5)
    clock[0] += 20.5
    limits.release("a", 6.0)  # 10 s of the budget spent, 4 of them 20.5 s ago
    assert limits.acquire("a") == 40  # until the 4 s spent at t=1000 leave the window (t=1060)
    for _ in range(1000):  # a busy client: each request is one bucket update, never a re-sum
        clock[0] += 0.001
        assert limits.acquire("b") is None
        limits.release("b", 0.001)
    clock[0] = 1060.2
    assert limits.acquire("a") is None  # the 4 s have left: 6 s counted
    limits.release("a", 0.0)
    assert limits._spent["a"].total == pytest.approx(6.0)
    clock[0] = 1200.0
    limits.acquire("c")
    limits.release("c", 0.1)  # a new second: clients with nothing in the last minute are forgotten
    assert set(limits._spent) == {"c"} and limits._running == {}
