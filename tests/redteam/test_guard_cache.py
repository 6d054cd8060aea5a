"""The guard's verdict cache: the same verdict as a fresh reading, per allow-list and limits, bounded."""

from __future__ import annotations

import pytest

from ptce_kg import sparql_guard
from ptce_kg.errors import InputError
from ptce_kg.sparql_guard import QueryRefused, VerdictCache, cached_verdict, check_query, check_query_cached

SERVICE = "SELECT * { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }"


def test_a_cached_verdict_is_the_fresh_one():
    text = "SELECT * FROM <urn:g> FROM NAMED <urn:n> { ?s ?p ?o } # SERVICE <http://x/> in a comment"
    assert cached_verdict(text + " ") is None  # never read: nothing to answer from
    first = check_query_cached(text)
    again = check_query_cached(text)
    fresh = check_query(text)
    assert again is first and cached_verdict(text) is first
    assert (first.from_graphs, first.from_named, first.services, first.has_dataset_clause) == \
        (fresh.from_graphs, fresh.from_named, fresh.services, fresh.has_dataset_clause) == \
        (["urn:g"], ["urn:n"], [], True)


def test_a_refusal_is_cached_and_raised_again_each_time():
    for _ in range(3):
        with pytest.raises(QueryRefused) as refused:
            check_query_cached(SERVICE)
        assert refused.value.reason == InputError.FORBIDDEN and "allow-list" in refused.value.en
    with pytest.raises(QueryRefused) as again:
        cached_verdict(SERVICE)
    assert again.value is not refused.value  # a fresh exception: no traceback growing with each request


def test_the_verdict_depends_on_the_allow_list_and_the_limits():
    allowed = ("http://127.0.0.1:9/sparql",)
    assert check_query_cached(SERVICE, allowed).services == list(allowed)
    with pytest.raises(QueryRefused):
        check_query_cached(SERVICE)  # the same text without the allow-list is still refused
    deep = "SELECT * {" * 12 + "}" * 12
    check_query_cached(deep, max_nesting=20)
    with pytest.raises(QueryRefused) as refused:
        check_query_cached(deep, max_nesting=10)
    assert refused.value.reason == InputError.MALFORMED


def test_the_cache_is_bounded(monkeypatch):
    small = VerdictCache(size=8)
    monkeypatch.setattr(sparql_guard, "_verdicts", small)
    for i in range(50):
        check_query_cached(f"ASK {{ ?s ?p {i} }}")
    assert len(small) == 8
    assert cached_verdict("ASK { ?s ?p 49 }") is not None and cached_verdict("ASK { ?s ?p 0 }") is None
