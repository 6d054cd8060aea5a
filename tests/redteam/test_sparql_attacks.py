"""Red team, SPARQL endpoint: SERVICE and fetching, resources, parser depth, protocol and bodies, fair sharing.

Every case asserts its status, that another client is still answered within 2 s, and — where the server
could call out — that the listener received nothing and no non-loopback connection was attempted."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from conftest import UPDATE_TOKEN, start_server, stop
from redteam.conftest import (REDTEAM_SETTINGS, SERVER_MEMORY_BOUND, Target, assert_serves_others, during,
                              other_client)

SLOW = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f }"  # runs into the 3 s timeout


def post_query(base: str, text: str, **kwargs) -> httpx.Response:
    return httpx.post(base + "/sparql", data={"query": text}, timeout=60, **kwargs)


# -- SERVICE and fetching -------------------------------------------------------------------------

SERVICE_BYPASSES = [
    "SELECT ?s {{ ?x ?p 1SERVICE <{url}> {{ ?s ?b ?c }} }}",
    "SELECT ?s {{ ?x ?p trueSERVICE SILENT <{url}> {{ ?s ?b ?c }} }}",
    "SELECT ?s {{ ?x ?p falseSERVICESILENT<{url}> {{ ?s ?b ?c }} }}",
    "SELECT ?s {{ ?x ?p 1.5e3SERVICE <{url}> {{ ?s ?b ?c }} }}",
    "SELECT ?s {{ ?x ?p \"a\"SERVICE <{url}> {{ ?s ?b ?c }} }}",
    "SELECT ?s {{ ?x ?p <urn:o>SERVICE<{url}>{{ ?s ?b ?c }} }}",
    "SELECT ?s {{ sErViCe <{url}> {{ ?s ?b ?c }} }}",
    "SELECT ?s {{ #comment\nSERVICE#x\n<{url}> {{ ?s ?b ?c }} }}",
    "BASE <{url}> SELECT ?s {{ SERVICE <> {{ ?s ?b ?c }} }}",
    "PREFIX e: <{url}> SELECT ?s {{ SERVICE e: {{ ?s ?b ?c }} }}",
    "SELECT ?s {{ SERVICE ?endpoint {{ ?s ?b ?c }} VALUES ?endpoint {{ <{url}> }} }}",
    "SELECT ?s {{ {{ SELECT ?s {{ SERVICE <{url}> {{ ?s ?b ?c }} }} }} }}",
    "SELECT ?s {{ FILTER EXISTS {{ SERVICE <{url}> {{ ?s ?b ?c }} }} }}",
    "ASK {{ SERVICE SILENT <{url}> {{ ?s ?b ?c }} }}",
    "CONSTRUCT {{ ?s ?b ?c }} {{ SERVICE <{url}> {{ ?s ?b ?c }} }}",
    "SELECT ?s {{ SERVICE <{escaped}> {{ ?s ?b ?c }} }}",
    "SELECT ?s {{ service:x ?b ?c }}",
]


@pytest.mark.parametrize("template", SERVICE_BYPASSES)
def test_service_bypasses_are_refused_and_reach_nothing(target, listener, no_outbound, template):
    url = listener.url
    escaped = url.replace(":", "\\u003A", 2)
    response = post_query(target.base, template.format(url=url, escaped=escaped))
    assert response.status_code in (400, 403), response.text[:300]
    assert "SERVICE" in response.text or "Ambiguous" in response.text
    assert_serves_others(target.base)


def test_closed_and_open_ports_answer_alike(target, listener, no_outbound):
    """No port scanner: an open port (the listener) and a closed one get the same answer."""
    closed = listener.port + 1 if listener.port < 65535 else listener.port - 1
    answers = [post_query(target.base, f"SELECT * {{ SERVICE <http://127.0.0.1:{port}/> {{ ?s ?p ?o }} }}")
               for port in (listener.port, closed)]
    assert [a.status_code for a in answers] == [403, 403]
    assert answers[0].text.split("Endpoints:")[0] == answers[1].text.split("Endpoints:")[0]


@pytest.mark.parametrize("update", [
    "INSERT {{ ?s ?b ?c }} WHERE {{ ?x ?p 1SERVICE <{url}> {{ ?s ?b ?c }} }}",
    "INSERT {{ ?s ?b ?c }} WHERE {{ trueSERVICE SILENT <{url}> {{ ?s ?b ?c }} }}",
    "LOAD <{url}>",
    "LOAD SILENT <{url}> INTO GRAPH <urn:g>",
    "INSERT DATA {{ <urn:a> <urn:b> 1 }} ; LOAD <{url}>",
])
def test_authorised_updates_cannot_fetch_either(target, listener, no_outbound, update):
    response = httpx.post(target.base + "/sparql", data={"update": update.format(url=listener.url)},
                          headers={"Authorization": f"Bearer {UPDATE_TOKEN}"}, timeout=60)
    assert response.status_code == 403, response.text[:300]
    assert_serves_others(target.base)


def test_workers_cannot_connect_even_past_the_guard(built_store, listener):
    """Defence in depth: a SERVICE query handed straight to a worker (no guard) reaches nothing."""
    import asyncio

    from ptce_kg.engine import QueryJob, QueryPool

    pool = QueryPool(built_store, size=1, timeout_s=20)
    try:
        job = QueryJob(f"SELECT * {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}")
        outcome = asyncio.run(pool.run(job))
    finally:
        pool.close()
    assert outcome.status == "error", outcome
    assert listener.connections == []


# -- resources: memory and result size ------------------------------------------------------------

def _doubling(times: int, rows: int = 1) -> str:
    binds = " ".join(f"BIND(CONCAT(?v{i}, ?v{i}) AS ?v{i + 1})" for i in range(times))
    values = " ".join(str(i) for i in range(rows))
    return f'SELECT ?i ?v{times} {{ VALUES ?i {{ {values} }} BIND("aaaaaaaaaaaaaaaa" AS ?v0) {binds} }}'


def test_cartesian_order_by_is_stopped_by_the_memory_limit(target):
    started = time.monotonic()
    response = during(lambda: post_query(target.base, "SELECT ?a ?b { ?a ?p ?o . ?b ?q ?r } ORDER BY ?a ?b"),
                      target.base)
    assert response.status_code == 503, response.text[:300]
    assert response.headers["x-query-limit"] in ("memory", "timeout")
    assert "Query stopped" in response.text and "Requête interrompue" in response.text
    assert time.monotonic() - started < 10
    assert target.rss < SERVER_MEMORY_BOUND
    assert_serves_others(target.base)


@pytest.fixture(scope="module")
def patient_target(built_store):
    """The red-team server with a long query timeout: what stops a memory attack is then the worker's memory
    limit or the byte cap, never the clock (on a loaded machine 3 s can pass before 1 GB is reached)."""
    process, base = start_server(built_store, **{**REDTEAM_SETTINGS, "PTCE_KG_QUERY_TIMEOUT": 120})
    yield Target(process, base)
    stop(process)


def test_string_doubling_is_stopped_by_memory_or_size(patient_target):
    target = patient_target
    response = during(lambda: post_query(target.base, _doubling(26)), target.base)  # 1 GB value
    assert response.status_code in (413, 503), response.text[:300]
    assert response.headers["x-query-limit"] in ("memory", "result-bytes")
    assert target.rss < SERVER_MEMORY_BOUND
    assert_serves_others(target.base)


def test_one_row_over_the_byte_cap_gets_413(target):
    response = during(lambda: post_query(target.base, _doubling(22)), target.base)  # one 64 MB value, 32 MB cap
    assert response.status_code == 413, response.text[:300]
    assert response.headers["x-query-limit"] == "result-bytes"
    assert "Result too large" in response.text and "Résultat trop volumineux" in response.text
    assert_serves_others(target.base)


def test_rows_past_the_byte_cap_are_cut_and_said_so(target):
    response = post_query(target.base, _doubling(16, rows=40))  # 40 rows of 1 MB, 32 MB cap
    assert response.status_code == 200, response.text[:300]
    assert response.headers["x-result-truncated"] == "true"
    assert int(response.headers["x-result-limit-bytes"]) == 32 * 1024 * 1024
    rows = response.json()["results"]["bindings"]
    assert 0 < len(rows) < 40 and int(response.headers["x-result-count"]) == len(rows)
    assert len(response.content) < 40 * 1024 * 1024


# -- parser depth and size: 400 or 413 before any worker sees the query ---------------------------

DEEP = {
    "braces": "SELECT * {" * 5000 + "}" * 5000,
    "parentheses": "SELECT ?x { BIND(" + "(" * 5000 + "1" + ")" * 5000 + " AS ?x) }",
    "brackets": "SELECT * { ?s ?p " + "[ ?q " * 3000 + "1" + " ]" * 3000 + " }",
    "function calls": "SELECT ?x { BIND(" + "CONCAT(" * 3000 + '"a"' + ")" * 3000 + " AS ?x) }",
    "arithmetic chain": "SELECT ?x { BIND(" + "+".join(["1"] * 20000) + " AS ?x) }",
    "chain behind FROM in a comment": "# FROM SERVICE LOAD\nSELECT ?x { BIND(" + "*".join(["2"] * 20000) + " AS ?x) }",
    "signed numbers": "SELECT ?x { BIND(1" + "-1" * 20000 + " AS ?x) }",
    "unary operators": "SELECT ?x { BIND(" + "!" * 20000 + "true AS ?x) }",
    "boolean chain": "SELECT ?x { BIND(" + "&&".join(["true"] * 20000) + " AS ?x) }",
    "property path": "SELECT * { ?s " + "/".join(["<urn:p>"] * 5000) + " ?o }",
    "path alternatives": "SELECT * { ?s " + "|".join(["<urn:p>"] * 20000) + " ?o }",
    "inverse path steps": "SELECT * { ?s " + "/".join(["^<urn:p>"] * 5000) + " ?o }",
    "BIND chain": "SELECT * { " + " ".join(f"BIND({i} AS ?v{i})" for i in range(5000)) + " }",
    "OPTIONAL chain": "SELECT * { " + " ".join(f"OPTIONAL {{ ?s <urn:p{i}> ?o{i} }}" for i in range(5000)) + " }",
    "UNION chain": "SELECT * { " + " UNION ".join("{ ?s ?p ?o }" for _ in range(5000)) + " }",
}


@pytest.mark.parametrize("name", DEEP)
def test_deep_or_long_queries_get_400_before_any_worker(target, name):
    started = time.monotonic()
    response = post_query(target.base, DEEP[name])
    assert response.status_code == 400, response.text[:300]
    assert "Query nested too deeply" in response.text or "Query too complex" in response.text
    assert time.monotonic() - started < 2
    assert_serves_others(target.base)


def test_queries_at_the_limits_still_run(target):
    """The limits leave room for real queries: 100 levels, 1,500 operators, a VALUES block of 5,000 IRIs."""
    at_depth = "SELECT * " + "{" * 100 + " ?s ?p ?o " + "}" * 100 + " LIMIT 1"
    many = "SELECT ?x { BIND(" + "+".join(["1"] * 1500) + " AS ?x) }"
    values = "SELECT (COUNT(*) AS ?n) { VALUES ?s { " + " ".join(f"<urn:x:{i}>" for i in range(5000)) + " } }"
    for text in (at_depth, many, values):
        response = post_query(target.base, text)
        assert response.status_code == 200, response.text[:300]
    assert post_query(target.base, many).json()["results"]["bindings"][0]["x"]["value"] == "1500"


def test_a_query_over_the_size_limit_gets_413(target):
    text = "SELECT * { VALUES ?s { " + " ".join(f"<urn:x:{i}>" for i in range(30000)) + " } }"  # > 256 KiB
    response = post_query(target.base, text)
    assert response.status_code == 413 and "Query too long" in response.text
    assert_serves_others(target.base)


# -- protocol and bodies --------------------------------------------------------------------------

def test_a_chunked_body_is_cut_while_it_streams(target):
    """1 GB sent without Content-Length: 413 after about 1 MB, the server's memory does not follow."""
    before = target.rss
    sent = 0

    def chunks():
        nonlocal sent
        block = b"x" * (1024 * 1024)
        for _ in range(1024):
            sent += len(block)
            yield block
    def attack():
        try:
            return httpx.post(target.base + "/sparql", content=chunks(), timeout=30,
                              headers={"Content-Type": "application/sparql-query"}).status_code
        except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
            return "closed"  # the server answered 413 and closed while we were still sending
    assert during(attack, target.base, after=0.05) in (413, "closed")
    assert sent < 512 * 1024 * 1024
    assert target.rss - before < 256 * 1024 * 1024
    assert_serves_others(target.base)


@pytest.mark.parametrize("path, content_type", [
    ("/sparql", "application/x-www-form-urlencoded"),
    ("/eligibility", "application/json"),
    ("/eligibility/form", "application/x-www-form-urlencoded"),
])
def test_every_route_that_reads_a_body_caps_it(target, path, content_type):
    def chunks():
        for _ in range(64):
            yield b"a" * (256 * 1024)
    try:
        response = httpx.post(target.base + path, content=chunks(), headers={"Content-Type": content_type},
                              timeout=30)
        assert response.status_code == 413, response.text[:300]
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        pass
    declared = httpx.post(target.base + path, content=b"a" * (2 * 1024 * 1024),
                          headers={"Content-Type": content_type}, timeout=30)
    assert declared.status_code == 413
    assert_serves_others(target.base)


@pytest.mark.parametrize("request_kwargs, status", [
    (dict(content=b"query=%ZZ", headers={"Content-Type": "application/x-www-form-urlencoded"}), 400),
    (dict(content=b"SELECT * { ?s ?p ?o \x00 }", headers={"Content-Type": "application/sparql-query"}), 400),
    (dict(content="SELECT * { ?s ?p '\ud800' }".encode("utf-8", "surrogatepass"),
          headers={"Content-Type": "application/sparql-query"}), 400),
    (dict(content=b"SELECT * {}", headers={"Content-Type": "text/plain"}), 415),
    (dict(data={"query": "ASK {}", "default-graph-uri": "not an iri"}), 400),
    (dict(data={"query": "ASK {}", "named-graph-uri": "<urn:x>"}), 400),
    (dict(data={"query": "SELECT * { ?s ?p ?o", "format": "json"}), 400),
])
def test_malformed_requests_get_4xx_not_500(target, request_kwargs, status):
    response = httpx.post(target.base + "/sparql", timeout=30, **request_kwargs)
    assert response.status_code == status, response.text[:300]
    assert_serves_others(target.base)


# -- fair sharing ---------------------------------------------------------------------------------

def test_one_client_cannot_hold_every_worker(target):
    """Four slow queries from one address (the pool has four workers): another address is answered at once."""
    statuses = []

    def slow():
        statuses.append(httpx.post(target.base + "/sparql", data={"query": SLOW}, timeout=30).status_code)
    threads = [threading.Thread(target=slow) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    try:
        assert_serves_others(target.base)
    finally:
        for thread in threads:
            thread.join()
    assert sorted(statuses) == [429, 429, 503, 503]  # two at once per client; each stopped at the timeout


def test_eligibility_checks_share_the_client_limits(target):
    """A flood of checks from one address is held to its concurrency, and others go on."""
    from conftest import ROOT

    body = (ROOT / "tests" / "fixtures" / "candidates" / "eligible.json").read_bytes()
    statuses = []

    def check():
        statuses.append(httpx.post(target.base + "/eligibility", content=body, timeout=30,
                                   headers={"Content-Type": "application/json"}).status_code)
    threads = [threading.Thread(target=check) for _ in range(8)]
    for thread in threads:
        thread.start()
    assert_serves_others(target.base)
    for thread in threads:
        thread.join()
    assert set(statuses) <= {200, 429} and 200 in statuses
    with other_client() as client:
        assert client.post(target.base + "/eligibility", content=body,
                           headers={"Content-Type": "application/json"}).status_code == 200


def test_memory_readings_include_the_workers(target):
    """The memory bounds above are measured on the server and its query workers, not the main process alone."""
    status = open(f"/proc/{target.process.pid}/status").read()
    own = next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
    assert target.rss > own + 4 * 30 * 1024 * 1024  # four workers of at least 30 MB each
