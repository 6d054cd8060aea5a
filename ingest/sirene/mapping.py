"""SIRENE stock files (INSEE) -> legal units of the social and solidarity economy, with their communes.

Inputs, in their published layout (CSV, UTF-8, comma; zipped or not), columns read by name:
    StockUniteLegale*.csv|zip     siren, denominationUniteLegale, sigleUniteLegale, categorieJuridiqueUniteLegale,
                                  economieSocialeSolidaireUniteLegale, activitePrincipaleUniteLegale,
                                  etatAdministratifUniteLegale
    StockEtablissement*.csv|zip   siren, siret, etablissementSiege, codeCommuneEtablissement,
                                  etatAdministratifEtablissement
Kept: active units flagged ESS (economieSocialeSolidaireUniteLegale = O), and every unit the registry
references by SIREN whatever its flags. Each kept unit gets its head office's commune, and so its territories.
Rows are streamed one at a time; memory grows with the units kept, not with the file.

A kept row that breaks the format (bad check key, unknown code, unknown commune…) is written to the rejects
CSV with file, line, field and reason, counted per reason in the build summary, and the build fails when
rejects exceed PTCE_KG_SIRENE_MAX_REJECTS (a share of the rows kept; default 0.05). Registry organisations
are reconciled to units: by SIREN first, then by normalised name + commune (see reconcile.py).
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

from pyoxigraph import NamedNode

from ingest.base import BuildContext, Provenance
from ingest.rejects import Rejects, RejectingSource
from ingest.table import Table
from ptce_kg.errors import IngestError
from ptce_kg.identifiers import siren_ok, siret_ok
from ptce_kg.rdf import (DCT, FOAF, ORG, PTCE, RDFS, ROV, SKOS, A, TripleSink, code, en, fr, graph, iri,
                         string, typed, add_siren)

from .reconcile import Reconciler

HERE = Path(__file__).resolve().parent
SIRENE_DATASET = "https://www.data.gouv.fr/fr/datasets/base-sirene-des-entreprises-et-de-leurs-etablissements-siren-siret/"
NOMENCLATURE = "https://www.insee.fr/fr/information/2028129"
COMPANY_PAGE = "https://annuaire-entreprises.data.gouv.fr/entreprise/"
UL_COLUMNS = ["siren", "denominationUniteLegale", "categorieJuridiqueUniteLegale",
              "economieSocialeSolidaireUniteLegale", "activitePrincipaleUniteLegale", "etatAdministratifUniteLegale"]
ETAB_COLUMNS = ["siren", "siret", "etablissementSiege", "codeCommuneEtablissement", "etatAdministratifEtablissement"]
ACTIVITY_SCHEMES = {"NAFRev2": "naf", "NAFRev1": "naf-rev1", "NAF1993": "naf-1993", "NAP": "nap"}
LEGAL_FORM_EN = {"association": "association", "fondation": "foundation", "mutuelle": "mutual society",
                 "cooperative": "cooperative", "scop": "worker cooperative (SCOP)", "sarl": "limited company (SARL)",
                 "societe-commerciale": "commercial company", "collectivite": "local authority",
                 "etablissement-public": "public body"}


def find_stock(path: Path, stem: str) -> Path | None:
    """StockUniteLegale / StockEtablissement in a folder (newest name first), or the file itself."""
    if path.is_file():
        return path if path.name.startswith(stem) else None
    found = sorted((p for p in path.glob(f"{stem}*") if p.suffix.lower() in (".csv", ".zip")), reverse=True)
    return found[0] if found else None


def open_rows(path: Path, needed: list[str], source: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) of a stock file, zipped or not; checks the header names the columns we read."""
    if path.suffix.lower() == ".zip":
        archive = zipfile.ZipFile(path)
        members = [n for n in archive.namelist() if n.lower().endswith(".csv")]
        if not members:
            raise IngestError(source, "no .csv inside the zip / aucun .csv dans l'archive", file=str(path))
        handle = io.TextIOWrapper(archive.open(members[0]), encoding="utf-8", newline="")
    else:
        handle = open(path, encoding="utf-8", newline="")
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in needed if c not in (reader.fieldnames or [])]
        if missing:
            raise IngestError(source, f"not a SIRENE stock file: missing columns {missing} / colonnes absentes",
                              file=str(path), line=1)
        try:
            for values in reader:
                yield reader.line_num, values
        except (csv.Error, UnicodeDecodeError) as exc:
            raise IngestError(source, f"unreadable CSV / CSV illisible: {exc}", file=str(path),
                              line=reader.line_num) from exc


def legal_categories() -> dict[str, dict]:
    """The curated table of INSEE legal categories -> statuses of the vocabulary (source on each row)."""
    table = Table("sirene", HERE / "legal_categories.csv", ["code", "label_fr", "legal_form", "ess_status", "source",
                                                             "passage"])
    return {row.required("code"): {"label": row.required("label_fr"), "form": row.required("legal_form"),
                                   "status": row.get("ess_status"), "source": row.required("source")}
            for row in table.rows()}


class SireneSource(RejectingSource):
    name = "sirene"
    graph = graph("sirene")

    def __init__(self, path: str | os.PathLike, max_reject_rate: float | None = None):
        super().__init__(path, max_reject_rate, file_only=False)
        self.unites = find_stock(self.path, "StockUniteLegale")
        self.etablissements = find_stock(self.path if self.path.is_dir() else self.path.parent, "StockEtablissement")
        if self.unites is None:
            raise IngestError(self.name, "no StockUniteLegale*.csv or .zip here / aucun fichier StockUniteLegale",
                              file=str(self.path))

    def provenance(self) -> Provenance:
        return Provenance(
            title_fr="Unités légales de l'ESS (répertoire SIRENE, INSEE)",
            title_en="Social economy legal units (SIRENE register, INSEE)",
            source_iri=SIRENE_DATASET, version=self.unites.name,
            licence_iri="https://www.etalab.gouv.fr/licence-ouverte-open-licence", publisher="INSEE",
        )

    # -- the legal categories as a SKOS code list -------------------------------------------------
    def _code_list(self, sink: TripleSink, categories: dict[str, dict]) -> None:
        scheme = code("categorie-juridique", "").value.rstrip("/")
        scheme_node = NamedNode(scheme)
        sink.add(scheme_node, A, SKOS.ConceptScheme)
        sink.add(scheme_node, SKOS.prefLabel, fr("Catégories juridiques (INSEE, niveau III)"))
        sink.add(scheme_node, SKOS.prefLabel, en("Legal categories (INSEE, level III)"))
        sink.add(scheme_node, DCT.source, NamedNode(NOMENCLATURE))
        for key, c in categories.items():
            node = code("categorie-juridique", key)
            sink.add(node, A, SKOS.Concept)
            sink.add(node, SKOS.inScheme, scheme_node)
            sink.add(node, SKOS.notation, string(key))
            sink.add(node, SKOS.prefLabel, fr(c["label"]))
            sink.add(node, SKOS.prefLabel, en(f"legal category {key} ({LEGAL_FORM_EN.get(c['form'], c['form'])})"))
            sink.add(node, DCT.source, NamedNode(c["source"]))
            sink.add(node, SKOS.broadMatch, code("legal-form", c["form"]))
            if c["status"]:
                sink.add(node, SKOS.relatedMatch, code("ess-status", c["status"]))

    # -- the stock files ---------------------------------------------------------------------------
    def load(self, sink: TripleSink, ctx: BuildContext) -> None:
        categories = legal_categories()
        self._code_list(sink, categories)
        referenced = {siren for _, _, siren in ctx.organisations.values() if siren}
        rejects = Rejects(ctx.report_dir / "sirene-rejects.csv" if ctx.report_dir else None)
        reconciler = Reconciler(ctx)
        kept: set[str] = set()
        considered = 0
        try:
            for line, row in open_rows(self.unites, UL_COLUMNS, self.name):
                siren = (row.get("siren") or "").strip()
                if None in row or any(row.get(c) is None for c in UL_COLUMNS):
                    considered += 1
                    rejects.add(self.unites, line, "(row)", "wrong number of fields / nombre de champs incorrect", siren)
                    continue
                wanted = siren in referenced or (row["etatAdministratifUniteLegale"] == "A"
                                                 and row["economieSocialeSolidaireUniteLegale"] == "O")
                if not wanted:
                    continue
                considered += 1
                problem = self._check_unit(row, categories)
                if problem:
                    rejects.add(self.unites, line, problem[0], problem[1], row.get(problem[0]) or "")
                    continue
                if siren in kept:
                    rejects.add(self.unites, line, "siren", "duplicate SIREN / SIREN en double", siren)
                    continue
                kept.add(siren)
                self._unit(sink, row, categories)
                reconciler.add_unit(siren, row["denominationUniteLegale"], row.get("sigleUniteLegale") or "")
            if self.etablissements is not None:
                for line, row in open_rows(self.etablissements, ETAB_COLUMNS, self.name):
                    if row.get("siren") not in kept or row.get("etablissementSiege") != "true":
                        continue
                    considered += 1
                    siret = row.get("siret") or ""
                    if not siret_ok(siret) or not siret.startswith(row["siren"]):
                        rejects.add(self.etablissements, line, "siret",
                                    "invalid SIRET (14 digits, Luhn key, starting with the SIREN) / SIRET invalide", siret)
                        continue
                    commune = ctx.territories.get(f"commune:{row.get('codeCommuneEtablissement') or ''}")
                    if commune is None:
                        rejects.add(self.etablissements, line, "codeCommuneEtablissement",
                                    "unknown commune code / code commune inconnu", row.get("codeCommuneEtablissement") or "")
                        continue
                    unit = iri(f"siren/{row['siren']}")
                    sink.add(unit, PTCE.location, commune)
                    sink.add(unit, PTCE.siretSiege, string(siret))
                    reconciler.add_commune(row["siren"], commune.value)
        finally:
            rejects.close()
        reconciler.link(sink, kept)
        self.settle(rejects, ctx, considered, self.unites)

    @staticmethod
    def _check_unit(row: dict, categories: dict) -> tuple[str, str] | None:
        siren = row["siren"]
        if not siren_ok(siren):
            return "siren", "invalid SIREN (9 digits, Luhn key) / SIREN invalide"
        category = row["categorieJuridiqueUniteLegale"]
        if len(category) != 4 or not category.isdigit():
            return "categorieJuridiqueUniteLegale", "not a 4-digit legal category / catégorie juridique invalide"
        if row["etatAdministratifUniteLegale"] not in ("A", "C"):
            return "etatAdministratifUniteLegale", "not A or C / ni A ni C"
        if row["economieSocialeSolidaireUniteLegale"] not in ("O", "N", ""):
            return "economieSocialeSolidaireUniteLegale", "not O, N or empty / ni O, ni N, ni vide"
        if not row["denominationUniteLegale"].strip():
            return "denominationUniteLegale", "no name (a person, or not diffusible) / sans dénomination"
        return None

    @staticmethod
    def _unit(sink: TripleSink, row: dict, categories: dict) -> None:
        siren = row["siren"]
        node = iri(f"siren/{siren}")
        name = row["denominationUniteLegale"].strip()
        sink.add(node, A, PTCE.Organisation)
        sink.add(node, A, ORG.Organization)
        sink.add(node, A, ROV.RegisteredOrganization)
        sink.add(node, RDFS.label, fr(name))
        sink.add(node, ROV.legalName, string(name))
        if (row.get("sigleUniteLegale") or "").strip():
            sink.add(node, SKOS.altLabel, fr(row["sigleUniteLegale"].strip()))
        add_siren(sink, node, siren)
        sink.add(node, FOAF.page, NamedNode(COMPANY_PAGE + siren))
        sink.add(node, DCT.source, NamedNode(SIRENE_DATASET))
        category = row["categorieJuridiqueUniteLegale"]
        sink.add(node, PTCE.legalCategory, code("categorie-juridique", category))
        known = categories.get(category)
        if known:
            sink.add(node, ROV.orgType, code("legal-form", known["form"]))
            if known["status"]:
                sink.add(node, PTCE.essStatus, code("ess-status", known["status"]))
        flag = row["economieSocialeSolidaireUniteLegale"]
        if flag:
            sink.add(node, PTCE.essEnterprise, typed("true" if flag == "O" else "false", "boolean"))
        activity = (row.get("activitePrincipaleUniteLegale") or "").strip()
        if activity:  # old units keep codes of older nomenclatures: only NAF rév. 2 codes are in code/naf/
            nomenclature = (row.get("nomenclatureActivitePrincipaleUniteLegale") or "NAFRev2").strip()
            sink.add(node, ROV.orgActivity, code(ACTIVITY_SCHEMES.get(nomenclature, f"activite-{nomenclature.lower()}"),
                                                 activity))
        sink.add(node, PTCE.active, typed("true" if row["etatAdministratifUniteLegale"] == "A" else "false", "boolean"))
