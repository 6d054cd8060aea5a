"""Funding programmes and their stated figures, from a table curated from public documents.

programmes.csv: one row per call, phase, wave or regional/departmental scheme, each citing its
document and its passage, or for a web page the fact in our words (`note`) and the date read (`retrieved`).
IRIs: id/programme/{id}.
statements.csv: the programmes' figures (applications, admissible, invited, laureates, budget, amount per
laureate, and the year where sources disagree) and funders stated with their own reference (`funder`: an
organisation id or a territory `kind:code`; direct `ptce:funder` only for a result, never for an announcement),
one row per value a document gives, with precision, status,
rank and reference (see ingest/statements.py). IRIs: id/statement/programme/{id}/{property}/{n}.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pyoxigraph import NamedNode

from ingest.base import BuildContext, Provenance, Source
from ingest.statements import COLUMNS as STATEMENT_COLUMNS, Prop, load_statements
from ingest.table import (REGISTRY_DIR, Row, Table, cite, curated_provenance, document_kinds, load_documents,
                          resolve_ref)
from ptce_kg.rdf import (CODE, DCT, PTCE, RDFS, SKOS, A, TripleSink, code, en, fr, graph, iri,
                         string, typed)

HERE = Path(__file__).resolve().parent
COLUMNS = ["id", "parent", "kind", "label_fr", "label_en", "year", "start_date", "result_date",
           "duration_months", "funders", "criteria", "source", "passage", "retrieved", "note"]
KINDS = {"series", "national-call", "wave", "phase", "regional-scheme", "departmental-scheme"}
CRITERIA = {"aap2013", "ami-emergents", "decret-2015-431"}  # CCCEV requirements of ontology/criteria.ttl
CRITERION_BASE = CODE.replace("code/", "def/criterion/")
COUNTS = {"duration_months": PTCE.fundingDurationMonths}
# What statements.csv may state for a programme, and the direct ("truthy") property of each.
PROPERTIES = {
    "applications": Prop(PTCE.applicationCount, "integer", "nombre de candidatures"),
    "admissible": Prop(PTCE.admissibleCount, "integer", "nombre de dossiers recevables ou éligibles"),
    "invited": Prop(PTCE.invitedCount, "integer", "nombre de candidats invités"),
    "laureates": Prop(PTCE.laureateCount, "integer", "nombre de lauréats"),
    "budget": Prop(PTCE.budget, "decimal", "enveloppe (euros)"),
    "amount-per-laureate": Prop(PTCE.amountPerLaureate, "decimal", "montant par lauréat (euros)"),
    "year": Prop(PTCE.year, "gYear", "millésime"),
}


def organisation_ids() -> set[str]:
    table = Table("registry", REGISTRY_DIR / "organisations.csv", ["id"])
    return {row.required("id") for row in table.rows()}


def _date(row: Row, field: str) -> str | None:
    value = row.get(field)
    if not value:
        return None
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise row.error(field, f"'{value}' is not a date YYYY-MM-DD") from None
    return value


class ProgrammesSource(Source):
    name = "programmes"
    graph = graph("programmes")

    def __init__(self, table: Path | None = None, statements: Path | None = None):
        self.table = Table(self.name, table or HERE / "programmes.csv", COLUMNS)
        self.statements = Table(self.name, statements or HERE / "statements.csv", STATEMENT_COLUMNS)

    def provenance(self) -> Provenance:
        return curated_provenance("programmes", "Programmes de financement des PTCE et leurs chiffres (table curée)",
                                  "PTCE funding programmes and their figures (curated table)")

    def load(self, sink: TripleSink, ctx: BuildContext) -> None:
        documents = load_documents()
        kinds = document_kinds()
        organisations = organisation_ids()
        rows = list(self.table.rows())
        ids = {row.get("id") for row in rows}
        for row in rows:
            key = row.required("id")
            node = iri(f"programme/{key}")
            sink.add(node, A, PTCE.FundingProgramme)
            sink.add(node, RDFS.label, fr(row.required("label_fr")))
            sink.add(node, RDFS.label, en(row.required("label_en")))
            sink.add(node, SKOS.prefLabel, fr(row.get("label_fr")))
            sink.add(node, DCT.identifier, string(key))
            sink.add(node, PTCE.programmeKind, code("programme-kind", row.choice("kind", KINDS) or row.required("kind")))
            parent = row.get("parent")
            if parent:
                if parent not in ids:
                    raise row.error("parent", f"unknown programme '{parent}'")
                sink.add(node, DCT.isPartOf, iri(f"programme/{parent}"))
            year = row.integer("year")
            if year is not None:
                sink.add(node, PTCE.year, typed(str(year), "gYear"))
            for field, prop in (("start_date", PTCE.startDate), ("result_date", PTCE.resultDate)):
                value = _date(row, field)
                if value:
                    sink.add(node, prop, typed(value, "date"))
            for field, prop in COUNTS.items():
                value = row.integer(field)
                if value is not None:
                    sink.add(node, prop, typed(str(value), "integer"))
            for funder in row.items("funders"):
                sink.add(node, PTCE.funder, resolve_ref(row, "funders", funder, ctx.territories, organisations))
            for criterion in row.items("criteria"):
                if criterion not in CRITERIA:
                    raise row.error("criteria", f"unknown criteria set '{criterion}' (one of {sorted(CRITERIA)})")
                sink.add(node, PTCE.hasCriterion, NamedNode(CRITERION_BASE + criterion))
            cite(sink, node, row, key, documents, kinds)
        # a funder stated with its own reference (statements.csv) rather than in the table's `funders` column
        funder = Prop(PTCE.funder, "item", "financeur",
                      resolve=lambda row, value: resolve_ref(row, "value", value, ctx.territories, organisations))
        stated = load_statements(sink, self.statements, "programme", PROPERTIES | {"funder": funder}, ids, documents)
        by_id = {row.get("id"): row for row in rows}
        for s in stated:
            for key, column in (("year", "year"), ("funder", "funders")):
                if s.key == key and by_id[s.subject].get(column):
                    raise s.row.error("property", f"the {key} of '{s.subject}' is given both in programmes.csv "
                                                  f"(line {by_id[s.subject].line}) and here: keep one")
