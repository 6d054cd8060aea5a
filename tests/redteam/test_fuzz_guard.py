"""Property-based fuzzing of the SPARQL guard, with the engine itself as the oracle.

Queries are assembled from the pieces attackers glue together (literals and IRIs right before a keyword,
keyword case, SILENT, comments, strings, prefixed names, BASE, escapes). Each one is evaluated by pyoxigraph
on a small in-memory store whose SERVICE calls point at a loopback listener: if the engine connects, it read
a SERVICE, and the guard must have refused that query. The guard must also never fail otherwise (only
QueryRefused) and stay fast on any text."""

from __future__ import annotations

import time

import pyoxigraph
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ptce_kg.errors import InputError
from ptce_kg.sparql_guard import QueryRefused, check_query

DATA = """
<urn:s> <urn:p> 1, 1.5, 1.5e3, true, false, "a", <urn:o> .
"""


@pytest.fixture(scope="module")
def oracle():
    """A store to evaluate on and a listener standing for the SERVICE endpoint (it accepts and closes)."""
    from redteam.conftest import Listener

    store = pyoxigraph.Store()
    store.load(DATA.encode(), format=pyoxigraph.RdfFormat.TURTLE)
    listener = Listener()
    yield store, listener
    listener.close()


BEFORE = st.sampled_from(["", " ", "1", "1.5", "1.5e3", "true", "false", '"a"', "'a'", "<urn:o>", "e:o", "?o",
                          "\n", "#c\n", "}", ")", ".", ";", "TRUE", "-1", "+1", '"a"@fr', '"1"^^<urn:t>'])
KEYWORD = st.sampled_from(["SERVICE", "service", "Service", "sErViCe", "SERVICE SILENT", "SERVICESILENT",
                           "SERVICE silent", "SERVICE#x\nSILENT", "\\u0053ERVICE", "SERV ICE"])
ENDPOINT = st.sampled_from(["<{url}>", "e:x", "<x>", "<{escaped}>", "?v", " <{url}>", "#c\n<{url}>"])
BODY = st.sampled_from(["{ ?s ?b ?c }", "{}", "{ ?s ?b ?c . }"])
PROLOGUE = st.sampled_from(["", "PREFIX e: <{url}/> ", "BASE <{url}/> ", "PREFIX e: <{url}/> BASE <{url}/> "])
SHAPE = st.sampled_from([
    "SELECT * {{ ?s ?p {before}{keyword} {endpoint} {body} }}",
    "SELECT * {{ {before}{keyword}{endpoint}{body} }}",
    "SELECT * {{ ?s ?p ?o FILTER EXISTS {{ {keyword} {endpoint} {body} }} }}",
    "ASK {{ {keyword} {endpoint} {body} }}",
    "SELECT * {{ {{ SELECT * {{ ?s ?p {before}{keyword} {endpoint} {body} }} }} }}",
    "SELECT * {{ ?s ?p {before} OPTIONAL {{ {keyword} {endpoint} {body} }} }}",
    "SELECT * {{ VALUES ?v {{ <{url}> }} ?s ?p {before}{keyword} {endpoint} {body} }}",
])


@given(shape=SHAPE, prologue=PROLOGUE, before=BEFORE, keyword=KEYWORD, endpoint=ENDPOINT, body=BODY)
def test_whatever_the_engine_would_call_the_guard_refuses(oracle, shape, prologue, before, keyword, endpoint, body):
    store, listener = oracle
    url = f"http://127.0.0.1:{listener.port}"
    query = prologue + shape.format(before=before, keyword=keyword, endpoint=endpoint, body=body, url="{url}")
    query = query.replace("{escaped}", url.replace(":", "\\u003A", 1)).replace("{url}", url)
    try:
        check_query(query)
        passed = True
    except QueryRefused:
        passed = False
    before = len(listener.connections)
    try:
        result = store.query(query)
        if not isinstance(result, pyoxigraph.QueryBoolean):
            list(result)
    except (SyntaxError, OSError, RuntimeError):  # unparsable, a failed call, an unbound endpoint
        pass
    deadline = time.monotonic() + 0.05
    while len(listener.connections) == before and time.monotonic() < deadline:
        time.sleep(0.005)
    called = len(listener.connections) > before
    assert not (called and passed), f"the engine called out and the guard let it through: {query!r}"


@given(st.text(max_size=2000))
def test_the_guard_only_ever_refuses_on_any_text(text):
    started = time.monotonic()
    try:
        check_query(text)
    except QueryRefused as refused:
        assert refused.reason in (InputError.MALFORMED, InputError.FORBIDDEN, InputError.TOO_LARGE) and refused.fr and refused.en
    assert time.monotonic() - started < 1.0


TOKENS = st.sampled_from(["SELECT", "*", "{", "}", "(", ")", "[", "]", "?s", "<urn:p>", '"x"', "1", "+", "-",
                          "!", "/", "|", "^", "&&", "BIND", "AS", "OPTIONAL", "UNION", "FILTER", "SERVICE",
                          "<http://127.0.0.1:9/>", "#", "\n", "'''", '"""', "e:x", "PREFIX", "e:", "FROM", "NAMED"])


@given(st.lists(TOKENS, max_size=400).map(" ".join))
def test_token_soup_never_breaks_the_guard(text):
    try:
        analysis = check_query(text)
    except QueryRefused:
        return
    # What passes calls nothing off the (empty) allow-list.
    assert analysis.services == []


def test_the_oracle_sees_a_service_call(oracle):
    """The property above is not vacuous: the engine does call the listener for a plain SERVICE."""
    store, listener = oracle
    before = len(listener.connections)
    try:
        list(store.query(f"SELECT * {{ SERVICE <http://127.0.0.1:{listener.port}/> {{ ?s ?p ?o }} }}"))
    except OSError:
        pass
    time.sleep(0.1)
    assert len(listener.connections) > before
