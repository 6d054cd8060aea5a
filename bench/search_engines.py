"""`python -m bench.search_engines [--store DIR] [--reps 100]`: SQLite FTS5 beside tantivy on the same documents.

Both engines get the documents of ptce_kg/search.py (the same resources, columns and analysed text: folded,
split, stemmed in Python), so what differs is the engine: index build time and size, and the time to find the
150 best matches by bm25 (with the same column weights) and count all of them, for each query of
bench/search.py's list. tantivy (PyPI `tantivy`, Python bindings of the Rust engine) is not a dependency of
the project: `pip install tantivy` first (the last run used 0.27.0). Prints a Markdown table. Not a test.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.search import QUERIES, pct  # noqa: E402

COLUMNS = ("label", "alt", "ident", "description", "context")


def documents(store) -> list[dict]:
    from ptce_kg import search

    docs = []
    for e in search.collect(store):
        docs.append({"label": " ".join(t for v in e.labels for t in search.analyse(v)),
                     "alt": " ".join(t for v in e.alt for t in search.analyse(v)),
                     "ident": search._ident_text(e.ident),
                     "description": " ".join(t for v in e.description for t in search.analyse(v)),
                     "context": " ".join([t for v in e.context for t in search.analyse(v)] + e.postal),
                     "type": e.type})
    return docs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search_engines")
    parser.add_argument("--store", default=str(ROOT / "var" / "store"))
    parser.add_argument("--reps", type=int, default=100)
    args = parser.parse_args(argv)
    import sqlite3

    import tantivy

    from ptce_kg import search
    from ptce_kg.store import StoreRoot

    docs = documents(StoreRoot(args.store).open_read())
    work = Path(tempfile.mkdtemp(prefix="engines-"))
    try:
        # SQLite FTS5, as ptce_kg/search.py writes it
        t0 = time.perf_counter()
        db = sqlite3.connect(work / "fts.sqlite")
        db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
                         "CREATE VIRTUAL TABLE fts USING fts5(label, alt, ident, description, context, "
                         "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4', detail = 'column');")
        db.executemany("INSERT INTO fts(rowid, label, alt, ident, description, context) VALUES (?,?,?,?,?,?)",
                       [(n, *(d[c] for c in COLUMNS)) for n, d in enumerate(docs, start=1)])
        db.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        db.commit()
        fts_build = time.perf_counter() - t0
        fts_size = (work / "fts.sqlite").stat().st_size
        weights = ", ".join(map(str, search.WEIGHTS))

        def fts(stems):
            match = search.fts_query(stems)
            db.execute(f"SELECT rowid, bm25(fts, {weights}) AS r FROM fts WHERE fts MATCH ? ORDER BY r LIMIT 150",
                       (match,)).fetchall()
            db.execute("SELECT COUNT(*) FROM fts WHERE fts MATCH ?", (match,)).fetchone()

        # tantivy, same documents, whitespace tokens (the text is analysed already)
        t0 = time.perf_counter()
        builder = tantivy.SchemaBuilder()
        for column in COLUMNS:
            builder.add_text_field(column, stored=False, tokenizer_name="whitespace")
        builder.add_text_field("type", stored=True, tokenizer_name="raw")
        builder.add_unsigned_field("id", stored=True)
        (work / "tantivy").mkdir()
        index = tantivy.Index(builder.build(), path=str(work / "tantivy"))
        writer = index.writer(heap_size=200_000_000, num_threads=1)
        for n, d in enumerate(docs, start=1):
            writer.add_document(tantivy.Document(id=n, **d))
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        tantivy_build = time.perf_counter() - t0
        tantivy_size = sum(p.stat().st_size for p in (work / "tantivy").rglob("*") if p.is_file())
        searcher = index.searcher()
        boosts = dict(zip(COLUMNS, search.WEIGHTS))

        def tan(stems):
            query = index.parse_query(" ".join("+" + s for s in stems), list(COLUMNS), field_boosts=boosts)
            return searcher.search(query, limit=150, count=True).count

        lines = ["| query | matches | FTS5 p50 ms | FTS5 p95 ms | tantivy p50 ms | tantivy p95 ms |", "|---|---:|---:|---:|---:|---:|"]
        for q in QUERIES:
            stems = search.analyse(q, joined=False)
            count = db.execute("SELECT COUNT(*) FROM fts WHERE fts MATCH ?", (search.fts_query(stems),)).fetchone()[0]
            assert tan(stems) == count, (q, tan(stems), count)  # the same matches
            times = {}
            for name, fn in (("fts", fts), ("tantivy", tan)):
                fn(stems)
                spent = []
                for _ in range(args.reps):
                    t = time.perf_counter()
                    fn(stems)
                    spent.append((time.perf_counter() - t) * 1000)
                times[name] = spent
            lines.append(f"| {q} | {count} | {pct(times['fts'], .5):.2f} | {pct(times['fts'], .95):.2f} | "
                         f"{pct(times['tantivy'], .5):.2f} | {pct(times['tantivy'], .95):.2f} |")
        print(f"{len(docs)} documents. Build: FTS5 {fts_build:.1f} s, {fts_size / 1e6:.1f} MB; tantivy "
              f"{tantivy_build:.1f} s, {tantivy_size / 1e6:.1f} MB (analysis in Python excluded from both).\n")
        print("\n".join(lines))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
