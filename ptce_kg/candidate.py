"""A candidate PTCE from what people send: the JSON/YAML form (shapes/candidate.schema.json), Turtle,
JSON-LD or RDF/XML — parsed without ever reading a file or URL the input names.

Refused before parsing: JSON-LD contexts given by reference (`"@context": "http…"`, `@import`), RDF/XML
with a DOCTYPE (entity expansion, external entities), bodies above the size limit.
"""

from __future__ import annotations

import functools
import json
import re

import rdflib
from rdflib.namespace import DCTERMS, RDF, RDFS, XSD

from .config import SHAPES_DIR
from .errors import PtceKgError
from .identifiers import siren_ok

PTCE = rdflib.Namespace("https://w3id.org/ptce-kg/def#")
ORG = rdflib.Namespace("http://www.w3.org/ns/org#")
ROV = rdflib.Namespace("http://www.w3.org/ns/regorg#")
CCCEV = rdflib.Namespace("http://data.europa.eu/m8g/")
ID = "https://w3id.org/ptce-kg/id/"
CODE = "https://w3id.org/ptce-kg/code/"
MAX_BYTES = 1024 * 1024


class CandidateError(PtceKgError):
    """Input that cannot be checked; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400, where: str | None = None):
        self.status, self.where = status, where
        super().__init__(f"{where}: {message}" if where else message)


@functools.lru_cache(maxsize=None)
def schema() -> dict:
    return json.loads((SHAPES_DIR / "candidate.schema.json").read_text(encoding="utf-8"))


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


def from_form(form: dict, store=None) -> rdflib.Graph:
    """The form as RDF in the vocabulary of the graph. Raises CandidateError (422) on invalid forms."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(form), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        where = "/".join(str(p) for p in error.absolute_path) or "(form)"
        raise CandidateError(f"{error.message} / formulaire invalide", status=422, where=where)

    slug = form.get("id") or "candidate"
    node = rdflib.URIRef(f"{ID}candidate/{slug}")
    g = rdflib.Graph()
    g.bind("ptce", PTCE)
    g.add((node, RDF.type, PTCE.PTCE))
    g.add((node, RDFS.label, rdflib.Literal(form["name"], lang="fr")))
    for i, ref in enumerate(form.get("perimeter", [])):
        territory = _territory(ref)
        if store is not None and not _store_has(store, territory):
            raise CandidateError(f"unknown territory '{ref}' / territoire inconnu", status=422, where=f"perimeter/{i}")
        g.add((node, PTCE.perimeter, territory))
    simple = [("grouping_kind", "grouping-kind", PTCE.groupingKind), ("perimeter_kind", "perimeter-kind", PTCE.perimeterKind)]
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
                      ("sustainable_local_development", PTCE.sustainableLocalDevelopment)):
        if key in form:
            g.add((node, prop, rdflib.Literal(bool(form[key]))))
    if form.get("charter"):
        g.add((node, PTCE.signedCharter, rdflib.URIRef(f"{ID}charte/{form['charter']}")))
    for i, programme_id in enumerate(form.get("awards", [])):
        programme = rdflib.URIRef(f"{ID}programme/{programme_id}")
        if store is not None and not _store_has(store, programme):
            raise CandidateError(f"unknown programme '{programme_id}' / programme inconnu", status=422, where=f"awards/{i}")
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
            raise CandidateError(f"duplicate member key '{key}'", status=422, where=where)
        target = None
        if member.get("iri"):
            target = rdflib.URIRef(member["iri"])
            if store is not None and not _store_has(store, target):
                raise CandidateError(f"'{target}' is not in the graph / absent du graphe", status=422, where=f"{where}/iri")
        elif member.get("siren"):
            siren = member["siren"]
            if not siren_ok(siren):
                raise CandidateError(f"SIREN '{siren}' has an invalid Luhn key / clé de contrôle invalide",
                                     status=422, where=f"{where}/siren")
            known = _org_by_siren(store, siren)
            if known:
                target = rdflib.URIRef(known)
            elif not (member.get("name") and member.get("role")):
                raise CandidateError(f"unknown SIREN '{siren}': give the member's name and role / SIREN inconnu : "
                                     "indiquez le nom et le rôle du membre", status=422, where=f"{where}/siren")
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
                                 status=422, where="carrier")
        g.add((node, PTCE.carrier, keys[form["carrier"]]))
    for criterion, text in sorted(form.get("evidence", {}).items()):
        evidence = rdflib.URIRef(f"{node}/evidence/{criterion}")
        g.add((node, PTCE.evidence, evidence))
        g.add((evidence, RDF.type, CCCEV.Evidence))
        g.add((evidence, CCCEV.supportsRequirement, rdflib.URIRef(f"https://w3id.org/ptce-kg/def/criterion/{criterion}")))
        g.add((evidence, DCTERMS.description, rdflib.Literal(text, lang="fr")))
    g.add((node, DCTERMS.conformsTo, rdflib.URIRef("https://w3id.org/ptce-kg/def/candidate.schema.json")))
    return g


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
                                     status=400, where=path)
            if key == "@context":
                for ctx in item if isinstance(item, list) else [item]:
                    if isinstance(ctx, str):
                        raise CandidateError(
                            f"JSON-LD context by reference ('{ctx[:80]}') is not fetched: give it inline "
                            "/ contexte JSON-LD distant refusé : donnez-le en ligne", status=400, where=f"{path}.@context")
                    _refuse_remote_contexts(ctx, f"{path}.@context")
            else:
                _refuse_remote_contexts(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _refuse_remote_contexts(item, f"{path}[{i}]")


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CandidateError(f"body is not UTF-8 (byte {exc.start}) / le corps n'est pas en UTF-8", status=400) from exc


def _json(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CandidateError(f"invalid JSON: {exc.msg} / JSON invalide", status=400,
                             where=f"line {exc.lineno}, column {exc.colno}") from exc
    except RecursionError as exc:
        raise CandidateError("JSON nested too deeply / JSON trop imbriqué", status=400) from exc


def read(content: bytes, kind: str, store=None) -> rdflib.Graph:
    """Parse what a person sent. `kind`: turtle, json-ld, xml, nt, form, form-yaml, or json (sniffed)."""
    if len(content) > MAX_BYTES:
        raise CandidateError(f"input larger than {MAX_BYTES} bytes / entrée trop volumineuse", status=413)
    text = _decode(content)
    if kind == "json":  # a plain form, or JSON-LD if it speaks JSON-LD
        data = _json(text)
        kind = "json-ld" if isinstance(data, (dict, list)) and re.search(r'"@(context|graph|id|type)"', text) else "form"
    if kind == "form":
        data = _json(text)
        if not isinstance(data, dict):
            raise CandidateError("the form must be a JSON object / le formulaire doit être un objet JSON", status=422)
        return from_form(data, store)
    if kind == "form-yaml":
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
            raise CandidateError(f"invalid YAML: {getattr(exc, 'problem', exc)} / YAML invalide", where=where) from exc
        if not isinstance(data, dict):
            raise CandidateError("the form must be a mapping / le formulaire doit être un dictionnaire", status=422)
        return from_form(json.loads(json.dumps(data, default=str)), store)
    graph = rdflib.Graph()
    if kind == "json-ld":
        _refuse_remote_contexts(_json(text))
    if kind == "xml" and re.search(r"<!DOCTYPE|<!ENTITY", text, re.IGNORECASE):
        raise CandidateError("RDF/XML with a DOCTYPE or ENTITY declaration is refused / DOCTYPE refusé", status=400)
    if kind not in ("turtle", "json-ld", "xml", "nt"):
        raise CandidateError(f"unsupported input format '{kind}' / format non pris en charge", status=415)
    try:
        graph.parse(data=text, format=kind, publicID=f"{ID}candidate/")
    except Exception as exc:  # rdflib raises many types; all mean "this input does not parse"
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CandidateError(f"{kind} does not parse: {message} / l'entrée ne se lit pas", status=400) from exc
    if not any(graph.subjects(RDF.type, PTCE.PTCE)):
        raise CandidateError("no ptce:PTCE in the input / aucun ptce:PTCE dans l'entrée", status=422)
    return graph
