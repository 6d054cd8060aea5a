"""The programmes as Etalab « dispositifs d'aide » rows and the awards as SCDL « subventions » rows (CSV).

Each file is filled from the SPARQL templates beside this module (programmes.rq, funders.rq, criteria.rq,
awards.rq) and follows the Table Schema vendored in `schemas/` (see schemas/README.md for their source,
version and licence). No amount, SIRET or date is ever guessed, and neither schema documents a placeholder
for an unknown value: a row the graph cannot fill in every required field is left out of its file, so that
both files validate (frictionless). `left_out()` names those rows and the fields the graph lacks for each;
README.md beside this module gives the field mapping and the rows left out on the shipped data.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from decimal import Decimal
from pathlib import Path

import pyoxigraph

from .. import iris
from ..iris import read_query

HERE = Path(__file__).resolve().parent
SCHEMAS = HERE / "schemas"
DISPOSITIFS = "dispositifs-aide.csv"
SUBVENTIONS = "subventions.csv"
# The published URL of each schema (dct:conformsTo of the distributions) and the vendored copy.
SCHEMA_OF = {
    DISPOSITIFS: ("https://github.com/etalab/schema-dispositif-aide/raw/v0.2.0/build/dispositif-aide/schema.json",
                  SCHEMAS / "dispositif-aide" / "schema.json"),
    SUBVENTIONS: ("https://gitlab.com/opendatafrance/scdl/subventions/raw/v2.1.1/schema.json",
                  SCHEMAS / "scdl-subventions" / "schema.json"),
}
# A stable identifier for a programme's row (the schema asks for a UUID when the carrier gives none).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, iris.VOCAB + "id/programme/")  # fixed: the same UUIDs on every deployment
COG_FRANCE = "PAYS-99100"  # France in INSEE's Code officiel géographique (countries and territories)
KIND_FR = {
    "series": "Série d'appels", "national-call": "Appel national", "phase": "Phase d'un appel",
    "wave": "Vague d'un appel", "regional-scheme": "Dispositif régional", "departmental-scheme": "Dispositif départemental",
}
META = iris.META_GRAPH


def _query(store: pyoxigraph.Store, name: str) -> list[dict[str, str]]:
    text = read_query(HERE / name)
    result = store.query(text, use_default_graph_as_union=True)
    names = [v.value for v in result.variables]
    rows = []
    for solution in result:
        row = {}
        for key in names:
            term = solution[key]
            row[key] = "" if term is None else term.value
        rows.append(row)
    return rows


def _schema_fields(csv_name: str) -> list[dict]:
    return json.loads(SCHEMA_OF[csv_name][1].read_text(encoding="utf-8"))["fields"]


def _fields(csv_name: str) -> list[str]:
    return [f["name"] for f in _schema_fields(csv_name)]


def required_fields(csv_name: str) -> list[str]:
    """The fields the Table Schema marks required (constraints.required), in the schema's order."""
    return [f["name"] for f in _schema_fields(csv_name) if f.get("constraints", {}).get("required")]


def _euros(value: str) -> str:
    return format(Decimal(value).normalize(), "f") if value else ""


def _modified(store: pyoxigraph.Store) -> str:
    rows = list(store.query(f"SELECT ?m WHERE {{ GRAPH <{META}> {{ <{META}> <http://purl.org/dc/terms/modified> ?m }} }}"))
    if not rows:
        return ""
    value = rows[0]["m"].value  # xsd:dateTime of the build
    return value if value[-1] == "Z" or "+" in value[10:] else value + "Z"


def programme_uuid(programme_iri: str) -> str:
    return str(uuid.uuid5(NAMESPACE, programme_iri))


def dispositifs(store: pyoxigraph.Store) -> list[dict[str, str]]:
    """One « dispositif d'aide » row per programme of the graph, before rows are left out."""
    funders: dict[str, list[dict]] = {}
    for row in _query(store, "funders.rq"):
        funders.setdefault(row["programme"], []).append(row)
    criteria: dict[str, list[str]] = {}
    for row in _query(store, "criteria.rq"):
        line = f"• {row['title']}" + (f" : {row['text']}" if row["text"] else "")
        if line not in criteria.setdefault(row["programme"], []):
            criteria[row["programme"]].append(line)
    updated = _modified(store)
    out = []
    for row in _query(store, "programmes.rq"):
        iri, kind = row["programme"], row["kind"].rsplit("/", 1)[-1]
        own = funders.get(iri, [])
        porteurs = [{"nom": f["name"], **({"siren": f["siren"]} if f["siren"] else {}), "roles": ["financeur"]}
                    for f in own]
        if row["national"] == "true":
            geo = COG_FRANCE
        else:  # a regional or departmental scheme: the territory of its funding collectivité, when the graph has its code
            codes = [f"REG-{f['region']}" for f in own if f["region"]] + [f"DEP-{f['departement']}" for f in own if f["departement"]]
            geo = "|".join(dict.fromkeys(codes))
        facts = [f"{KIND_FR.get(kind, kind)} « {row['label']} »"]
        if row["parentLabel"]:
            facts.append(f"partie de « {row['parentLabel']} »")
        if row["year"]:
            facts.append(f"millésime {row['year']}")
        if row["laureates"]:
            facts.append(f"{row['laureates']} lauréats")
        if row["budget"]:
            facts.append(f"enveloppe de {_euros(row['budget'])} euros")
        if row["perLaureate"]:
            facts.append(f"{_euros(row['perLaureate'])} euros par lauréat")
        description = ", ".join(facts) + ". Source : ptce-kg, " + iri
        # An amount in euros (an envelope, or a sum per laureate) says the scheme gives money; otherwise unknown.
        financed = bool(row["budget"] or row["perLaureate"])
        out.append({
            "id": programme_uuid(iri),
            "titre": row["label"],
            "promesse": "",
            "description": description[:5000],
            "eligibilite": "\n".join(criteria.get(iri, [])),
            "types_aides": "financement" if financed else "",
            "porteurs": json.dumps(porteurs, ensure_ascii=False) if porteurs else "",
            "programmes_parents": row["parentLabel"],
            "url_source": iri,
            # PTCE are groupings of SSE enterprises (mostly associations) with other enterprises (law 2014-856, art. 9)
            "cibles": "associations|professionnels",
            "eligibilite_geographique": geo,
            "eligibilite_geographique_exclusions": "",
            "date_ouverture": f"{row['start']}T00:00:00Z" if row["start"] else "",
            "date_cloture": "",
            "date_mise_a_jour": updated,
        })
    return out


def subventions(store: pyoxigraph.Store) -> list[dict[str, str]]:
    """One SCDL « subventions » row per award (a laureate of a programme), before rows are left out."""
    return [row for _, row in _subventions(store)]


def _subventions(store: pyoxigraph.Store) -> list[tuple[str, dict[str, str]]]:
    """(award IRI, row) for every award."""
    funders: dict[str, list[str]] = {}
    for row in _query(store, "funders.rq"):
        names = funders.setdefault(row["programme"], [])
        if row["name"] not in names:
            names.append(row["name"])
    awards = _query(store, "awards.rq")
    laureates: dict[str, set[str]] = {}
    for row in awards:
        laureates.setdefault(row["award"], set()).add(row["ptce"])
    out, seen = [], set()
    for row in awards:
        if row["award"] in seen:
            continue
        seen.add(row["award"])
        amount = _euros(row["amount"])
        out.append((row["award"], {
            "nomAttribuant": " ; ".join(funders.get(row["programme"], [])),
            "idAttribuant": "",  # no SIRET of a funder in the graph
            "dateConvention": "",  # the graph knows the award's year, not the convention's date
            "referenceDecision": "",
            "nomBeneficiaire": row["name"],
            "idBeneficiaire": "",  # a SIRET (establishment); the graph has at most the carrier's SIREN
            "rnaBeneficiaire": "",
            "objet": (f"Lauréat de « {row['programmeLabel']} »" + (f" ({row['year']})" if row["year"] else ""))[:256],
            "montant": amount,
            "nature": "aide en numéraire" if amount else "",
            "conditionsVersement": "",
            "datesPeriodeVersement": "",
            "idRAE": "",
            "notificationUE": "",
            # the share of `montant` paid to this beneficiary: 1.00 for a single beneficiary (the schema's own rule)
            "pourcentageSubvention": "1.00" if len(laureates[row["award"]]) == 1 else "",
            "dispositifAide": programme_uuid(row["programme"]),
        }))
    return out


def _keyed(store: pyoxigraph.Store, csv_name: str) -> list[tuple[str, dict[str, str]]]:
    if csv_name == DISPOSITIFS:
        return [(row["url_source"], row) for row in dispositifs(store)]
    return _subventions(store)


def _missing(row: dict[str, str], required: list[str]) -> list[str]:
    return [name for name in required if row.get(name, "") == ""]


def left_out(store: pyoxigraph.Store) -> dict[str, list[tuple[str, list[str]]]]:
    """{file name: [(the row's IRI — programme or award —, the required fields the graph cannot fill)]}."""
    out = {}
    for name in (DISPOSITIFS, SUBVENTIONS):
        required = required_fields(name)
        out[name] = [(key, missing) for key, row in _keyed(store, name) if (missing := _missing(row, required))]
    return out


def _csv(rows: list[dict[str, str]], fields: list[str]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def write(store: pyoxigraph.Store, folder: str | Path) -> dict[str, int]:
    """Write both CSV files into `folder` (the rows complete in every required field); returns {file name: row count}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name in (DISPOSITIFS, SUBVENTIONS):
        required = required_fields(name)
        # only rows with every required value: an empty required cell would make the file invalid
        rows = [row for _, row in _keyed(store, name) if not _missing(row, required)]
        (folder / name).write_bytes(_csv(rows, _fields(name)))
        counts[name] = len(rows)
    return counts
