"""RDF documents written as Turtle templates (Jinja2, in api/rdf/): the DCAT catalogue and the VoID head are
documents with a few loops, not triples built one by one in Python.

Values that come from data reach the Turtle text only through two filters, so that a template cannot write a
broken or injected term: `iri` writes `<…>` and refuses what is not a valid IRI, `lit` writes a quoted literal
with its language (`lit("fr")`) or XSD datatype (`lit("integer")`), escaped by rdflib.

>>> print(ENV.from_string('{{ x | iri }} {{ "a \\\\"b\\\\"" | lit("fr") }} {{ 3 | lit("integer") }}').render(x="https://e.org/a"))
<https://e.org/a> "a \\"b\\""@fr "3"^^<http://www.w3.org/2001/XMLSchema#integer>
>>> ENV.from_string('{{ x | iri }}').render(x="https://e.org/a b")
Traceback (most recent call last):
...
ValueError: not an IRI: 'https://e.org/a b'
>>> len(render("void.ttl.j2", id="https://e.org/id/", base="https://e.org/", vocabulary="https://e.org/def#",
...            licence="https://e.org/licence", dumps=["https://e.org/dumps/all.nt.gz"]))
8
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import rdflib
from rdflib.namespace import XSD

RDF_DIR = Path(__file__).resolve().parent / "rdf"  # what api publishes: Turtle templates and .rq queries
LANGUAGES = ("fr", "en")


def _iri(value) -> str:
    term = rdflib.URIRef(str(value))
    if not str(value) or not rdflib.term._is_valid_uri(str(value)):
        raise ValueError(f"not an IRI: {str(value)!r}")
    return term.n3()


def _lit(value, kind: str | None = None) -> str:
    if kind is None:
        return rdflib.Literal(str(value)).n3()
    if kind in LANGUAGES:
        return rdflib.Literal(str(value), lang=kind).n3()
    return rdflib.Literal(str(value), datatype=XSD[kind]).n3()


def _thousands(n: int, lang: str) -> str:
    """A count as French and English write it: 12 345 and 12,345."""
    return f"{int(n):,}".replace(",", " ") if lang == "fr" else f"{int(n):,}"


ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(RDF_DIR), autoescape=False, trim_blocks=True,
                         lstrip_blocks=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
ENV.filters.update(iri=_iri, lit=_lit, thousands=_thousands)


def render(name: str, **context) -> rdflib.Graph:
    """The graph that template `name` (in api/rdf/) writes with `context`; a template error fails loudly."""
    text = ENV.get_template(name).render(**context)
    graph = rdflib.Graph()
    graph.parse(data=text, format="turtle")
    return graph
