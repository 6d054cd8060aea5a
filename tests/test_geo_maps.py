"""Maps drawn by the server: the national choropleth of PTCE per département over région and département
contours, and each PTCE's perimeter with its members' communes (SVG, no tiles, readable without script)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import httpx
import pytest

from conftest import select
from ptce_kg import queries

SVG = "{http://www.w3.org/2000/svg}"


def _svg_numbers(d: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]


def test_national_map_draws_regions_departements_and_a_choropleth(embedded_server, store):
    html = httpx.get(embedded_server + "/map", timeout=60).text
    svg = html[html.index('<svg id="choropleth-map"'):html.index("</svg>", html.index('<svg id="choropleth-map"')) + 6]
    root = ET.fromstring(svg)
    departements = root.findall(f"./{SVG}g[@class='departements']/{SVG}a/{SVG}path")
    regions = root.findall(f"./{SVG}g[@class='regions']/{SVG}path")
    assert len(departements) == 101 and len(regions) == 18
    assert all(p.get("d").count("M") >= 1 for p in departements + regions)
    for p in departements:  # everything inside the picture
        numbers = _svg_numbers(p.get("d"))
        assert 0 <= min(numbers) and max(numbers[0::2]) <= 600 and max(numbers[1::2]) <= 700, p.get("data-code")
    counts = {r["code"]: int(r["ptce_count"]) for r in select(store, queries.find("ptce-per-departement").text)}
    shown = {p.get("data-code"): int(p.get("data-count")) for p in departements}
    assert {k: v for k, v in shown.items() if v} == counts and sum(counts.values()) > 20
    fills = {p.get("data-code"): p.get("fill") for p in departements}
    assert fills["39"] != fills[next(code for code, n in shown.items() if n == 0)]
    # the same content as a list, for readers without SVG
    assert f">{shown['39']}</td>" in html.split('<details><summary>', 1)[1].split("</details>", 1)[0]


def _perimeter_svg(server: str, slug: str) -> ET.Element:
    response = httpx.get(f"{server}/map/ptce/{slug}.svg", timeout=60)
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
    return ET.fromstring(response.text)


def test_every_ptce_with_a_known_perimeter_has_its_contour_drawn(embedded_server, store):
    slugs = sorted({r["p"].rsplit("/", 1)[1] for r in select(store, """PREFIX ptce: <https://w3id.org/ptce-kg/def#>
        SELECT DISTINCT ?p WHERE { ?p a ptce:PTCE ; ptce:perimeter ?t }""")})
    assert len(slugs) >= 80
    for slug in slugs:
        root = _perimeter_svg(embedded_server, slug)
        perimeter = root.findall(f"./{SVG}path[@class='perimeter']")
        assert perimeter and all(_svg_numbers(p.get("d")) for p in perimeter), slug


def test_a_ptce_map_shows_its_members_communes(embedded_server):
    root = _perimeter_svg(embedded_server, "cluster-jura")
    assert [p.find(f"{SVG}title").text for p in root.findall(f"./{SVG}path[@class='perimeter']")] == ["Lons-le-Saunier"]
    members = root.findall(f"./{SVG}circle[@class='member']")
    assert members and all(0 <= float(c.get("cx")) <= 640 and 0 <= float(c.get("cy")) <= 400 for c in members)
    html = httpx.get(embedded_server + "/id/ptce/cluster-jura", headers={"Accept": "text/html"}, timeout=60,
                     follow_redirects=True).text
    assert '<img src="/map/ptce/cluster-jura.svg"' in html


def test_unknown_ptce_map_is_404(embedded_server):
    assert httpx.get(embedded_server + "/map/ptce/no-such-ptce.svg").status_code == 404
    assert httpx.get(embedded_server + "/map/ptce/..%2Fetc.svg").status_code == 404


try:
    from test_browser import CHROMIUM, browser, page, shot  # noqa: F401 (fixtures)
except ImportError:  # pragma: no cover
    CHROMIUM = None


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_maps_in_a_browser(page, embedded_server):
    page.goto(embedded_server + "/map")
    choropleth = page.locator("#choropleth-map")
    assert choropleth.is_visible() and choropleth.bounding_box()["width"] > 300
    assert page.locator("#choropleth-map g.departements path").count() == 101
    choropleth.screenshot(path=str(_artifact("map-choropleth")))
    page.goto(embedded_server + "/id/ptce/la-californie")
    image = page.locator("figure.perimeter-map img")
    image.scroll_into_view_if_needed()
    page.wait_for_function("document.querySelector('figure.perimeter-map img').complete")
    assert page.evaluate("document.querySelector('figure.perimeter-map img').naturalWidth") == 640
    shot(page, "ptce-perimeter")


def _artifact(name: str):
    from test_browser import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"
