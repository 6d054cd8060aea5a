"""Consistency checks: SPARQL queries (consistency/*.rq) whose every answer row is a contradiction.

Each query is a SELECT with a header in French and English (title, description, and a message template
whose {placeholders} are the row's variables) and returns, per contradiction, `?a` and `?b`: the two facts
that disagree (a ptce:Statement, or the ptce:Citation of a table row; `?b` may be several, space-separated,
when it is a sum), with `?a_value` and `?b_value`. The source of each fact (document, locator, passage) is
read from the graph here, so that every contradiction names both facts and where they come from.

`ptce-kg validate` runs them (exit 1 on any) and so does every build (nothing published on any).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph

from . import iris
from .iris import read_query

CHECKS_DIR = Path(__file__).resolve().parent / "consistency"
ID = iris.ID
PASSAGE_CHARS = 160

_SOURCE = f"PREFIX ptce: <{iris.DEF}>\n" + """PREFIX dct:  <http://purl.org/dc/terms/>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX rdf:  <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX schema: <https://schema.org/>
SELECT ?document ?title ?locator ?passage ?note ?retrieved ?label ?value WHERE {
  { <FACT> prov:wasDerivedFrom ?reference . ?reference dct:source ?document .
    OPTIONAL { ?reference ptce:locator ?locator } OPTIONAL { ?reference ptce:passage ?passage }
    OPTIONAL { ?reference rdfs:comment ?note } OPTIONAL { ?reference ptce:retrieved ?retrieved }
    OPTIONAL { <FACT> rdf:value ?value } }
  UNION
  { <FACT> a ptce:Citation ; dct:source ?document . OPTIONAL { <FACT> ptce:passage ?passage }
    OPTIONAL { <FACT> rdfs:comment ?note ; ptce:retrieved ?retrieved . OPTIONAL { ?document schema:url ?locator } } }
  OPTIONAL { <FACT> rdfs:label ?label FILTER(lang(?label) = "fr") }
  OPTIONAL { ?document dct:title ?title }
} ORDER BY ?document"""


def header(text: str, key: str) -> str:
    for line in text.splitlines():
        if line.startswith(f"# {key}:"):
            return line.split(":", 1)[1].strip()
    return ""


def short(value: str) -> str:
    """An IRI of ours as its path after id/ (ptce/cluster-jura); a definition term as its local name."""
    if value.startswith(ID):
        return value[len(ID):]
    if "#" in value:
        return value.rsplit("#", 1)[1]
    return value


@dataclass
class Fact:
    role: str  # "a" or "b": which side of the contradiction
    iri: str
    label: str
    value: str | None
    documents: list[dict] = field(default_factory=list)  # {document, title, locator, passage, note, retrieved}

    def where(self) -> str:
        out = []
        for d in self.documents:
            spot = d.get("locator") or (f"« {d['passage'][:PASSAGE_CHARS]}{'…' if len(d['passage']) > PASSAGE_CHARS else ''} »"
                                        if d.get("passage") else "")
            if not d.get("passage") and d.get("note"):  # a web page: the fact in our words, after its address
                spot += f" ({d['note'][:PASSAGE_CHARS]}{'…' if len(d['note']) > PASSAGE_CHARS else ''})"
            if d.get("retrieved"):
                spot += f" (lu le / read {d['retrieved']})"
            out.append(f"{short(d['document'])}, {spot}" if spot else short(d["document"]))
        return " ; ".join(out)

    def as_dict(self) -> dict:
        return {"role": self.role, "fact": self.iri, "label": self.label, "value": self.value,
                "sources": self.documents}


@dataclass
class Contradiction:
    check: str
    title: dict
    message: dict
    facts: list[Fact]

    def as_dict(self) -> dict:
        return {"check": self.check, "title": self.title, "message": self.message,
                "facts": [f.as_dict() for f in self.facts]}


def _fact(store: pyoxigraph.Store, role: str, iri: str) -> Fact:
    rows = list(store.query(_SOURCE.replace("FACT", iri), use_default_graph_as_union=True))
    documents, label, value = [], "", None
    for row in rows:
        label = label or (row["label"].value if row["label"] is not None else "")
        value = value or (row["value"].value if row["value"] is not None else None)
        entry = {k: row[k].value for k in ("document", "title", "locator", "passage", "note", "retrieved")
                 if row[k] is not None}
        if entry not in documents:
            documents.append(entry)
    return Fact(role, iri, label or short(iri), value, documents)


def _fill(template: str, values: dict) -> str:
    class Missing(dict):
        def __missing__(self, key):
            return "?"
    return template.format_map(Missing(values))


def checks() -> list[Path]:
    return sorted(CHECKS_DIR.glob("*.rq"))


def run(store: pyoxigraph.Store) -> list[Contradiction]:
    """Every contradiction every check finds, with both facts and their sources."""
    found: list[Contradiction] = []
    for path in checks():
        text = read_query(path)
        result = store.query(text, use_default_graph_as_union=True)
        names = [v.value for v in result.variables]
        for row in result:
            values = {n: short(row[n].value) for n in names if row[n] is not None}
            facts = []
            for role in ("a", "b"):
                iris = row[role].value.split() if row[role] is not None else []
                for iri in iris:
                    fact = _fact(store, role, iri)
                    if fact.value is None and len(iris) == 1:  # a table row's fact: the value the check read
                        fact.value = values.get(f"{role}_value")
                    facts.append(fact)
            found.append(Contradiction(
                check=path.stem,
                title={"fr": header(text, "title"), "en": header(text, "title-en")},
                message={"fr": _fill(header(text, "message"), values), "en": _fill(header(text, "message-en"), values)},
                facts=facts))
    return found


def describe(contradictions: list[Contradiction]) -> str:
    """Contradictions as text: each message in French and English, then each fact with its source."""
    lines = []
    for c in contradictions:
        lines.append(f"✘ [{c.check}] {c.message['fr']}")
        lines.append(f"  {c.message['en']}")
        for f in c.facts:
            value = f" = {f.value}" if f.value is not None else ""
            lines.append(f"    {f.role}: {short(f.iri)}{value} — {f.where()}")
    return "\n".join(lines)
