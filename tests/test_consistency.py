"""Consistency checks (ptce_kg/consistency/*.rq): none on the shipped tables; each one fails on a table copy
with one value changed, naming both facts and their sources (document and locator or passage)."""

from __future__ import annotations

import csv
import json
import shutil

import pyoxigraph
import pytest

from ingest.base import BuildContext
from ingest.programmes import ProgrammesSource
from ingest.programmes.mapping import HERE as PROGRAMMES
from ingest.registry import RegistrySource
from ingest.registry.mapping import HERE as REGISTRY
from ptce_kg import consistency
from ptce_kg.rdf import TripleSink

ST = "statement/programme/"


def _edit(path, match: dict, field: str, value: str) -> None:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    hits = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(hits) == 1, (path.name, match)
    hits[0][field] = value
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def load(tmp_path, real_ctx: BuildContext, edits=()) -> pyoxigraph.Store:
    """Programmes and registry, from copies of the tables with `edits` (table, match, field, value) applied,
    into a memory store (territories are resolved from `real_ctx`, not loaded)."""
    registry = tmp_path / "registry"
    shutil.copytree(REGISTRY, registry, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    programmes = tmp_path / "programmes"
    programmes.mkdir()
    for name in ("programmes.csv", "statements.csv"):
        shutil.copy(PROGRAMMES / name, programmes / name)
    for table, match, field, value in edits:
        _edit(tmp_path / table, match, field, value)
    store = pyoxigraph.Store()
    for source in (ProgrammesSource(programmes / "programmes.csv", programmes / "statements.csv"),
                   RegistrySource(registry)):
        sink = TripleSink(source.graph)
        source.load(sink, real_ctx)
        store.extend(sink.quads)
    return store


def only(found, check):
    assert [c.check for c in found] == [check] * len(found) and found, consistency.describe(found)
    return found


def facts(contradiction) -> dict:
    return {(f.role, consistency.short(f.iri)): f for f in contradiction.facts}


def test_every_check_is_documented_in_both_languages():
    assert len(consistency.checks()) >= 8
    for path in consistency.checks():
        text = path.read_text(encoding="utf-8")
        for key in ("title", "title-en", "description", "description-en", "message", "message-en"):
            assert consistency.header(text, key), (path.name, key)


def test_the_shipped_tables_have_no_contradiction(tmp_path, real_ctx):
    found = consistency.run(load(tmp_path, real_ctx))
    assert found == [], consistency.describe(found)


def test_waves_above_their_parent(tmp_path, real_ctx):
    # the 2021 wave's 15 laureates raised to 32: above the 31 phase-2 laureates of October 2023
    store = load(tmp_path, real_ctx, [("programmes/statements.csv",
                                       {"subject": "ami-2021-phase-2", "property": "laureates", "n": "1"}, "value", "32")])
    (c,) = only(consistency.run(store), "parent-count-below-waves")
    assert "32" in c.message["fr"] and "31" in c.message["fr"] and "dépasse" in c.message["fr"]
    assert "exceeds" in c.message["en"]
    got = facts(c)
    parent, wave = got[("a", ST + "ami-phase-2/laureates/1")], got[("b", ST + "ami-2021-phase-2/laureates/1")]
    assert (parent.value, wave.value) == ("31", "32")
    assert parent.documents[0]["document"].endswith("/rtes-reperess-2023")
    assert parent.documents[0]["locator"] == "« Comment soutenir et s'appuyer sur un PTCE ? »"
    assert "31 PTCE ont été financés" in parent.documents[0]["passage"]
    assert wave.documents[0]["document"].endswith("/economie-gouv-ptce-saison-3")
    assert wave.documents[0]["locator"] == "introduction"


def test_an_announcement_is_not_a_result(tmp_path, real_ctx):
    # the 2022 wave's "15 (nouveaux) PTCE … bénéficieront" is announced: raising it contradicts nothing
    store = load(tmp_path, real_ctx, [("programmes/statements.csv",
                                       {"subject": "ami-2022-phase-2", "property": "laureates", "n": "1"}, "value", "40")])
    assert consistency.run(store) == []


def test_a_wave_not_known_to_precede_a_dated_total_is_not_added(tmp_path, real_ctx):
    # the 2023 wave (results 17 October 2023) may or may not be in the "31" of October 2023: not added up
    store = load(tmp_path, real_ctx, [("programmes/statements.csv",
                                       {"subject": "ami-2023-phase-2", "property": "laureates", "n": "1"}, "value", "20")])
    assert consistency.run(store) == []


def test_awards_above_the_envelope(tmp_path, real_ctx):
    # the 14 named 2023 awards of 100,000 € against an envelope lowered to 1,350,000 €
    with open(REGISTRY / "awards.csv", newline="", encoding="utf-8") as handle:
        named = {r["ptce"] for r in csv.DictReader(handle) if r["programme"] == "ami-2023-phase-2"}
    assert len(named) == 14 and {"peccs", "pole-laine-saugues", "la-californie"} <= named
    store = load(tmp_path, real_ctx, [("programmes/statements.csv",
                                       {"subject": "ami-2023-phase-2", "property": "budget", "n": "1"}, "value", "1350000")])
    (c,) = only(consistency.run(store), "awards-above-envelope")
    assert "1400000" in c.message["fr"] and "1350000" in c.message["en"]
    got = facts(c)
    envelope = got[("a", ST + "ami-2023-phase-2/budget/1")]
    assert envelope.documents[0]["document"].endswith("/bdt-ami-2023")
    assert envelope.documents[0]["locator"].startswith("https://banquedesterritoires.fr/")
    awards = [f for (role, _), f in got.items() if role == "b"]
    assert {consistency.short(f.iri) for f in awards} == {f"citation/awards/ami-2023-phase-2--{p}" for p in named}
    # web pages: the fact in our words, the page's address and the date read, no quotation
    for f in awards:
        assert "avise-laureats-2023" in {d["document"].rsplit("/", 1)[1] for d in f.documents}
        assert all(d["note"] and d["retrieved"] == "2026-12-01" and d["locator"].startswith("https://")
                   and "passage" not in d for d in f.documents)


def test_an_award_above_the_per_laureate_ceiling(tmp_path, real_ctx):
    store = load(tmp_path, real_ctx, [("registry/awards.csv", {"ptce": "turfu-productions"}, "amount_eur", "120000")])
    found = only(consistency.run(store), "award-above-ceiling")
    # the wave's own ceiling and its phase's
    assert {consistency.short(f.iri) for c in found for f in c.facts if f.role == "a"} == {
        ST + "ami-2021-phase-2/amount-per-laureate/1", ST + "ami-phase-2/amount-per-laureate/1"}
    for c in found:
        award = facts(c)[("b", "citation/awards/ami-2021-phase-2--turfu-productions")]
        assert award.value == "120000" and award.documents[0]["document"].endswith("/chorum-ami-2021")
        assert "TURFU PRODUCTIONS" in award.documents[0]["note"] and "passage" not in award.documents[0]
        assert award.documents[0]["locator"] == "https://chorum.fr/actualite/15-nouveaux-ptce-obtiennent-100-000-euros-de-soutien"
        assert "(lu le / read 2026-12-01)" in award.where()
        assert "120000" in c.message["fr"] and "ptce/turfu-productions" in c.message["en"]


def test_listed_members_above_an_exact_count(tmp_path, real_ctx):
    # Clus'Ter Jura lists 4 members (the carrier and three groups); its 40 partners lowered to 3
    edit = ("registry/statements.csv", {"subject": "cluster-jura", "property": "member-count"})
    (c,) = only(consistency.run(load(tmp_path / "exact", real_ctx, [(*edit, "value", "3")])),
                "listed-members-above-count")
    assert "4" in c.message["fr"] and "3" in c.message["fr"] and "declared count" in c.message["en"]
    got = facts(c)
    count = got[("a", "statement/ptce/cluster-jura/member-count/1")]
    assert count.value == "3" and count.documents[0]["document"].endswith("/edd-ptce-leviers")
    assert count.documents[0]["locator"].startswith("encadré « Le PTCE Clus'Ter Jura")
    assert {k for k in got if k[0] == "b"} == {("b", "citation/members/cluster-jura--" + m) for m in (
        "juratri", "cluster-jura-entreprises-initiatrices", "cluster-jura-entreprises-classiques",
        "cluster-jura-entreprises-ess")}
    # "at least 3" is not contradicted by 4 listed members; fewer listed than declared never is (shipped: 4 of 40)
    store = load(tmp_path / "at-least", real_ctx, [(*edit, "value", "3"),
                                                    (*edit, "precision", "at-least")])
    assert consistency.run(store) == []


def test_listed_ess_members_above_the_ess_count(tmp_path, real_ctx):
    store = load(tmp_path, real_ctx, [("registry/statements.csv",
                                       {"subject": "cluster-jura", "property": "ess-member-count"}, "value", "1")])
    (c,) = only(consistency.run(store), "listed-members-above-count")
    assert "ess-enterprise" in c.message["fr"]
    assert {k[1] for k in facts(c) if k[0] == "b"} == {"citation/members/cluster-jura--juratri",
                                                        "citation/members/cluster-jura--cluster-jura-entreprises-ess"}


def test_an_award_dated_before_its_programme(tmp_path, real_ctx):
    store = load(tmp_path, real_ctx, [("registry/awards.csv", {"ptce": "turfu-productions"}, "year", "2019")])
    found = only(consistency.run(store), "award-before-programme")
    # before the wave, its phase and the AMI (year and opening date)
    assert {(consistency.short(next(f.iri for f in c.facts if f.role == "a")), c.message["en"].rsplit("(", 1)[1])
            for c in found} == {
        ("citation/programmes/ami-2021-phase-2", "year)"), ("citation/programmes/ami-2021-phase-2", "startDate)"),
        ("citation/programmes/ami-phase-2", "year)"),
        ("citation/programmes/ami-ptce-emergents", "year)"), ("citation/programmes/ami-ptce-emergents", "startDate)")}
    for c in found:
        got = facts(c)
        award = got[("b", "citation/awards/ami-2021-phase-2--turfu-productions")]
        assert award.value == "2019" and award.documents[0]["document"].endswith("/chorum-ami-2021")
        (programme,) = [f for (role, _), f in got.items() if role == "a"]
        assert programme.documents and programme.documents[0]["passage"]
        assert "2019" in c.message["fr"] and "before" in c.message["en"]


def test_a_ptce_created_after_an_award_it_won(tmp_path, real_ctx):
    store = load(tmp_path, real_ctx, [("registry/statements.csv", {"subject": "cluster-jura", "property": "created"},
                                       "value", "2024"),
                                      ("registry/awards.csv", {"ptce": "turfu-productions"}, "ptce", "cluster-jura")])
    (c,) = only(consistency.run(store), "ptce-created-after-award")
    got = facts(c)
    assert got[("a", "statement/ptce/cluster-jura/created/1")].value == "2024"
    assert got[("b", "citation/awards/ami-2021-phase-2--cluster-jura")].value == "2021"
    assert "créé en 2024" in c.message["fr"] and "created in 2024" in c.message["en"]


def test_a_wave_dated_before_its_programme(tmp_path, real_ctx):
    store = load(tmp_path, real_ctx, [("programmes/programmes.csv", {"id": "ami-2023-phase-2"}, "start_date", "2020-09-01")])
    found = only(consistency.run(store), "wave-before-programme")
    pairs = {(consistency.short(f.iri), c.message["en"]) for c in found for f in c.facts if f.role == "a"}
    assert ("citation/programmes/ami-ptce-emergents",
            "programme/ami-2023-phase-2 is dated 2020-09-01 (startDate), before the launch of "
            "programme/ami-ptce-emergents: 2021-05-12 (startDate)") in pairs
    for c in found:
        wave = facts(c)[("b", "citation/programmes/ami-2023-phase-2")]
        assert {d["document"].rsplit("/", 1)[1] for d in wave.documents} == {"avise-laureats-2023", "bdt-ami-2023"}


class _Root:
    def __init__(self, store):
        self.store = store

    def open_read(self):
        return self.store


def test_validate_exits_1_and_reports_in_table_and_json(tmp_path, real_ctx, monkeypatch, capsys):
    import cli
    from ptce_kg import remote, validate

    store = load(tmp_path, real_ctx, [("programmes/statements.csv",
                                       {"subject": "ami-2021-phase-2", "property": "laureates", "n": "1"}, "value", "32")])
    monkeypatch.setattr(remote, "open_root", lambda spec: _Root(store))
    # the shapes have their own tests (test_validate.py); here only the consistency checks run on a small graph
    monkeypatch.setattr(validate, "validate", lambda s: validate.ValidationSummary(len(s), 0.0))
    assert cli.main(["validate", "--store", str(tmp_path), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    (c,) = report["contradictions"]
    assert c["check"] == "parent-count-below-waves" and c["title"]["fr"] and c["title"]["en"]
    assert {f["role"] for f in c["facts"]} == {"a", "b"}
    assert all(f["sources"][0]["document"] and f["sources"][0]["locator"] for f in c["facts"])
    assert cli.main(["validate", "--store", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "✘ [parent-count-below-waves]" in out and "exceeds the parent's result" in out
    assert "statement/programme/ami-phase-2/laureates/1" in out and "document/rtes-reperess-2023" in out
    assert "statement/programme/ami-2021-phase-2/laureates/1" in out and "document/economie-gouv-ptce-saison-3" in out
    assert "1 contradiction(s)" in out
    clean = load(tmp_path / "clean", real_ctx)
    monkeypatch.setattr(remote, "open_root", lambda spec: _Root(clean))
    assert cli.main(["validate", "--store", str(tmp_path)]) == 0
    assert "0 contradiction(s)" in capsys.readouterr().out


def test_a_build_with_a_contradiction_publishes_nothing(tmp_path):
    """Two tiny programmes (a call of 10 laureates, its wave of 12): the build refuses, naming both statements."""
    from ingest.base import Provenance, Source
    from pyoxigraph import NamedNode

    from ptce_kg.build import build
    from ptce_kg.errors import BuildError
    from ingest.statements import WIKIBASE
    from ptce_kg.rdf import DCT, PROV, PTCE, RDF, RDFS, A, code, fr, iri, typed
    from ptce_kg.rdf import graph as named_graph
    from ptce_kg.store import StoreRoot

    class Tiny(Source):
        name = "tiny"
        graph = named_graph("programmes")

        def provenance(self):
            return Provenance("t", "t", "https://example.org/t", "0", "https://example.org/l", "t")

        def load(self, sink, ctx):
            doc = iri("document/tiny")
            sink.add(doc, A, NamedNode("http://xmlns.com/foaf/0.1/Document"))
            sink.add(iri("programme/wave"), DCT.isPartOf, iri("programme/call"))
            sink.add(iri("programme/wave"), DCT.identifier, typed("wave", "string"))
            sink.add(iri("programme/wave"), PTCE.programmeKind, code("programme-kind", "wave"))
            for subject, value in (("call", "10"), ("wave", "12")):
                node = iri(f"statement/programme/{subject}/laureates/1")
                ref = NamedNode(node.value + "/reference")
                sink.add(iri(f"programme/{subject}"), A, PTCE.FundingProgramme)
                sink.add(node, A, PTCE.Statement)
                sink.add(node, PTCE.statementSubject, iri(f"programme/{subject}"))
                sink.add(node, PTCE.statementProperty, PTCE.laureateCount)
                sink.add(node, RDF.value, typed(value, "integer"))
                sink.add(node, PTCE.precision, code("precision", "exact"))
                sink.add(node, PTCE.statementStatus, code("statement-status", "result"))
                sink.add(node, WIKIBASE.rank, WIKIBASE.PreferredRank)
                sink.add(node, PROV.wasDerivedFrom, ref)
                sink.add(ref, DCT.source, doc)
                sink.add(ref, PTCE.locator, typed(f"page {value}", "string"))
                sink.add(ref, RDFS.label, fr("r"))

    with pytest.raises(BuildError) as error:
        build(tmp_path / "store", sources=[Tiny()], progress=lambda m: None, with_dumps=False)
    message = str(error.value)
    assert "nothing published" in message and "rien n'est publié" in message
    assert "statement/programme/call/laureates/1 = 10 — document/tiny, page 10" in message
    assert "statement/programme/wave/laureates/1 = 12 — document/tiny, page 12" in message
    assert StoreRoot(tmp_path / "store").current_name() is None


def test_more_named_laureates_than_the_count(tmp_path, real_ctx):
    # the 2021 wave names its 15 laureates (awards.csv); its count lowered to 14
    store = load(tmp_path, real_ctx, [("programmes/statements.csv",
                                       {"subject": "ami-2021-phase-2", "property": "laureates", "n": "1"}, "value", "14")])
    (c,) = only(consistency.run(store), "awards-above-laureate-count")
    assert "15" in c.message["fr"] and "14" in c.message["en"]
    got = facts(c)
    assert got[("a", ST + "ami-2021-phase-2/laureates/1")].documents[0]["locator"] == "introduction"
    awards = [f for (role, _), f in got.items() if role == "b"]
    assert len(awards) == 15 and all(f.documents[0]["document"].endswith("/chorum-ami-2021") for f in awards)
