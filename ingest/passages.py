"""Quoted passages and the documents they come from: how a passage is matched against its seed.

The curated tables quote passages of the public documents of `../shared/seeds/` (documents.csv names the
seed file of each document in its `seed` column; web pages have none). A passage is one or more pieces
joined by the ellipsis `[…]`; each piece must occur in the cited document once both are normalised:

- Unicode NFKC; apostrophes (’ ‘ ʼ ´ `) become ', quotes (“ ” « » „) become ", dashes (– — ‑) become -;
- emphasis marks (`*`, `_` around words, as in the markdown of the seeds) are dropped;
- the private-use bullets of the PDF extractions are dropped; all whitespace, line breaks included,
  becomes one space; a word hyphenated across a line break (`intégra-\nlement`) is also tried joined.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
SEEDS_DIR = PROJECT.parent / "shared" / "seeds"
ELLIPSIS = re.compile(r"\[\s*(?:…|\.\.\.)\s*\]")

_TRANSLATE = str.maketrans({
    "’": "'", "‘": "'", "ʼ": "'", "´": "'", "`": "'",
    "“": '"', "”": '"', "«": '"', "»": '"', "„": '"',
    "–": "-", "—": "-", "‑": "-", "\u00ad": None,
    "*": None, "\ufffd": None,
})
_PRIVATE_USE = re.compile(r"[\ue000-\uf8ff]")
_EMPHASIS = re.compile(r"(?<!\w)_+|_+(?!\w)")
_SPACE = re.compile(r"\s+")
_SPACE_AROUND_QUOTES = re.compile(r'\s*"\s*')


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    text = _PRIVATE_USE.sub(" ", text)
    text = _EMPHASIS.sub("", text)
    text = _SPACE.sub(" ", text)
    # « guillemets » carry spaces inside in French typography, "quotes" do not: no space around a quote
    return _SPACE_AROUND_QUOTES.sub('"', text).strip()


def document_texts(raw: str) -> list[str]:
    """The normalised text of a document, as written and with words hyphenated at a line break joined."""
    joined = re.sub(r"(\w)-[ \t]*\n\s*(\w)", r"\1\2", raw)
    return [normalise(raw), normalise(joined)]


def pieces(passage: str) -> list[str]:
    """The pieces of a passage joined by `[…]`, normalised; empty pieces (leading or trailing `[…]`) dropped."""
    return [p for p in (normalise(x) for x in ELLIPSIS.split(passage)) if p]


def missing_pieces(passage: str, texts: list[str]) -> list[str]:
    """The pieces of `passage` found in none of `texts` (normalised document texts)."""
    return [p for p in pieces(passage) if not any(p in t for t in texts)]
