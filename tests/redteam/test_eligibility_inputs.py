"""Hostile candidates on `POST /eligibility` and `POST /eligibility/form`, through a real server.

A YAML alias bomb, a perimeter of every commune, and malformed bodies that used to answer 500: each gets a
clear 4xx at once, in English and French, while another client is still served within 2 s, the server's
memory stays bounded and nothing leaves the machine (ptce_kg/candidate.py; the readers are fuzzed in
test_fuzz_candidates.py)."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from ptce_kg import candidate
from ptce_kg.config import settings
from ptce_kg.errors import InputError

from .conftest import SERVER_MEMORY_BOUND, assert_serves_others

FAST = 2.0  # seconds a refusal may take on a loaded 2-core machine (the bomb took 5.5 s, the perimeter 34 s)
MEMORY_GROWTH = 150 * 1024 ** 2  # the bomb cost 520 MB


def alias_bomb() -> bytes:
    """Nine levels of nine aliases: 9^9 (387 million) strings once expanded, in about 430 bytes."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [{','.join(['*' + previous] * 9)}]")
    return ("\n".join(lines) + "\n").encode()


def post(base: str, content: bytes, content_type: str, path: str = "/eligibility") -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.post(base + path, content=content, headers={"Content-Type": content_type}, timeout=60)
    return response, time.monotonic() - started


def test_yaml_alias_bomb_is_refused_before_any_expansion(target, no_outbound):
    bomb = alias_bomb()
    assert len(bomb) < 500
    before = target.rss
    answers: list[tuple[httpx.Response, float]] = []

    def attack():  # bombs for a while, from the attacker's address, while the other client asks
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            answers.append(post(target.base, bomb, "application/yaml"))

    attacker = threading.Thread(target=attack)
    attacker.start()
    try:
        time.sleep(0.2)
        assert_serves_others(target.base)
    finally:
        attacker.join()
    assert answers
    for response, elapsed in answers:
        assert response.status_code == 400, response.text[:300]
        body = response.json()
        assert "anchors" in body["error"] and "ancres" in body["error"], body
        assert body["where"] == "line 1, column 4", body  # where the first anchor is
        assert elapsed < FAST, f"refused in {elapsed:.1f} s"
    assert target.rss - before < MEMORY_GROWTH, f"the server grew by {(target.rss - before) / 1e6:.0f} MB"
    assert target.rss < SERVER_MEMORY_BOUND


@pytest.fixture(scope="module")
def communes(store) -> list[str]:
    rows = store.query("SELECT ?c { ?c a <https://w3id.org/ptce-kg/def#Commune> }", use_default_graph_as_union=True)
    codes = sorted(row["c"].value.rsplit("/", 1)[1] for row in rows)
    assert len(codes) > 30000
    return codes


def test_turtle_perimeter_of_every_commune_is_refused_by_the_limit(target, communes, no_outbound):
    turtle = ("@prefix ptce: <https://w3id.org/ptce-kg/def#> .\n@prefix c: <https://w3id.org/ptce-kg/id/commune/> .\n"
              "<https://w3id.org/ptce-kg/id/candidate/partout> a ptce:PTCE ;\n  ptce:perimeter "
              + ", ".join(f"c:{code}" for code in communes) + " .\n").encode()
    assert len(turtle) < settings().max_body_bytes  # within the body limit: the candidate limits must stop it
    before = target.rss
    response, elapsed = post(target.base, turtle, "text/turtle")
    assert response.status_code in (413, 422), response.text[:300]
    body = response.json()
    assert "PTCE_KG_CANDIDATE_MAX_PERIMETER" in body["error"] and "périmètre" in body["error"], body
    assert body["where"] == "ptce:perimeter"
    assert elapsed < FAST, f"refused in {elapsed:.1f} s (the evaluation took 34 s)"
    assert_serves_others(target.base)
    assert target.rss - before < MEMORY_GROWTH


def test_form_perimeter_of_every_commune_is_refused_by_the_limit(target, communes, no_outbound):
    form = {"name": "Partout", "perimeter": [f"commune:{code}" for code in communes]}
    started = time.monotonic()
    response = httpx.post(target.base + "/eligibility", json=form, timeout=60)
    assert response.status_code == 413, response.text[:300]
    assert response.json()["where"] == "perimeter" and "500" in response.json()["error"]
    # The HTML form, too: the same limit, shown on the form page.
    page = httpx.post(target.base + "/eligibility/form", timeout=60,
                      data={"name": "Partout", "perimeter": " ".join(form["perimeter"][:20000])})
    assert page.status_code == 413 and "PTCE_KG_CANDIDATE_MAX_PERIMETER" in page.text
    assert time.monotonic() - started < 2 * FAST
    assert_serves_others(target.base)


TURTLE = "@prefix ptce: <https://w3id.org/ptce-kg/def#> .\n<https://w3id.org/ptce-kg/id/candidate/x> a ptce:PTCE "

# Bodies that answered 500 before (the first five), and their neighbours:
# (body, type, status, words in the message, start of `where`).
MALFORMED = {
    "yaml-impossible-date": (b"name: X\nid: 2024-13-45\n", "application/yaml", 400, "invalid YAML value", None),
    "yaml-binary-key": (b"name: X\n? !!binary aGk=\n: x\n", "application/yaml", 422, "keys must be strings", "(form)"),
    "json-huge-integer": (b'{"name": 1' + b"1" * 5000 + b"}", "application/json", 400, "invalid JSON", None),
    "json-lone-surrogate": (b'{"name": "X \\ud800"}', "application/json", 422, "U+D800", "name"),
    "turtle-invalid-iri": ((TURTLE + "; ptce:perimeter <urn:x{y}> .").encode(), "text/turtle", 400, "not a valid RDF term",
                           "ptce:perimeter"),
    "yaml-long-sexagesimal": (b"name: 1:" + b":".join([b"1"] * 60000), "application/yaml", 413, "PTCE_KG_CANDIDATE_MAX_STRING",
                              "line 1, column 7"),
    "yaml-deep": (b"name: X\nmembers: " + b"[" * 100 + b"]" * 100, "application/yaml", 413, "PTCE_KG_CANDIDATE_MAX_DEPTH",
                  "line 2, column 41"),
    "json-deep": (b"[" * 100000 + b"]" * 100000, "application/json", 413, "PTCE_KG_CANDIDATE_MAX_DEPTH", None),
    "jsonld-deep": (b'{"@id": "urn:x", "urn:p": ' + b"[" * 50 + b"]" * 50 + b"}", "application/ld+json", 413,
                    "PTCE_KG_CANDIDATE_MAX_DEPTH", "$.urn:p[0][0][0]"),
    "utf16-bom": ('{"name": "X"}'.encode("utf-16"), "application/json", 400, "UTF-16", "byte 0"),
    "nul-byte": ((TURTLE + '.\n"\x00"').encode(), "text/turtle", 400, "NUL", "line 3, column 2"),
    "xml-utf16-declared": (b'<?xml version="1.0" encoding="UTF-16"?><rdf:RDF/>', "application/rdf+xml", 400, "UTF-8", "line 1"),
    "vocabulary": ((TURTLE + '.\n<urn:X> <http://www.w3.org/2000/01/rdf-schema#subClassOf> ptce:PTCE .').encode(), "text/turtle",
                   422, "not a vocabulary", "rdfs:subClassOf"),
    "many-ptce": ("\n".join(f"<urn:p{i}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
                            "<https://w3id.org/ptce-kg/def#PTCE> ." for i in range(11)).encode(),
                  "application/n-triples", 413, "PTCE_KG_CANDIDATE_MAX_PTCE", "rdf:type"),
    "turtle-broken": ((TURTLE + "; ptce:perimeter [ .").encode(), "text/turtle", 400, "does not parse", "line 2"),
    # What took rdflib seconds before it read a single triple: 30,000 prefixes (40 s), a 900 KB N-Triples
    # line (2 s), a 900 KB Turtle string with escapes (4 s).
    "turtle-prefixes": ("".join(f"@prefix p{i}: <urn:{i}#> .\n" for i in range(30000)).encode(), "text/turtle", 413,
                        "namespace prefixes", "@prefix"),
    "nt-long-line": (b'<urn:a> <urn:b> "' + b"x" * 900000 + b'" .\n', "application/n-triples", 413,
                     "PTCE_KG_CANDIDATE_MAX_STRING", "line 1"),
    "turtle-long-string": (b'<urn:a> <urn:b> """' + b"x\\n" * 300000 + b'""" .\n', "text/turtle", 413,
                           "PTCE_KG_CANDIDATE_MAX_STRING", "line 1, column 17"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_bodies_get_a_clear_4xx(target, no_outbound, case):
    content, content_type, status, words, where = MALFORMED[case]
    response, elapsed = post(target.base, content, content_type)
    assert response.status_code == status, response.text[:300]
    body = response.json()
    assert words in body["error"] and " / " in body["error"], body  # English / French
    if where is not None:
        assert (body["where"] or "").startswith(where), body
    assert elapsed < FAST
    assert_serves_others(target.base)


# -- each limit, named in the refusal ------------------------------------------------------------

def _members(n: int) -> list[dict]:
    return [{"key": f"m{i}", "name": f"Membre {i}", "role": "other-enterprise"} for i in range(n)]


def _ntriples(n: int) -> bytes:
    node = "<https://w3id.org/ptce-kg/id/candidate/x>"
    lines = [f"{node} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/ptce-kg/def#PTCE> ."]
    lines += [f'{node} <http://www.w3.org/2000/01/rdf-schema#comment> "note {i}" .' for i in range(n)]
    return "\n".join(lines).encode()


LIMIT_CASES = {  # limit: (body, type, setting named, start of `where`) — each just past its default
    "triples": (_ntriples(5000), "application/n-triples", "PTCE_KG_CANDIDATE_MAX_TRIPLES", "(candidate)"),
    "members-form": (json.dumps({"name": "X", "members": _members(201)}).encode(), "application/json",
                     "PTCE_KG_CANDIDATE_MAX_MEMBERS", "members"),
    "members-rdf": ((TURTLE + ";\n" + " ;\n".join(f"<http://www.w3.org/ns/org#hasMember> <urn:m{i}>" for i in range(201))
                     + " .").encode(), "text/turtle", "PTCE_KG_CANDIDATE_MAX_MEMBERS", "org:hasMember"),
    "perimeter-form": (json.dumps({"name": "X", "perimeter": [f"commune:{i:05d}" for i in range(501)]}).encode(),
                       "application/json", "PTCE_KG_CANDIDATE_MAX_PERIMETER", "perimeter"),
    "ptce": (MALFORMED["many-ptce"][0], "application/n-triples", "PTCE_KG_CANDIDATE_MAX_PTCE", "rdf:type"),
    "string-form": (b'{"name": "' + b"x" * 5001 + b'"}', "application/json", "PTCE_KG_CANDIDATE_MAX_STRING", "name"),
    "string-rdf": ((TURTLE + '; <urn:p> "' + "x" * 5001 + '" .').encode(), "text/turtle", "PTCE_KG_CANDIDATE_MAX_STRING",
                   "urn:p"),
    "depth-json": (b'{"name": "X", "evidence": ' + b"[" * 40 + b"]" * 40 + b"}", "application/json",
                   "PTCE_KG_CANDIDATE_MAX_DEPTH", "$.evidence"),
    "depth-yaml": (MALFORMED["yaml-deep"][0], "application/yaml", "PTCE_KG_CANDIDATE_MAX_DEPTH", "line 2"),
}


@pytest.mark.parametrize("case", sorted(LIMIT_CASES))
def test_each_candidate_limit_is_refused_with_its_setting(target, case):
    content, content_type, setting, where = LIMIT_CASES[case]
    response, elapsed = post(target.base, content, content_type)
    assert response.status_code == 413, response.text[:300]
    body = response.json()
    assert setting in body["error"] and "limite" in body["error"], body
    assert (body["where"] or "").startswith(where), body
    assert elapsed < FAST


def test_limits_follow_the_settings(monkeypatch):
    """A setting changes the limit, the refusal and the published schema (in-process, no server)."""
    form = {"name": "X", "perimeter": ["commune:39300", "commune:39301", "commune:39302", "commune:39303"]}
    candidate.from_form(form)
    monkeypatch.setenv("PTCE_KG_CANDIDATE_MAX_PERIMETER", "3")
    assert candidate.schema()["properties"]["perimeter"]["maxItems"] == 3
    with pytest.raises(candidate.CandidateError) as refused:
        candidate.from_form(form)
    assert refused.value.reason == InputError.TOO_LARGE and refused.value.where == "perimeter" and "limit 3" in str(refused.value)
    monkeypatch.setenv("PTCE_KG_CANDIDATE_MAX_TRIPLES", "3")
    with pytest.raises(candidate.CandidateError) as refused:
        candidate.read(_ntriples(3), "nt")
    assert "PTCE_KG_CANDIDATE_MAX_TRIPLES" in str(refused.value)
