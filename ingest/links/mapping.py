"""Links to other datasets, each set described as a VoID linkset (served at /.well-known/void).

Only links whose target IRI follows from a published rule are made; none is guessed:

- NAF rév. 2 → NACE Rev. 2 (EU Vocabularies, http://data.europa.eu/ux2/nace2/{code}): INSEE's NAF rév. 2 is
  NACE Rev. 2 down to the class (same divisions, groups and classes, same codes), and adds a fifth level,
  the French sub-class. The EU's NACE Rev. 2 concepts are named by their code without the dot
  (division 01 -> nace2/01, group 01.1 -> nace2/011, class 01.11 -> nace2/0111). So a division, group or
  class is `skos:exactMatch` its NACE concept, and a sub-class (01.11Z) `skos:broadMatch` its NACE class.
  The codes come from the NAF package the naf source reads (ingest/naf), so both graphs agree.
- Overseas départements and collectivités → the EU Publications Office's "Countries and territories"
  authority table (http://publications.europa.eu/resource/authority/country/{code}), `skos:closeMatch`:
  the table has an entry for each of them, under the code given in `eu-countries.csv` (ISO 3166-1 alpha-3,
  except the TAAF, FQ0). Saint-Pierre-et-Miquelon is left out (its entry was not checked).

- Legal forms and ESS statuses (code/legal-form/…, code/ess-status/…) → ESSGLOBAL, the RIPESS vocabulary
  for the social and solidarity economy: its "Legal Form" scheme (http://purl.org/essglobal/standard/legal-form/,
  terms L1–L5) and its "Organisational Structure" scheme
  (http://purl.org/essglobal/standard/organisational-structure/, terms OS10–OS240). The terms and their English
  labels are those of the SKOS files published in github.com/essglobal-linked-open-data/map-sse
  (vocabs/standard/legal-form.skos, last changed in 149133e of 23 November 2016, and
  organisational-structure.skos, last changed in 09d0289 of 14 December 2020, at the repository's last commit
  fcb6853 of 16 December 2020; read on 1 December 2026), copied to `essglobal-terms.csv`.
  `essglobal-matches.csv` gives each match and its reason: `skos:closeMatch` when the two terms name the same
  thing (ESSGLOBAL gives no definitions, only labels, so never `exactMatch`), `skos:broadMatch` when ours is a
  kind of theirs. Terms without an ESSGLOBAL counterpart are not linked (GE, GEIQ); the kinds of SIAE reach it
  through `skos:broader`. The Solidarity Economy Association's later fork (ESSGLOBAL V2a, under
  https://w3id.solidarityeconomy.coop/essglobal/V2a/…) is not linked to: its term IRIs are written both with
  "/" and with "#" in its users' code, so their form could not be checked offline.

Not linked: INSEE's catégories juridiques. INSEE's own code gives three forms for the same concept: its
Metadata API (github.com/InseeFr/Metadata-API, CJQueries.java and the model classes, last changed 2 May 2024,
read on 1 December 2026) documents `http://id.insee.fr/codes/cj/n3/{code}` and `…/cj/n2/{code}` as examples,
shows `http://id.insee.fr/codes/cj/niveauIII/{code}/{n}` for a dated version, and finds a code's IRI by
searching the newest versioned scheme (`…/codes/cj/cj{version}/niveauIII`) for an IRI ending with the code;
a test of INSEE's newer Magma diffusion service (NomenclaturesQueriesTest, package
fr.insee.rmes.magma.diffusion, read on 1 December 2026) expects `http://id.insee.fr/codes/cj/niveauIII/{code}`. None can be
dereferenced offline, and which one INSEE serves today does not follow from a published rule, so none is made.

Not linked: INSEE's own COG resources. Their published IRIs are opaque identifiers
(http://id.insee.fr/geo/commune/{uuid}), which cannot be derived offline from the INSEE code; the code-based
form (…/commune/39300) is an older one and is not made here.

Each linkset: `<id/linkset/{name}> a void:Linkset ; void:subjectsTarget <id/dataset/ptce-kg> ;
void:objectsTarget <target> ; void:linkPredicate … ; void:triples n`, n being the links this source wrote
(tests/test_geo_links.py compares it with a SPARQL count of the same links).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from pyoxigraph import NamedNode

from ingest.base import BuildContext, Provenance, Source
from ingest.naf.mapping import NafSource, level_of
from ingest.table import Table
from ptce_kg import iris
from ptce_kg.errors import IngestError
from ptce_kg.rdf import DCT, RDFS, SKOS, A, TripleSink, code, en, fr, graph, iri, string, typed

HERE = Path(__file__).resolve().parent
NACE = "http://data.europa.eu/ux2/nace2/"
EU_COUNTRY = "http://publications.europa.eu/resource/authority/country/"
ESSGLOBAL = "http://purl.org/essglobal/standard/"
ESS_LEGAL_FORM = ESSGLOBAL + "legal-form/"
ESS_STRUCTURE = ESSGLOBAL + "organisational-structure/"
VOID = "http://rdfs.org/ns/void#"
DATASET = iri("dataset/ptce-kg")


@dataclass(frozen=True)
class Linkset:
    name: str
    predicate: NamedNode
    target: str          # the target dataset's IRI
    uri_space: str       # every link target starts with it
    pattern: str         # the documented form of a target (a regular expression, checked by the tests)
    title_fr: str
    title_en: str


PREDICATES = {"skos:exactMatch": SKOS.exactMatch, "skos:closeMatch": SKOS.closeMatch,
              "skos:broadMatch": SKOS.broadMatch}
LINKSET_COLUMNS = ["name", "predicate", "target", "uri_space", "pattern", "title_fr", "title_en"]


def load_linksets(path: Path = HERE / "linksets.csv") -> tuple[Linkset, ...]:
    """The linksets this source writes, declared in linksets.csv (one row each; errors name the line and field)."""
    out = []
    for row in Table("links", path, LINKSET_COLUMNS).rows():
        predicate = row.choice("predicate", set(PREDICATES)) or row.required("predicate")
        uri_space, pattern = row.required("uri_space"), row.required("pattern")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise row.error("pattern", f"not a regular expression ({exc})") from None
        if not pattern.startswith(uri_space.replace(".", "\\.")):  # every target lies in the URI space
            raise row.error("pattern", f"does not start with the URI space {uri_space} (dots escaped)")
        out.append(Linkset(row.required("name"), PREDICATES[predicate], row.required("target"), uri_space, pattern,
                           row.required("title_fr"), row.required("title_en")))
    return tuple(out)


LINKSETS = load_linksets()


def essglobal_linkset(match: str, target: str) -> str:
    """The linkset of a row of essglobal-matches.csv, from its match and the scheme of its target."""
    scheme = "legal-form" if target.startswith(ESS_LEGAL_FORM) else "structure"
    kind = {"closeMatch": "close", "broadMatch": "broad"}[match]
    return f"essglobal-{scheme}-{kind}"


def nace_code(naf_id: str) -> str:
    """01 -> 01, 01.1 -> 011, 01.11 -> 0111 (and a sub-class 01.11Z -> its class 0111)."""
    return naf_id.replace(".", "")[:4]


class LinksSource(Source):
    name = "links"
    graph = graph("links")

    def __init__(self, naf_dir: Path, countries: Path = HERE / "eu-countries.csv",
                 essglobal: Path = HERE / "essglobal-matches.csv", essglobal_terms: Path = HERE / "essglobal-terms.csv"):
        self.naf, self.countries = NafSource(naf_dir), Path(countries)
        self.essglobal, self.essglobal_terms = Path(essglobal), Path(essglobal_terms)

    def provenance(self) -> Provenance:
        return Provenance(
            title_fr="Liens vers d'autres jeux de données (NACE Rév. 2, table des pays de l'UE, ESSGLOBAL)",
            title_en="Links to other datasets (NACE Rev. 2, the EU's countries table, ESSGLOBAL)",
            source_iri=iris.DATASET, version=self.naf.version(),
            licence_iri="https://www.etalab.gouv.fr/licence-ouverte-open-licence", publisher="ptce-kg",
        )

    def _country_rows(self) -> list[dict]:
        with open(self.countries, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    def _essglobal_rows(self) -> list[tuple[int, dict]]:
        """The rows of essglobal-matches.csv, each checked: a known scheme of ours, a known match, a target
        among the ESSGLOBAL terms copied from the published SKOS files, and a reason."""
        with open(self.essglobal_terms, newline="", encoding="utf-8") as handle:
            terms = {row["iri"] for row in csv.DictReader(handle)}
        with open(self.essglobal, newline="", encoding="utf-8") as handle:
            rows = list(enumerate(csv.DictReader(handle), start=2))
        for i, row in rows:
            checks = (("subject", row["subject"].split("/")[0] in ("legal-form", "ess-status")),
                      ("match", row["match"] in ("closeMatch", "broadMatch")),
                      ("target", row["target"] in terms), ("reason", bool((row["reason"] or "").strip())))
            for field, ok in checks:
                if not ok:
                    raise IngestError(self.name, f"invalid {field} '{row[field]}' / champ {field} invalide",
                                      file=str(self.essglobal), line=str(i), field=field)
        return rows

    def load(self, sink: TripleSink, ctx: BuildContext) -> None:
        counts = {ls.name: 0 for ls in LINKSETS}
        by_name = {ls.name: ls for ls in LINKSETS}

        def link(name: str, subject: NamedNode, target: str) -> None:
            sink.add(subject, by_name[name].predicate, NamedNode(target))
            counts[name] += 1

        for item in self.naf._items():
            naf_id = item.get("id") if isinstance(item, dict) else None
            shape = level_of(naf_id) if isinstance(naf_id, str) else None
            if shape is None:
                continue  # the naf source refuses it, naming the item
            name = "naf-nace2-broad" if shape[0] == "sous-classe" else "naf-nace2-exact"
            link(name, code("naf", naf_id), NACE + nace_code(naf_id))
        for i, row in enumerate(self._country_rows(), start=2):
            node = ctx.territories.get(row["territory"])
            if node is None:
                raise IngestError(self.name, f"unknown territory '{row['territory']}' / territoire inconnu",
                                  file=str(self.countries), line=str(i), field="territory")
            link("territories-eu-country", node, EU_COUNTRY + row["code"])
        for _, row in self._essglobal_rows():
            scheme, notation = row["subject"].split("/", 1)
            link(essglobal_linkset(row["match"], row["target"]), code(scheme, notation), row["target"])
        for ls in LINKSETS:
            node = iri(f"linkset/{ls.name}")
            sink.add(node, A, NamedNode(VOID + "Linkset"))
            sink.add(node, DCT.title, fr(ls.title_fr))
            sink.add(node, DCT.title, en(ls.title_en))
            sink.add(node, RDFS.label, fr(ls.title_fr))
            sink.add(node, NamedNode(VOID + "subjectsTarget"), DATASET)
            sink.add(node, NamedNode(VOID + "objectsTarget"), NamedNode(ls.target))
            sink.add(node, NamedNode(VOID + "linkPredicate"), ls.predicate)
            sink.add(node, NamedNode(VOID + "triples"), typed(str(counts[ls.name]), "integer"))
            sink.add(NamedNode(ls.target), A, NamedNode(VOID + "Dataset"))
            sink.add(NamedNode(ls.target), NamedNode(VOID + "uriSpace"), string(ls.uri_space))
