"""Eligibility: SHACL shapes (shapes/article-9.ttl by default; a rule set of RULESETS) run by pySHACL, read as
three-valued verdicts.

For each criterion of crit:article-9: a sh:Violation from its shape means *not met*, a sh:Warning means
*not enough information*, no result means *met*. The candidate graph is completed from the store first:
what the graph knows of the members named by IRI or SIREN, and the territory hierarchy above every
perimeter and location, so that "on one territory" is checked through communes, EPCI, départements, régions.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

import pyoxigraph
import rdflib
from rdflib.namespace import DCTERMS, RDF, RDFS, SH

from . import __version__, iris, shacl
from .config import ONTOLOGY_DIR, SHAPES_DIR
from .errors import PtceKgError
from .iris import read_query, with_values

PTCE = rdflib.Namespace(iris.DEF)
ORG = rdflib.Namespace("http://www.w3.org/ns/org#")
CCCEV = rdflib.Namespace("http://data.europa.eu/m8g/")
CRITERIA = rdflib.URIRef(iris.CRITERION + "article-9")
ELI_ARTICLE_9 = "https://www.legifrance.gouv.fr/eli/loi/2014/7/31/ERNX1315311L/jo/article_9"
# Rule sets are declared in ontology/criteria.ttl: each cccev:Requirement with a ptce:ruleSetName is one version
# of a rule set, with its shapes file (ptce:shapesFile, in shapes/), the version of the text it encodes
# (ptce:articleVersion) and the period it is in force (ptce:inForceFrom, ptce:inForceUntil when it has ended).
# A programme reaches its requirement in the graph through ptce:hasCriterion (ingest/programmes/programmes.csv).
SKOS = rdflib.Namespace("http://www.w3.org/2004/02/skos/core#")



class RuleSetError(PtceKgError):
    """A rule set that does not exist, or has no version in force on the date asked."""


@dataclass(frozen=True)
class RuleSetVersion:
    """One version of a rule set: the text it encodes and when that text is in force."""
    name: str
    requirement: str  # IRI of the cccev:Requirement (ontology/criteria.ttl)
    shapes: str  # file name in shapes/
    text_version: str  # date of the version of the text encoded (ISO)
    in_force_from: dt.date
    in_force_until: dt.date | None = None  # first day it no longer applies; None: in force as far as is known

    def in_force(self, day: dt.date) -> bool:
        return self.in_force_from <= day and (self.in_force_until is None or day < self.in_force_until)

    def period(self) -> str:
        return f"{self.in_force_from.isoformat()}–{self.in_force_until.isoformat() if self.in_force_until else ''}"

    def as_dict(self) -> dict:
        return {"name": self.name, "requirement": self.requirement, "text_version": self.text_version,
                "in_force_from": self.in_force_from.isoformat(),
                "in_force_until": self.in_force_until.isoformat() if self.in_force_until else None}


MET, NOT_MET, UNKNOWN = "met", "not-met", "not-enough-information"
ELIGIBLE, NOT_ELIGIBLE, INCOMPLETE = "eligible", "not-eligible", "incomplete"


@functools.lru_cache(maxsize=None)
def criteria_graph() -> rdflib.Graph:
    return rdflib.Graph().parse(ONTOLOGY_DIR / "criteria.ttl", format="turtle")


def _rulesets() -> dict[str, tuple[RuleSetVersion, ...]]:
    g = criteria_graph()
    found: dict[str, list[RuleSetVersion]] = {}
    for requirement, name in g.subject_objects(PTCE.ruleSetName):
        until = g.value(requirement, PTCE.inForceUntil)
        found.setdefault(str(name), []).append(RuleSetVersion(
            name=str(name), requirement=str(requirement), shapes=str(g.value(requirement, PTCE.shapesFile)),
            text_version=str(g.value(requirement, PTCE.articleVersion) or ""),
            in_force_from=g.value(requirement, PTCE.inForceFrom).toPython(),
            in_force_until=until.toPython() if until is not None else None))
    order = ["article-9", "aap-2013", "ami-emergents", "decret-2015-431"]
    return {name: tuple(sorted(found[name], key=lambda v: v.in_force_from))
            for name in sorted(found, key=lambda n: (order.index(n) if n in order else len(order), n))}


# name -> its versions, oldest first: article-9, aap-2013, ami-emergents, decret-2015-431
RULESETS: dict[str, tuple[RuleSetVersion, ...]] = _rulesets()


def ruleset_version(name: str = "article-9", as_of: dt.date | None = None) -> RuleSetVersion:
    """The version of rule set `name` in force on `as_of` (today when not given). Raises RuleSetError."""
    if name not in RULESETS:
        raise RuleSetError(f"unknown rule set '{name}' (one of {', '.join(RULESETS)}) / jeu de règles inconnu")
    day = as_of or dt.date.today()
    for version in reversed(RULESETS[name]):
        if version.in_force(day):
            return version
    periods = ", ".join(v.period() for v in RULESETS[name])
    raise RuleSetError(f"rule set '{name}' has no version in force on {day.isoformat()} (in force: {periods}) / "
                       f"aucune version de '{name}' n'est en vigueur le {day.isoformat()} (en vigueur : {periods})")


def _version(ruleset: "str | RuleSetVersion") -> RuleSetVersion:
    return ruleset if isinstance(ruleset, RuleSetVersion) else ruleset_version(ruleset)


@functools.lru_cache(maxsize=None)
def _shapes_file(name: str) -> rdflib.Graph:
    return rdflib.Graph().parse(SHAPES_DIR / name, format="turtle")


def shapes_graph(ruleset: "str | RuleSetVersion" = "article-9") -> rdflib.Graph:
    """Parsed once per process."""
    return _shapes_file(_version(ruleset).shapes)


def _lang(graph: rdflib.Graph, subject, prop, lang: str) -> str:
    for value in graph.objects(subject, prop):
        if getattr(value, "language", None) == lang:
            return str(value)
    return ""


@dataclass
class Criterion:
    iri: str
    identifier: str
    title_fr: str
    title_en: str
    legal_text: str
    article_version: str
    source: str = ELI_ARTICLE_9


def scope_note(ruleset: "str | RuleSetVersion") -> dict | None:
    """What a rule set does not cover (skos:scopeNote of its requirement, in French and English), if it says."""
    g = criteria_graph()
    requirement = rdflib.URIRef(_version(ruleset).requirement)
    fr, en = _lang(g, requirement, SKOS.scopeNote, "fr"), _lang(g, requirement, SKOS.scopeNote, "en")
    return {"fr": fr, "en": en or fr} if fr or en else None


def requirement_source(ruleset: "str | RuleSetVersion") -> str:
    g = criteria_graph()
    requirement = rdflib.URIRef(_version(ruleset).requirement)
    return str(g.value(requirement, CCCEV.isDerivedFrom) or g.value(requirement, DCTERMS.source) or ELI_ARTICLE_9)


def criteria(ruleset: "str | RuleSetVersion" = "article-9") -> list[Criterion]:
    return _criteria(_version(ruleset).requirement)


@functools.lru_cache(maxsize=None)
def _criteria(requirement: str) -> list[Criterion]:
    g = criteria_graph()
    items = []
    for c in g.objects(rdflib.URIRef(requirement), CCCEV.hasRequirement):
        items.append(Criterion(
            iri=str(c), identifier=str(g.value(c, DCTERMS.identifier)),
            title_fr=_lang(g, c, DCTERMS.title, "fr"), title_en=_lang(g, c, DCTERMS.title, "en"),
            legal_text=_lang(g, c, PTCE.legalText, "fr"),
            article_version=str(g.value(c, PTCE.articleVersion) or ""),
            source=str(g.value(c, CCCEV.isDerivedFrom) or g.value(c, DCTERMS.source) or ELI_ARTICLE_9),
        ))
    return sorted(items, key=lambda c: int(c.identifier.rsplit("-", 1)[1]))


@dataclass
class Finding:
    severity: str  # Violation | Warning
    message_fr: str
    message_en: str


@dataclass
class CriterionVerdict:
    criterion: Criterion
    verdict: str
    findings: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict:
        c = self.criterion
        return {
            "criterion": c.iri, "id": c.identifier, "title": {"fr": c.title_fr, "en": c.title_en},
            "verdict": self.verdict,
            "details": [{"severity": f.severity, "fr": f.message_fr, "en": f.message_en} for f in self.findings],
            "legal_text": c.legal_text, "source": c.source, "article_version": c.article_version,
        }


@dataclass
class CandidateReport:
    candidate: str
    label: str
    verdict: str
    criteria: list[CriterionVerdict]

    def as_dict(self) -> dict:  # the fields in order, each criterion as its own dict
        return {f.name: getattr(self, f.name) for f in fields(self)} | {"criteria": [c.as_dict() for c in self.criteria]}


@dataclass
class Report:
    candidates: list[CandidateReport]
    shacl: rdflib.Graph
    checked_at: str
    snapshot: str | None = None
    version: RuleSetVersion | None = None  # the rule set version applied (in force on `as_of`)
    as_of: str | None = None  # the date of the file the check was asked for (ISO), if one was named
    records: list[str] | None = None  # IRIs of the reports kept in the graph (ptce_kg.records), when asked

    @property
    def verdict(self) -> str:
        verdicts = {c.verdict for c in self.candidates}
        if not verdicts:
            return INCOMPLETE
        if NOT_ELIGIBLE in verdicts:
            return NOT_ELIGIBLE
        return INCOMPLETE if INCOMPLETE in verdicts else ELIGIBLE

    @property
    def ruleset(self) -> str:
        return self.version.name if self.version else "article-9"

    def as_dict(self) -> dict:
        version = self.version or ruleset_version()
        return {"verdict": self.verdict, "ruleset": f"{version.name}@{__version__}",
                "law": requirement_source(version),
                "rule_set_version": version.as_dict(), "as_of": self.as_of,
                **({"scope_note": note} if (note := scope_note(version)) else {}),
                "data_snapshot": self.snapshot, "checked_at": self.checked_at,
                "candidates": [c.as_dict() for c in self.candidates],
                **({"records": self.records} if self.records is not None else {})}


def _by_language(messages: list[str], templates: list) -> tuple[str, str]:
    """pySHACL drops the language tags of sh:message: recover them by matching each template."""
    found = {}
    for template in templates:
        parts = re.split(r"\{[?$]\w+\}", str(template))
        pattern = "(.*?)".join(re.escape(p) for p in parts)
        for message in messages:
            if re.fullmatch(pattern, message, re.S):
                found[getattr(template, "language", None)] = message
    fr = found.get("fr") or (messages[0] if messages else "")
    return fr, found.get("en") or fr


def _shape_criteria(ruleset: "str | RuleSetVersion" = "article-9") -> dict:
    g = shapes_graph(ruleset)
    return {shape: str(c) for shape, c in g.subject_objects(PTCE.criterion)}


def evaluate(data: rdflib.Graph, snapshot: str | None = None, ruleset: str = "article-9",
             as_of: dt.date | None = None) -> Report:
    """Run a rule set's shapes (article 9 by default) on every ptce:PTCE of `data` and read the verdicts.

    The version of the rule set applied is the one in force on `as_of` (the date of the file; today when not
    given); RuleSetError when the rule set is unknown or has no version in force that day."""
    ruleset = ruleset_version(ruleset, as_of)
    results = shacl.validate(data, shapes_graph(ruleset))
    by_shape = _shape_criteria(ruleset)
    findings: dict[tuple[str, str], list[Finding]] = {}
    for result in results.subjects(RDF.type, SH.ValidationResult):
        focus = str(results.value(result, SH.focusNode))
        criterion = by_shape.get(results.value(result, SH.sourceShape))
        if criterion is None:
            continue
        severity = str(results.value(result, SH.resultSeverity)).rsplit("#", 1)[1]
        messages = [str(m) for m in results.objects(result, SH.resultMessage)]
        constraint = results.value(result, SH.sourceConstraint)
        fr, en = _by_language(messages, list(shapes_graph(ruleset).objects(constraint, SH.message)))
        findings.setdefault((focus, criterion), []).append(Finding(severity, fr, en))
    candidates = []
    for node in sorted(set(data.subjects(RDF.type, PTCE.PTCE)), key=str):
        verdicts = []
        for criterion in criteria(ruleset):
            found = sorted(findings.get((str(node), criterion.iri), []), key=lambda f: (f.severity != "Violation", f.message_fr))
            if any(f.severity == "Violation" for f in found):
                verdict = NOT_MET
            elif found:
                verdict = UNKNOWN
            else:
                verdict = MET
            verdicts.append(CriterionVerdict(criterion, verdict, found))
        states = {v.verdict for v in verdicts}
        overall = NOT_ELIGIBLE if NOT_MET in states else INCOMPLETE if UNKNOWN in states else ELIGIBLE
        label = str(data.value(node, RDFS.label) or node)
        candidates.append(CandidateReport(str(node), label, overall, verdicts))
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    return Report(candidates, results, now, snapshot, ruleset, as_of.isoformat() if as_of else None)


# -- context from the store ----------------------------------------------------------------------

TERRITORY_LINKS = (PTCE.perimeter, PTCE.location)


def _construct(store, path: Path, variable: str, iris: list[str]) -> rdflib.Graph:
    graph = rdflib.Graph()
    if not iris:
        return graph
    text = with_values(read_query(path), variable, iris)
    triples = store.query(text, use_default_graph_as_union=True)
    data = pyoxigraph.serialize(triples, format=pyoxigraph.RdfFormat.N_TRIPLES)
    if data:
        graph.parse(data=data.decode("utf-8"), format="nt")
    return graph


def complete_from_store(data: rdflib.Graph, store) -> rdflib.Graph:
    """Add what the store knows of the members named and of the territories above perimeters/locations."""
    if store is None:
        return data
    members = sorted({str(o) for o in data.objects(None, ORG.member) if isinstance(o, rdflib.URIRef)})
    data += _construct(store, SHAPES_DIR / "member-context.rq", "member", members)
    seeds = sorted({str(o) for p in TERRITORY_LINKS for o in data.objects(None, p) if isinstance(o, rdflib.URIRef)})
    data += _construct(store, SHAPES_DIR / "territory-context.rq", "seed", seeds)
    programmes = sorted({str(o) for o in data.objects(None, PTCE.programme) if isinstance(o, rdflib.URIRef)})
    data += _construct(store, SHAPES_DIR / "programme-context.rq", "programme", programmes)
    return data


def ptce_graph(store, ptce_iri: str) -> rdflib.Graph:
    """A PTCE of the graph, its memberships and members, ready for `evaluate`."""
    return complete_from_store(_construct(store, SHAPES_DIR / "ptce-context.rq", "ptce", [ptce_iri]), store)
