"""The ESSGLOBAL mapping table is checked before any link is made: a wrong row names its file, line and field."""

from __future__ import annotations

import shutil

import pytest

from ingest.links.mapping import HERE, LINKSETS, LinksSource, essglobal_linkset
from ptce_kg.config import settings
from ptce_kg.errors import IngestError


def _source(tmp_path, text: str) -> LinksSource:
    matches = tmp_path / "essglobal-matches.csv"
    matches.write_text(text, encoding="utf-8")
    shutil.copy(HERE / "essglobal-terms.csv", tmp_path / "essglobal-terms.csv")
    return LinksSource(settings().naf_dir, essglobal=matches, essglobal_terms=tmp_path / "essglobal-terms.csv")


HEADER = "subject,match,target,reason\n"


@pytest.mark.parametrize("row, field", [
    ("legal-form/cooperative,closeMatch,http://purl.org/essglobal/standard/legal-form/L9,same", "target"),
    ("legal-form/cooperative,exactMatch,http://purl.org/essglobal/standard/legal-form/L2,same", "match"),
    ("naf/01,closeMatch,http://purl.org/essglobal/standard/legal-form/L2,same", "subject"),
    ("legal-form/cooperative,closeMatch,http://purl.org/essglobal/standard/legal-form/L2,", "reason"),
])
def test_a_wrong_row_is_refused_with_its_line_and_field(tmp_path, row, field):
    source = _source(tmp_path, HEADER + "legal-form/scop,broadMatch,http://purl.org/essglobal/standard/legal-form/L2,kind\n" + row + "\n")
    with pytest.raises(IngestError) as error:
        source._essglobal_rows()
    assert error.value.line == "3" and error.value.field == field


def test_each_row_goes_to_the_linkset_of_its_match_and_target_scheme():
    names = {ls.name for ls in LINKSETS}
    assert essglobal_linkset("closeMatch", "http://purl.org/essglobal/standard/legal-form/L2") == "essglobal-legal-form-close"
    assert essglobal_linkset("broadMatch", "http://purl.org/essglobal/standard/organisational-structure/OS30") == "essglobal-structure-broad"
    for _, row in LinksSource(settings().naf_dir)._essglobal_rows():
        assert essglobal_linkset(row["match"], row["target"]) in names


def test_a_linkset_row_out_of_its_uri_space_names_its_line_and_field(tmp_path):
    from ingest.links.mapping import load_linksets
    from ptce_kg.errors import IngestError

    lines = (HERE / "linksets.csv").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace(r"http://data\.europa\.eu/ux2/nace2/\d{4}", r"http://example\.org/\d{4}")
    bad = tmp_path / "linksets.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(IngestError) as error:
        load_linksets(bad)
    assert (error.value.line, error.value.field) == (3, "pattern") and "URI space" in str(error.value)
    assert [ls.name for ls in load_linksets()][:2] == ["naf-nace2-exact", "naf-nace2-broad"]
