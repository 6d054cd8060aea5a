"""Curated organisations (registry) matched to SIRENE units, the method and a confidence recorded.

Order: the SIREN the registry gives (exact, 1.0); else the normalised name or acronym, unique among the
units of the same commune (0.9) or, when the registry only knows a larger territory, of the same
département (0.7). Ambiguous names match nothing. Each match is a ptce:UnitMatch node, so researchers
can query how every link was made.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict

from pyoxigraph import NamedNode

from ingest.base import BuildContext
from ptce_kg.rdf import PTCE, RDFS, A, TripleSink, code, en, fr, iri, typed

# Words that say the legal form or are grammatical: names are compared without them.
NOISE = {"scic", "scop", "sarl", "sas", "sa", "sca", "association", "asso", "assoc", "cooperative", "societe",
         "le", "la", "les", "l", "de", "du", "des", "d", "et", "en", "a", "au", "aux"}


def normalise(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return " ".join(w for w in re.split(r"[^a-z0-9]+", text) if w and w not in NOISE)


class Reconciler:
    def __init__(self, ctx: BuildContext):
        self.ctx = ctx
        # Only the names a registry organisation without a SIREN can be matched by are ever looked up: the units
        # (and head offices) of other names are not kept, so memory follows the registry, not the stock's size.
        self.wanted = {normalise(name) for name, _, siren in ctx.organisations.values() if not siren} - {""}
        self.names: dict[str, set[str]] = defaultdict(set)  # normalised name or acronym -> SIRENs
        self.commune: dict[str, str] = {}                   # SIREN -> commune IRI of the head office
        self._named: set[str] = set()                       # SIRENs of the units kept under a wanted name

    def add_unit(self, siren: str, name: str, acronym: str) -> None:
        for label in (name, acronym):
            key = normalise(label)
            if key in self.wanted:
                self.names[key].add(siren)
                self._named.add(siren)

    def add_commune(self, siren: str, commune_iri: str) -> None:
        if siren in self._named:
            self.commune[siren] = commune_iri

    def _departement(self, territory_iri: str) -> str | None:
        if territory_iri in self.ctx.commune_departement:
            return self.ctx.commune_departement[territory_iri]
        if "/departement/" in territory_iri:
            return territory_iri.rsplit("/", 1)[1]
        return None

    def match(self, name: str, location: str, siren: str, kept: set[str]) -> tuple[str, str, str] | None:
        """(SIREN, method, confidence) for one registry organisation, or None."""
        if siren:
            return (siren, "siren", "1.0") if siren in kept else None
        candidates = self.names.get(normalise(name), set())
        where = self.ctx.territories.get(location) if location else None
        if not candidates or where is None:
            return None
        same_commune = [s for s in candidates if self.commune.get(s) == where.value]
        if len(same_commune) == 1:
            return same_commune[0], "name-commune", "0.9"
        departement = self._departement(where.value)
        same_departement = [s for s in candidates
                            if departement and self._departement(self.commune.get(s, "")) == departement]
        if not same_commune and len(same_departement) == 1:
            return same_departement[0], "name-departement", "0.7"
        return None

    def link(self, sink: TripleSink, kept: set[str]) -> None:
        for org_iri, (name, location, siren) in sorted(self.ctx.organisations.items()):
            found = self.match(name, location, siren, kept)
            if found is None:
                continue
            unit_siren, method, confidence = found
            org, unit = NamedNode(org_iri), iri(f"siren/{unit_siren}")
            node = NamedNode(f"{org_iri}/match/{unit_siren}")
            sink.add(org, PTCE.matchedUnit, unit)
            sink.add(org, PTCE.unitMatch, node)
            sink.add(node, A, PTCE.UnitMatch)
            sink.add(node, RDFS.label, fr(f"{name} ↔ SIREN {unit_siren}"))
            sink.add(node, RDFS.label, en(f"{name} ↔ SIREN {unit_siren}"))
            sink.add(node, PTCE.matchedUnit, unit)
            sink.add(node, PTCE.matchMethod, code("match-method", method))
            sink.add(node, PTCE.confidence, typed(confidence, "decimal"))
