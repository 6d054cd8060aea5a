"""A candidate PTCE from what people send: the JSON/YAML form (shapes/candidate.schema.json), Turtle,
JSON-LD, RDF/XML or N-Triples — parsed without ever reading a file or URL the input names.

Refused before parsing: JSON-LD contexts given by reference (`"@context": "http…"`, `@import`), RDF/XML
with a DOCTYPE (entity expansion, external entities) or another encoding than UTF-8, bodies above the size
limit, byte-order marks other than UTF-8's, NUL bytes. YAML is composed without anchors or aliases: nothing
is ever expanded.

Bounded while reading, before any evaluation (`Limits`, from the settings): triples, PTCE, members,
perimeter territories, string lengths, nesting depth. Every failure is a `CandidateError` with a reason
(mapped to an HTTP status below 500 by the service) and a message in English and French saying where and
why; nothing else escapes `read` or `from_form` (tests/redteam/test_fuzz_candidates.py).
"""

from __future__ import annotations

import copy
import datetime
import functools
import json
import re
from dataclasses import dataclass

import pyoxigraph
import rdflib
import yaml
from rdflib.namespace import DCTERMS, RDF, RDFS
from rdflib.plugins.stores.memory import Memory

from .config import SHAPES_DIR, settings
from .errors import InputError
from . import iris
from .identifiers import siren_ok

PTCE = rdflib.Namespace(iris.DEF)
ORG = rdflib.Namespace("http://www.w3.org/ns/org#")
ROV = rdflib.Namespace("http://www.w3.org/ns/regorg#")
CCCEV = rdflib.Namespace("http://data.europa.eu/m8g/")
ID = iris.ID
CODE = iris.CODE
MESSAGE_CHARS = 200  # what a message quotes of the input, at most
# Namespace prefixes bound while a candidate is parsed (rdflib's own ~30 included): rdflib inserts each into a
# trie in linear time, so 30,000 `@prefix` lines (900 KB) took 40 s. A candidate needs a dozen.
MAX_PREFIXES = 200

# Characters no candidate needs and that break what comes after (XML, JSON answers in UTF-8, the store):
# C0 controls other than tab and line ends, DEL, and lone surrogates (JSON "\ud800", Turtle "\uD800").
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class CandidateError(InputError):
    """A candidate that cannot be checked: `reason` (InputError.MALFORMED, TOO_LARGE, UNSUPPORTED, INVALID) and
    `where`; the service maps the reason to an HTTP status (api/errors.py)."""


@dataclass(frozen=True)
class Limits:
    """What one candidate may hold (settings `PTCE_KG_CANDIDATE_MAX_*`, README "Reliability and security")."""

    triples: int = 5000     # PTCE_KG_CANDIDATE_MAX_TRIPLES: statements read from RDF, or made from a form
    ptce: int = 10          # PTCE_KG_CANDIDATE_MAX_PTCE: ptce:PTCE in one RDF candidate
    members: int = 200      # PTCE_KG_CANDIDATE_MAX_MEMBERS: members (and member locations)
    perimeter: int = 500    # PTCE_KG_CANDIDATE_MAX_PERIMETER: territories of the perimeters
    string: int = 5000      # PTCE_KG_CANDIDATE_MAX_STRING: characters of a string, literal or IRI
    depth: int = 32         # PTCE_KG_CANDIDATE_MAX_DEPTH: nesting of JSON, JSON-LD and YAML

    @property
    def items(self) -> int:
        """Entries of any other list or mapping of a form (none needs more than the members or perimeter)."""
        return max(self.members, self.perimeter)


def limits() -> Limits:
    s = settings()
    return Limits(triples=s.candidate_max_triples, ptce=s.candidate_max_ptce, members=s.candidate_max_members,
                  perimeter=s.candidate_max_perimeter, string=s.candidate_max_string, depth=s.candidate_max_depth)


def _too_large(en: str, fr: str, limit: int, setting: str, where: str | None = None) -> CandidateError:
    return CandidateError(f"{en} (limit {limit}, {setting}) / {fr} (limite {limit}, {setting})", reason=InputError.TOO_LARGE, where=where)


def _short(text: str, chars: int = MESSAGE_CHARS) -> str:
    text = str(text)
    return text if len(text) <= chars else text[:chars] + "…"


def _line_column(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    return f"line {line}, column {offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


@functools.lru_cache(maxsize=None)
def _schema_file() -> dict:
    return json.loads((SHAPES_DIR / "candidate.schema.json").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=8)
def _schema_for(lim: Limits) -> dict:
    """The published schema with the limits in force (the file states the defaults)."""
    doc = copy.deepcopy(_schema_file())
    doc["properties"]["perimeter"]["maxItems"] = lim.perimeter
    doc["properties"]["members"]["maxItems"] = lim.members
    return doc


def schema() -> dict:
    return _schema_for(limits())


@functools.lru_cache(maxsize=8)
def _validator(lim: Limits):
    import jsonschema

    return jsonschema.Draft202012Validator(_schema_for(lim))


def _code(scheme: str, notation: str) -> rdflib.URIRef:
    return rdflib.URIRef(f"{CODE}{scheme}/{notation}")


def _territory(ref: str) -> rdflib.URIRef:
    kind, code = ref.split(":", 1)
    return rdflib.URIRef(f"{ID}{kind}/{code}")


def _store_has(store, iri: str) -> bool:
    return store is not None and bool(store.query(f"ASK {{ <{iri}> a ?t }}", use_default_graph_as_union=True))


def _org_by_siren(store, siren: str) -> str | None:
    if store is None:
        return None
    rows = list(store.query(
        f'SELECT ?o {{ ?o <{PTCE}siren> "{siren}" ; a <{PTCE}Organisation> }} LIMIT 1', use_default_graph_as_union=True))
    return rows[0]["o"].value if rows else None


# -- the form: plain JSON values within the limits, then the schema ------------------------------

def _path(parts) -> str:
    return "/".join(str(p) for p in parts) or "(form)"


def _too_deep(lim: Limits, where: str) -> CandidateError:
    return _too_large(f"nested deeper than {lim.depth} levels", f"imbrication de plus de {lim.depth} niveaux",
                      lim.depth, "PTCE_KG_CANDIDATE_MAX_DEPTH", where)


def _check_plain(form, lim: Limits) -> None:
    """Refuse what the schema cannot judge quickly or safely: other types than JSON's, keys that are not
    strings, huge numbers, long strings, control characters, long lists, deep nesting. Iterative."""
    caps = {("perimeter",): (lim.perimeter, "PTCE_KG_CANDIDATE_MAX_PERIMETER", "territories", "territoires"),
            ("members",): (lim.members, "PTCE_KG_CANDIDATE_MAX_MEMBERS", "members", "membres")}
    pending = [(form, (), 0)]
    while pending:
        value, parts, depth = pending.pop()
        if isinstance(value, (dict, list)):
            depth += 1
            if depth > lim.depth:
                raise _too_deep(lim, _path(parts))
            cap, setting, en, fr = caps.get(parts, (lim.items, "PTCE_KG_CANDIDATE_MAX_MEMBERS/PERIMETER",
                                                    "entries", "entrées"))
            if len(value) > cap:
                raise _too_large(f"more than {cap} {en}", f"plus de {cap} {fr}", cap, setting, _path(parts))
            if isinstance(value, dict):
                for key, item in value.items():
                    if not isinstance(key, str):
                        raise CandidateError(f"keys must be strings, not {type(key).__name__} / "
                                             "les clés doivent être des chaînes", reason=InputError.INVALID, where=_path(parts))
                    pending.append((key, (*parts, "(key)"), depth))
                    pending.append((item, (*parts, key), depth))
            else:
                pending.extend((item, (*parts, i), depth) for i, item in enumerate(value))
        elif isinstance(value, str):
            if len(value) > lim.string:
                raise _too_large(f"a string longer than {lim.string} characters",
                                 f"une chaîne de plus de {lim.string} caractères", lim.string,
                                 "PTCE_KG_CANDIDATE_MAX_STRING", _path(parts))
            bad = _BAD_CHARS.search(value)
            if bad:
                raise CandidateError(f"control character U+{ord(bad.group()):04X} at position {bad.start()} / "
                                     "caractère de contrôle refusé", reason=InputError.INVALID, where=_path(parts))
        elif isinstance(value, bool) or value is None or isinstance(value, float):
            continue
        elif isinstance(value, int):
            if abs(value) > 2 ** 63:
                raise CandidateError("number too large / nombre trop grand", reason=InputError.INVALID, where=_path(parts))
        else:
            raise CandidateError(f"unexpected value of type {type(value).__name__} / valeur d'un type inattendu",
                                 reason=InputError.INVALID, where=_path(parts))


def _schema_message(error) -> str:
    """The schema's verdict in both languages, never quoting more than a little of the input."""
    kind, rule = error.validator, error.validator_value
    if kind == "maxItems":
        return f"more than {rule} items / plus de {rule} éléments"
    if kind == "maxLength":
        return f"longer than {rule} characters / plus de {rule} caractères"
    if kind == "minLength":
        return f"shorter than {rule} character(s) / moins de {rule} caractère(s)"
    if kind == "maxProperties":
        return f"more than {rule} entries / plus de {rule} entrées"
    if kind == "type":
        return f"must be of type {rule} / doit être de type {rule}"
    if kind == "enum":
        values = ", ".join(str(v) for v in rule)
        return f"must be one of: {values} / doit être l'une des valeurs : {values}"
    if kind == "pattern":
        return f"'{_short(error.instance, 60)}' does not match {rule} / ne suit pas le motif {rule}"
    if kind == "required":
        missing = ", ".join(k for k in rule if isinstance(error.instance, dict) and k not in error.instance)
        return f"'{missing}' is required / '{missing}' est obligatoire"
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        extra = ", ".join(_short(k, 40) for k in sorted(set(error.instance) - known)[:3])
        return f"unexpected field(s) {extra} / champ(s) inattendu(s) : {extra}"
    if kind == "uniqueItems":
        return "items must be unique / éléments en double"
    if kind == "anyOf" and list(error.absolute_path)[:1] == ["members"]:
        return "give the member's iri, or siren, or name and role / indiquez l'iri, ou le SIREN, ou le nom et le rôle"
    if kind == "propertyNames":
        return f"a key does not match {rule.get('pattern', rule)} / une clé ne suit pas le motif attendu"
    return _short(error.message)


def _validate(form: dict, lim: Limits) -> None:
    def order(error):
        return [(isinstance(p, str), p) for p in error.absolute_path]

    errors = sorted(_validator(lim).iter_errors(form), key=order)
    if errors:
        error = errors[0]
        raise CandidateError(f"{_schema_message(error)} (formulaire invalide)", reason=InputError.INVALID,
                             where=_path(error.absolute_path))


def from_form(form: dict, store=None) -> rdflib.Graph:
    """The form as RDF in the vocabulary of the graph. Raises CandidateError (422, 413 past a limit)."""
    lim = limits()
    if not isinstance(form, dict):
        raise CandidateError("the form must be a JSON object / le formulaire doit être un objet JSON", reason=InputError.INVALID)
    _check_plain(form, lim)
    _validate(form, lim)

    slug = form.get("id") or "candidate"
    node = rdflib.URIRef(f"{ID}candidate/{slug}")
    sink = _BoundedStore(lim)
    g = rdflib.Graph(store=sink)
    g.bind("ptce", PTCE)
    g.add((node, RDF.type, PTCE.PTCE))
    g.add((node, RDFS.label, rdflib.Literal(form["name"], lang="fr")))
    for i, ref in enumerate(form.get("perimeter", [])):
        territory = _territory(ref)
        if store is not None and not _store_has(store, territory):
            raise CandidateError(f"unknown territory '{ref}' / territoire inconnu", reason=InputError.INVALID, where=f"perimeter/{i}")
        g.add((node, PTCE.perimeter, territory))
    simple = [("grouping_kind", "grouping-kind", PTCE.groupingKind), ("perimeter_kind", "perimeter-kind", PTCE.perimeterKind),
              ("legal_personality", "legal-personality", PTCE.legalPersonality)]
    for key, scheme, prop in simple:
        if form.get(key):
            g.add((node, prop, _code(scheme, form[key])))
    lists = [("sectors", "sector", PTCE.sector), ("cooperation_modes", "cooperation-mode", PTCE.cooperationMode),
             ("innovation", "innovation-kind", PTCE.innovationKind)]
    for key, scheme, prop in lists:
        for value in form.get(key, []):
            g.add((node, prop, _code(scheme, value)))
    if form.get("strategy"):
        g.add((node, PTCE.commonStrategy, rdflib.Literal(form["strategy"], lang="fr")))
    if form.get("local_development"):
        g.add((node, PTCE.localDevelopment, rdflib.Literal(form["local_development"], lang="fr")))
    for key, prop in (("continuous_strategy", PTCE.continuousStrategy),
                      ("sustainable_local_development", PTCE.sustainableLocalDevelopment),
                      ("meets_call_specifications", PTCE.meetsCallSpecifications),
                      ("previous_state_support", PTCE.previousStateSupport)):
        if key in form:
            g.add((node, prop, rdflib.Literal(bool(form[key]))))
    if form.get("charter"):
        g.add((node, PTCE.signedCharter, rdflib.URIRef(f"{ID}charte/{form['charter']}")))
    for i, programme_id in enumerate(form.get("awards", [])):
        programme = rdflib.URIRef(f"{ID}programme/{programme_id}")
        if store is not None and not _store_has(store, programme):
            raise CandidateError(f"unknown programme '{programme_id}' / programme inconnu", reason=InputError.INVALID, where=f"awards/{i}")
        award = rdflib.URIRef(f"{node}/award/{programme_id}")
        g.add((award, RDF.type, PTCE.Award))
        g.add((award, PTCE.laureate, node))
        g.add((award, PTCE.programme, programme))
    # A list of members is taken as the whole list unless the form says otherwise; no list says nothing.
    complete = form.get("complete_member_list", bool(form.get("members")))
    g.add((node, PTCE.completeMemberList, rdflib.Literal(bool(complete))))

    keys: dict[str, rdflib.URIRef] = {}
    for i, member in enumerate(form.get("members", [])):
        where = f"members/{i}"
        key = member.get("key") or f"m{i + 1}"
        if key in keys:
            raise CandidateError(f"duplicate member key '{key}' / clé de membre en double", reason=InputError.INVALID, where=where)
        target = None
        if member.get("iri"):
            target = rdflib.URIRef(member["iri"])
            if store is not None and not _store_has(store, target):
                raise CandidateError(f"'{target}' is not in the graph / absent du graphe", reason=InputError.INVALID, where=f"{where}/iri")
        elif member.get("siren"):
            siren = member["siren"]
            if not siren_ok(siren):
                raise CandidateError(f"SIREN '{siren}' has an invalid Luhn key / clé de contrôle invalide",
                                     reason=InputError.INVALID, where=f"{where}/siren")
            known = _org_by_siren(store, siren)
            if known:
                target = rdflib.URIRef(known)
            elif not (member.get("name") and member.get("role")):
                raise CandidateError(f"unknown SIREN '{siren}': give the member's name and role / SIREN inconnu : "
                                     "indiquez le nom et le rôle du membre", reason=InputError.INVALID, where=f"{where}/siren")
        if target is None:
            target = rdflib.URIRef(f"{node}/member/{key}")
            g.add((target, RDF.type, PTCE.Organisation))
            g.add((target, RDFS.label, rdflib.Literal(member["name"], lang="fr")))
            if member.get("siren"):
                g.add((target, PTCE.siren, rdflib.Literal(member["siren"])))
        elif member.get("name"):
            g.add((target, RDFS.label, rdflib.Literal(member["name"], lang="fr")))
        if "ess" in member:
            g.add((target, PTCE.essEnterprise, rdflib.Literal(bool(member["ess"]))))
        if member.get("legal_form"):
            g.add((target, ROV.orgType, _code("legal-form", member["legal_form"])))
        if member.get("legal_personality"):
            g.add((target, PTCE.legalPersonality, _code("legal-personality", member["legal_personality"])))
        if member.get("ess_status"):
            g.add((target, PTCE.essStatus, _code("ess-status", member["ess_status"])))
        if member.get("role"):
            g.add((target, PTCE.actorKind, _code("actor-kind", member["role"])))
        if member.get("location"):
            g.add((target, PTCE.location, _territory(member["location"])))
        keys[key] = target
        membership = rdflib.URIRef(f"{node}/membership/{key}")
        g.add((membership, RDF.type, PTCE.PTCEMembership))
        g.add((membership, ORG.organization, node))
        g.add((membership, ORG.member, target))
        g.add((node, ORG.hasMember, target))
        if member.get("role"):
            g.add((membership, ORG.role, _code("actor-kind", member["role"])))
        if member.get("circle"):
            g.add((membership, PTCE.circle, _code("circle", member["circle"])))
    if form.get("carrier"):
        if form["carrier"] not in keys:
            raise CandidateError(f"carrier '{form['carrier']}' is not a member key / n'est pas un membre",
                                 reason=InputError.INVALID, where="carrier")
        g.add((node, PTCE.carrier, keys[form["carrier"]]))
    for criterion, text in sorted(form.get("evidence", {}).items()):
        evidence = rdflib.URIRef(f"{node}/evidence/{criterion}")
        g.add((node, PTCE.evidence, evidence))
        g.add((evidence, RDF.type, CCCEV.Evidence))
        g.add((evidence, CCCEV.supportsRequirement, rdflib.URIRef(iris.CRITERION + criterion)))
        g.add((evidence, DCTERMS.description, rdflib.Literal(text, lang="fr")))
    g.add((node, DCTERMS.conformsTo, rdflib.URIRef(iris.CANDIDATE_SCHEMA)))
    sink.disarm()
    return g


# -- RDF: a store that counts while the parser fills it -------------------------------------------

def _curie(term) -> str:
    for prefix, space in (("ptce:", str(PTCE)), ("org:", str(ORG)), ("rdf:", str(RDF)), ("rdfs:", str(RDFS)),
                          ("owl:", str(rdflib.OWL))):
        if str(term).startswith(space):
            return prefix + str(term)[len(space):]
    return _short(str(term), 80)


class _BoundedStore(Memory):
    """An in-memory store that refuses, triple by triple while a parser fills it, what a candidate may not
    hold. Every parser of rdflib (Turtle, N-Triples, RDF/XML, JSON-LD and its named graphs) ends in `add`.
    `disarm()` once read: completing the candidate from the graph afterwards adds freely."""

    def __init__(self, lim: Limits):
        super().__init__()
        self.limits: Limits | None = lim
        self.count = self.prefixes = 0
        self.refusal: CandidateError | None = None
        self.seen: dict[str, set] = {"ptce": set(), "perimeter": set(), "members": set(), "locations": set()}

    def disarm(self) -> None:
        self.limits = None

    def bind(self, prefix, namespace, override=True):
        if self.limits is not None:
            self.prefixes += 1
            if self.prefixes > MAX_PREFIXES:
                self.refusal = self.refusal or _too_large(
                    f"more than {MAX_PREFIXES} namespace prefixes", f"plus de {MAX_PREFIXES} préfixes d'espaces de noms",
                    MAX_PREFIXES, "ptce_kg.candidate.MAX_PREFIXES", "@prefix")
                raise self.refusal
        super().bind(prefix, namespace, override=override)

    def add(self, triple, context, quoted=False):
        if self.limits is not None:
            try:
                self._check(triple)
            except CandidateError as exc:
                self.refusal = self.refusal or exc  # kept: some parsers wrap what their sink raises
                raise
        super().add(triple, context, quoted)

    def _count(self, kind: str, term, cap: int, setting: str, en: str, fr: str, where: str) -> None:
        seen = self.seen[kind]
        seen.add(term)
        if len(seen) > cap:
            raise _too_large(f"more than {cap} {en}", f"plus de {cap} {fr}", cap, setting, where)

    def _check(self, triple) -> None:
        lim = self.limits
        self.count += 1
        if self.count > lim.triples:
            raise _too_large(f"more than {lim.triples} triples", f"plus de {lim.triples} triplets", lim.triples,
                             "PTCE_KG_CANDIDATE_MAX_TRIPLES", "(candidate)")
        s, p, o = triple
        for term in triple:
            _check_term(term, lim, p)
        if p == RDF.type and o == PTCE.PTCE:
            self._count("ptce", s, lim.ptce, "PTCE_KG_CANDIDATE_MAX_PTCE", "ptce:PTCE in one candidate",
                        "ptce:PTCE dans un même candidat", "rdf:type")
        elif p == PTCE.perimeter:
            self._count("perimeter", o, lim.perimeter, "PTCE_KG_CANDIDATE_MAX_PERIMETER", "territories in the perimeter",
                        "territoires dans le périmètre", "ptce:perimeter")
        elif p in (ORG.member, ORG.hasMember):
            self._count("members", o, lim.members, "PTCE_KG_CANDIDATE_MAX_MEMBERS", "members", "membres", _curie(p))
        elif p == PTCE.location:
            self._count("locations", o, lim.members, "PTCE_KG_CANDIDATE_MAX_MEMBERS", "member locations",
                        "localisations de membres", "ptce:location")
        elif p in _VOCABULARY:
            raise CandidateError(f"{_curie(p)} is not accepted in a candidate: it describes a PTCE, not a vocabulary "
                                 "/ refusé dans un candidat : il décrit un PTCE, pas un vocabulaire",
                                 reason=InputError.INVALID, where=_curie(p))


# A candidate that declared its own classes could make any node a ptce:PTCE for the shapes (sh:targetClass
# follows rdfs:subClassOf in the data graph), past the PTCE limit.
_VOCABULARY = frozenset({RDFS.subClassOf, RDFS.subPropertyOf, rdflib.OWL.equivalentClass, rdflib.OWL.sameAs})


def _check_term(term, lim: Limits, predicate) -> None:
    """A term within the string limit, without control characters, and a valid RDF term for Oxigraph (the
    evaluation binds members and territories as pyoxigraph.NamedNode, records store the triples)."""
    if isinstance(term, rdflib.BNode):
        return
    where = _curie(predicate)
    parts = [str(term)]
    if isinstance(term, rdflib.Literal):
        parts += [str(term.datatype or ""), term.language or ""]
    for part in parts:
        if len(part) > lim.string:
            raise _too_large(f"a literal or IRI longer than {lim.string} characters",
                             f"un littéral ou un IRI de plus de {lim.string} caractères", lim.string,
                             "PTCE_KG_CANDIDATE_MAX_STRING", where)
        bad = _BAD_CHARS.search(part)
        if bad:
            raise CandidateError(f"control character U+{ord(bad.group()):04X} in a term / caractère de contrôle refusé",
                                 reason=InputError.INVALID, where=where)
    try:
        if isinstance(term, rdflib.URIRef):
            pyoxigraph.NamedNode(str(term))
        elif isinstance(term, rdflib.Literal):
            if term.language:
                pyoxigraph.Literal(str(term), language=term.language)
            elif term.datatype:
                pyoxigraph.Literal(str(term), datatype=pyoxigraph.NamedNode(str(term.datatype)))
    except ValueError as exc:
        raise CandidateError(f"not a valid RDF term '{_short(term, 80)}': {_short(exc, 120)} / terme RDF invalide",
                             reason=InputError.MALFORMED, where=where) from None


# -- reading what people send --------------------------------------------------------------------

FORMATS = {
    "text/turtle": "turtle", "application/x-turtle": "turtle", "application/ld+json": "json-ld",
    "application/rdf+xml": "xml", "application/n-triples": "nt", "application/json": "form",
    "application/yaml": "form-yaml", "application/x-yaml": "form-yaml", "text/yaml": "form-yaml",
}
SUFFIXES = {".ttl": "turtle", ".jsonld": "json-ld", ".rdf": "xml", ".owl": "xml", ".nt": "nt",
            ".json": "form", ".yaml": "form-yaml", ".yml": "form-yaml"}


def _refuse_remote_contexts(value, path="$") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "@import":
                raise CandidateError("JSON-LD @import is not allowed: contexts must be inline / @import interdit",
                                     reason=InputError.MALFORMED, where=path)
            if key == "@context":
                for ctx in item if isinstance(item, list) else [item]:
                    if isinstance(ctx, str):
                        raise CandidateError(
                            f"JSON-LD context by reference ('{ctx[:80]}') is not fetched: give it inline "
                            "/ contexte JSON-LD distant refusé : donnez-le en ligne", reason=InputError.MALFORMED, where=f"{path}.@context")
                    _refuse_remote_contexts(ctx, f"{path}.@context")
            else:
                _refuse_remote_contexts(item, f"{path}.{_short(key, 40)}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _refuse_remote_contexts(item, f"{path}[{i}]")


_OTHER_ENCODINGS = ((b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe\x00\x00", "UTF-32"),
                    (b"\xfe\xff", "UTF-16"), (b"\xff\xfe", "UTF-16"))


def _decode(content: bytes) -> str:
    """UTF-8 text (a UTF-8 byte-order mark is dropped), without NUL."""
    for mark, name in _OTHER_ENCODINGS:
        if content.startswith(mark):
            raise CandidateError(f"body is {name} (byte-order mark): send UTF-8 / le corps est en {name} : "
                                 "envoyez de l'UTF-8", reason=InputError.MALFORMED, where="byte 0")
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        raise CandidateError(f"body is not UTF-8 (byte {exc.start}) / le corps n'est pas en UTF-8", reason=InputError.MALFORMED,
                             where=f"line {line}") from None
    nul = text.find("\x00")
    if nul >= 0:
        raise CandidateError("NUL byte in the body / octet NUL dans le corps", reason=InputError.MALFORMED,
                             where=_line_column(text, nul))
    return text


def _depth(value, lim: Limits) -> None:
    """Refuse JSON nested deeper than the limit (iterative: the value may be deep)."""
    pending = [(value, 0, "$")]
    while pending:
        item, depth, path = pending.pop()
        if isinstance(item, (dict, list)):
            depth += 1
            if depth > lim.depth:
                raise _too_deep(lim, _short(path, 80))
            children = item.items() if isinstance(item, dict) else enumerate(item)
            pending.extend((child, depth, f"{path}.{key}" if isinstance(item, dict) else f"{path}[{key}]")
                           for key, child in children)


def _json(text: str, lim: Limits | None = None):
    lim = lim or limits()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CandidateError(f"invalid JSON: {exc.msg} / JSON invalide", reason=InputError.MALFORMED,
                             where=f"line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise _too_large("JSON nested too deeply", "JSON trop imbriqué", lim.depth, "PTCE_KG_CANDIDATE_MAX_DEPTH") from None
    except ValueError as exc:  # integers of more than 4,300 digits
        raise CandidateError(f"invalid JSON: {_short(exc, 80)} / JSON invalide (nombre trop grand)", reason=InputError.MALFORMED) from None
    _depth(data, lim)
    return data


# -- YAML: composed without anchors or aliases ---------------------------------------------------

class _YamlGuard(yaml.composer.Composer):
    """PyYAML's composer, refusing anchors and aliases (a document that has none composes exactly as with
    yaml.safe_load; one that has some is refused before anything is expanded), and bounding nesting depth,
    entries per list or mapping and scalar length as it goes."""

    limits: Limits = Limits()
    _depth = 0

    @staticmethod
    def _where(mark) -> str | None:
        return f"line {mark.line + 1}, column {mark.column + 1}" if mark else None

    def _refuse(self, en: str, fr: str, mark) -> CandidateError:
        return CandidateError(f"{en} / {fr}", reason=InputError.MALFORMED, where=self._where(mark))

    def compose_node(self, parent, index):
        event = self.peek_event()
        mark = event.start_mark
        lim = self.limits
        if isinstance(event, yaml.AliasEvent):
            raise self._refuse(f"YAML aliases (*{_short(event.anchor, 40)}) are not accepted",
                               "les alias YAML ne sont pas acceptés", mark)
        if getattr(event, "anchor", None) is not None:
            raise self._refuse(f"YAML anchors (&{_short(event.anchor, 40)}) are not accepted",
                               "les ancres YAML ne sont pas acceptées", mark)
        if parent is not None and len(parent.value) >= lim.items:
            raise _too_large(f"more than {lim.items} entries", f"plus de {lim.items} entrées", lim.items,
                             "PTCE_KG_CANDIDATE_MAX_MEMBERS/PERIMETER", self._where(mark))
        if isinstance(event, yaml.ScalarEvent):
            if len(event.value) > lim.string:
                raise _too_large(f"a value longer than {lim.string} characters",
                                 f"une valeur de plus de {lim.string} caractères", lim.string,
                                 "PTCE_KG_CANDIDATE_MAX_STRING", self._where(mark))
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > lim.depth:
                raise _too_large(f"nested deeper than {lim.depth} levels", f"imbrication de plus de {lim.depth} niveaux",
                                 lim.depth, "PTCE_KG_CANDIDATE_MAX_DEPTH", self._where(mark))
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class SafeCandidateLoader(_YamlGuard, yaml.SafeLoader):
    """yaml.SafeLoader without anchors or aliases, within the limits (pure Python)."""

    def __init__(self, stream, lim: Limits | None = None):
        yaml.SafeLoader.__init__(self, stream)
        self.limits = lim or limits()


if getattr(yaml, "CSafeLoader", None) is not None:
    class FastCandidateLoader(_YamlGuard, yaml.CSafeLoader):
        """The same composer over libyaml's parser (ten times faster on large documents)."""

        def __init__(self, stream, lim: Limits | None = None):
            yaml.CSafeLoader.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            self.limits = lim or limits()

    YAML_LOADER = FastCandidateLoader
else:  # pragma: no cover - PyYAML without libyaml
    YAML_LOADER = SafeCandidateLoader


def _yaml(text: str, lim: Limits, loader=None):
    reader = (loader or YAML_LOADER)(text, lim)
    try:
        return reader.get_single_data()
    except CandidateError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        raise CandidateError(f"invalid YAML: {_short(exc.problem or exc.context or exc)} / YAML invalide",
                             where=where) from None
    except yaml.YAMLError as exc:  # ReaderError: a character YAML does not allow
        raise CandidateError(f"invalid YAML: {_short(exc)} / YAML invalide") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # e.g. a date 2024-13-45
        raise CandidateError(f"invalid YAML value: {_short(exc, 120)} / valeur YAML invalide") from None
    finally:
        reader.dispose()


def _plain(value, parts=()):
    """YAML values as JSON values: dates as ISO 8601 strings, pairs as lists; nothing else is accepted."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, (datetime.date, datetime.datetime)):
                key = key.isoformat()
            elif isinstance(key, (int, float, bool)) or key is None:
                key = json.dumps(key)
            elif not isinstance(key, str):
                raise CandidateError(f"keys must be strings, not {type(key).__name__} / les clés doivent être des "
                                     "chaînes", reason=InputError.INVALID, where=_path(parts))
            out[key] = _plain(item, (*parts, key))
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(item, (*parts, i)) for i, item in enumerate(value)]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise CandidateError(f"unexpected value of type {type(value).__name__} / valeur d'un type inattendu",
                         reason=InputError.INVALID, where=_path(parts))


# -- RDF -----------------------------------------------------------------------------------------

def _parse_failure(exc: Exception, kind: str) -> CandidateError:
    where = None
    if isinstance(getattr(exc, "lines", None), int):  # rdflib's Turtle parser (BadSyntax), 0-based
        where = f"line {exc.lines + 1}"
    elif hasattr(exc, "getLineNumber"):  # RDF/XML (SAXParseException)
        where = f"line {exc.getLineNumber()}, column {exc.getColumnNumber()}"
    if isinstance(exc, RecursionError):
        message = "nested too deeply"
    else:
        why = getattr(exc, "_why", None) or getattr(exc, "getMessage", lambda: None)() or str(exc)
        lines = str(why).strip().splitlines()
        message = _short(lines[0]) if lines else type(exc).__name__
    return CandidateError(f"{kind} does not parse: {message} / l'entrée ne se lit pas", reason=InputError.MALFORMED, where=where)


# Turtle and N-Triples strings, IRIs, comments and the rest, for one linear pass before rdflib, whose parsers
# take quadratic time in the length of a string or, in N-Triples, of an IRI (900 KB took 2 to 4 s).
_TURTLE_TOKENS = re.compile(
    r'\#[^\n]*'
    r'|<[^>\n]*>?'
    r'|"""(?:[^"\\]|\\.|"(?!""))*(?:"""|\Z)'
    r"|'''(?:[^'\\]|\\.|'(?!''))*(?:'''|\Z)"
    r'|"(?:[^"\\\n]|\\.)*"?'
    r"|'(?:[^'\\\n]|\\.)*'?"
    r'''|[^#<"']+''', re.DOTALL)


def _refuse_long_tokens(text: str, kind: str, lim: Limits) -> None:
    """A string or IRI written with more than ten times the string limit (an escape such as \\U0001F600 takes
    ten characters for one) is past the limit whatever it holds: refused before rdflib reads it. So is an
    N-Triples line longer than its terms could be (rdflib's N-Triples parser is quadratic in a line's length)."""
    bound = 10 * lim.string + 6
    if kind == "nt":
        lines = text.replace("\r", "\n").split("\n")
        longest = max(range(len(lines)), key=lambda i: len(lines[i]))
        line_bound = bound + 3 * (lim.string + 2) + 1000  # a literal (escaped), three IRIs, some space
        if len(lines[longest]) > line_bound:
            raise _too_large(f"an N-Triples line longer than {line_bound} characters",
                             f"une ligne N-Triples de plus de {line_bound} caractères", lim.string,
                             "PTCE_KG_CANDIDATE_MAX_STRING", f"line {longest + 1}")
    for token in _TURTLE_TOKENS.finditer(text):
        if token.end() - token.start() > bound and text[token.start()] in "<\"'":
            raise _too_large(f"a literal or IRI longer than {lim.string} characters",
                             f"un littéral ou un IRI de plus de {lim.string} caractères", lim.string,
                             "PTCE_KG_CANDIDATE_MAX_STRING", _line_column(text, token.start()))


def _rdf(text: str, kind: str, lim: Limits) -> rdflib.Graph:
    if kind in ("turtle", "nt"):
        _refuse_long_tokens(text, kind, lim)
    if kind == "json-ld":
        _refuse_remote_contexts(_json(text, lim))
    if kind == "xml":
        if re.search(r"<!DOCTYPE|<!ENTITY", text, re.IGNORECASE):
            raise CandidateError("RDF/XML with a DOCTYPE or ENTITY declaration is refused / DOCTYPE refusé", reason=InputError.MALFORMED)
        declared = re.match(r"\s*<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)", text)
        if declared and declared.group(1).lower().replace("_", "-") not in ("utf-8", "utf8", "us-ascii", "ascii"):
            raise CandidateError(f"RDF/XML must be UTF-8, not '{_short(declared.group(1), 40)}' / "
                                 "le RDF/XML doit être en UTF-8", reason=InputError.MALFORMED, where="line 1")
    sink = _BoundedStore(lim)
    graph = rdflib.Graph(store=sink)
    try:
        graph.parse(data=text, format=kind, publicID=f"{ID}candidate/")
    except Exception as exc:  # rdflib raises many types; all mean "this input does not parse"
        if sink.refusal is not None:
            raise sink.refusal from None
        if isinstance(exc, CandidateError):
            raise
        raise _parse_failure(exc, kind) from None
    if sink.refusal is not None:  # a parser that swallowed the refusal and went on
        raise sink.refusal
    sink.disarm()
    return graph


def read(content: bytes, kind: str, store=None) -> rdflib.Graph:
    """Parse what a person sent. `kind`: turtle, json-ld, xml, nt, form, form-yaml, or json (sniffed).
    Returns the candidate's graph, or raises CandidateError (400, 413, 415, 422) — never anything else."""
    limit = settings().max_body_bytes  # the service's body limit (PTCE_KG_MAX_BODY), for the command line too
    if len(content) > limit:
        raise _too_large("input too large", "entrée trop volumineuse", limit, "PTCE_KG_MAX_BODY")
    lim = limits()
    if kind not in ("turtle", "json-ld", "xml", "nt", "form", "form-yaml", "json"):
        raise CandidateError(f"unsupported input format '{_short(kind, 40)}' / format non pris en charge", reason=InputError.UNSUPPORTED)
    text = _decode(bytes(content))
    data = None
    if kind == "json":  # a plain form, or JSON-LD if it speaks JSON-LD
        data = _json(text, lim)
        kind = "json-ld" if isinstance(data, (dict, list)) and re.search(r'"@(context|graph|id|type)"', text) else "form"
    if kind == "form":
        data = _json(text, lim) if data is None else data
        if not isinstance(data, dict):
            raise CandidateError("the form must be a JSON object / le formulaire doit être un objet JSON", reason=InputError.INVALID)
        return from_form(data, store)
    if kind == "form-yaml":
        data = _yaml(text, lim)
        if not isinstance(data, dict):
            raise CandidateError("the form must be a mapping / le formulaire doit être un dictionnaire", reason=InputError.INVALID)
        return from_form(_plain(data), store)
    graph = _rdf(text, kind, lim)
    if not any(graph.subjects(RDF.type, PTCE.PTCE)):
        raise CandidateError("no ptce:PTCE in the input / aucun ptce:PTCE dans l'entrée", reason=InputError.INVALID)
    return graph
