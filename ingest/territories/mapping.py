"""Territories from the official découpage administratif (npm package @etalab/decoupage-administratif).

The package ships INSEE's Code officiel géographique and the DGCL's EPCI list as JSON files
(data/regions.json, departements.json, arrondissements.json, communes.json, epci.json, ept.json).
Each item becomes a resource with a deterministic IRI from its official code:

    id/region/{code}  id/departement/{code}  id/arrondissement/{code}  id/commune/{code}
    id/commune-deleguee/{code}  id/commune-associee/{code}  id/arrondissement-municipal/{code}
    id/collectivite-outre-mer/{code}  id/commune-outre-mer/{code}  id/epci/{siren}  id/ept/{siren}

Communes déléguées and associées and municipal arrondissements are not communes: they get their
own classes and point to the commune they belong to. Overseas collectivities (zone "com") are
neither régions nor départements.
"""

from __future__ import annotations

from pathlib import Path

from pyoxigraph import NamedNode

from ingest.base import BuildContext, PackageSource, Provenance, read_json_array
from ptce_kg.errors import IngestError
from ptce_kg.rdf import (ADMS, DCT, IGEO, PTCE, RDFS, SKOS, A, TripleSink, code, fr, graph, integer, iri,
                         string)

PACKAGE = "@etalab/decoupage-administratif"
COG_PAGE = NamedNode("https://www.insee.fr/fr/information/2560452")
EPCI_PAGE = NamedNode(
    "https://www.collectivites-locales.gouv.fr/institutions/liste-et-composition-des-epci-fiscalite-propre"
)
LICENCE = "https://www.etalab.gouv.fr/licence-ouverte-open-licence"

COMMUNE_CLASSES = {
    "commune-actuelle": ("commune", PTCE.Commune),
    "commune-deleguee": ("commune-deleguee", PTCE.CommuneDeleguee),
    "commune-associee": ("commune-associee", PTCE.CommuneAssociee),
    "arrondissement-municipal": ("arrondissement-municipal", PTCE.ArrondissementMunicipal),
}


def identifier(add, node: NamedNode, fragment: str, notation: str, agency: str, page, label: str) -> None:
    """The official code of a territory as an ADMS identifier, `<node>#<fragment>`."""
    ident = NamedNode(f"{node.value}#{fragment}")
    add(node, ADMS.identifier, ident)
    add(ident, A, ADMS.Identifier)
    add(ident, SKOS.notation, string(notation))
    add(ident, ADMS.schemeAgency, string(agency))
    add(ident, DCT.conformsTo, page)
    add(ident, RDFS.label, fr(label))


class TerritoriesSource(PackageSource):
    name = "territories"
    graph = graph("territories")
    package = PACKAGE
    missing_version = "fixture"

    @property
    def data_dir(self) -> Path:
        return self.package_dir / "data"

    # -- provenance ------------------------------------------------------------------------------

    def provenance(self) -> Provenance:
        return self.package_provenance(
            "Découpage administratif de la France (régions, départements, EPCI, communes)",
            "Administrative divisions of France (regions, départements, EPCI, municipalities)",
            LICENCE, "Etalab / INSEE (Code officiel géographique) / DGCL (EPCI)")

    # -- reading ---------------------------------------------------------------------------------
    def _read(self, name: str) -> list[dict]:
        return read_json_array(self.name, self.data_dir / name,
                               "missing file; install the pinned package with `npm ci` (or set PTCE_KG_DECOUPAGE_DIR) "
                               "/ fichier absent : installez le paquet avec `npm ci`")

    def _field(self, item: dict, key: str, file: str, index: int, required: bool = True):
        value = item.get(key)
        if required and (value is None or value == ""):
            raise IngestError(self.name, f"item {index} ({item.get('code', '?')}): missing value",
                              file=file, line=f"item {index}", field=key)
        return value

    # -- mapping ---------------------------------------------------------------------------------
    def load(self, sink: TripleSink, ctx: BuildContext) -> None:
        index = ctx.territories
        add = sink.add

        def identify(node: NamedNode, notation: str, kind: str, label: str) -> None:
            add(node, RDFS.label, fr(label))
            add(node, SKOS.prefLabel, fr(label))
            add(node, SKOS.notation, string(notation))
            add(node, IGEO.codeINSEE, string(notation))
            identifier(add, node, "insee", notation, "INSEE", COG_PAGE, f"code officiel géographique ({kind}) {notation}")

        def ref(kind: str, value: str, file: str, i: int, field: str) -> NamedNode:
            node = index.get(f"{kind}:{value}")
            if node is None:
                raise IngestError(self.name, f"item {i}: unknown {kind} code '{value}'",
                                  file=file, line=f"item {i}", field=field)
            return node

        # Régions and overseas collectivities (regions.json lists both).
        file = "regions.json"
        com_codes: set[str] = set()
        for i, item in enumerate(self._read(file)):
            c = self._field(item, "code", file, i)
            name = self._field(item, "nom", file, i)
            zone = item.get("zone", "")
            if zone == "com":
                com_codes.add(c)
                node = iri(f"collectivite-outre-mer/{c}")
                add(node, A, PTCE.CollectiviteOutreMer)
                index[f"collectivite-outre-mer:{c}"] = node
                identify(node, c, "collectivité d'outre-mer", name)
            else:
                node = iri(f"region/{c}")
                add(node, A, PTCE.Region)
                index[f"region:{c}"] = node
                identify(node, c, "région", name)
            add(node, PTCE.zone, string(zone))

        # Départements (departements.json repeats the overseas collectivities: skip them there).
        file = "departements.json"
        for i, item in enumerate(self._read(file)):
            c = self._field(item, "code", file, i)
            if item.get("zone") == "com":
                if c not in com_codes:
                    raise IngestError(self.name, f"item {i}: overseas collectivity '{c}' not in regions.json",
                                      file=file, line=f"item {i}", field="code")
                continue
            node = iri(f"departement/{c}")
            add(node, A, PTCE.Departement)
            index[f"departement:{c}"] = node
            identify(node, c, "département", self._field(item, "nom", file, i))
            add(node, PTCE.region, ref("region", self._field(item, "region", file, i), file, i, "region"))
            add(node, PTCE.zone, string(item.get("zone", "")))

        file = "arrondissements.json"
        for i, item in enumerate(self._read(file)):
            c = self._field(item, "code", file, i)
            node = iri(f"arrondissement/{c}")
            add(node, A, PTCE.Arrondissement)
            index[f"arrondissement:{c}"] = node
            identify(node, c, "arrondissement", self._field(item, "nom", file, i))
            add(node, PTCE.departement, ref("departement", self._field(item, "departement", file, i), file, i, "departement"))

        # Communes: first the current communes (others point to them), then the rest.
        file = "communes.json"
        communes = self._read(file)
        for phase in ("actuelle", "other"):
            for i, item in enumerate(communes):
                kind = self._field(item, "type", file, i)
                if (kind == "commune-actuelle") != (phase == "actuelle"):
                    continue
                c = self._field(item, "code", file, i)
                name = self._field(item, "nom", file, i)
                zone = item.get("zone")
                if kind == "commune-actuelle" and zone == "com":
                    node = iri(f"commune-outre-mer/{c}")
                    add(node, A, PTCE.CommuneOutreMer)
                    index[f"commune-outre-mer:{c}"] = node
                    identify(node, c, "subdivision d'outre-mer", name)
                    add(node, PTCE.collectiviteOutreMer,
                        ref("collectivite-outre-mer", self._field(item, "departement", file, i), file, i, "departement"))
                else:
                    if kind not in COMMUNE_CLASSES:
                        raise IngestError(self.name, f"item {i} ({c}): unknown commune type '{kind}'",
                                          file=file, line=f"item {i}", field="type")
                    segment, cls = COMMUNE_CLASSES[kind]
                    node = iri(f"{segment}/{c}")
                    add(node, A, cls)
                    index[f"{segment}:{c}"] = node
                    identify(node, c, segment.replace("-", " "), name)
                    dep = self._field(item, "departement", file, i)
                    add(node, PTCE.departement, ref("departement", dep, file, i, "departement"))
                    add(node, PTCE.region, ref("region", self._field(item, "region", file, i), file, i, "region"))
                    if item.get("arrondissement"):
                        add(node, PTCE.arrondissement, ref("arrondissement", item["arrondissement"], file, i, "arrondissement"))
                    if kind == "commune-actuelle":
                        ctx.commune_departement[node.value] = dep
                    elif kind == "arrondissement-municipal":
                        add(node, PTCE.parentCommune, ref("commune", self._field(item, "commune", file, i), file, i, "commune"))
                    else:
                        add(node, PTCE.parentCommune, ref("commune", self._field(item, "chefLieu", file, i), file, i, "chefLieu"))
                if item.get("siren"):
                    add(node, PTCE.siren, string(item["siren"]))
                if item.get("population") is not None:
                    add(node, PTCE.population, integer(item["population"]))
                for postal in item.get("codesPostaux", []):
                    add(node, PTCE.postalCode, string(postal))
                if zone:
                    add(node, PTCE.zone, string(zone))

        # Chefs-lieux, now that every commune exists.
        for file, kind in (("regions.json", None), ("departements.json", "departement"), ("arrondissements.json", "arrondissement")):
            for i, item in enumerate(self._read(file)):
                chef = item.get("chefLieu")
                if not chef:
                    continue
                if kind is None:
                    node = index.get(f"region:{item['code']}") or index.get(f"collectivite-outre-mer:{item['code']}")
                elif item.get("zone") == "com":
                    continue
                else:
                    node = index[f"{kind}:{item['code']}"]
                target = index.get(f"commune:{chef}") or index.get(f"commune-outre-mer:{chef}")
                if target is None:
                    raise IngestError(self.name, f"item {i}: unknown chef-lieu commune '{chef}'",
                                      file=file, line=f"item {i}", field="chefLieu")
                add(node, PTCE.chefLieu, target)

        # Groupings: EPCI with own taxation, and the EPT of Greater Paris.
        for file, segment, cls in (("epci.json", "epci", PTCE.EPCI), ("ept.json", "ept", PTCE.EPT)):
            for i, item in enumerate(self._read(file)):
                siren = self._field(item, "code", file, i)
                node = iri(f"{segment}/{siren}")
                add(node, A, cls)
                index[f"{segment}:{siren}"] = node
                name = self._field(item, "nom", file, i)
                add(node, RDFS.label, fr(name))
                add(node, SKOS.prefLabel, fr(name))
                add(node, SKOS.notation, string(siren))
                add(node, PTCE.siren, string(siren))
                identifier(add, node, "siren", siren, "INSEE (répertoire SIRENE)", EPCI_PAGE, f"SIREN {siren}")
                nature = self._field(item, "type", file, i)
                add(node, PTCE.epciNature, code("epci-nature", nature))
                if item.get("modeFinancement"):
                    add(node, PTCE.taxRegime, string(item["modeFinancement"]))
                if item.get("populationTotale") is not None:
                    add(node, PTCE.population, integer(item["populationTotale"]))
                for j, member in enumerate(self._field(item, "membres", file, i)):
                    commune = index.get(f"commune:{member.get('code')}")
                    if commune is None:
                        raise IngestError(self.name, f"item {i} ({siren}), member {j}: unknown commune '{member.get('code')}'",
                                          file=file, line=f"item {i}", field="membres.code")
                    add(commune, PTCE.epci, node)
