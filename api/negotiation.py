"""Content negotiation: the client's Accept header (q-values, wildcards) against what we offer."""

from __future__ import annotations

from functools import lru_cache

import mimeparse

from ptce_kg.engine import GRAPH_FORMATS, RESULT_FORMATS

# Media types we answer, in our order of preference (first = default for */*), -> format name.
RESULT_OFFERS = {
    "application/sparql-results+json": "json",
    "application/json": "json",
    "application/sparql-results+xml": "xml",
    "application/xml": "xml",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
}
GRAPH_OFFERS = {
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/ld+json": "jsonld",
    "application/json": "jsonld",
    "application/x-json+ld": "jsonld",
    "application/n-triples": "ntriples",
    "text/plain": "ntriples",
    "application/rdf+xml": "rdfxml",
    "application/xml": "rdfxml",
    # Turtle is a subset of N3: N3 clients (SPARQLWrapper's N3 format) get Turtle.
    "text/n3": "turtle",
    "text/rdf+n3": "turtle",
    "application/n3": "turtle",
}
# `format=` for browsers: short names or media types.
FORMAT_ALIASES = {
    "json": "json", "srj": "json", "xml": "xml", "srx": "xml", "csv": "csv", "tsv": "tsv",
    "turtle": "turtle", "ttl": "turtle", "n3": "turtle", "ntriples": "ntriples", "nt": "ntriples", "n-triples": "ntriples",
    "jsonld": "jsonld", "json-ld": "jsonld", "rdfxml": "rdfxml", "rdf": "rdfxml", "rdf+xml": "rdfxml",
}


def best(accept: str | None, offers: dict[str, str]) -> str | None:
    """The offered media type the client prefers, or None (-> 406)."""
    accept = (accept or "").strip() or "*/*"
    return _matched(accept, tuple(offers))


def _matched(accept: str, offers: tuple[str, ...]) -> str | None:
    # Only ordinary headers are kept in the cache: a long one (a client's junk) is matched each time.
    return _best(accept, offers) if len(accept) <= 1024 else _best.__wrapped__(accept, offers)


@lru_cache(maxsize=512)
def _best(accept: str, offers: tuple[str, ...]) -> str | None:
    """Clients send a handful of Accept headers: each is matched once (mimeparse parses it ~20 times
    a request otherwise)."""
    # mimeparse breaks ties in favour of the *last* candidate: give it our preference order reversed.
    try:
        match = mimeparse.best_match(list(reversed(offers)), accept)
    except (ValueError, mimeparse.MimeTypeParseException):
        return None
    return match or None


def choose(accept: str | None, offers: dict[str, str]) -> str | None:
    media = best(accept, offers)
    return offers[media] if media else None


def override(value: str | None, kind: str) -> str | None:
    """A `format=` value for results (kind 'results') or graphs ('graph'); None if it does not apply."""
    if not value:
        return None
    value = value.strip().lower()
    names = RESULT_FORMATS if kind == "results" else GRAPH_FORMATS
    offers = RESULT_OFFERS if kind == "results" else GRAPH_OFFERS
    if "/" in value:  # media types, possibly several (SPARQLWrapper sends "a/b,c/d"): negotiate on them
        return choose(value, offers)
    name = FORMAT_ALIASES.get(value)
    if name == "xml" and kind == "graph":
        return "rdfxml"
    if name == "json" and kind == "graph":
        return "jsonld"
    return name if name in names else None


def wants_html(accept: str | None) -> bool:
    """A browser: prefers HTML over every RDF or results type we could send instead."""
    if not accept:
        return False
    return _matched(accept, _HTML_LAST) == "text/html"


_HTML_LAST = tuple({**GRAPH_OFFERS, **RESULT_OFFERS, "text/html": "html"})  # HTML last: never the default
