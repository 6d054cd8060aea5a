"""Every IRI ptce-kg mints or recognises, from one place (README, "Identifiers").

Two spaces:

- **the vocabulary** — `VOCAB` (https://w3id.org/ptce-kg/): terms (`def#`), criteria (`def/criterion/`), the code
  lists published with the ontology (`code/`), shapes, the search service. It is the same for every deployment,
  so that the ontology, the shapes and the research queries mean the same thing everywhere;
- **the deployment's own things** — `BASE`, the configured base IRI (`PTCE_KG_BASE_IRI`, default `VOCAB`):
  resources (`id/`) and named graphs (`graph/`). A deployment under another base mints, serves and dereferences
  those under its own name.

>>> code_iri("naf", "88.99B")
'https://w3id.org/ptce-kg/code/naf/88.99B'
>>> served_iri("code/naf/88.99B") == code_iri("naf", "88.99B")
True
>>> served_iri("id/ptce/x") == ID + "ptce/x"
True
>>> local_path(ID + "ptce/x")
'id/ptce/x'
>>> local_path("https://example.com/elsewhere") is None
True
"""

from __future__ import annotations

import re
from pathlib import Path

from .config import DEFAULT_BASE_IRI, settings

VOCAB = DEFAULT_BASE_IRI
DEF = VOCAB + "def#"
CRITERION = VOCAB + "def/criterion/"
CODE = VOCAB + "code/"
SHAPES = VOCAB + "shapes/"
SEARCH_SERVICE = VOCAB + "search"
SEARCH = VOCAB + "search#"
CANDIDATE_SCHEMA = VOCAB + "def/candidate.schema.json"

BASE = settings().base_iri
if not BASE.endswith("/"):
    raise ValueError(f"PTCE_KG_BASE_IRI must end with '/': {BASE!r}")
ID = BASE + "id/"
GRAPH = BASE + "graph/"
META_GRAPH = GRAPH + "meta"
DATASET = ID + "dataset/ptce-kg"
SOFTWARE = ID + "software/ptce-kg"

_VOCAB_PATHS = ("def", "code/", "shapes/", "search")  # paths under the vocabulary's space, not the deployment's


def resource(path: str) -> str:
    """The IRI of one of this deployment's resources: `resource("ptce/x")` -> BASE + "id/ptce/x"."""
    return ID + path


def graph_iri(name: str) -> str:
    return GRAPH + name


def code_iri(scheme: str, notation: str) -> str:
    return f"{CODE}{scheme}/{notation}"


def served_iri(path: str) -> str:
    """The IRI a request path of this deployment (`id/…`, `graph/…`, `code/…`, `def…`) stands for."""
    path = path.lstrip("/")
    return (VOCAB if path.startswith(_VOCAB_PATHS) else BASE) + path


def local_path(iri: str) -> str | None:
    """The path under which this deployment serves `iri`, or None when it is not one of its own."""
    for space in ((BASE, VOCAB) if len(BASE) >= len(VOCAB) else (VOCAB, BASE)):
        if iri.startswith(space):
            path = iri[len(space):]
            if served_iri(path) == iri:
                return path
    return None


def localise(text: str) -> str:
    """SPARQL or Turtle written with the default base: its `id/` and `graph/` IRIs moved to the configured base.

    The project's own queries (checks, pages, catalogue) are written once, with the default base, and read
    through this function (`read_query`)."""
    if BASE == VOCAB:
        return text
    return text.replace(VOCAB + "id/", ID).replace(VOCAB + "graph/", GRAPH)


def read_query(path: Path) -> str:
    """One of the project's own `.rq` files, for this deployment's base IRI."""
    return localise(path.read_text(encoding="utf-8"))


def with_values(query: str, variable: str, iris: list[str]) -> str:
    """Bind ?variable to a list of IRIs with an inline VALUES block at the start of the first WHERE group (fast
    in Oxigraph, unlike substitutions); anything that is not an IRI is refused (pyoxigraph.NamedNode).

    >>> print(with_values("SELECT ?s WHERE { ?s a ?class }", "class", ["urn:a", "urn:b"]))
    SELECT ?s WHERE {
      VALUES ?class { <urn:a> <urn:b> } ?s a ?class }
    """
    import pyoxigraph

    terms = " ".join(str(pyoxigraph.NamedNode(i)) for i in iris)
    return re.sub(r"WHERE\s*\{", lambda m: f"WHERE {{\n  VALUES ?{variable} {{ {terms} }}", query, count=1)
