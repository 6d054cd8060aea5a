"""What every source provides to the build: its named graph, its provenance and its triples."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pyoxigraph import NamedNode

from ptce_kg.rdf import TripleSink


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
