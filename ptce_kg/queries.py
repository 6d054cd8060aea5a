"""The research questions of queries/: .rq files whose header comment gives title and description.

Header format (French first, English second):
    # title: PTCE par région
    # title-en: PTCE per region
    # description: …
    # description-en: …
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .config import QUERIES_DIR
from .iris import read_query


@dataclass(frozen=True)
class QueryFile:
    name: str
    path: Path
    text: str
    meta: dict[str, str]

    @property
    def title(self) -> str:
        return self.meta.get("title", self.name)

    @property
    def title_en(self) -> str:
        return self.meta.get("title-en", self.title)

    @property
    def description(self) -> str:
        return self.meta.get("description", "")

    @property
    def description_en(self) -> str:
        return self.meta.get("description-en", self.description)


def rows(store, text: str, *, union: bool = True) -> list[dict]:
    """A SELECT's solutions as {variable: lexical value or None} (for pages and reports)."""
    result = store.query(text, use_default_graph_as_union=True) if union else store.query(text)
    names = [v.value for v in result.variables]
    return [{n: (row[n].value if row[n] is not None else None) for n in names} for row in result]


def parse_header(text: str) -> dict[str, str]:
    meta: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            if stripped:
                break
            continue
        body = stripped.lstrip("#").strip()
        key, sep, value = body.partition(":")
        if sep and key.strip() and " " not in key.strip():
            meta[key.strip().lower()] = value.strip()
    return meta


def load(path: Path) -> QueryFile:
    text = read_query(path)
    return QueryFile(path.stem, path, text, parse_header(text))


def all_queries(folder: Path = QUERIES_DIR) -> list[QueryFile]:
    return [load(p) for p in sorted(folder.glob("*.rq"))]


def find(name_or_path: str, folder: Path = QUERIES_DIR) -> QueryFile | None:
    """A query by file path, or by name (with or without .rq) in queries/."""
    path = Path(name_or_path)
    if path.is_file():
        return load(path)
    candidate = folder / (name_or_path if name_or_path.endswith(".rq") else name_or_path + ".rq")
    return load(candidate) if candidate.is_file() else None
