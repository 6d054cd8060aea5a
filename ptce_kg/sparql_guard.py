"""What a SPARQL request asks for, decided before the engine sees it.

Oxigraph (pyoxigraph) follows `SERVICE` and `LOAD` over HTTP, and its "default graph as union"
option silently replaces a query's own `FROM` clauses. The endpoint therefore inspects each request
first: is it an update, which SERVICE endpoints does it call, does it declare its own dataset.

A cheap lexical test decides most requests (most queries never mention SERVICE or FROM); rdflib's
SPARQL parser settles the others. Whatever cannot be settled is refused: refusing a query is safe,
calling out is not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# SPARQL 1.1 §19.2: \uXXXX and \UXXXXXXXX escapes are decoded before parsing, anywhere in the text.
_CODEPOINT = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
# The prologue (BASE, PREFIX, comments), then the first keyword says query or update.
_PROLOGUE = re.compile(
    r"\A(?:\s+|#[^\n]*(?:\n|\Z)|BASE\s*<[^>]*>|PREFIX\s+[^\s:]*:\s*<[^>]*>)*", re.IGNORECASE
)
_UPDATE_KEYWORDS = {"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"}
_FIRST_WORD = re.compile(r"[A-Za-z]+")


MAX_NESTING = 200  # group and expression depth; the parsers recurse, so deeper input is refused upfront


def nesting_depth(text: str) -> int:
    """Deepest nesting of { and ( in the text (strings and IRIs included: an over-estimate is safe)."""
    depth = deepest = 0
    for ch in text:
        if ch in "{(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "})":
            depth -= 1
    return deepest


def decode_codepoints(text: str) -> str:
    return _CODEPOINT.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


def first_keyword(text: str) -> str:
    body = decode_codepoints(text)
    rest = body[_PROLOGUE.match(body).end():]
    word = _FIRST_WORD.match(rest)
    return word.group(0).upper() if word else ""


def looks_like_update(text: str) -> bool:
    return first_keyword(text) in _UPDATE_KEYWORDS


def _mentions(word: str, text: str) -> bool:
    return re.search(rf"\b{word}\b", text, re.IGNORECASE) is not None


@dataclass
class Analysis:
    services: list[str] = field(default_factory=list)  # endpoint IRIs; "?var" for a variable endpoint
    has_dataset_clause: bool = False  # FROM / FROM NAMED (queries) or USING (updates)
    has_load: bool = False
    from_graphs: list[str] = field(default_factory=list)  # FROM <g>
    from_named: list[str] = field(default_factory=list)  # FROM NAMED <g>
    unparsed: bool = False  # rdflib could not parse a text that mentions SERVICE/FROM/LOAD


def _walk(node, visit) -> None:
    from pyparsing import ParseResults

    visit(node)
    if isinstance(node, dict):
        for value in list(node.values()):
            _walk(value, visit)
    elif isinstance(node, (list, tuple, ParseResults)):
        for value in node:
            _walk(value, visit)


def analyse(text: str, *, update: bool = False) -> Analysis:
    """Find SERVICE endpoints, dataset clauses and LOAD in a query or update."""
    decoded = decode_codepoints(text)
    result = Analysis()
    wants_service = _mentions("SERVICE", decoded)
    wants_from = _mentions("FROM", decoded) or _mentions("USING", decoded)
    wants_load = _mentions("LOAD", decoded)
    if not (wants_service or wants_from or wants_load):
        return result
    try:
        from rdflib.plugins.sparql import parser
        from rdflib.plugins.sparql.parserutils import CompValue

        tree = parser.parseUpdate(text) if update else parser.parseQuery(text)
    except Exception:
        # Settle on the safe side: assume the words mean what they say.
        result.unparsed = True
        result.services = ["?unverified"] if wants_service else []
        result.has_dataset_clause = wants_from
        result.has_load = wants_load
        return result

    def visit(node) -> None:
        if not isinstance(node, CompValue):
            return
        if node.name == "ServiceGraphPattern":
            term = node.get("term")
            result.services.append(str(term) if term.__class__.__name__ == "URIRef" else "?variable")
        elif node.name in ("DatasetClause", "UsingClause"):
            result.has_dataset_clause = True
            if "default" in node:
                result.from_graphs.append(str(node["default"]))
            if "named" in node:
                result.from_named.append(str(node["named"]))
        elif node.name == "Load":
            result.has_load = True

    _walk(tree, visit)
    return result


def refused_services(analysis: Analysis, allowlist: tuple[str, ...]) -> list[str]:
    return [s for s in analysis.services if s not in allowlist]
