"""Audit: every quoted passage of the curated tables occurs in the document it cites.

The seeds (the cited public documents) are read from `../shared/seeds/` beside the project when that folder
is there; otherwise the passage tests are skipped, saying so. Documents without a seed (web pages) are
out of this test: their rows state facts in the project's words with the page's address.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ingest.passages import SEEDS_DIR, document_texts, missing_pieces, normalise, pieces

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "ingest" / "registry"
PROGRAMMES = ROOT / "ingest" / "programmes"
# every table with a `source` (document ids, |-separated) and a `passage` column
TABLES = [REGISTRY / n for n in ("ptce.csv", "members.csv", "organisations.csv", "awards.csv", "charters.csv",
                                 "statements.csv")] + [PROGRAMMES / "programmes.csv", PROGRAMMES / "statements.csv"]

needs_seeds = pytest.mark.skipif(not SEEDS_DIR.is_dir(),
                                 reason=f"seeds folder {SEEDS_DIR} absent: passages not audited")


def read(path: Path) -> list[tuple[int, dict]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return [(reader.line_num, row) for row in reader]


def documents() -> dict[str, dict]:
    return {row["id"]: row for _, row in read(REGISTRY / "documents.csv")}


def quoted_rows():
    """(table:line, document ids, passage) of every row quoting a passage."""
    for path in TABLES:
        if not path.exists():
            continue
        for line, row in read(path):
            if (row.get("passage") or "").strip():
                yield f"{path.relative_to(ROOT)}:{line}", [d for d in row["source"].split("|") if d], row["passage"]


def test_seed_column_names_existing_files_once():
    seeds = [d["seed"] for d in documents().values() if d["seed"]]
    assert len(seeds) == len(set(seeds)) >= 5
    if SEEDS_DIR.is_dir():
        assert sorted(seeds) == sorted(p.name for p in SEEDS_DIR.glob("*.txt"))


def test_every_document_has_a_seed_or_an_address():
    assert [d["id"] for d in documents().values() if not (d["seed"] or d["url"])] == []


def test_no_row_mixes_a_seed_and_a_web_page():
    """A passage is checked against its seed: a row citing a seed and a web page could not be audited."""
    docs = documents()
    mixed = [where for where, ids, _ in quoted_rows()
             if len({bool(docs[d]["seed"]) for d in ids}) > 1]
    assert mixed == []


def test_normalisation():
    assert normalise("l’ESS  «\u00a0bio\u00a0»\n*Juratri*") == 'l\'ESS"bio"Juratri'
    assert pieces("a […] b [...] c […]") == ["a", "b", "c"]
    assert missing_pieces("intégralement répartie", document_texts("intégra-\nlement répartie")) == []


@needs_seeds
def test_every_quoted_passage_occurs_in_its_seed():
    docs = documents()
    texts = {d["id"]: document_texts((SEEDS_DIR / d["seed"]).read_text(encoding="utf-8"))
             for d in docs.values() if d["seed"]}
    checked, failures = 0, []
    for where, ids, passage in quoted_rows():
        seeded = [d for d in ids if d in texts]
        if not seeded:
            continue
        checked += 1
        missing = missing_pieces(passage, [t for d in seeded for t in texts[d]])
        if missing:
            failures.append(f"{where} ({'|'.join(seeded)}): not found: {missing}")
    assert checked > 100
    # the check is not vacuous: a changed word is caught
    assert missing_pieces("Le PTCE implique 41 partenaires", texts["edd-ptce-leviers"])
    assert failures == [], "\n".join(failures)
