"""The contract between the build (core) and the sources (ingest): what a source provides, what it is given.

Both sides import this module; neither imports the other. The build runs whatever sources it is handed (the
composition root, `cli`, hands it the ones `ingest/sources.py` declares).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from pyoxigraph import NamedNode

from .rdf import TripleSink


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


@runtime_checkable
class Source(Protocol):
    """One input of the build: it fills its own named graph and describes where the data comes from.

    `load` adds triples to `sink` (already bound to `graph`) and may read or extend `ctx`; it raises
    `ptce_kg.errors.IngestError` (file, line, field, reason) on bad input, which fails the build and leaves the
    published graph served.
    """

    name: str
    graph: NamedNode

    def provenance(self) -> Provenance: ...

    def load(self, sink: TripleSink, ctx: BuildContext) -> None: ...
