"""NAF rév. 2 from the pinned npm package: every level, its hierarchy, and SIRENE units' activities labelled."""

from __future__ import annotations

import copy

import pyoxigraph
import pytest

from conftest import select
from ingest.naf import NafSource
from ingest.naf.mapping import SCHEME
from ingest.sirene import SireneSource
from ingest.sirene.test_sirene import FIXTURES as SIRENE_FIXTURES
from ptce_kg.config import settings
from ptce_kg.errors import IngestError
from ptce_kg.rdf import TripleSink

HERE = __import__("pathlib").Path(__file__).resolve().parent
SKOS = "http://www.w3.org/2004/02/skos/core#"
NAF = "https://w3id.org/ptce-kg/code/naf/"


def loaded(*sources, ctx=None):
    store = pyoxigraph.Store()
    for source in sources:
        sink = TripleSink(source.graph)
        source.load(sink, ctx)
        store.extend(sink.quads)
    return store


@pytest.fixture(scope="module")
def naf():
    return loaded(NafSource(settings().naf_dir))


def test_the_pinned_list_has_every_level_of_naf_rev_2(naf):
    rows = select(naf, f"""SELECT ?level (COUNT(?c) AS ?n) {{ ?c <{SKOS}inScheme> <{SCHEME.value}> ;
        <https://w3id.org/ptce-kg/def#nafLevel> ?level }} GROUP BY ?level""")
    counts = {r["level"].rsplit("/", 1)[1]: int(r["n"]) for r in rows}
    assert counts == {"division": 88, "groupe": 272, "classe": 615, "sous-classe": 732}


def test_a_sub_class_climbs_to_its_division(naf):
    rows = select(naf, f"""SELECT ?up ?label {{ <{NAF}88.99B> <{SKOS}broader>+ ?up .
        ?up <{SKOS}prefLabel> ?label }} ORDER BY ?up""")
    assert [r["up"].removeprefix(NAF) for r in rows] == ["88", "88.9", "88.99"]
    assert rows[0]["label"] == "Action sociale sans hébergement"
    [top] = select(naf, f"SELECT (COUNT(*) AS ?n) {{ <{SCHEME.value}> <{SKOS}hasTopConcept> ?c }}")
    assert top["n"] == "88"


def test_sirene_units_activities_get_their_labels(real_ctx):
    ctx = copy.copy(real_ctx)
    ctx.organisations, ctx.rejects = {}, {}
    store = loaded(NafSource(settings().naf_dir), SireneSource(SIRENE_FIXTURES), ctx=ctx)
    rows = select(store, f"""SELECT ?activity ?label {{ <https://w3id.org/ptce-kg/id/siren/811000009>
        <http://www.w3.org/ns/regorg#orgActivity> ?activity . OPTIONAL {{ ?activity <{SKOS}prefLabel> ?label }} }}""")
    assert rows == [{"activity": f"{NAF}59.11A", "label": "Production de films et de programmes pour la télévision"}]
    # a unit still coded in NAF rév. 1 is not mixed into the NAF rév. 2 list
    [old] = select(store, """SELECT ?activity { <https://w3id.org/ptce-kg/id/siren/811000058>
        <http://www.w3.org/ns/regorg#orgActivity> ?activity }""")
    assert old["activity"] == "https://w3id.org/ptce-kg/code/naf-rev1/91.3E"


def test_a_malformed_code_is_refused_with_its_item_and_field():
    with pytest.raises(IngestError) as error:
        loaded(NafSource(HERE / "fixtures" / "broken"))
    assert error.value.line == "item 2" and error.value.field == "id"
    assert "88-99" in str(error.value) and "index.json" in str(error.value)


def test_a_missing_package_says_to_install_it(tmp_path):
    with pytest.raises(IngestError, match="npm ci"):
        loaded(NafSource(tmp_path))
