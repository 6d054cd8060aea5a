"""A format-true synthetic SIRENE stock (StockUniteLegale + StockEtablissement, published column layout)
of any size, for scale tests and benchmarks — generated, never shipped as data.

    python -m bench.sirene_synthetic OUT_DIR --rows 1000000 [--ess-share 0.1] [--bad-share 0.001] [--zip]

SIRENs and SIRETs carry valid Luhn keys (except the deliberately bad rows); communes are drawn from the
territory fixtures by default, or from --communes (a file of INSEE codes, one per line).
"""

from __future__ import annotations

import argparse
import csv
import random
import zipfile
from pathlib import Path

UL_HEADER = ("siren,statutDiffusionUniteLegale,unitePurgeeUniteLegale,dateCreationUniteLegale,sigleUniteLegale,"
             "sexeUniteLegale,prenom1UniteLegale,prenom2UniteLegale,prenom3UniteLegale,prenom4UniteLegale,"
             "prenomUsuelUniteLegale,pseudonymeUniteLegale,identifiantAssociationUniteLegale,"
             "trancheEffectifsUniteLegale,anneeEffectifsUniteLegale,dateDernierTraitementUniteLegale,"
             "nombrePeriodesUniteLegale,categorieEntreprise,anneeCategorieEntreprise,dateDebut,"
             "etatAdministratifUniteLegale,nomUniteLegale,nomUsageUniteLegale,denominationUniteLegale,"
             "denominationUsuelle1UniteLegale,denominationUsuelle2UniteLegale,denominationUsuelle3UniteLegale,"
             "categorieJuridiqueUniteLegale,activitePrincipaleUniteLegale,nomenclatureActivitePrincipaleUniteLegale,"
             "nicSiegeUniteLegale,economieSocialeSolidaireUniteLegale,societeMissionUniteLegale,"
             "caractereEmployeurUniteLegale").split(",")
ETAB_HEADER = ("siren,nic,siret,statutDiffusionEtablissement,dateCreationEtablissement,trancheEffectifsEtablissement,"
               "anneeEffectifsEtablissement,activitePrincipaleRegistreMetiersEtablissement,"
               "dateDernierTraitementEtablissement,etablissementSiege,nombrePeriodesEtablissement,"
               "complementAdresseEtablissement,numeroVoieEtablissement,indiceRepetitionEtablissement,"
               "typeVoieEtablissement,libelleVoieEtablissement,codePostalEtablissement,libelleCommuneEtablissement,"
               "libelleCommuneEtrangerEtablissement,distributionSpecialeEtablissement,codeCommuneEtablissement,"
               "codeCedexEtablissement,libelleCedexEtablissement,codePaysEtrangerEtablissement,"
               "libellePaysEtrangerEtablissement,complementAdresse2Etablissement,numeroVoie2Etablissement,"
               "indiceRepetition2Etablissement,typeVoie2Etablissement,libelleVoie2Etablissement,"
               "codePostal2Etablissement,libelleCommune2Etablissement,libelleCommuneEtranger2Etablissement,"
               "distributionSpeciale2Etablissement,codeCommune2Etablissement,codeCedex2Etablissement,"
               "libelleCedex2Etablissement,codePaysEtranger2Etablissement,libellePaysEtranger2Etablissement,"
               "dateDebut,etatAdministratifEtablissement,enseigne1Etablissement,enseigne2Etablissement,"
               "enseigne3Etablissement,denominationUsuelleEtablissement,activitePrincipaleEtablissement,"
               "nomenclatureActivitePrincipaleEtablissement,caractereEmployeurEtablissement").split(",")
CATEGORIES = ["9220", "9220", "9220", "5458", "5460", "6317", "8210", "9300", "9223", "9221", "5710", "5499"]
ACTIVITIES = ["88.99B", "94.99Z", "85.59A", "38.32Z", "56.10A", "01.11Z", "62.01Z", "90.01Z"]
FIXTURE_COMMUNES = ["01001", "01015", "01034", "01053", "01262", "13055", "69123"]


def luhn_complete(digits: str) -> str:
    """The digits followed by the key that makes the whole number pass the Luhn check."""
    for key in "0123456789":
        total = 0
        for i, ch in enumerate(reversed(digits + key)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return digits + key
    raise AssertionError


def unit_row(siren: str, name: str, category: str, ess: str, state: str, activity: str) -> dict:
    return {"siren": siren, "statutDiffusionUniteLegale": "O", "unitePurgeeUniteLegale": "",
            "dateCreationUniteLegale": "2012-03-01", "trancheEffectifsUniteLegale": "03",
            "anneeEffectifsUniteLegale": "2022", "dateDernierTraitementUniteLegale": "2024-03-01T10:00:00",
            "nombrePeriodesUniteLegale": "1", "categorieEntreprise": "PME", "anneeCategorieEntreprise": "2022",
            "dateDebut": "2012-03-01", "etatAdministratifUniteLegale": state, "denominationUniteLegale": name,
            "categorieJuridiqueUniteLegale": category, "activitePrincipaleUniteLegale": activity,
            "nomenclatureActivitePrincipaleUniteLegale": "NAFRev2", "nicSiegeUniteLegale": "00012",
            "economieSocialeSolidaireUniteLegale": ess, "societeMissionUniteLegale": "N",
            "caractereEmployeurUniteLegale": "O"}


def etab_row(siren: str, commune: str, name: str) -> dict:
    return {"siren": siren, "nic": "00012", "siret": luhn_complete(siren + "0001"), "statutDiffusionEtablissement": "O",
            "dateCreationEtablissement": "2012-03-01", "etablissementSiege": "true", "nombrePeriodesEtablissement": "1",
            "numeroVoieEtablissement": "1", "typeVoieEtablissement": "RUE", "libelleVoieEtablissement": "DE LA MAIRIE",
            "libelleCommuneEtablissement": name.upper(), "codeCommuneEtablissement": commune, "dateDebut": "2012-03-01",
            "etatAdministratifEtablissement": "A", "activitePrincipaleEtablissement": "88.99B",
            "nomenclatureActivitePrincipaleEtablissement": "NAFRev2", "caractereEmployeurEtablissement": "O"}


def generate(out: Path, rows: int, ess_share: float = 0.1, bad_share: float = 0.0, communes: list[str] | None = None,
             seed: int = 2014, zipped: bool = False) -> tuple[Path, Path]:
    rng = random.Random(seed)
    communes = communes or FIXTURE_COMMUNES
    out.mkdir(parents=True, exist_ok=True)
    ul_path, etab_path = out / "StockUniteLegale_utf8.csv", out / "StockEtablissement_utf8.csv"
    with open(ul_path, "w", newline="", encoding="utf-8") as ul, open(etab_path, "w", newline="", encoding="utf-8") as et:
        units = csv.DictWriter(ul, UL_HEADER, restval="")
        etabs = csv.DictWriter(et, ETAB_HEADER, restval="")
        units.writeheader()
        etabs.writeheader()
        for i in range(rows):
            siren = luhn_complete(f"{10000000 + i:08d}")  # distinct for up to 90 million rows
            ess = "O" if rng.random() < ess_share else "N"
            if bad_share and rng.random() < bad_share:
                siren = siren[:8] + str((int(siren[8]) + 1) % 10)  # a broken Luhn key
            name = f"STRUCTURE SYNTHETIQUE {i}"
            units.writerow(unit_row(siren, name, rng.choice(CATEGORIES), ess, "A" if rng.random() < 0.9 else "C",
                                    rng.choice(ACTIVITIES)))
            etabs.writerow(etab_row(siren, rng.choice(communes), "COMMUNE"))
    if zipped:
        for path in (ul_path, etab_path):
            with zipfile.ZipFile(path.with_suffix(".zip"), "w", zipfile.ZIP_DEFLATED) as archive:
                archive.write(path, path.name)
            path.unlink()
        return ul_path.with_suffix(".zip"), etab_path.with_suffix(".zip")
    return ul_path, etab_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--ess-share", type=float, default=0.1)
    parser.add_argument("--bad-share", type=float, default=0.0)
    parser.add_argument("--communes", type=Path, help="a file of INSEE commune codes, one per line")
    parser.add_argument("--zip", action="store_true")
    args = parser.parse_args()
    communes = args.communes.read_text().split() if args.communes else None
    print(*generate(args.out, args.rows, args.ess_share, args.bad_share, communes, zipped=args.zip))


if __name__ == "__main__":
    main()
