"""The vocabulary: it parses, documents itself in French and English, covers the data, and is consistent."""

from __future__ import annotations

import pytest
import rdflib
from rdflib.namespace import DCAT, DCTERMS, FOAF, ORG, OWL, PROV, RDF, RDFS, SKOS, VOID, XSD

from conftest import TERRITORY_FIXTURES, select
from ptce_kg.build import ontology_files

PTCE = rdflib.Namespace("https://w3id.org/ptce-kg/def#")
# Vocabularies rdflib knows term by term: a term used from them must exist there.
CLOSED = {str(ns): ns for ns in (RDF, RDFS, OWL, SKOS, DCTERMS, ORG, PROV, FOAF, DCAT, VOID, XSD)}
# Reused vocabularies rdflib does not enumerate (checked by namespace only).
REUSED = (
    "http://www.w3.org/ns/regorg#", "http://www.w3.org/ns/adms#", "http://data.europa.eu/m8g/",
    "http://data.europa.eu/eli/ontology#", "https://schema.org/", "http://rdf.insee.fr/def/geo#",
    "http://www.w3.org/ns/sparql-service-description#", "http://purl.org/pav/", "http://purl.org/vocab/cpsv#",
    "http://wikiba.se/ontology#",
)


@pytest.fixture(scope="module")
def ontology() -> rdflib.Graph:
    g = rdflib.Graph()
    for path in ontology_files():
        g.parse(path, format="turtle")
    return g


def test_ontology_has_a_version_iri(ontology):
    onto = rdflib.URIRef("https://w3id.org/ptce-kg/def")
    assert (onto, RDF.type, OWL.Ontology) in ontology
    assert str(ontology.value(onto, OWL.versionIRI)) == "https://w3id.org/ptce-kg/def/0.1"


def test_every_term_has_french_and_english_labels_and_definitions(ontology):
    missing = []
    for kind in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty):
        for term in ontology.subjects(RDF.type, kind):
            if not str(term).startswith(str(PTCE)):
                continue
            for prop in (RDFS.label, SKOS.definition):
                langs = {o.language for o in ontology.objects(term, prop)}
                if not {"fr", "en"} <= langs:
                    missing.append(f"{term} {prop}")
    assert missing == []


def _declared(ontology, term) -> bool:
    return any(ontology.triples((term, RDF.type, None)))


def _undefined(ontology, terms) -> list[str]:
    bad = []
    for term in terms:
        ref = rdflib.URIRef(term)
        if term.startswith(str(PTCE)):
            if not _declared(ontology, ref):
                bad.append(term)
            continue
        closed = next((ns for base, ns in CLOSED.items() if term.startswith(base)), None)
        if closed is not None:
            if term[len(str(closed)):] not in dir(closed) and ref not in closed:
                bad.append(term)
        elif not term.startswith(REUSED):
            bad.append(term)
    return bad


def test_every_term_used_in_the_data_is_defined(store, ontology):
    data_graphs = """VALUES ?g { <https://w3id.org/ptce-kg/graph/territories> <https://w3id.org/ptce-kg/graph/programmes>
                                  <https://w3id.org/ptce-kg/graph/registry> <https://w3id.org/ptce-kg/graph/meta> }"""
    predicates = [r["p"] for r in select(store, f"SELECT DISTINCT ?p {{ {data_graphs} GRAPH ?g {{ ?s ?p ?o }} }}")]
    classes = [r["c"] for r in select(store, f"SELECT DISTINCT ?c {{ {data_graphs} GRAPH ?g {{ ?s a ?c }} }}")]
    assert len(predicates) > 30 and len(classes) > 15
    assert _undefined(ontology, predicates + classes) == []


def test_every_code_used_is_in_a_code_list(store):
    """Code lists are the vocabulary's own (graph/ontology) and the NAF graph built from @socialgouv/codes-naf."""
    rows = select(store, """
        SELECT DISTINCT ?code { GRAPH ?g { ?s ?p ?code }
          FILTER(isIRI(?code) && STRSTARTS(STR(?code), "https://w3id.org/ptce-kg/code/") && ?g != <https://w3id.org/ptce-kg/graph/ontology>)
          FILTER NOT EXISTS { GRAPH ?lists { ?code a ?type }
            FILTER(?lists IN (<https://w3id.org/ptce-kg/graph/ontology>, <https://w3id.org/ptce-kg/graph/naf>)) } }""")
    assert rows == []


def test_owl_rl_finds_no_inconsistency(real_ctx, ontology):
    """OWL RL closure over the vocabulary, the registry, the programmes and a real territory sample."""
    import owlrl
    import pyoxigraph

    from ingest.programmes import ProgrammesSource
    from ingest.registry import RegistrySource
    from ingest.territories import TerritoriesSource
    from ingest.base import BuildContext
    from ptce_kg.rdf import TripleSink, graph

    data = rdflib.Graph()
    data += ontology
    for source, ctx in ((RegistrySource(), real_ctx), (ProgrammesSource(), real_ctx),
                        (TerritoriesSource(TERRITORY_FIXTURES), BuildContext())):
        sink = TripleSink(graph(source.name))
        source.load(sink, ctx)
        buffer = pyoxigraph.serialize([q.triple for q in sink.quads], format=pyoxigraph.RdfFormat.N_TRIPLES)
        data.parse(data=buffer, format="nt")
    before = len(data)
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(data)
    assert len(data) > before  # the reasoner did run and infer
    errors = [str(m) for m in data.objects(None, rdflib.URIRef("http://www.daml.org/2002/03/agents/agent-ont#error"))]
    assert errors == []
    assert list(data.subjects(RDF.type, OWL.Nothing)) == []
