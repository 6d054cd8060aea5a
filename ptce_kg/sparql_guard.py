"""What a SPARQL request asks for, decided from its tokens before any engine sees it.

Oxigraph (pyoxigraph) follows `SERVICE` over HTTP, and its "default graph as union" option silently
replaces a query's own `FROM` clauses. The endpoint therefore reads each request first: is it an update,
which SERVICE endpoints does it call, does it declare its own dataset, and is it small and shallow enough
for the engine's recursive parser and evaluator.

One reading decides: a tokenizer that follows the terminals of the SPARQL 1.1 grammar (§19.8: IRIREF,
prefixed names, variables, the four string forms, numbers, comments) — never a regular expression over the
raw text, which misses keywords glued to other tokens (`1SERVICE`, `trueSERVICE SILENT`: the grammar needs
no space there, and Oxigraph reads them as SERVICE). Keywords are recognised inside any run of letters, so a
glued keyword is seen; a run that cannot be read one way only (`xSERVICEy`, a prefix named `service:`) is
refused, never guessed. Oxigraph decodes `\\u` escapes inside IRIs and strings only, and so does this reader.

Defence in depth: the query workers cannot open network sockets at all (`ptce_kg.sandbox`).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import urljoin

from .errors import InputError

# Limits (defaults; the service reads them from its settings). The parsers and evaluators recurse: past
# these, a query is refused with 400 before a worker sees it.
MAX_QUERY_BYTES = 256 * 1024
MAX_NESTING = 100  # depth of ( { [ together
MAX_OPERATORS = 2000  # operators, path steps, BIND/OPTIONAL/UNION/MINUS/FILTER…: each nests the algebra

_PN_CHARS_BASE = (r"A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D"
                  r"\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\U00010000-\U000EFFFF")
_PN_CHARS_U = _PN_CHARS_BASE + "_"
_PN_CHARS = _PN_CHARS_U + r"\-0-9\u00B7\u0300-\u036F\u203F-\u2040"
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_PN_PREFIX = rf"[{_PN_CHARS_BASE}](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"
_PN_LOCAL = rf"(?:[{_PN_CHARS_U}:0-9]|{_PLX})(?:(?:[{_PN_CHARS}.:]|{_PLX})*(?:[{_PN_CHARS}:]|{_PLX}))?"

# One alternation, tried in this order at each position (the grammar's terminals, longest forms first).
_TOKEN = re.compile(
    r"(?P<ws>[ \t\r\n]+)"
    r"|(?P<comment>#[^\r\n]*)"
    r'|(?P<iri><[^<>"{}|^`\\\x00-\x20]*(?:\\u[0-9A-Fa-f]{4}[^<>"{}|^`\\\x00-\x20]*'
    r'|\\U[0-9A-Fa-f]{8}[^<>"{}|^`\\\x00-\x20]*)*>)'
    r"|(?P<string>'''(?:'{0,2}(?:[^'\\]|\\.))*'''"
    r'|"""(?:"{0,2}(?:[^"\\]|\\.))*"""'
    r"|'(?:[^'\\\n\r]|\\.)*'"
    r'|"(?:[^"\\\n\r]|\\.)*")'
    rf"|(?P<var>[?$](?:[{_PN_CHARS_U}0-9])(?:[{_PN_CHARS_U}0-9\u00B7\u0300-\u036F\u203F-\u2040])*)"
    rf"|(?P<bnode>_:(?:[{_PN_CHARS_U}0-9])(?:[{_PN_CHARS}.]*[{_PN_CHARS}])?)"
    rf"|(?P<pname>(?:{_PN_PREFIX})?:(?:{_PN_LOCAL})?)"
    r"|(?P<langtag>@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*)"
    r"|(?P<number>[+-]?(?:[0-9]+\.[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?"
    r"|[0-9]+(?:[eE][+-]?[0-9]+)?))"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<punct>\^\^|&&|\|\||!=|<=|>=|[{}()\[\];,.*/|^!=<>+\-?])"
    r"|(?P<other>.)",
    re.DOTALL,
)

_UPDATE_KEYWORDS = {"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"}
_QUERY_KEYWORDS = {"SELECT", "CONSTRUCT", "DESCRIBE", "ASK"}
# Words that can reach outside the store or choose the dataset: found inside any run of letters.
_WATCHED = ("SERVICE", "FROM", "USING", "LOAD")
# Tokens that nest the algebra (each one is a level an evaluator may recurse through).
_NESTING_PUNCT = {"&&", "||", "!=", "<=", ">=", "=", "<", ">", "+", "-", "*", "/", "|", "^", "!"}
_NESTING_WORDS = {"BIND", "OPTIONAL", "UNION", "MINUS", "FILTER", "GRAPH", "SERVICE", "EXISTS", "SELECT"}
_OPEN, _CLOSE = set("({["), set(")}]")
_CODEPOINT = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_LOCAL_ESCAPE = re.compile(r"\\(.)")


class QueryRefused(InputError, ValueError):
    """A request the guard will not pass on: `reason` is an InputError reason (the service maps it to HTTP,
    api/errors.py), messages in French and English, `detail` what the parser said."""

    def __init__(self, reason: str, fr: str, en: str, detail: str = ""):
        self.fr, self.en, self.detail = fr, en, detail
        super().__init__(en + (f" ({detail})" if detail else ""), reason)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    offset: int


@dataclass
class Analysis:
    form: str = ""  # the first keyword: SELECT, CONSTRUCT, DESCRIBE, ASK, or an update keyword
    services: list[str] = field(default_factory=list)  # endpoint IRIs; "?variable" for a variable endpoint
    has_dataset_clause: bool = False  # FROM / FROM NAMED (queries) or USING (updates)
    has_load: bool = False
    from_graphs: list[str] = field(default_factory=list)  # FROM <g> / USING <g>
    from_named: list[str] = field(default_factory=list)  # FROM NAMED <g> / USING NAMED <g>
    depth: int = 0
    operators: int = 0

    @property
    def is_update(self) -> bool:
        return self.form in _UPDATE_KEYWORDS


def tokens(text: str) -> list[Token]:
    """The significant tokens of a query or update (whitespace and comments dropped)."""
    found = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind not in ("ws", "comment"):
            found.append(Token(kind, match.group(), match.start()))
    return found


def _decode_iri(token: str) -> str:
    return _CODEPOINT.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), token[1:-1])


class _Reader:
    def __init__(self, text: str, limits: tuple[int, int, int]):
        max_bytes, max_nesting, max_operators = limits
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > max_bytes:
            raise QueryRefused(InputError.TOO_LARGE, f"Requête trop longue ({size} octets ; au plus {max_bytes}).",
                               f"Query too long ({size} bytes; at most {max_bytes}).")
        self.tokens = tokens(text)
        self.limits = (max_nesting, max_operators)
        self.prefixes: dict[str, str] = {}
        self.base = ""

    def iri(self, index: int) -> str | None:
        """The IRI a token names (IRIREF or prefixed name, expanded and resolved), None if it is none."""
        if index >= len(self.tokens):
            return None
        token = self.tokens[index]
        if token.kind == "iri":
            return urljoin(self.base, _decode_iri(token.text)) if self.base else _decode_iri(token.text)
        if token.kind == "pname":
            prefix, local = token.text.split(":", 1)
            if prefix not in self.prefixes:
                return None
            return self.prefixes[prefix] + _LOCAL_ESCAPE.sub(r"\1", local)
        return None


def _glued(word: str, keyword: str) -> tuple[str, str] | None:
    """Split a run of letters around the last occurrence of keyword: (before, after), or None if absent."""
    at = word.upper().rfind(keyword)
    return None if at < 0 else (word[:at], word[at + len(keyword):])


def analyse(text: str, *, max_bytes: int = MAX_QUERY_BYTES, max_nesting: int = MAX_NESTING,
            max_operators: int = MAX_OPERATORS) -> Analysis:
    """Read a query or an update (one grammar of terminals for both): what it calls, which dataset it declares, how deep it nests.

    Raises QueryRefused (MALFORMED or TOO_LARGE) when the text is over a limit or cannot be read one way only."""
    reader = _Reader(text, (max_bytes, max_nesting, max_operators))
    toks = reader.tokens
    result = Analysis()
    depth = 0
    i = 0
    # The prologue: BASE and PREFIX declarations (their IRIs resolve the names used further on).
    while i < len(toks) and toks[i].kind == "word" and toks[i].text.upper() in ("BASE", "PREFIX"):
        if toks[i].text.upper() == "BASE" and i + 1 < len(toks) and toks[i + 1].kind == "iri":
            reader.base = reader.iri(i + 1) or ""
            i += 2
        elif i + 2 < len(toks) and toks[i + 1].kind == "pname" and toks[i + 1].text.endswith(":") \
                and toks[i + 2].kind == "iri":
            reader.prefixes[toks[i + 1].text[:-1]] = reader.iri(i + 2) or ""
            i += 3
        else:
            break
    if i < len(toks) and toks[i].kind == "word":
        result.form = toks[i].text.upper()
    for index, token in enumerate(toks):
        if token.kind == "punct":
            if token.text in _OPEN:
                depth += 1
                result.depth = max(result.depth, depth)
            elif token.text in _CLOSE:
                depth -= 1
            elif token.text in _NESTING_PUNCT:
                result.operators += 1
        elif token.kind == "number" and token.text[0] in "+-":
            result.operators += 1  # 1-1-1…: a signed number is an operator too
        elif token.kind == "word":
            upper = token.text.upper()
            if upper in _NESTING_WORDS:
                result.operators += 1
            if upper in ("PREFIX", "BASE") and index > 0:
                # Updates may repeat the prologue between operations.
                if upper == "BASE" and reader.iri(index + 1):
                    reader.base = reader.iri(index + 1) or ""
                elif index + 2 < len(toks) and toks[index + 1].kind == "pname":
                    reader.prefixes[toks[index + 1].text.rstrip(":")] = reader.iri(index + 2) or ""
            for keyword in _WATCHED:
                split = _glued(token.text, keyword)
                if split is not None:
                    _watched(reader, result, index, keyword, *split)
        elif token.kind == "pname":
            prefix = token.text.split(":", 1)[0].upper()
            if any(keyword in prefix for keyword in _WATCHED):
                raise QueryRefused(InputError.MALFORMED, f"Lecture ambiguë : « {token.text} » (séparez les mots-clés par des espaces).",
                                   f"Ambiguous token: '{token.text}' (separate keywords with spaces).")
    max_nesting, max_operators = reader.limits
    if result.depth > max_nesting:
        raise QueryRefused(InputError.MALFORMED, f"Requête trop imbriquée (plus de {max_nesting} niveaux).",
                           f"Query nested too deeply (over {max_nesting} levels).")
    if result.operators > max_operators:
        raise QueryRefused(InputError.MALFORMED, f"Requête trop complexe (plus de {max_operators} opérateurs et groupes).",
                           f"Query too complex (over {max_operators} operators and groups).")
    return result


def _watched(reader: _Reader, result: Analysis, index: int, keyword: str, before: str, after: str) -> None:
    """A watched keyword inside a run of letters: read what follows it, or refuse."""
    toks = reader.tokens
    upper_after = after.upper()
    ambiguous = QueryRefused(InputError.MALFORMED, f"Lecture ambiguë : « {toks[index].text} » (séparez les mots-clés par des espaces).",
                             f"Ambiguous token: '{toks[index].text}' (separate keywords with spaces).")
    if keyword == "SERVICE":
        if upper_after not in ("", "SILENT"):
            raise ambiguous
        nxt = index + 1
        if upper_after == "" and nxt < len(toks) and toks[nxt].kind == "word" and toks[nxt].text.upper() == "SILENT":
            nxt += 1
        if nxt < len(toks) and toks[nxt].kind == "var":
            result.services.append("?variable")
            return
        iri = reader.iri(nxt)
        result.services.append(iri if iri is not None else "?unreadable")
    elif keyword in ("FROM", "USING"):
        if upper_after not in ("", "NAMED"):
            raise ambiguous
        nxt = index + 1
        named = upper_after == "NAMED"
        if upper_after == "" and nxt < len(toks) and toks[nxt].kind == "word" and toks[nxt].text.upper() == "NAMED":
            named, nxt = True, nxt + 1
        iri = reader.iri(nxt)
        if iri is None:
            raise ambiguous
        result.has_dataset_clause = True
        (result.from_named if named else result.from_graphs).append(iri)
    elif keyword == "LOAD":
        result.has_load = True


def refused_services(analysis: Analysis, allowlist: tuple[str, ...]) -> list[str]:
    return [s for s in analysis.services if s not in allowlist]


def check_query(text: str, allowlist: tuple[str, ...] = (), **limits) -> Analysis:
    """Everything the endpoint refuses in a query, as QueryRefused: over a limit, an update sent as a query,
    a SERVICE endpoint not on the allow-list."""
    analysis = analyse(text, **limits)
    if analysis.is_update:
        raise QueryRefused(InputError.FORBIDDEN, "Le point d'accès est en lecture seule : les mises à jour (INSERT, DELETE, LOAD, "
                                "CLEAR, DROP…) sont refusées dans une requête.",
                           "The endpoint is read-only: updates (INSERT, DELETE, LOAD, CLEAR, DROP…) are refused "
                           "as queries.")
    _check_services(analysis, allowlist)
    return analysis


class VerdictCache:
    """The guard's verdict per query text, bounded (least recently used first out).

    The verdict is a pure function of the text, the allow-list and the limits: a repeated query (a page, a
    notebook re-run, the research queries) is read once. Keys are a digest of the text, so memory stays
    bounded by the entry count whatever the queries' size; refusals are kept too."""

    def __init__(self, size: int = 1024):
        self.size = size
        self._entries: OrderedDict[tuple, Analysis | QueryRefused] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(text: str, allowlist: tuple[str, ...], limits: dict) -> tuple:
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=20).digest()
        return digest, tuple(allowlist), tuple(sorted(limits.items()))

    def get(self, key: tuple) -> Analysis | QueryRefused | None:
        with self._lock:
            verdict = self._entries.get(key)
            if verdict is not None:
                self._entries.move_to_end(key)
            return verdict

    def put(self, key: tuple, verdict: Analysis | QueryRefused) -> None:
        with self._lock:
            self._entries[key] = verdict
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


_verdicts = VerdictCache()


def cached_verdict(text: str, allowlist: tuple[str, ...] = (), **limits) -> Analysis | None:
    """The cached verdict of check_query for this text, if it was read before: the Analysis, or raises its
    QueryRefused again; None when the text has not been read (call check_query_cached)."""
    verdict = _verdicts.get(VerdictCache.key(text, allowlist, limits))
    if isinstance(verdict, QueryRefused):
        raise _again(verdict)
    return verdict


def _again(refused: QueryRefused) -> QueryRefused:
    """A fresh exception with the same answer (re-raising one object would grow its traceback each time)."""
    return QueryRefused(refused.reason, refused.fr, refused.en, refused.detail)


def check_query_cached(text: str, allowlist: tuple[str, ...] = (), **limits) -> Analysis:
    """check_query, read once per (text, allow-list, limits): the Analysis returned is shared, never to be
    changed by the caller."""
    key = VerdictCache.key(text, allowlist, limits)
    verdict = _verdicts.get(key)
    if verdict is None:
        try:
            verdict = check_query(text, allowlist, **limits)
        except QueryRefused as refused:
            verdict = refused
        _verdicts.put(key, verdict)
    if isinstance(verdict, QueryRefused):
        raise _again(verdict)
    return verdict


def check_update(text: str, allowlist: tuple[str, ...] = (), **limits) -> Analysis:
    """Everything the endpoint refuses in an authorised update: LOAD always, SERVICE off the allow-list."""
    analysis = analyse(text, **limits)
    if analysis.has_load:
        raise QueryRefused(InputError.FORBIDDEN, "LOAD est désactivé : le service ne charge jamais de fichier ni d'URL.",
                           "LOAD is disabled: the service never fetches files or URLs.")
    _check_services(analysis, allowlist)
    return analysis


def _check_services(analysis: Analysis, allowlist: tuple[str, ...]) -> None:
    refused = refused_services(analysis, allowlist)
    if refused:
        raise QueryRefused(InputError.FORBIDDEN, "SERVICE refusé : ce point d'accès distant n'est pas dans la liste d'autorisation.",
                           "SERVICE refused: that remote endpoint is not on the allow-list.",
                           "Endpoints: " + ", ".join(refused))
