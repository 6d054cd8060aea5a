"""Full-text search over the graph: a SQLite FTS5 index built from the published store, never a source.

The index holds, for each PTCE, organisation, territory (commune, EPCI, département, région), funding
programme and NAF code, its labels (preferred, alternative, acronyms), description and identifiers (SIREN,
INSEE code, postal codes, NAF and programme codes), and a little context (a PTCE's perimeter, an EPCI's
communes, a commune's département) so that a name of a place finds what lies there.

Text is analysed in Python before SQLite sees it, the same way for what is indexed and what is asked:
accents and case folded (NFKD), apostrophes and hyphens as separators — plus a joined form of a word with an
apostrophe, so that "cluster" finds « Clus'Ter » —, a few French stop words dropped, each word reduced by
the Snowball French stemmer (PyPI `snowballstemmer`). FTS5 (stdlib sqlite3) then matches the stems with its
`unicode61 remove_diacritics 2` tokenizer and ranks by bm25 with a weight per column.

Where the index lives: `<store root>/search/<build id>.sqlite`, one file per build, written by the build
beside the new store before the CURRENT pointer switches (ptce_kg.build), so a reader that sees a build sees
its index. A build without one (an authorised update, a build older than the index) gets it built from the
graph on first use, written aside and renamed into place.
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path

import snowballstemmer

from . import iris

SCHEMA_VERSION = 2
DIR = "search"

# Internal type name -> (class IRIs, French label, English label)
DEF = iris.DEF
TYPES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "ptce": ((DEF + "PTCE",), "PTCE", "PTCE"),
    "organisation": ((DEF + "Organisation",), "Organisation", "Organisation"),
    "commune": ((DEF + "Commune", DEF + "CommuneOutreMer"), "Commune", "Commune"),
    "epci": ((DEF + "EPCI",), "EPCI", "EPCI"),
    "departement": ((DEF + "Departement",), "Département", "Département"),
    "region": ((DEF + "Region",), "Région", "Région"),
    "programme": ((DEF + "FundingProgramme",), "Programme", "Programme"),
    "naf": (("http://www.w3.org/2004/02/skos/core#Concept",), "Code NAF", "NAF code"),
}
# A small prior per type, so that a PTCE named like its carrier comes first on a tie.
PRIOR = {"ptce": 1.5, "organisation": 1.2, "programme": 1.2, "region": 1.1, "departement": 1.1, "epci": 1.05,
         "commune": 1.0, "naf": 0.9}
# bm25 weights of the columns label, alt, ident, description, context
WEIGHTS = (10.0, 6.0, 8.0, 1.0, 0.6)
CANDIDATES = 150  # rows ranked by bm25 before the final ordering
BROAD = 1000  # more matches than this: ranked by weight (type prior, population, short name), not bm25


def weight(kind: str, population: int, label: str) -> float:
    """A resource's static weight, for broad queries: its type's prior, its population, a short name."""
    return round(PRIOR.get(kind, 1.0) + math.log10(1 + population) / 2 + 1 / (1 + len(label)), 4)

STOP = {"le", "la", "les", "l", "de", "des", "du", "d", "et", "en", "au", "aux", "un", "une", "a", "the", "of",
        "and", "sur", "pour", "par"}
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*", re.UNICODE)
_stemmer = snowballstemmer.stemmer("french")
_stem_lock = threading.Lock()  # the generated stemmers keep state between calls


def fold(text: str) -> str:
    """Lower case, no accents, typographic apostrophes as "'" (ligatures œ/æ spelt out)."""
    text = text.replace("\u2019", "'").replace("\u02bc", "'").replace("`", "'").replace("œ", "oe").replace(
        "Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    if any(c.isdigit() for c in word):  # codes and numbers are kept as they are
        return word
    with _stem_lock:
        return _stemmer.stemWord(word)


def words(text: str) -> list[str]:
    """Folded words of a text, apostrophes splitting them (« l'Oise » -> l, oise)."""
    return [w for chunk in _WORD.findall(fold(text)) for w in chunk.split("'") if w]


def analyse(text: str, *, joined: bool = True) -> list[str]:
    """The stems FTS5 indexes or looks for: split words, stop words dropped, each stemmed; a word written
    with an apostrophe also gives its joined form (« Clus'Ter » -> clus, ter, cluster)."""
    out = []
    for chunk in _WORD.findall(fold(text)):
        parts = [p for p in chunk.split("'") if p]
        out.extend(stem(p) for p in parts if p not in STOP)
        if joined and len(parts) > 1 and len(parts[0]) > 1:  # « d'Azur » is not « dazur »
            out.append(stem("".join(parts)))
    return out


def compact(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", fold(text))


KEY_SEP = "\x1f"


def name_key(text: str) -> str:
    """A name as exact-name comparisons see it: folded words, one space apart."""
    return " ".join(words(text))


# -- building ----------------------------------------------------------------------------------------

# The SPARQL of the index (ptce_kg/search_index/*.rq), read for this deployment's base IRI.
QUERIES = Path(__file__).resolve().parent / "search_index"

# What each column takes, by property.
_FIELDS = {
    "http://www.w3.org/2000/01/rdf-schema#label": "label",
    "http://www.w3.org/2004/02/skos/core#prefLabel": "label",
    "http://www.w3.org/2004/02/skos/core#altLabel": "alt",
    "http://www.w3.org/2004/02/skos/core#hiddenLabel": "alt",
    "http://www.w3.org/ns/regorg#legalName": "alt",
    "http://purl.org/dc/terms/description": "description",
    "http://www.w3.org/2004/02/skos/core#notation": "ident",
    "http://purl.org/dc/terms/identifier": "ident",
    DEF + "siren": "ident",
    DEF + "postalCode": "postal",
    "http://rdf.insee.fr/def/geo#codeINSEE": "ident",
}

def _rows(store, text: str) -> Iterable[tuple]:
    result = store.query(text, use_default_graph_as_union=True)
    names = [v.value for v in result.variables]
    for row in result:
        yield tuple(row[n] for n in names)


@dataclass
class _Entity:
    iri: str
    type: str
    label_fr: str = ""
    label_en: str = ""
    labels: list[str] = field(default_factory=list)
    alt: list[str] = field(default_factory=list)
    ident: list[str] = field(default_factory=list)
    description: list[str] = field(default_factory=list)
    context: list[str] = field(default_factory=list)
    postal: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    population: int = 0


def collect(store) -> list[_Entity]:
    """Every searchable resource of the graph with its text, read with SPARQL (either back end)."""
    entities: dict[str, _Entity] = {}
    naf = iris.code_iri("naf", "")  # the NAF codes among the SKOS concepts of every code list
    for name, (classes, _, _) in TYPES.items():
        for s, p, o in _rows(store, iris.with_values(iris.read_query(QUERIES / "literals.rq"), "class", list(classes))):
            if name == "naf" and not s.value.startswith(naf):
                continue
            entity = entities.get(s.value)
            if entity is None:
                entity = entities[s.value] = _Entity(s.value, name)
            column = _FIELDS[p.value]
            value = o.value
            lang = getattr(o, "language", None)
            if column == "label":
                if lang == "en" and not entity.label_en:
                    entity.label_en = value
                elif lang != "en" and not entity.label_fr:
                    entity.label_fr = value
                if value not in entity.labels:
                    entity.labels.append(value)
            elif column == "alt" and name == "naf" and lang == "en":
                continue  # "NAF rev. 2 sub-class 43.22A": the code is indexed as an identifier already
            else:
                bucket = getattr(entity, column)
                if value not in bucket:
                    bucket.append(value)
    for s, t in _rows(store, iris.read_query(QUERIES / "places.rq")):
        if s.value in entities:
            entities[s.value].places.append(t.value)
    for s, name in _rows(store, iris.read_query(QUERIES / "context.rq")):
        if s.value in entities and name.value not in entities[s.value].context:
            entities[s.value].context.append(name.value)
    for s, siren in _rows(store, iris.read_query(QUERIES / "siren-of-match.rq")):
        if s.value in entities and siren.value not in entities[s.value].ident:
            entities[s.value].ident.append(siren.value)
    for s, n in _rows(store, iris.read_query(QUERIES / "population.rq")):
        if s.value in entities:
            try:
                entities[s.value].population = int(n.value)
            except ValueError:
                pass
    out = sorted(entities.values(), key=lambda e: e.iri)  # same input, same index
    for e in out:
        e.label_fr = e.label_fr or e.label_en or (e.labels[0] if e.labels else e.iri.rsplit("/", 1)[-1])
        e.label_en = e.label_en or e.label_fr
        e.places.sort()
    return out


def _ident_text(values: list[str]) -> str:
    tokens = []
    for v in values:
        tokens.extend(analyse(v, joined=False))
        c = compact(v)
        if c:
            tokens.append(c)
    return " ".join(tokens)


def write_index(entities: list[_Entity], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    try:
        db.executescript("""
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
            CREATE TABLE entity (id INTEGER PRIMARY KEY, iri TEXT UNIQUE NOT NULL, type TEXT NOT NULL,
                                 label_fr TEXT, label_en TEXT, names TEXT, ident TEXT, description TEXT,
                                 places TEXT, population INTEGER, weight REAL, keys TEXT);
            CREATE INDEX entity_type ON entity(type);
            CREATE TABLE place (entity INTEGER NOT NULL, territory TEXT NOT NULL);
            CREATE INDEX place_territory ON place(territory);
            CREATE INDEX place_entity ON place(entity);
            CREATE VIRTUAL TABLE fts USING fts5(label, alt, ident, description, context,
                tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4', detail = 'column');
        """)
        db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        for number, e in enumerate(entities, start=1):
            names = list(dict.fromkeys(e.labels + e.alt))
            db.execute("INSERT INTO entity VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                       (number, e.iri, e.type, e.label_fr, e.label_en, json.dumps(names, ensure_ascii=False),
                        json.dumps(e.ident), " ".join(e.description)[:1000], json.dumps(e.places), e.population,
                        weight(e.type, e.population, e.label_fr),
                        KEY_SEP + KEY_SEP.join([name_key(n) for n in names] + [compact(i) for i in e.ident]) + KEY_SEP))
            db.executemany("INSERT INTO place VALUES (?,?)", [(number, t) for t in e.places])
            db.execute("INSERT INTO fts(rowid, label, alt, ident, description, context) VALUES (?,?,?,?,?,?)",
                       (number, " ".join(t for v in e.labels for t in analyse(v)),
                        " ".join(t for v in e.alt for t in analyse(v)), _ident_text(e.ident),
                        " ".join(t for v in e.description for t in analyse(v)),
                        " ".join([t for v in e.context for t in analyse(v)] + e.postal)))
        db.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        db.commit()
    finally:
        db.close()
    os.replace(tmp, path)


def index_path(root, build_name: str) -> Path:
    return Path(root.path) / DIR / f"{build_name}.sqlite"


def build_index(store, root, build_name: str) -> Path:
    """Write the index of a build from its store; drop the indexes of builds that are gone."""
    path = index_path(root, build_name)
    write_index(collect(store), path)
    builds = Path(root.path) / "builds"
    if builds.is_dir():
        for old in path.parent.glob("*.sqlite"):
            if old.stem != build_name and not (builds / old.stem).is_dir():
                old.unlink(missing_ok=True)
    return path


# -- reading -----------------------------------------------------------------------------------------

@dataclass
class Hit:
    iri: str
    type: str
    label_fr: str
    label_en: str
    names: list[str]
    ident: list[str]
    description: str
    places: list[str]
    score: float
    population: int = 0
    keys: str = ""  # folded names and compact identifiers, each between KEY_SEP

    def label(self, lang: str = "fr") -> str:
        return self.label_en if lang == "en" else self.label_fr


@dataclass
class Results:
    hits: list[Hit]
    total: int
    facets: dict[str, int]
    stems: list[str]
    prefix: str | None = None


def fts_query(stems: list[str], *, any_word: bool = False, prefix_last: bool = False,
              column: str | None = None) -> str:
    terms = [f'"{s}"' for s in stems]
    if prefix_last and terms:
        terms[-1] += "*"
    text = (" OR " if any_word else " AND ").join(terms)
    return f"{column} : ({text})" if column else text


class SearchIndex:
    """One build's index, read-only; safe to share between threads."""

    def __init__(self, path: Path):
        self.path = path
        self._db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def _all(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _hits(self, match: str, types: Iterable[str] | None, limit: int, broad: bool = False) -> list[Hit]:
        """The best `limit` matches by bm25 or, for a broad query (thousands of matches, where bm25 would cost
        tens of milliseconds and say little more than "short name"), by the resource's static weight."""
        types = [t for t in (types or ()) if t in TYPES]
        where = f" AND e.type IN ({','.join('?' * len(types))})" if types else ""
        rank = "-e.weight" if broad else f"bm25(fts, {', '.join(map(str, WEIGHTS))})"
        rows = self._all(
            "SELECT e.iri, e.type, e.label_fr, e.label_en, e.names, e.ident, e.description, e.places, "
            f"e.population, {rank} AS r, e.keys FROM fts JOIN entity e ON e.id = fts.rowid "
            f"WHERE fts MATCH ?{where} ORDER BY r LIMIT ?", (match, *types, limit))
        return [Hit(iri, typ, fr, en, json.loads(names), json.loads(ident), desc or "", json.loads(places), -r, pop,
                    keys) for iri, typ, fr, en, names, ident, desc, places, pop, r, keys in rows]

    def facets(self, match: str) -> tuple[int, dict[str, int]]:
        rows = self._all("SELECT e.type, COUNT(*) FROM fts JOIN entity e ON e.id = fts.rowid WHERE fts MATCH ? "
                         "GROUP BY e.type", (match,))
        counts = {t: n for t, n in rows}
        return sum(counts.values()), counts

    def search(self, q: str, *, types: Iterable[str] | None = None, limit: int = 20, offset: int = 0,
               prefix: bool = False) -> Results:
        """Ranked matches of every word of q (the last one as a prefix when `prefix`, or when nothing
        matches it whole); when no resource has them all, resources with any of them. Scores are bm25
        (higher is better) with a type prior, or for a broad query the resource's weight, doubled for an
        exact name or identifier."""
        stems = analyse(q, joined=False)
        if not stems:
            return Results([], 0, {}, [])
        match = fts_query(stems, prefix_last=prefix)
        total, facets = self.facets(match)
        if not total and not prefix and len(stems[-1]) >= 2:  # a word cut short: read it as a prefix
            prefix = True
            match = fts_query(stems, prefix_last=True)
            total, facets = self.facets(match)
        last = stems[-1] if prefix else None
        if not total and len(stems) > 1:
            match = fts_query(stems, any_word=True, prefix_last=prefix)
            total, facets = self.facets(match)
        types = list(types or ())
        broad = total > BROAD
        # a broad query ranks what has the words in a name or identifier first (not in its context)
        named = f"{{label alt ident}} : ({match})" if broad else match
        hits = self._hits(named, types, max(CANDIDATES, offset + limit), broad)
        if broad and len(hits) < offset + limit:
            seen = {h.iri for h in hits}
            for h in self._hits(match, types, max(CANDIDATES, offset + limit), broad):
                if h.iri not in seen:
                    h.score /= 2  # matched in its context only: after the names
                    hits.append(h)
        wanted = (KEY_SEP + name_key(q) + KEY_SEP, KEY_SEP + compact(q) + KEY_SEP)
        for hit in hits:
            exact = wanted[0] in hit.keys or wanted[1] in hit.keys
            base = hit.score if broad else hit.score * PRIOR.get(hit.type, 1.0) + math.log10(1 + hit.population) / 10
            hit.score = round(base * (2.0 if exact else 1.0), 4)
        hits.sort(key=lambda h: (-h.score, h.label_fr, h.iri))
        shown_total = sum(facets.get(t, 0) for t in types) if types else total
        return Results(hits[offset:offset + limit], shown_total, facets, stems, last)

    def by_identifier(self, value: str, types: Iterable[str] | None = None) -> list[Hit]:
        key = compact(value)
        if not key:
            return []
        hits = self._hits(fts_query([key], column="ident"), types, 50)
        return [h for h in hits if key in (compact(i) for i in h.ident)]

    def get(self, iris: Iterable[str]) -> dict[str, Hit]:
        iris = list(iris)
        out = {}
        for start in range(0, len(iris), 500):
            chunk = iris[start:start + 500]
            for iri, typ, fr, en, names, ident, desc, places, pop in self._all(
                    "SELECT iri, type, label_fr, label_en, names, ident, description, places, population FROM entity "
                    f"WHERE iri IN ({','.join('?' * len(chunk))})", tuple(chunk)):
                out[iri] = Hit(iri, typ, fr, en, json.loads(names), json.loads(ident), desc or "", json.loads(places),
                               0.0, pop)
        return out


def similarity(query: str, names: Iterable[str]) -> float:
    """0–1: how alike a name given and the best of a resource's names are, after folding: 1 for the same
    letters and digits, else the best of the character sequence ratio, 0.9 × the overlap of their stems (the
    same words in another order or form) and 0.8 × the share of the words asked that the name has (a short
    form of a longer name)."""
    asked = " ".join(words(query))
    asked_stems = set(analyse(query, joined=False))
    best = 0.0
    for name in names:
        folded = " ".join(words(name))
        if compact(asked) == compact(folded):
            return 1.0
        stems = set(analyse(name, joined=False)) | set(analyse(name))
        union = asked_stems | stems
        overlap = len(asked_stems & stems) / len(union) if union else 0.0
        contained = len(asked_stems & stems) / len(asked_stems) if asked_stems else 0.0
        best = max(best, SequenceMatcher(None, asked, folded).ratio(), 0.9 * overlap, 0.8 * contained)
    return best


# -- the published build's index --------------------------------------------------------------------

_open: dict[str, SearchIndex] = {}
_open_lock = threading.Lock()


def _schema(path: Path) -> int | None:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return int(db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0])
        finally:
            db.close()
    except (sqlite3.Error, TypeError, ValueError):
        return None


def for_root(root) -> SearchIndex | None:
    """The index of the published build of a StoreRoot or RemoteRoot, built from the graph if the build has
    none yet (an authorised update); None when nothing is published."""
    name = root.current_name()
    if not name:
        return None
    path = index_path(root, name)
    key = str(path)
    with _open_lock:
        index = _open.get(key)
        if index is not None:
            return index
        if not path.is_file() or _schema(path) != SCHEMA_VERSION:  # none yet, or written by another version
            build_index(root.open_read(), root, name)
        for old in list(_open):  # one open index per root: the previous build's is let go (requests still
            if Path(old).parent == path.parent:  # reading it keep it open until they are done)
                del _open[old]
        index = _open[key] = SearchIndex(path)
        return index


def highlight(text: str, stems: Iterable[str], prefix: str | None = None) -> list[tuple[str, bool]]:
    """The text cut into (piece, matched) pieces: a word is matched when its stem is one asked for (or,
    for the word being typed, starts with it)."""
    wanted = set(stems)
    pieces: list[tuple[str, bool]] = []
    at = 0
    for m in re.finditer(r"[^\W_]+(?:['\u2019][^\W_]+)*", text):
        parts = [stem(fold(p)) for p in re.split(r"['\u2019]", m.group()) if p]
        joined = stem(fold(re.sub(r"['\u2019]", "", m.group())))
        hit = (any(p in wanted for p in parts) or joined in wanted or compact(m.group()) in wanted
               or bool(prefix and (joined.startswith(prefix) or any(p.startswith(prefix) for p in parts))))
        if hit:
            if m.start() > at:
                pieces.append((text[at:m.start()], False))
            pieces.append((m.group(), True))
            at = m.end()
    if at < len(text):
        pieces.append((text[at:], False))
    return pieces


# -- in SPARQL: SERVICE <https://w3id.org/ptce-kg/search> { … } answered by the endpoint itself ------------

SERVICE_IRI = iris.SEARCH_SERVICE
SEARCH_NS = iris.SEARCH
SPARQL_LIMIT, SPARQL_MAX_LIMIT = 100, 1000
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


class SearchPatternError(ValueError):
    """A SERVICE <…/search> block the endpoint cannot read (its message says what is expected)."""


_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def _unquote(token: str) -> str:
    """A SPARQL string token's value (its escapes decoded)."""
    body = token[3:-3] if token[:3] in ('"""', "'''") else token[1:-1]
    return re.sub(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)",
                  lambda m: chr(int(m.group(1)[1:], 16)) if m.group(1)[0] in "uU" and len(m.group(1)) > 1
                  else _ESCAPES.get(m.group(1), m.group(1)), body)


def expand_service(text: str, index: "SearchIndex | None") -> str:
    """The query with each `SERVICE <https://w3id.org/ptce-kg/search> { ?r search:query "…" ; … }` block
    replaced by a `VALUES` block of the matches (resource and score), so that any SPARQL 1.1 engine — the
    embedded store or a remote server — joins them with the rest of the query. Other text is left as it is
    (other SERVICE calls meet the guard as before). `index` None (nothing built): no match."""
    if "search" not in text:  # the service's IRI, or a prefixed name of it, always has these letters
        return text
    from .sparql_guard import tokens as sparql_tokens

    toks = sparql_tokens(text)
    prefixes: dict[str, str] = {}
    for i, tok in enumerate(toks[:-2]):
        if tok.kind == "word" and tok.text.upper() == "PREFIX" and toks[i + 1].kind == "pname" \
                and toks[i + 2].kind == "iri":
            prefixes[toks[i + 1].text.rstrip(":")] = toks[i + 2].text[1:-1]

    def iri(tok) -> str | None:
        if tok.kind == "iri":
            return tok.text[1:-1]
        if tok.kind == "pname":
            prefix, local = tok.text.split(":", 1)
            return prefixes[prefix] + local if prefix in prefixes else None
        return None

    blocks: list[tuple[int, int, str]] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok.kind == "word" and tok.text.upper() == "SERVICE":
            j = i + 1
            if j < len(toks) and toks[j].kind == "word" and toks[j].text.upper() == "SILENT":
                j += 1
            if j < len(toks) and iri(toks[j]) == SERVICE_IRI:
                end, values = _read_block(toks, j + 1, iri, index)
                blocks.append((tok.offset, end, values))
                i = j
        i += 1
    for start, end, values in reversed(blocks):
        text = text[:start] + values + text[end:]
    return text


def _read_block(toks, at: int, iri, index) -> tuple[int, str]:
    expected = ('expected { ?resource search:query "text" ; search:score ?score } (and optionally '
                'search:type "ptce"|"organisation"|"commune"|"epci"|"departement"|"region"|"programme"|"naf" '
                'and search:limit n)')
    if at >= len(toks) or toks[at].text != "{":
        raise SearchPatternError(expected)
    subject = None
    query = None
    score = None
    types: list[str] = []
    limit = SPARQL_LIMIT
    i = at + 1
    while i < len(toks) and toks[i].text != "}":
        tok = toks[i]
        if tok.kind == "var":
            if subject is not None and tok.text[1:] != subject:
                raise SearchPatternError("one resource variable per search block / une seule variable de ressource")
            subject = tok.text[1:]
            i += 1
            continue
        if tok.text in (";", "."):
            i += 1
            continue
        prop = iri(tok)
        if subject is None or prop is None or not prop.startswith(SEARCH_NS) or i + 1 >= len(toks):
            raise SearchPatternError(expected)
        name, obj = prop[len(SEARCH_NS):], toks[i + 1]
        i += 2
        if i < len(toks) and toks[i].kind == "langtag":
            i += 1
        elif i + 1 < len(toks) and toks[i].text == "^^":
            i += 2
        if name == "query" and obj.kind == "string":
            query = _unquote(obj.text)
        elif name == "type" and obj.kind == "string" and _unquote(obj.text) in TYPES:
            types.append(_unquote(obj.text))
        elif name == "type" and obj.kind in ("iri", "pname") and iri(obj) in CLASS_TYPES:
            types.append(CLASS_TYPES[iri(obj)])
        elif name == "limit" and obj.kind == "number" and obj.text.isdigit():
            limit = min(int(obj.text), SPARQL_MAX_LIMIT)
        elif name == "score" and obj.kind == "var":
            score = obj.text[1:]
        else:
            raise SearchPatternError(f"search:{name}: " + expected)
    if i >= len(toks) or subject is None or not query:
        raise SearchPatternError(expected)
    end = toks[i].offset + 1
    hits = index.search(query, types=types, limit=limit).hits if index is not None else []
    if score:
        rows = " ".join(f"(<{h.iri}> {h.score:.4f})" for h in hits)
        return end, f"VALUES (?{subject} ?{score}) {{ {rows} }}"
    return end, f"VALUES ?{subject} {{ {' '.join(f'<{h.iri}>' for h in hits)} }}"


CLASS_TYPES = {c: name for name, (classes, _, _) in TYPES.items() for c in classes if name != "naf"}
