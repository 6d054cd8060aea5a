"""SIAE and GEIQ from data·inclusion's open data export of insertion structures (GIP de l'inclusion).

Input: the `structures` export of the « Référentiel de l'offre d'insertion » on data.gouv.fr, in JSON (an
array of structures, or the API's {"items": [...]}) or CSV with the same field names, following the
data·inclusion schema (https://github.com/gip-inclusion/data-inclusion-schema): v1 tells the networks in
`reseaux_porteurs` (siae, geiq), v0 the kind in `typologie` (ACI, AI, EI, EITI, ETTI, GEIQ). Only SIAE and
GEIQ are kept; every other structure (town halls, social centres…) is left out.

Each kept structure is an establishment (org:Site, id/siret/{SIRET}) of its legal unit (id/siren/{SIREN},
the same IRI SIRENE gives it), which gets the ESS status (code/ess-status/aci, …, geiq). The site gets its
commune and, when the export has them, its coordinates as a GeoSPARQL point. Rows with a bad SIRET, an
unknown commune code or impossible coordinates go to the rejects CSV; above PTCE_KG_INCLUSION_MAX_REJECTS
(default 0.05) the build fails. Registry organisations are reconciled to the units as for SIRENE.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path

from pyoxigraph import NamedNode

from ingest.base import BuildContext, Provenance
from ingest.rejects import Rejects, RejectingSource
from ingest.sirene.reconcile import Reconciler
from ptce_kg.errors import IngestError
from ptce_kg.identifiers import siret_ok
from ptce_kg.rdf import (DCT, GEO, ORG, PTCE, RDFS, A, TripleSink, add_siren, code, en, fr, graph, iri, string,
                         wkt_point)

DATASET = ("https://www.data.gouv.fr/fr/datasets/"
           "referentiel-de-loffre-dinsertion-liste-des-structures-et-services-dinsertion/")
SCHEMA = "https://github.com/gip-inclusion/data-inclusion-schema"
# data·inclusion codes -> ESS statuses of the vocabulary (code/ess-status/)
TYPOLOGIES = {"ACI": "aci", "ACIPHC": "aci", "AI": "ai", "EI": "ei", "EITI": "eiti", "ETTI": "etti", "GEIQ": "geiq"}
NETWORKS = {"siae": "siae", "geiq": "geiq"}


def _networks(value) -> list[str]:
    """reseaux_porteurs: a JSON array, or in CSV its JSON text or comma-separated values."""
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value).strip()
    if text.startswith("["):
        try:
            return [str(v) for v in json.loads(text)]
        except json.JSONDecodeError:
            pass
    return [v.strip(" []\"'") for v in text.split(",") if v.strip(" []\"'")]


def statuses(item: dict) -> set[str]:
    found = {NETWORKS[n] for n in _networks(item.get("reseaux_porteurs")) if n in NETWORKS}
    typology = (item.get("typologie") or "").strip()
    if typology in TYPOLOGIES:
        found.add(TYPOLOGIES[typology])
        found.discard("siae")  # the finer kind says it
    return found


def read_structures(path: Path, source: str) -> Iterator[tuple[str, dict]]:
    """(where, structure) for each structure of a JSON or CSV export; `where` is 'item N' or the CSV line."""
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IngestError(source, f"invalid JSON / JSON invalide: {exc}", file=str(path),
                              line=getattr(exc, "lineno", None)) from exc
        items = data.get("items") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise IngestError(source, "expected an array of structures / tableau de structures attendu", file=str(path))
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise IngestError(source, "not a structure object / pas un objet structure", file=str(path),
                                  line=f"item {i}")
            yield f"item {i}", item
        return
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("id", "nom", "siret") if c not in (reader.fieldnames or [])]
        if missing:
            raise IngestError(source, f"not a data·inclusion structures export: missing columns {missing} "
                              f"/ colonnes absentes", file=str(path), line=1)
        try:
            for row in reader:
                yield str(reader.line_num), row
        except (csv.Error, UnicodeDecodeError) as exc:
            raise IngestError(source, f"unreadable CSV / CSV illisible: {exc}", file=str(path),
                              line=reader.line_num) from exc


def _coordinate(value, low: float, high: float) -> float | None:
    """A number within bounds, None when absent; ValueError when present but impossible."""
    if value in (None, ""):
        return None
    number = float(value)
    if not low <= number <= high:
        raise ValueError(value)
    return number


class InclusionSource(RejectingSource):
    name = "inclusion"
    graph = graph("inclusion")

    def __init__(self, path: str | os.PathLike, max_reject_rate: float | None = None):
        super().__init__(path, max_reject_rate, file_only=True)
        if self.path.suffix.lower() not in (".json", ".csv"):
            raise IngestError(self.name, "expected the structures export as .json or .csv / export .json ou .csv "
                              "attendu", file=str(self.path))

    def provenance(self) -> Provenance:
        return Provenance(
            title_fr="Structures d'insertion par l'activité économique et GEIQ (data·inclusion)",
            title_en="Work integration social enterprises (SIAE) and GEIQ (data·inclusion)",
            source_iri=DATASET, version=self.path.name,
            licence_iri="https://www.etalab.gouv.fr/licence-ouverte-open-licence",
            publisher="GIP de la plateforme de l'inclusion (data·inclusion)",
            extra={"schema": SCHEMA},
        )

    def load(self, sink: TripleSink, ctx: BuildContext) -> None:
        rejects = Rejects(ctx.report_dir / "inclusion-rejects.csv" if ctx.report_dir else None)
        reconciler = Reconciler(ctx)
        kept: set[str] = set()
        located: set[str] = set()
        considered = 0
        try:
            for where, item in read_structures(self.path, self.name):
                found = statuses(item)
                if not found:
                    continue
                considered += 1
                line = int(where) if where.isdigit() else where
                siret = str(item.get("siret") or "").strip()
                if not siret_ok(siret):
                    rejects.add(self.path, line, "siret", "missing or invalid SIRET / SIRET absent ou invalide", siret)
                    continue
                commune_code = str(item.get("code_insee") or "").strip()
                commune = ctx.territories.get(f"commune:{commune_code}") if commune_code else None
                if commune_code and commune is None:
                    rejects.add(self.path, line, "code_insee", "unknown commune code / code commune inconnu",
                                commune_code)
                    continue
                try:
                    latitude = _coordinate(item.get("latitude"), -90, 90)
                    longitude = _coordinate(item.get("longitude"), -180, 180)
                except (TypeError, ValueError):
                    rejects.add(self.path, line, "latitude", "coordinates out of range / coordonnées impossibles",
                                f"{item.get('latitude')},{item.get('longitude')}")
                    continue
                siren, name = siret[:9], str(item.get("nom") or "").strip()
                kept.add(siren)
                self._structure(sink, siren, siret, name, found, commune)
                if latitude is not None and longitude is not None and siret not in located:
                    located.add(siret)  # the export may list one establishment from several producers
                    self._point(sink, iri(f"siret/{siret}"), longitude, latitude)
                reconciler.add_unit(siren, name, "")
                if commune is not None:
                    reconciler.add_commune(siren, commune.value)
        finally:
            rejects.close()
        reconciler.link(sink, kept)
        self.settle(rejects, ctx, considered, self.path)

    @staticmethod
    def _structure(sink: TripleSink, siren: str, siret: str, name: str, found: set[str],
                   commune: NamedNode | None) -> None:
        unit, site = iri(f"siren/{siren}"), iri(f"siret/{siret}")
        sink.add(unit, A, PTCE.Organisation)
        sink.add(unit, A, ORG.Organization)
        add_siren(sink, unit, siren)
        for status in sorted(found):
            sink.add(unit, PTCE.essStatus, code("ess-status", status))
        sink.add(unit, ORG.hasSite, site)
        sink.add(site, A, ORG.Site)
        sink.add(site, ORG.siteOf, unit)
        if name:
            sink.add(site, RDFS.label, fr(name))
        sink.add(site, RDFS.label, en(f"establishment {siret}"))
        sink.add(site, PTCE.siret, string(siret))
        sink.add(site, DCT.source, NamedNode(DATASET))
        if commune is not None:
            sink.add(site, PTCE.location, commune)

    @staticmethod
    def _point(sink: TripleSink, site: NamedNode, longitude: float, latitude: float) -> None:
        geometry = NamedNode(site.value + "#point")
        sink.add(site, GEO.hasGeometry, geometry)
        sink.add(geometry, A, GEO.Geometry)
        sink.add(geometry, GEO.asWKT, wkt_point(longitude, latitude))
