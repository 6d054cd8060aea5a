"""What every source provides to the build: its named graph, its provenance and its triples."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pyoxigraph import NamedNode

from ptce_kg.errors import IngestError
from ptce_kg.rdf import TripleSink


def read_json_array(source: str, path: Path, missing: str) -> list:
    """A JSON file holding an array (a package's data file); IngestError naming the file, the line of a syntax
    error, or `missing` (how to obtain the file) when it is absent."""
    if not path.is_file():
        raise IngestError(source, missing, file=str(path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise IngestError(source, f"invalid JSON: {exc.msg}", file=str(path), line=exc.lineno) from exc
    if not isinstance(data, list):
        raise IngestError(source, "expected a JSON array of items", file=str(path))
    return data


@dataclass
class Provenance:
    """How a source graph was obtained; goes into the metadata graph (PROV-O, DCTERMS)."""

    title_fr: str
    title_en: str
    source_iri: str            # where the data comes from (package page, document…)
    version: str               # version or date of the source
    licence_iri: str
    publisher: str
    extra: dict = field(default_factory=dict)


@dataclass
class BuildContext:
    """Shared between sources during one build: what earlier sources made available."""

    territories: dict[str, NamedNode] = field(default_factory=dict)  # "commune:01001" -> IRI
    commune_departement: dict[str, str] = field(default_factory=dict)  # commune IRI -> département code
    # curated organisations (registry) for reconciliation: IRI -> (name, location ref such as "commune:39300", SIREN)
    organisations: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    report_dir: Path | None = None  # where sources write their rejects for this build
    rejects: dict[str, dict[str, int]] = field(default_factory=dict)  # source -> reason -> count


class Source:
    name: str
    graph: NamedNode

    def provenance(self) -> Provenance:  # pragma: no cover - interface
        raise NotImplementedError

    def load(self, sink: TripleSink, ctx: BuildContext) -> None:  # pragma: no cover - interface
        raise NotImplementedError
