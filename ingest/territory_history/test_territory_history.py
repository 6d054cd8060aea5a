"""Communes through time on a small fixture: a dated merger (INSEE history), a merger seen only between two COG
millésimes (years, never a date), IRIs of former communes and versions, resolution to the current commune."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph
import pytest

from conftest import select
from ingest.base import BuildContext
from ingest.territory_history import TerritoryHistorySource
from ptce_kg.errors import IngestError
from ptce_kg.rdf import TripleSink

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
ID = "https://w3id.org/ptce-kg/id/commune/"
P = "PREFIX ptce: <https://w3id.org/ptce-kg/def#> PREFIX dct: <http://purl.org/dc/terms/> " \
    "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "


def source(**dirs) -> TerritoryHistorySource:
    millesimes = {"2019": FIXTURES / "cog-2019", "2021": FIXTURES / "cog-2021", **dirs}
    return TerritoryHistorySource(millesimes, FIXTURES / "current", "2022")


@pytest.fixture(scope="module")
def loaded():
    ctx = BuildContext()
    sink = TripleSink(source().graph)
    source().load(sink, ctx)
    store = pyoxigraph.Store()
    store.extend(sink.quads)
    return store, ctx


def props(store, node: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in select(store, f"SELECT ?p ?o {{ GRAPH ?g {{ <{node}> ?p ?o }} }}"):
        out.setdefault(r["p"].rsplit("#", 1)[-1].rsplit("/", 1)[-1], set()).add(r["o"])
    return out


def test_a_dated_merger_keeps_insee_dates_and_links_both_ways(loaded):
    store, _ = loaded
    beta = props(store, ID + "99002")
    assert beta["type"] == {"https://w3id.org/ptce-kg/def#FormerCommune"}
    assert beta["label"] == {"Beta"}
    assert beta["validUntil"] == {"2017-01-01"}
    assert beta["isReplacedBy"] == {ID + "99001"} and beta["currentCommune"] == {ID + "99001"}
    assert "lastCog" not in beta  # a date is known: no year-only statement
    new = props(store, ID + "99001")
    assert new["validFrom"] == {"2017-01-01"} and new["creationReason"] == {"commune nouvelle"}
    # the chef-lieu kept its code: its former self is a versioned IRI with its own label
    assert new["replaces"] == {ID + "99002", ID + "99001/until/2017-01-01"}
    assert props(store, ID + "99001/until/2017-01-01")["label"] == {"Alpha"}


def test_a_merger_seen_between_two_millesimes_states_only_years(loaded):
    store, _ = loaded
    gamma = props(store, ID + "99003")
    assert gamma["lastCog"] == {"2021"} and gamma["firstCogWithout"] == {"2022"}
    assert "validUntil" not in gamma and "validFrom" not in gamma  # never an invented date
    assert gamma["currentCommune"] == {ID + "99004"}
    host = props(store, ID + "99004")
    assert host["firstCog"] == {"2022"} and "validFrom" not in host
    assert props(store, ID + "99004/until/cog-2022")["label"] == {"Delta"}


def test_changes_before_2012_are_not_published_and_current_communes_are_not_former(loaded):
    store, _ = loaded
    assert props(store, ID + "99005") == {}
    rows = select(store, P + "SELECT ?f { GRAPH ?g { ?f a ptce:FormerCommune } }")
    assert sorted(r["f"] for r in rows) == sorted(ID + x for x in
                                                  ("99002", "99001/until/2017-01-01", "99003", "99004/until/cog-2022"))


def test_former_codes_resolve_in_the_build_context_and_current_ones_are_untouched(loaded):
    _, ctx = loaded
    assert ctx.territories["commune:99002"].value == ID + "99002"
    assert ctx.territories["commune:99003"].value == ID + "99003"
    assert "commune:99001" not in ctx.territories  # the territories source owns current codes


def test_a_missing_millesime_names_the_file(tmp_path):
    with pytest.raises(IngestError) as err:
        source(**{"2021": tmp_path}).load(TripleSink(source().graph), BuildContext())
    assert "communes.json" in str(err.value) and "npm ci" in str(err.value)


def test_an_epci_absent_from_the_next_list_is_replaced_by_the_epci_of_its_communes(loaded):
    store, ctx = loaded
    epci = "https://w3id.org/ptce-kg/id/epci/"
    for siren, name in (("200000001", "CC Alpha"), ("200000002", "CC Delta")):
        former = props(store, epci + siren)
        assert former["type"] == {"https://w3id.org/ptce-kg/def#FormerEPCI"} and former["label"] == {name}
        assert former["lastCog"] == {"2021"} and former["firstCogWithout"] == {"2022"}
        assert former["isReplacedBy"] == {epci + "200000003"}
        assert ctx.territories[f"epci:{siren}"].value == epci + siren
    assert props(store, epci + "200000003")["firstCog"] == {"2022"}


def test_communes_belong_to_epci_per_yearly_list_in_runs_of_years(loaded):
    """Fixture lists: 2019's package holds the EPCI list of 2020; 99001 goes from CC Alpha (2020, 2021) to CC
    Alpha-Delta (2022); 99004 from CC Delta to CC Alpha-Delta; 99003 ends with its commune."""
    store, _ = loaded
    rows = select(store, P + """SELECT ?m ?commune ?epci ?first ?last ?without { GRAPH ?g {
        ?m a ptce:EPCIMembership ; ptce:memberCommune ?commune ; ptce:ofEPCI ?epci .
        OPTIONAL { ?m ptce:firstCog ?first } OPTIONAL { ?m ptce:lastCog ?last }
        OPTIONAL { ?m ptce:firstCogWithout ?without } } }""")
    epci = "https://w3id.org/ptce-kg/id/epci/"
    got = {(r["commune"][len(ID):], r["epci"][len(epci):]): (r["first"], r["last"], r["without"]) for r in rows}
    assert got == {("99001", "200000001"): (None, "2021", "2022"), ("99003", "200000001"): (None, "2021", "2022"),
                   ("99004", "200000002"): (None, "2021", "2022"),
                   ("99001", "200000003"): ("2022", None, None), ("99004", "200000003"): ("2022", None, None)}
    assert {r["m"] for r in rows} >= {"https://w3id.org/ptce-kg/id/epci-membership/200000001/99001/2020",
                                      "https://w3id.org/ptce-kg/id/epci-membership/200000003/99001/2022"}
