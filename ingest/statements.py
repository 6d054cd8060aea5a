"""Statements: a value with its qualifiers and its own reference, in the manner of Wikidata's RDF model.

A statements table (ingest/registry/statements.csv for the PTCE, ingest/programmes/statements.csv for the
programmes) has one row per value a document gives:

    subject        the PTCE or programme id
    property       what is stated (a key of the pipeline's PROPERTIES: territory, carrier, sector, member-count,
                   applications, budget…)
    n              the statement's number within (subject, property): part of its IRI, never reused
    value          a number (or year) as the document gives it, or, for an item property, what it names: a
                   territory `kind:code`, an organisation id, a code of the property's list
    precision      for a number: exact | at-least | at-most | about   ("plus de 20" is at-least 20, "une
                   douzaine" about 12); empty for an item (a territory or a carrier is named, not measured)
    status         result | announced                        ("15 PTCE … bénéficieront" is announced)
    point_in_time  YYYY, YYYY-MM or YYYY-MM-DD when the document dates the value
    rank           preferred | normal | deprecated           (Wikidata ranks)
    rank_reason    why this value is preferred over another, or deprecated (required then)
    source         the document id (documents.csv)
    locator        where in the document (section, heading) or, for a web page, its address
    retrieved      for a web page, the date it was read (YYYY-MM-DD)
    passage        for a seed (documents.csv `seed`) or a legal text (`legal_text`), the exact words that
                   support the value
    note           for a web page, the fact in the project's own words (no verbatim text of third parties)

`passage` or `note` + `retrieved` follow the one citation rule of the table rows (ingest/table.py check_citation).

Each row becomes `id/statement/{kind}/{subject}/{property}/{n}` (a ptce:Statement) with
`prov:wasDerivedFrom` its reference `…/{n}/reference` (a ptce:Reference: document, locator, passage or note,
date read). The direct ("truthy") triple `subject property value` is written
- for a number, only when its statement is preferred and exact: a lower bound or an approximation never
  reads as a plain value (a call's announced envelope, preferred and exact, is its budget);
- for an item, with Wikidata's best-rank rule among the results: the preferred statements of (subject,
  property), or, when none is preferred, the normal ones (a PTCE has several sectors); an announced or a
  deprecated value is never direct.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Callable

from pyoxigraph import NamedNode

from ingest.table import REGISTRY_DIR, Row, Table, check_citation, document_kinds
from ptce_kg.rdf import DCT, PROV, PTCE, RDF, RDFS, A, Namespace, TripleSink, code, fr, iri, string, typed

WIKIBASE = Namespace("http://wikiba.se/ontology#")
COLUMNS = ["subject", "property", "n", "value", "precision", "status", "point_in_time", "rank", "rank_reason",
           "source", "locator", "retrieved", "passage", "note"]
PRECISIONS = {"exact", "at-least", "at-most", "about"}
STATUSES = {"result", "announced"}
RANKS = {"preferred": WIKIBASE.PreferredRank, "normal": WIKIBASE.NormalRank, "deprecated": WIKIBASE.DeprecatedRank}
PRECISION_LABELS = {"exact": "exactement", "at-least": "au moins", "at-most": "au plus", "about": "environ"}
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


@dataclass(frozen=True)
class Prop:
    """A property a statement can give a value for: its direct predicate, its datatype and its French label.

    datatype is integer | decimal | gYear for a number, or `item` for a value that names something: then
    `resolve(row, value)` gives the value's IRI or raises row.error (unknown territory, organisation, code)."""
    predicate: NamedNode
    datatype: str  # integer | decimal | gYear | item
    label: str
    resolve: Callable[[Row, str], NamedNode] | None = None

    @property
    def item(self) -> bool:
        return self.datatype == "item"


@dataclass
class Statement:
    subject: str
    key: str
    n: int
    value: str
    precision: str
    status: str
    rank: str
    row: Row
    subject_node: NamedNode | None = None
    term: object = None  # the value as an RDF term (literal or IRI)


def seeds() -> dict[str, str]:
    """Document id -> its seed file name ('' for a web page), from documents.csv."""
    table = Table("registry", REGISTRY_DIR / "documents.csv", ["id", "seed"])
    return {row.required("id"): row.get("seed") for row in table.rows()}


def _point_in_time(row: Row, field: str):
    value = row.get(field)
    if not value:
        return None
    if not _DATE.match(value):
        raise row.error(field, f"'{value}' is not YYYY, YYYY-MM or YYYY-MM-DD")
    try:
        dt.date.fromisoformat({4: value + "-01-01", 7: value + "-01", 10: value}[len(value)])
    except ValueError:
        raise row.error(field, f"'{value}' is not a date") from None
    return typed(value, {4: "gYear", 7: "gYearMonth", 10: "date"}[len(value)])


def _value(row: Row, prop: Prop) -> str:
    value = row.required("value")
    if prop.item:
        return value
    ok = {"integer": r"^\d+$", "decimal": r"^\d+(\.\d+)?$", "gYear": r"^\d{4}$"}[prop.datatype]
    if not re.match(ok, value):
        raise row.error("value", f"'{value}' is not a non-negative {prop.datatype}")
    return value


def load_statements(sink: TripleSink, table: Table, kind: str, properties: dict[str, Prop],
                    subjects: set[str], documents: dict[str, NamedNode]) -> list[Statement]:
    """Writes every statement of `table` (subjects `id/{kind}/{subject}`) and the truthy triples; returns them."""
    kinds = document_kinds()
    statements: list[Statement] = []
    seen: dict[tuple[str, str, int], int] = {}
    for row in table.rows():
        subject, key = row.required("subject"), row.required("property")
        if subject not in subjects:
            raise row.error("subject", f"unknown {kind} '{subject}'")
        prop = properties.get(key)
        if prop is None:
            raise row.error("property", f"'{key}' is not one of {sorted(properties)}")
        n = row.integer("n")
        if not n:
            raise row.error("n", "required: the statement's number within its subject and property (1, 2…)")
        if (subject, key, n) in seen:
            raise row.error("n", f"statement {subject}/{key}/{n} already at line {seen[(subject, key, n)]}")
        seen[(subject, key, n)] = row.line
        value = _value(row, prop)
        if prop.item:
            if row.get("precision"):
                raise row.error("precision", f"'{key}' names an item ({value}): precision is for numbers, leave it empty")
            precision = ""
            term = prop.resolve(row, value)
        else:
            precision = row.choice("precision", PRECISIONS) or row.required("precision")
            term = typed(value, prop.datatype)
        status = row.choice("status", STATUSES) or row.required("status")
        rank = row.choice("rank", set(RANKS)) or row.required("rank")
        if rank == "deprecated" and not row.get("rank_reason"):
            raise row.error("rank_reason", "a deprecated statement says why")
        doc = row.required("source")
        if doc not in documents:
            raise row.error("source", f"unknown document '{doc}' (see ingest/registry/documents.csv)")
        locator = row.required("locator")
        # the rule of every citation (ingest/table.py): a seed or legal text quoted, a web page paraphrased
        check_citation(row, [doc], kinds)
        retrieved = row.get("retrieved")

        subject_node = iri(f"{kind}/{subject}")
        node = iri(f"statement/{kind}/{subject}/{key}/{n}")
        ref = NamedNode(node.value + "/reference")
        sink.add(subject_node, PTCE.hasStatement, node)
        sink.add(node, A, PTCE.Statement)
        shown = f"{PRECISION_LABELS[precision]} {value}" if precision else value
        sink.add(node, RDFS.label, fr(f"{prop.label} de {subject} : {shown}"
                                      + (" (annoncé)" if status == "announced" else "")))
        sink.add(node, PTCE.statementSubject, subject_node)
        sink.add(node, PTCE.statementProperty, prop.predicate)
        sink.add(node, RDF.value, term)
        if precision:
            sink.add(node, PTCE.precision, code("precision", precision))
        sink.add(node, PTCE.statementStatus, code("statement-status", status))
        when = _point_in_time(row, "point_in_time")
        if when is not None:
            sink.add(node, PTCE.pointInTime, when)
        sink.add(node, WIKIBASE.rank, RANKS[rank])
        if row.get("rank_reason"):
            sink.add(node, PTCE.rankReason, fr(row.get("rank_reason")))
        sink.add(node, PROV.wasDerivedFrom, ref)
        sink.add(ref, A, PTCE.Reference)
        sink.add(ref, RDFS.label, fr(f"référence de {prop.label} de {subject} ({doc})"))
        sink.add(ref, DCT.source, documents[doc])
        sink.add(ref, PTCE.locator, string(locator))
        if row.get("passage"):
            sink.add(ref, PTCE.passage, fr(row.get("passage")))
        if row.get("note"):
            sink.add(ref, RDFS.comment, fr(row.get("note")))
        if retrieved:
            sink.add(ref, PTCE.retrieved, typed(retrieved, "date"))
        statements.append(Statement(subject, key, n, value, precision, status, rank, row, subject_node, term))

    groups: dict[tuple[str, str], list[Statement]] = {}
    for s in statements:
        groups.setdefault((s.subject, s.key), []).append(s)
    for (subject, key), group in groups.items():
        preferred = [s for s in group if s.rank == "preferred"]
        if len(preferred) > 1:
            raise preferred[1].row.error("rank", f"two preferred statements for {subject} {key} "
                                                 f"(lines {preferred[0].row.line} and {preferred[1].row.line})")
        if len(group) > 1 and preferred and not preferred[0].row.get("rank_reason"):
            raise preferred[0].row.error("rank_reason", f"sources disagree on {subject} {key}: "
                                                        "say why this value is preferred")
        for s in truthy(group, properties[key]):
            sink.add(s.subject_node, properties[key].predicate, s.term)
    return statements


def truthy(group: list[Statement], prop: Prop) -> list[Statement]:
    """The statements of one (subject, property) whose value is also written as a direct triple."""
    if not prop.item:
        return [s for s in group if s.rank == "preferred" and s.precision == "exact"]
    results = [s for s in group if s.status == "result"]
    return [s for s in results if s.rank == "preferred"] or [s for s in results if s.rank == "normal"]
