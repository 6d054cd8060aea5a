"""Reading the curated CSV tables: line numbers, required fields, lists, references, citations.

Every error names the table, the line and the field, so whoever edits a table knows what to fix.

One citation rule for every table row and every statement reference (`check_citation`):
- a document that may be quoted verbatim (a seed, documents.csv `seed`, or an official legal text,
  documents.csv `legal_text` = yes) is cited by its exact words: `passage`, and no `note` or `retrieved`;
- a web page (any other document: documents.csv gives its address, `url`) is never quoted: `note` states
  the fact the row relies on in the project's own words and `retrieved` is the date the page was read
  (YYYY-MM-DD); `passage` stays empty;
- a row does not cite both kinds at once (one citation is either quoted or paraphrased).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pyoxigraph import NamedNode

from ptce_kg import iris
from ptce_kg.errors import IngestError
from ptce_kg.rdf import DCT, PTCE, RDFS, A, TripleSink, fr, iri, typed
from ptce_kg.sources import Provenance


def curated_provenance(table: str, title_fr: str, title_en: str) -> Provenance:
    """The provenance of one of the project's curated tables (registry, programmes): each fact cites its own
    document, the table as a whole is published by ptce-kg under the Licence Ouverte."""
    return Provenance(title_fr=title_fr, title_en=title_en, source_iri=iris.resource(f"table/{table}"), version="0.1",
                      licence_iri="https://www.etalab.gouv.fr/licence-ouverte-open-licence",
                      publisher="ptce-kg, d'après les documents publics cités ligne par ligne")

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


@dataclass(frozen=True)
class DocumentKind:
    """What a document allows a citation to do: be quoted verbatim, or only paraphrased (a web page)."""
    quotable: bool  # a seed or an official legal text
    url: str


def document_kinds(path: Path = REGISTRY_DIR / "documents.csv") -> dict[str, DocumentKind]:
    """Document id -> its kind, from documents.csv (`seed`, `legal_text`, `url`)."""
    table = Table("registry", path, ["id", "url", "seed"])
    kinds = {}
    for row in table.rows():
        legal = row.choice("legal_text", {"yes", ""}) == "yes"
        if legal and not row.get("url"):
            raise row.error("url", "an official legal text gives its official address")
        kinds[row.required("id")] = DocumentKind(bool(row.get("seed")) or legal, row.get("url"))
    return kinds


QUOTED, NOTE = "passage", "note"


def check_citation(row: Row, docs: list[str], kinds: dict[str, DocumentKind]) -> str:
    """QUOTED when `row` quotes its documents (`passage`), NOTE when it states a web page's fact in its own
    words (`note`, with `retrieved`); raises, naming the file, line and field, on any other combination."""
    unknown = [d for d in docs if d not in kinds]
    if unknown:
        raise row.error("source", f"unknown document '{unknown[0]}' (see ingest/registry/documents.csv)")
    pages = [d for d in docs if not kinds[d].quotable]
    if pages and len(pages) < len(docs):
        raise row.error("source", f"cites a quotable document and a web page ({pages[0]}): a row is either "
                                  "quoted or paraphrased, split it")
    if not pages:
        row.required("passage")
        if row.get("note") or row.get("retrieved"):
            raise row.error("note" if row.get("note") else "retrieved",
                            "a seed is quoted (passage), not paraphrased; no date read")
        return QUOTED
    if row.get("passage"):
        raise row.error("passage", f"no verbatim passage from a web page ({pages[0]}): state the fact in `note`, "
                                   "in our own words")
    for d in pages:
        if not kinds[d].url:
            raise row.error("source", f"web page '{d}' has no address (url) in ingest/registry/documents.csv")
    row.required("note")
    retrieved = row.required("retrieved")
    try:
        dt.date.fromisoformat(retrieved)
    except ValueError:
        raise row.error("retrieved", f"'{retrieved}' is not a date YYYY-MM-DD (the day the page was read)") from None
    return NOTE


def load_documents() -> dict[str, NamedNode]:
    """Document id -> IRI, from the registry's documents table."""
    table = Table("registry", REGISTRY_DIR / "documents.csv", ["id", "title", "publisher", "issued", "url", "note"])
    return {row.required("id"): iri(f"document/{row.get('id')}") for row in table.rows()}


def cite(sink: TripleSink, subject: NamedNode, row: Row, key: str, documents: dict[str, NamedNode],
         kinds: dict[str, DocumentKind] | None = None) -> None:
    """Attach the row's source documents to `subject` (ptce:citation) with the quoted passage or, for web
    pages, the fact in our words (rdfs:comment) and the date read (ptce:retrieved): see check_citation."""
    citation = iri(f"citation/{row.table.path.stem}/{key}")
    docs = row.items("source") or [row.required("source")]
    for doc in docs:
        if doc not in documents:
            raise row.error("source", f"unknown document '{doc}' (see ingest/registry/documents.csv)")
    kind = check_citation(row, docs, kinds if kinds is not None else document_kinds())
    for doc in docs:
        sink.add(subject, DCT.source, documents[doc])
        sink.add(citation, DCT.source, documents[doc])
    sink.add(subject, PTCE.citation, citation)
    sink.add(citation, A, PTCE.Citation)
    sink.add(citation, RDFS.label, fr(f"citation {row.table.path.name}:{row.line}"))
    if kind == QUOTED:
        sink.add(citation, PTCE.passage, fr(row.get("passage")))
    else:
        sink.add(citation, RDFS.comment, fr(row.get("note")))
        sink.add(citation, PTCE.retrieved, typed(row.get("retrieved"), "date"))


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
