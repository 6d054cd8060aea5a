"""Property-based fuzzing of the candidate readers (ptce_kg/candidate.py).

Whatever people send, `candidate.read` and `candidate.from_form` either return a graph or raise a
CandidateError whose status is 400, 413, 415 or 422, with a message in English and French — never another
exception — within a time bound per example, and without a single outgoing connection.

The inputs are random bytes and text, token soups in each syntax, byte-level mutations of the fixtures
(tests/fixtures/candidates/ and their Turtle, N-Triples, RDF/XML and JSON-LD serialisations), and
structure-aware mutations: forms with values replaced, lists multiplied past the limits, nesting deepened,
strings lengthened; RDF graphs with triples added past the limits or broken terms. Profiles (examples,
deadline, fixed seed in CI): tests/redteam/__init__.py; a long run: `python -m bench.fuzz`.
"""

from __future__ import annotations

import copy
import json
import socket
import time
from pathlib import Path

import pytest
import rdflib
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ptce_kg import candidate
from ptce_kg.config import settings as ptce_settings
from ptce_kg.errors import InputError

from . import EXAMPLE_SECONDS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "candidates"
REASONS = set(InputError.REASONS)  # each mapped to a status below 500 (api/errors.py)
KINDS = ["turtle", "json-ld", "xml", "nt", "form", "form-yaml", "json"]
LIMITS = candidate.limits()

ELIGIBLE_JSON = (FIXTURES / "eligible.json").read_bytes()
ELIGIBLE_TTL = (FIXTURES / "eligible.ttl").read_bytes()
AGENCY_YAML = (FIXTURES / "development-agency.yaml").read_bytes()
ELIGIBLE_FORM = json.loads(ELIGIBLE_JSON)
AGENCY_FORM = yaml.safe_load(AGENCY_YAML)
TURTLE_GRAPH = rdflib.Graph().parse(data=ELIGIBLE_TTL.decode("utf-8"), format="turtle")


def _serialised(fmt: str) -> bytes:
    return TURTLE_GRAPH.serialize(format=fmt).encode("utf-8")


SOURCES = [
    ("form", ELIGIBLE_JSON), ("json", ELIGIBLE_JSON), ("form-yaml", AGENCY_YAML), ("turtle", ELIGIBLE_TTL),
    ("nt", _serialised("nt")), ("xml", _serialised("xml")), ("json-ld", _serialised("json-ld")),
    ("form-yaml", yaml.safe_dump(ELIGIBLE_FORM, allow_unicode=True).encode("utf-8")),
]

# Pieces of each syntax, the hostile ones first: anchors and aliases, remote contexts, DOCTYPEs, deep
# nesting, huge numbers, invalid dates, broken IRIs, control characters, byte-order marks, encodings.
COMMON = [b"\x00", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\t", b"\r\n", b"\n",
          b"\x1b", b"\\u0000", b"\\ud800", b"1" * 4400, b"9" * 30, b"1e99999", b"-0", b"x" * 5001, b'"', b"'", b"\\"]
TOKENS = {
    "form-yaml": [b"&a ", b"*a", b"<<: *a", b"&a [x, x]", b"!!binary aGk=", b"!!set {a, b}", b"!!omap [a: 1]",
                  b"!!python/object:os.system", b"!foo ", b"? ", b": ", b"- ", b"---\n", b"...\n", b"[", b"]", b"{", b"}",
                  b"2024-13-45", b"2024-02-30T25:61:00", b"1:2:3:4:5", b"0x" + b"f" * 40, b"0b1", b"~", b".inf", b"%YAML 1.1\n",
                  b"%TAG ! tag:x,2000:\n", b"|\n  x", b">-\n  y", b"name: ", b"members:\n  - ", b"perimeter: [", b"  "],
    "json": [b"{", b"}", b"[", b"]", b",", b":", b'"@context": "http://127.0.0.1:9/c.jsonld", ', b'"@import": "x", ',
             b'"@id": "a b", ', b'"@type": "PTCE", ', b'"@graph": [', b"NaN", b"Infinity", b"null", b"true",
             b'"name": ', b'"members": [', b'"perimeter": ["commune:01001"', b'"key": 1, ', b"[" * 60, b"{\"a\":" * 40],
    "turtle": [b"@prefix x: <urn:x#> .\n", b"@base <urn:b/> .\n", b"PREFIX y: <urn:y#>\n", b"[", b"]", b"(", b")", b'"""',
               b"<a{b}>", b"<http://a b>", b"<>", b"a ptce:PTCE ;", b"ptce:perimeter <https://w3id.org/ptce-kg/id/commune/01001> ;",
               b"org:hasMember [ a ptce:Organisation ] ;", b'"x"@fr-', b'"x"@123456789', b'"x"^^<urn:t>', b'"x"^^xsd:integer',
               b"rdfs:subClassOf ptce:PTCE .", b"_:b", b";", b",", b".", b"true", b"1.5e", b"( " * 60, b"[ x:p " * 60],
    "xml": [b"<!DOCTYPE x>", b"<!ENTITY e 'x'>", b'<?xml version="1.0" encoding="UTF-16"?>', b'<?xml version="1.0"?>',
            b"&e;", b"&#0;", b"&#xD800;", b"<![CDATA[", b"]]>", b"<rdf:Description>", b"</rdf:Description>",
            b'rdf:parseType="Collection"', b'rdf:parseType="Literal"', b'rdf:about="a b"', b'xml:lang="@@"', b"<x:y>",
            b"<rdf:RDF " * 40],
    "nt": [b"<urn:a> <urn:b> <urn:c> .\n", b"_:b <urn:p> _:c .\n", b'"x"@en', b'"x"^^<urn:t>', b"\\U0010FFFF", b"\\U00110000",
           b"<https://w3id.org/ptce-kg/id/candidate/x> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
           b"<https://w3id.org/ptce-kg/def#PTCE> .\n", b"<a b>", b" .", b"#"],
}
TOKENS["form"] = TOKENS["json"]
TOKENS["json-ld"] = TOKENS["json"]


# -- the property --------------------------------------------------------------------------------

def holds(call):
    """Run one reader call: a graph within the limits, or a CandidateError (status, bilingual message), in time."""
    started = time.monotonic()
    try:
        graph = call()
    except candidate.CandidateError as exc:
        assert exc.reason in REASONS, f"reason {exc.reason}: {exc}"
        assert " / " in str(exc), f"message not in both languages: {exc}"
        outcome = exc
    else:
        assert isinstance(graph, rdflib.Graph)
        assert any(graph.subjects(rdflib.RDF.type, candidate.PTCE.PTCE))
        assert len(graph) <= LIMITS.triples
        outcome = graph
    elapsed = time.monotonic() - started
    assert elapsed < EXAMPLE_SECONDS, f"{elapsed:.2f} s for one example"
    return outcome


@pytest.fixture(scope="module", autouse=True)
def no_connections():
    """Reading a candidate never opens a connection: any attempt fails the module."""
    attempts = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise PermissionError(f"a candidate reader tried to connect to {address!r}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        yield
    assert attempts == [], attempts


# -- random bytes and text -----------------------------------------------------------------------

kinds = st.sampled_from(KINDS)


@given(content=st.binary(max_size=3000), kind=kinds)
def test_random_bytes(store, content, kind):
    holds(lambda: candidate.read(content, kind, store))


SYNTAX = "{}[]()<>:;,.\"'@&*!?#%|-_^~=/\\ \n\taA0é€\U0001F600\x00\x7f"
texts = st.text(alphabet=st.sampled_from(SYNTAX) | st.characters(codec="utf-8"), max_size=2000)


@given(text=texts, kind=kinds, bom=st.booleans())
def test_random_text(store, text, kind, bom):
    content = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    holds(lambda: candidate.read(content, kind, store))


@given(kind=kinds, pieces=st.data())
def test_token_soup(store, kind, pieces):
    """Strings of a syntax's own tokens and the hostile ones, behind a valid start of that syntax."""
    tokens = TOKENS[kind] + COMMON
    soup = pieces.draw(st.lists(st.sampled_from(tokens) | st.binary(max_size=6), max_size=60))
    start = pieces.draw(st.sampled_from([b"", next(c for k, c in SOURCES if k == kind)[:120]]))
    content = start + b" ".join(soup)
    holds(lambda: candidate.read(content, kind, store))


@given(kind=st.text(max_size=20))
def test_unknown_kinds_are_415(kind):
    assume(kind not in KINDS)
    outcome = holds(lambda: candidate.read(ELIGIBLE_TTL, kind))
    assert isinstance(outcome, candidate.CandidateError) and outcome.reason == InputError.UNSUPPORTED


# -- byte-level mutations of the fixtures --------------------------------------------------------

@st.composite
def mutated(draw):
    kind, content = draw(st.sampled_from(SOURCES))
    data = bytearray(content)
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["delete", "insert", "insert", "repeat", "replace", "truncate", "swap-kind"]))
        i = draw(st.integers(0, len(data)))
        if op == "delete":
            del data[i:draw(st.integers(i, min(len(data), i + 80)))]
        elif op == "insert":
            data[i:i] = draw(st.sampled_from(TOKENS[kind] + COMMON) | st.binary(min_size=1, max_size=8))
        elif op == "repeat":  # a member, a territory, a line, many times over: past the limits
            piece = bytes(data[i:draw(st.integers(i, min(len(data), i + 120)))])
            data[i:i] = piece * draw(st.integers(2, 700))
        elif op == "replace" and data:
            data[min(i, len(data) - 1)] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[i:]
        elif op == "swap-kind":
            kind = draw(kinds)
    return kind, bytes(data)


@given(case=mutated())
def test_mutated_fixtures(store, case):
    kind, content = case
    holds(lambda: candidate.read(content, kind, store))


# -- structure-aware mutations of forms ----------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
    | st.sampled_from(["commune:39300", "epci:200071116", "departement:39", "ess-enterprise", "juratri", "552100554",
                       "https://w3id.org/ptce-kg/id/organisation/juratri", "aap-2013", "aap2013-4", "", "x" * 5001]),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20)
# What only a Python caller of from_form can pass: the form reader must refuse these too, not crash.
# (copies: a mutation must never change the strategy's own values)
odd_values = st.sampled_from([{1, 2}, (1, 2), b"bytes", object(), 10 ** 5000, float("nan"), float("inf"),
                              {1: "x"}, {("a",): "x"}, {None: 1}, bytearray(b"x"), range(3), "\ud800", "a\x00b"]
                             ).map(copy.deepcopy)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*prefix, i))


def _get(value, path):
    for part in path:
        value = value[part]
    return value


def _set(form, path, new):
    if not path:
        return new
    _get(form, path[:-1])[path[-1]] = new
    return form


@st.composite
def mutated_forms(draw, odd=False):
    form = copy.deepcopy(draw(st.sampled_from([ELIGIBLE_FORM, AGENCY_FORM, {"name": "Projet naissant"}])))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(list(_paths(form))))
        target = _get(form, path)
        op = draw(st.sampled_from(["replace", "replace", "delete", "add", "multiply", "deepen", "lengthen"]))
        if op == "replace":
            form = _set(form, path, draw(json_values | odd_values if odd else json_values))
        elif op == "delete" and path:
            del _get(form, path[:-1])[path[-1]]
        elif op == "add" and isinstance(target, dict):
            target[draw(st.sampled_from(list(candidate.schema()["properties"])) | st.text(max_size=10))] = draw(json_values)
        elif op == "multiply" and isinstance(target, list) and target:  # e.g. 600 members, 800 territories
            target.extend(copy.deepcopy(target[-1]) for _ in range(draw(st.integers(1, 800))))
        elif op == "deepen":
            for _ in range(draw(st.integers(1, 60))):
                target = [target]
            form = _set(form, path, target)
        elif op == "lengthen" and isinstance(target, str):
            form = _set(form, path, target * draw(st.integers(2, 3000)))
        if not isinstance(form, (dict, list)):
            break
    return form


@given(form=mutated_forms(odd=True))
def test_from_form_mutations(store, form):
    holds(lambda: candidate.from_form(form, store))


# Serialising a large mutated form takes longer than reading it: the time bound is on the reader (holds).
@settings(deadline=None)
@given(form=mutated_forms(), as_yaml=st.booleans(), sniffed=st.booleans())
def test_serialised_form_mutations(store, form, as_yaml, sniffed):
    if as_yaml:
        content, kind = yaml.dump(form, Dumper=_NoAliasDumper, allow_unicode=True).encode("utf-8", "surrogatepass"), "form-yaml"
    else:
        content, kind = json.dumps(form, ensure_ascii=False).encode("utf-8", "surrogatepass"), "json" if sniffed else "form"
    holds(lambda: candidate.read(content, kind, store))


# -- structure-aware mutations of RDF candidates -------------------------------------------------

PTCE_NODE = rdflib.URIRef("https://w3id.org/ptce-kg/id/candidate/pole-dechets-lons")
iris = st.sampled_from(["https://w3id.org/ptce-kg/id/commune/39300", "urn:x", "a b", "http://a{b}", "", "urn:\ud800"]) | \
    st.text(max_size=40).map(lambda t: "urn:" + t)
literals = st.builds(rdflib.Literal, st.text(max_size=40) | st.just("x" * 5001)) | \
    st.builds(lambda v: rdflib.Literal(v), st.integers() | st.floats() | st.booleans())


@st.composite
def mutated_graphs(draw):
    graph = rdflib.Graph()
    for triple in TURTLE_GRAPH:
        graph.add(triple)
    p = candidate.PTCE
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["perimeter", "members", "ptce", "literal", "iri", "remove", "subclass"]))
        n = draw(st.integers(1, 700))
        if op == "perimeter":
            graph += [(PTCE_NODE, p.perimeter, rdflib.URIRef(f"https://w3id.org/ptce-kg/id/commune/{i:05d}")) for i in range(n)]
        elif op == "members":
            graph += [(PTCE_NODE, candidate.ORG.hasMember, rdflib.URIRef(f"{PTCE_NODE}/member/m{i}")) for i in range(n)]
        elif op == "ptce":
            graph += [(rdflib.URIRef(f"urn:ptce:{i}"), rdflib.RDF.type, p.PTCE) for i in range(min(n, 40))]
        elif op == "literal":
            graph.add((PTCE_NODE, rdflib.RDFS.label, draw(literals)))
        elif op == "iri":
            graph.add((PTCE_NODE, p.perimeter, rdflib.URIRef(draw(iris))))
        elif op == "remove":
            graph.remove((None, draw(st.sampled_from(sorted({t[1] for t in graph}))), None))
        elif op == "subclass":
            graph.add((rdflib.URIRef("urn:X"), rdflib.RDFS.subClassOf, p.PTCE))
    return graph


@settings(deadline=None)
@given(graph=mutated_graphs(), fmt=st.sampled_from(["turtle", "nt", "xml", "json-ld"]))
def test_mutated_graphs(store, graph, fmt):
    try:
        content = graph.serialize(format=fmt).encode("utf-8", "surrogatepass")
    except Exception:  # rdflib cannot write some broken terms in some syntaxes: nothing to send
        assume(False)
    assume(len(content) <= ptce_settings().max_body_bytes)
    holds(lambda: candidate.read(content, fmt, store))


# -- YAML: the semantics of yaml.safe_load, without anchors or aliases ---------------------------

class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10 ** 6, 10 ** 6) | st.text(max_size=20)
    | st.floats(allow_nan=False),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=25)
LOADERS = [candidate.SafeCandidateLoader] + (
    [candidate.FastCandidateLoader] if hasattr(candidate, "FastCandidateLoader") else [])


@pytest.mark.parametrize("loader", LOADERS, ids=lambda c: c.__name__)
@given(value=yaml_values, flow=st.booleans())
def test_yaml_without_anchors_reads_as_safe_load(loader, value, flow):
    text = yaml.dump(value, Dumper=_NoAliasDumper, default_flow_style=flow, allow_unicode=True)
    assert candidate._yaml(text, LIMITS, loader) == yaml.safe_load(text)


@pytest.mark.parametrize("loader", LOADERS, ids=lambda c: c.__name__)
@given(value=yaml_values, data=st.data())
def test_yaml_anchors_and_aliases_are_always_refused(loader, value, data):
    text = yaml.dump({"a": value, "b": value}, Dumper=yaml.SafeDumper)  # the same object twice: &id001 / *id001
    if not any(getattr(event, "anchor", None) for event in yaml.parse(text)):  # scalars are not anchored
        text = data.draw(st.sampled_from(["a: &x 1\nb: *x\n", "- &x [1]\n- *x\n", "&x {a: 1}\n", "a: *x\n"]))
    started = time.monotonic()
    with pytest.raises(candidate.CandidateError) as refused:
        candidate._yaml(text, LIMITS, loader)
    assert refused.value.reason == InputError.MALFORMED and refused.value.where.startswith("line ")
    assert "anchors" in str(refused.value) or "aliases" in str(refused.value)
    assert time.monotonic() - started < EXAMPLE_SECONDS


# -- large inputs: one piece many times over, up to the body limit -------------------------------
# Small examples cannot show what grows faster than the input (rdflib's prefix trie, its quadratic string
# and N-Triples line parsers, YAML sexagesimal integers): these fill the body with one repeated piece.

XML_HEAD = b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
PTCE_TYPE = b"<http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/ptce-kg/def#PTCE>"
REPEATED = {  # kind: [(before, piece, after)]; %d (or %05d) in a piece is its rank
    "turtle": [(b"", b"@prefix p%d: <urn:p%d#> .\n", b""), (b'<urn:a> <urn:b> """', b"x\\n", b'""" .'),
               (b'<urn:a> <urn:b> "', b"x\\t", b'" .'), (b"<urn:a> <urn:b> ", b"( ", b""), (b"", b"@base <urn:%d/> .\n", b""),
               (b"", b"<urn:s%d> " + PTCE_TYPE + b" .\n", b""), (b"<urn:a> <urn:b> <", b"x", b"> ."),
               (b"<urn:a> <urn:b> ", b"[ <urn:p> ", b"")],
    "nt": [(b'<urn:a> <urn:b> "', b"x", b'" .\n'), (b"<urn:a> <urn:b> <", b"x", b"> .\n"), (b"<urn:a> <urn:b> <urn:c>", b" ", b".\n"),
           (b"", b"<urn:s%d> " + PTCE_TYPE + b" .\n", b""), (b"", b"_:b%d <urn:p> _:c%d .\n", b"")],
    "xml": [(XML_HEAD, b'<rdf:Description xmlns:n%d="urn:%d#"/>', b"</rdf:RDF>"),
            (XML_HEAD, b'<rdf:Description rdf:about="urn:%d"><rdf:type rdf:resource="https://w3id.org/ptce-kg/def#PTCE"/>'
                       b"</rdf:Description>", b"</rdf:RDF>"),
            (XML_HEAD + b'<rdf:Description rdf:about="urn:a"><rdf:value>', b"x&amp;", b"</rdf:value></rdf:Description></rdf:RDF>")],
    "json-ld": [(b'{"@context": {', b'"t%d": "urn:t%d#", ', b'"z": "urn:z"}, "@id": "urn:x"}'),
                (b'{"@graph": [', b'{"@id": "urn:n%d", "@type": "https://w3id.org/ptce-kg/def#PTCE"}, ', b"{}]}"),
                (b'{"@id": "urn:x", "urn:p": {"@list": [', b"%d, ", b"0]}}"), (b'{"@id": "urn:x", "urn:p": ', b"[", b"")],
    "form": [(b'{"name": "x", "perimeter": [', b'"commune:%05d", ', b'"commune:39300"]}'), (b"", b"[", b""),
             (b'{"name": "', b"x\\u00e9", b'"}'), (b'{"name": "x", "members": [', b'{"name": "m%d", "role": "ess-enterprise"}, ',
                                                 b'{"name": "z", "role": "ess-enterprise"}]}')],
    "form-yaml": [(b"name: x\nperimeter:\n", b"  - commune:%05d\n", b""), (b"name: ", b"[", b""), (b"", b"k%d: &a%d x\n", b""),
                  (b"name: 1:", b"1:", b"1"), (b"name: x\nmembers:\n", b"  - {name: m%d, role: ess-enterprise}\n", b""),
                  (b"name: '", b"x''", b"'")],
}
REPEATED["json"] = REPEATED["form"] + REPEATED["json-ld"]
REPEATED_CASES = [(kind, *case) for kind in KINDS for case in REPEATED[kind]]


@pytest.mark.parametrize("kind, before, piece, after", REPEATED_CASES,
                         ids=[f"{kind}-{i}" for i, (kind, *_) in enumerate(REPEATED_CASES)])
@settings(max_examples=max(3, settings.default.max_examples // 100))
@given(share=st.sampled_from([1.0, 0.5, 0.1]) | st.floats(0, 1))
def test_large_repeated_inputs(store, kind, before, piece, after, share):
    """The piece as many times as the body limit allows, or a share of that."""
    room = (ptce_settings().max_body_bytes - len(before) - len(after)) // (len(piece) + 6)
    ranks = piece.count(b"%")
    count = max(1, int(room * share))
    body = b"".join(piece % ((i,) * ranks) for i in range(count)) if ranks else piece * count
    content = before + body + after
    assert len(content) <= ptce_settings().max_body_bytes
    holds(lambda: candidate.read(content, kind, store))
