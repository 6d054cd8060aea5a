"""Namespaces and small term constructors shared by the ingest mappings."""

from __future__ import annotations

from pyoxigraph import Literal, NamedNode, Quad

from .iris import CODE, CRITERION, DEF, GRAPH, ID  # every IRI is minted in ptce_kg/iris.py

PREFIXES = {
    "ptce": DEF,
    "code": CODE,
    "crit": CRITERION,
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dct": "http://purl.org/dc/terms/",
    "org": "http://www.w3.org/ns/org#",
    "rov": "http://www.w3.org/ns/regorg#",
    "prov": "http://www.w3.org/ns/prov#",
    "adms": "http://www.w3.org/ns/adms#",
    "cccev": "http://data.europa.eu/m8g/",
    "eli": "http://data.europa.eu/eli/ontology#",
    "schema": "https://schema.org/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "igeo": "http://rdf.insee.fr/def/geo#",
    "dcat": "http://www.w3.org/ns/dcat#",
    "void": "http://rdfs.org/ns/void#",
    "sd": "http://www.w3.org/ns/sparql-service-description#",
    "sh": "http://www.w3.org/ns/shacl#",
    "geo": "http://www.opengis.net/ont/geosparql#",
    "wgs": "http://www.w3.org/2003/01/geo/wgs84_pos#",
}


class Namespace:
    """`NS.term` -> NamedNode(prefix + 'term')."""

    def __init__(self, prefix: str):
        self._prefix = prefix

    def __getattr__(self, name: str) -> NamedNode:
        return NamedNode(self._prefix + name)

    def __getitem__(self, name: str) -> NamedNode:
        return NamedNode(self._prefix + name)


PTCE = Namespace(DEF)
RDF = Namespace(PREFIXES["rdf"])
RDFS = Namespace(PREFIXES["rdfs"])
XSD = Namespace(PREFIXES["xsd"])
SKOS = Namespace(PREFIXES["skos"])
DCT = Namespace(PREFIXES["dct"])
ORG = Namespace(PREFIXES["org"])
ROV = Namespace(PREFIXES["rov"])
PROV = Namespace(PREFIXES["prov"])
ADMS = Namespace(PREFIXES["adms"])
IGEO = Namespace(PREFIXES["igeo"])
SCHEMA = Namespace(PREFIXES["schema"])
FOAF = Namespace(PREFIXES["foaf"])
DCAT = Namespace(PREFIXES["dcat"])
SD = Namespace(PREFIXES["sd"])
OWL = Namespace(PREFIXES["owl"])
GEO = Namespace(PREFIXES["geo"])
WGS = Namespace(PREFIXES["wgs"])

A = RDF.type


def iri(path: str) -> NamedNode:
    """A resource of the ptce-kg `id/` space, e.g. iri('commune/01001')."""
    return NamedNode(ID + path)


def code(scheme: str, notation: str) -> NamedNode:
    return NamedNode(f"{CODE}{scheme}/{notation}")


def graph(name: str) -> NamedNode:
    return NamedNode(GRAPH + name)


def fr(text: str) -> Literal:
    return Literal(text, language="fr")


def en(text: str) -> Literal:
    return Literal(text, language="en")


def string(text: str) -> Literal:
    return Literal(text)


def integer(value: int) -> Literal:
    return Literal(str(int(value)), datatype=XSD.integer)


def typed(value: str, datatype: str) -> Literal:
    return Literal(value, datatype=XSD[datatype])


def wkt_point(longitude: float, latitude: float) -> Literal:
    """A GeoSPARQL point (WGS 84, longitude first as WKT wants)."""
    return Literal(f"POINT({longitude:.6f} {latitude:.6f})", datatype=GEO.wktLiteral)


class TripleSink:
    """Receives the triples of one named graph and hands them to a consumer in batches.

    With no consumer the quads are kept in `quads` (tests, small graphs).
    """

    BATCH = 200_000

    def __init__(self, graph_iri: NamedNode, consumer=None):
        self.graph = graph_iri
        self.consumer = consumer
        self.quads: list[Quad] = []
        self.count = 0

    def add(self, s, p, o) -> None:
        self.quads.append(Quad(s, p, o, self.graph))
        self.count += 1
        if self.consumer is not None and len(self.quads) >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        if self.consumer is not None and self.quads:
            self.consumer(self.quads)
            self.quads = []

    def __len__(self) -> int:
        return self.count


def add_siren(sink: "TripleSink", node: NamedNode, siren: str) -> None:
    """The SIREN of an organisation, as a value and as an ADMS identifier (`<node>#siren`)."""
    sink.add(node, PTCE.siren, string(siren))
    ident = NamedNode(node.value + "#siren")
    sink.add(node, ADMS.identifier, ident)
    sink.add(ident, A, ADMS.Identifier)
    sink.add(ident, SKOS.notation, string(siren))
    sink.add(ident, ADMS.schemeAgency, string("INSEE (répertoire SIRENE)"))
