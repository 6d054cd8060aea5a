"""Reading the curated CSV tables: line numbers, required fields, lists, references, citations.

Every error names the table, the line and the field, so whoever edits a table knows what to fix.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pyoxigraph import NamedNode

from ptce_kg.errors import IngestError
from ptce_kg.rdf import DCT, PTCE, RDFS, A, TripleSink, fr, iri

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LIST_SEPARATOR = "|"
REGISTRY_DIR = Path(__file__).resolve().parent / "registry"


@dataclass
class Row:
    table: "Table"
    line: int
    values: dict[str, str]

    def get(self, field: str) -> str:
        return (self.values.get(field) or "").strip()

    def required(self, field: str) -> str:
        value = self.get(field)
        if not value:
            raise self.error(field, "required value is empty / valeur obligatoire absente")
        return value

    def items(self, field: str) -> list[str]:
        return [v.strip() for v in self.get(field).split(LIST_SEPARATOR) if v.strip()]

    def integer(self, field: str) -> int | None:
        value = self.get(field)
        if not value:
            return None
        if not value.isdigit():
            raise self.error(field, f"'{value}' is not a non-negative integer / n'est pas un entier positif")
        return int(value)

    def choice(self, field: str, allowed: set[str]) -> str:
        value = self.get(field)
        if value and value not in allowed:
            raise self.error(field, f"'{value}' is not one of {sorted(allowed)}")
        return value

    def error(self, field: str | None, message: str) -> IngestError:
        return IngestError(self.table.source, message, file=self.table.display, line=self.line, field=field)


class Table:
    def __init__(self, source: str, path: Path, columns: list[str]):
        self.source, self.path, self.columns = source, Path(path), columns
        try:
            self.display = str(self.path.relative_to(Path.cwd()))
        except ValueError:
            self.display = str(self.path)

    def rows(self) -> Iterator[Row]:
        if not self.path.is_file():
            raise IngestError(self.source, "missing table / table absente", file=self.display)
        with open(self.path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in self.columns if c not in (reader.fieldnames or [])]
            if missing:
                raise IngestError(self.source, f"missing columns {missing} / colonnes absentes",
                                  file=self.display, line=1)
            seen: dict[str, int] = {}
            for values in reader:
                row = Row(self, reader.line_num, values)
                if None in values:
                    raise row.error(None, "more fields than columns (unquoted comma?) / trop de champs")
                key = row.get(self.columns[0])
                if key and self.columns[0] == "id":
                    if not SLUG.match(key):
                        raise row.error("id", f"'{key}' is not a slug (a-z, 0-9, hyphens)")
                    if key in seen:
                        raise row.error("id", f"duplicate id '{key}' (first at line {seen[key]})")
                    seen[key] = row.line
                yield row


def load_documents() -> dict[str, NamedNode]:
    """Document id -> IRI, from the registry's documents table."""
    table = Table("registry", REGISTRY_DIR / "documents.csv", ["id", "title", "publisher", "issued", "url", "note"])
    return {row.required("id"): iri(f"document/{row.get('id')}") for row in table.rows()}


def cite(sink: TripleSink, subject: NamedNode, row: Row, key: str, documents: dict[str, NamedNode]) -> None:
    """Attach the row's source documents and quoted passage to `subject` (ptce:citation)."""
    citation = iri(f"citation/{row.table.path.stem}/{key}")
    for doc in row.items("source") or [row.required("source")]:
        if doc not in documents:
            raise row.error("source", f"unknown document '{doc}' (see ingest/registry/documents.csv)")
        sink.add(subject, DCT.source, documents[doc])
        sink.add(citation, DCT.source, documents[doc])
    sink.add(subject, PTCE.citation, citation)
    sink.add(citation, A, PTCE.Citation)
    sink.add(citation, RDFS.label, fr(f"citation {row.table.path.name}:{row.line}"))
    sink.add(citation, PTCE.passage, fr(row.required("passage")))


def resolve_ref(row: Row, field: str, value: str, territories: dict[str, NamedNode],
                organisations: set[str] | None = None) -> NamedNode:
    """A territory reference `kind:code` or, where allowed, an organisation id."""
    if ":" in value:
        node = territories.get(value)
        if node is None:
            raise row.error(field, f"unknown territory '{value}' in the pinned découpage administratif")
        return node
    if organisations is not None:
        if value not in organisations:
            raise row.error(field, f"unknown organisation '{value}' (see ingest/registry/organisations.csv)")
        return iri(f"organisation/{value}")
    raise row.error(field, f"'{value}' is not a territory reference like commune:01001")
