"""The change feed as a Linked Data Event Stream (LDES, on the W3C TREE hypermedia specification).

/changes          the event stream and its view (root node): a relation to every page, bounded by the time
                  of its first member (and of its last once closed)
/changes/<n>      page n (1 = oldest): its members, oldest first, and a relation to page n + 1;
                  closed (immutable) once a later page exists, the newest one open
/changes/patches/<build>/<file>   a change set's removed or added triples (gzipped N-Quads, immutable)
/id/changes       the stream's IRI: 303 to /changes

Members, files and the way to apply them: ptce_kg/changes.py and README, "Change feed".
"""

from __future__ import annotations

import hashlib
import json

import rdflib
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from rdflib.namespace import DCAT, DCTERMS, PROV, RDF, VOID, XSD

from ptce_kg import iris
from ptce_kg import changes
from ptce_kg.changes import DELETE, Member

from .deps import Svc, service_of
from . import negotiation

router = APIRouter(tags=["change feed"])
LDES = rdflib.Namespace("https://w3id.org/ldes#")
TREE = rdflib.Namespace("https://w3id.org/tree#")
AS = rdflib.Namespace("https://www.w3.org/ns/activitystreams#")
SPDX = rdflib.Namespace("http://spdx.org/rdf/terms#")
PTCE = rdflib.Namespace(iris.DEF)
IANA = "https://www.iana.org/assignments/media-types/"
LICENCE = rdflib.URIRef("https://www.etalab.gouv.fr/licence-ouverte-open-licence")
KIND = {"create": AS.Create, "update": AS.Update, "delete": AS.Delete}
OPEN_CACHE = "public, max-age=60"  # the root and the newest page change with the next build
CLOSED_CACHE = "public, max-age=31536000, immutable"
OFFERS = {"text/turtle": "turtle", "application/ld+json": "json-ld", "application/n-triples": "nt",
          "application/json": "json-ld", "text/plain": "nt"}
MEDIA = {"turtle": "text/turtle", "json-ld": "application/ld+json", "nt": "application/n-triples"}
CONTEXT = {"ldes": str(LDES), "tree": str(TREE), "as": str(AS), "prov": str(PROV), "dcat": str(DCAT),
           "dct": str(DCTERMS), "void": str(VOID), "spdx": str(SPDX), "ptce": str(PTCE), "xsd": str(XSD)}




def _log(request: Request) -> list[Member]:
    return changes.read_log(changes.folder(service_of(request).live.root))


def _pages(request: Request, log: list[Member]) -> list[list[Member]]:
    size = service_of(request).settings.changes_page_size  # PTCE_KG_CHANGES_PAGE_SIZE
    return [log[i:i + size] for i in range(0, len(log), size)]


def _urls(request: Request):
    base = service_of(request).settings.public_url  # PTCE_KG_PUBLIC_URL, never the Host header
    stream = rdflib.URIRef(iris.resource("changes"))
    return base, stream


def _graph() -> rdflib.Graph:
    g = rdflib.Graph()
    for prefix, ns in CONTEXT.items():
        g.bind(prefix, ns)
    return g


def _time(value: str) -> rdflib.Literal:
    return rdflib.Literal(value, datatype=XSD.dateTime)


def _describe_stream(g: rdflib.Graph, stream, root) -> None:
    g.add((stream, RDF.type, LDES.EventStream))
    g.add((stream, LDES.timestampPath, PROV.generatedAtTime))
    g.add((stream, TREE.view, root))
    g.add((stream, DCTERMS.title, rdflib.Literal("Changements du graphe ptce-kg, construction par construction",
                                                 lang="fr")))
    g.add((stream, DCTERMS.title, rdflib.Literal("Changes to the ptce-kg graph, build by build", lang="en")))
    g.add((stream, DCTERMS.description, rdflib.Literal(
        "Un membre par construction et graphe nommé modifié : les triplets retirés et ajoutés (N-Quads gzip). "
        "Appliqués dans l'ordre à un entrepôt vide, ils donnent le graphe de la dernière construction.",
        lang="fr")))
    g.add((stream, DCTERMS.description, rdflib.Literal(
        "One member per build and changed named graph: the triples removed and added (gzipped N-Quads). "
        "Applied in order to an empty store, they give the graph of the last build.", lang="en")))
    g.add((stream, DCTERMS.license, LICENCE))
    g.add((stream, DCTERMS.isPartOf, rdflib.URIRef(iris.DATASET)))
    g.add((root, RDF.type, TREE.Node))


def _relation(g: rdflib.Graph, page, kind, target, value: str) -> None:
    # a label made of what the relation says: the same page serialises to the same bytes (and ETag)
    rel = rdflib.BNode(f"{kind.split('#')[-1]}-{str(target).rsplit('/', 1)[-1]}")
    g.add((page, TREE.relation, rel))
    g.add((rel, RDF.type, kind))
    g.add((rel, TREE.node, target))
    g.add((rel, TREE.path, PROV.generatedAtTime))
    g.add((rel, TREE.value, _time(value)))


def _patch(g: rdflib.Graph, request: Request, member: Member, patch) -> rdflib.URIRef:
    base, _ = _urls(request)
    url = rdflib.URIRef(f"{base}changes/patches/{member.build}/{patch.name}")
    g.add((url, RDF.type, DCAT.Distribution))
    g.add((url, DCAT.downloadURL, url))
    g.add((url, DCAT.mediaType, rdflib.URIRef(IANA + "application/n-quads")))
    g.add((url, DCAT.compressFormat, rdflib.URIRef(IANA + "application/gzip")))
    g.add((url, DCAT.byteSize, rdflib.Literal(patch.bytes, datatype=XSD.nonNegativeInteger)))
    g.add((url, VOID.triples, rdflib.Literal(patch.triples, datatype=XSD.integer)))
    checksum = rdflib.URIRef(f"{url}#sha256")
    g.add((url, SPDX.checksum, checksum))
    g.add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
    g.add((checksum, SPDX.checksumValue, rdflib.Literal(patch.sha256, datatype=XSD.hexBinary)))
    return url


def _member(g: rdflib.Graph, request: Request, stream, member: Member) -> None:
    node = rdflib.URIRef(iris.resource(f"change/{member.build}/{member.stem}"))
    g.add((stream, TREE.member, node))
    g.add((node, RDF.type, KIND[member.kind]))
    g.add((node, AS.object, rdflib.URIRef(member.graph)))
    g.add((node, PROV.generatedAtTime, _time(member.time)))
    g.add((node, PROV.wasGeneratedBy, rdflib.URIRef(iris.resource(f"build/{member.build}"))))
    if member.kind != DELETE:
        g.add((node, PTCE.replacesGraph, rdflib.Literal(member.replaces)))
    if member.removed is not None:
        g.add((node, PTCE.removedQuads, _patch(g, request, member, member.removed)))
    if member.added is not None:
        g.add((node, PTCE.addedQuads, _patch(g, request, member, member.added)))


def _answer(request: Request, g: rdflib.Graph, cache: str) -> Response:
    """Turtle, JSON-LD or N-Triples by Accept (or ?format=), with a strong ETag over the body."""
    fmt = {"ttl": "turtle", "turtle": "turtle", "jsonld": "json-ld", "json-ld": "json-ld", "nt": "nt"}.get(
        (request.query_params.get("format") or "").lower())
    if fmt is None:
        media = negotiation.best(request.headers.get("accept"), OFFERS)
        if media is None:
            return PlainTextResponse("Not acceptable: text/turtle, application/ld+json, application/n-triples\n"
                                     "Non acceptable : text/turtle, application/ld+json, application/n-triples\n",
                                     status_code=406, headers={"Vary": "Accept"})
        fmt = OFFERS[media]
    if fmt == "json-ld":
        body = _sorted_json(g.serialize(format="json-ld", context=CONTEXT, auto_compact=True)).encode("utf-8")
    elif fmt == "nt":  # sorted: the same page gives the same bytes, hence the same ETag
        body = "".join(sorted(g.serialize(format="nt").splitlines(keepends=True))).encode("utf-8")
    else:
        body = g.serialize(format="turtle").encode("utf-8")
    headers = {"Vary": "Accept", "Cache-Control": cache, "ETag": f'"{hashlib.sha256(body).hexdigest()}"'}
    if _matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MEDIA[fmt], headers=headers)


def _sorted_json(text: str) -> str:
    """rdflib writes JSON-LD nodes and values in set order, which changes from one process to the next: sort
    them (no @list here), so that a page has the same bytes, hence the same ETag, from every worker."""
    def norm(value, key=None):
        if isinstance(value, dict):
            return {k: norm(v, k) for k, v in sorted(value.items())}
        if isinstance(value, list):
            items = [norm(v) for v in value]
            return items if key == "@list" else sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
        return value

    return json.dumps(norm(json.loads(text)), indent=2, ensure_ascii=False) + "\n"


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


@router.api_route("/id/changes", methods=["GET", "HEAD"], include_in_schema=False)
def stream_iri(request: Request) -> Response:
    base, _ = _urls(request)
    return RedirectResponse(base + "changes", status_code=303)


@router.api_route("/changes", methods=["GET", "HEAD"], summary="Flux des changements (LDES) / change feed (LDES)")
def root(request: Request) -> Response:
    base, stream = _urls(request)
    view = rdflib.URIRef(base + "changes")
    g = _graph()
    _describe_stream(g, stream, view)
    pages = _pages(request, _log(request))
    for n, members in enumerate(pages, start=1):
        page = rdflib.URIRef(f"{base}changes/{n}")
        _relation(g, view, TREE.GreaterThanOrEqualToRelation, page, members[0].time)
        if n < len(pages):  # closed: its last member is final (a build's members may straddle two pages)
            _relation(g, view, TREE.LessThanOrEqualToRelation, page, members[-1].time)
    return _answer(request, g, OPEN_CACHE)


@router.api_route("/changes/{number}", methods=["GET", "HEAD"], summary="Une page du flux / one page of the feed")
def page(request: Request, number: int) -> Response:
    base, stream = _urls(request)
    pages = _pages(request, _log(request))
    if not 1 <= number <= len(pages):
        return PlainTextResponse("No such page / page inconnue\n", status_code=404)
    node = rdflib.URIRef(f"{base}changes/{number}")
    g = _graph()
    g.add((node, RDF.type, TREE.Node))
    closed = number < len(pages)  # a later page exists: this one gets no new member nor relation
    if closed:
        g.add((node, LDES.immutable, rdflib.Literal(True)))
        _relation(g, node, TREE.GreaterThanOrEqualToRelation, rdflib.URIRef(f"{base}changes/{number + 1}"),
                  pages[number][0].time)
    for member in pages[number - 1]:
        _member(g, request, stream, member)
    return _answer(request, g, CLOSED_CACHE if closed else OPEN_CACHE)


@router.api_route("/changes/patches/{build}/{name}", methods=["GET", "HEAD"],
                  summary="Triplets retirés ou ajoutés (N-Quads gzip) / removed or added triples")
def patch_file(request: Request, svc: Svc, build: str, name: str) -> Response:
    """Names come from the log, never from the path."""
    root_ = svc.live.root
    for member in _log(request):
        if member.build != build:
            continue
        for patch in (member.removed, member.added):
            if patch is not None and patch.name == name:
                headers = {"Cache-Control": CLOSED_CACHE, "ETag": f'"{patch.sha256}"',
                           "Digest": f"sha-256={patch.sha256}"}
                if _matches(request.headers.get("if-none-match"), headers["ETag"]):
                    return Response(status_code=304, headers=headers)
                return FileResponse(changes.patch_path(root_, member, patch), media_type="application/gzip",
                                    filename=name, headers=headers, content_disposition_type="attachment")
    return PlainTextResponse("No such change set / changement inconnu\n", status_code=404)
