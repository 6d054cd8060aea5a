"""Eligibility reports kept on request, with their provenance (rule-set version, data snapshot, time).

A recorded report is written once to the ledger, `<store root>/records/eligibility/<id>.nt`, then
inserted into the published graph (named graph <…/graph/eligibility-reports>) the way an update is;
every build loads the ledger again, so rebuilding from the sources never loses a report. Reports are
public like the rest of the graph; recording one over HTTP needs the update token.

Only the verdicts, their messages and a digest of the candidate's triples are kept, not the candidate
itself: a candidate typed ptce:PTCE would otherwise count among the PTCE of the graph.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pyoxigraph
import rdflib
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS, XSD

from . import __version__
from .eligibility import Report, ruleset_version
from . import iris
from .rdf import graph

SD_NAMED_GRAPH = "http://www.w3.org/ns/sparql-service-description#NamedGraph"

PTCE = rdflib.Namespace(iris.DEF)
ID = iris.ID
CODE_VERDICT = iris.code_iri("verdict", "")
SHAPES = iris.SHAPES
PIPELINE = rdflib.URIRef(iris.SOFTWARE)
GRAPH = graph("eligibility-reports")
META_GRAPH = graph("meta")


def ledger(root) -> Path:
    return Path(root.path) / "records" / "eligibility"


def input_digest(candidate: rdflib.Graph) -> str:
    """SHA-256 of the input's sorted N-Triples: the same description gives the same digest (blank nodes aside)."""
    lines = sorted(line for line in candidate.serialize(format="nt").splitlines() if line.strip())
    return "sha256:" + hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def report_graphs(report: Report, candidate: rdflib.Graph) -> list[tuple[str, rdflib.Graph]]:
    """One RDF description per candidate of the report, named by a digest of what it is about."""
    out = []
    for item in report.candidates:
        digest = input_digest(candidate)
        version = f"{report.ruleset}@{__version__}"
        key = "\n".join([item.candidate, digest, version, report.snapshot or "", report.checked_at])
        rid = hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]
        node = rdflib.URIRef(f"{ID}eligibility-report/{rid}")
        check = rdflib.URIRef(f"{node}/check")
        g = rdflib.Graph()
        when = rdflib.Literal(report.checked_at, datatype=XSD.dateTime)
        g.add((node, RDF.type, PTCE.EligibilityReport))
        g.add((node, RDF.type, PROV.Entity))
        g.add((node, RDFS.label, rdflib.Literal(f"Rapport d'éligibilité ({report.ruleset}) : {item.label}", lang="fr")))
        g.add((node, RDFS.label, rdflib.Literal(f"Eligibility report ({report.ruleset}): {item.label}", lang="en")))
        g.add((node, PTCE.candidate, rdflib.URIRef(item.candidate)))
        g.add((node, PTCE.inputDigest, rdflib.Literal(digest)))
        g.add((node, PTCE.verdict, rdflib.URIRef(CODE_VERDICT + item.verdict)))
        g.add((node, PTCE.ruleSet, rdflib.URIRef((report.version or ruleset_version(report.ruleset)).requirement)))
        g.add((node, PTCE.ruleSetVersion, rdflib.Literal(version)))
        g.add((node, DCTERMS.conformsTo, rdflib.URIRef(SHAPES + report.ruleset)))
        g.add((node, DCTERMS.created, when))
        g.add((node, PROV.generatedAtTime, when))
        g.add((node, PROV.wasGeneratedBy, check))
        g.add((check, RDF.type, PROV.Activity))
        g.add((check, RDFS.label, rdflib.Literal("vérification d'éligibilité", lang="fr")))
        g.add((check, RDFS.label, rdflib.Literal("eligibility check", lang="en")))
        g.add((check, PROV.endedAtTime, when))
        g.add((check, PROV.used, rdflib.URIRef(SHAPES + report.ruleset)))
        g.add((check, PROV.wasAssociatedWith, PIPELINE))
        if report.snapshot:
            g.add((node, PTCE.dataSnapshot, rdflib.Literal(report.snapshot)))
            g.add((check, PROV.wasInformedBy, rdflib.URIRef(f"{ID}build/{report.snapshot}")))
        for verdict in item.criteria:
            c = verdict.criterion
            part = rdflib.URIRef(f"{node}/criterion/{c.identifier}")
            g.add((node, PTCE.criterionVerdict, part))
            g.add((part, RDF.type, PTCE.CriterionVerdict))
            g.add((part, PTCE.assessedCriterion, rdflib.URIRef(c.iri)))
            g.add((part, PTCE.verdict, rdflib.URIRef(CODE_VERDICT + verdict.verdict)))
            g.add((part, RDFS.label, rdflib.Literal(f"{c.title_fr} : {verdict.verdict}", lang="fr")))
            g.add((part, RDFS.label, rdflib.Literal(f"{c.title_en}: {verdict.verdict}", lang="en")))
            for finding in verdict.findings:
                g.add((part, RDFS.comment, rdflib.Literal(finding.message_fr, lang="fr")))
                g.add((part, RDFS.comment, rdflib.Literal(finding.message_en, lang="en")))
        out.append((str(node), g))
    return out


def _write_once(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def record(report: Report, candidate: rdflib.Graph, root) -> list[str]:
    """Keep the report: ledger file first (survives anything), then the published graph. Returns the IRIs."""
    iris, triples = [], []
    for iri, g in report_graphs(report, candidate):
        data = g.serialize(format="nt", encoding="utf-8")
        _write_once(ledger(root) / f"{iri.rsplit('/', 1)[1]}.nt", data)
        iris.append(iri)
        triples.append(data.decode("utf-8"))
    if root.current_name() is not None:
        # Listed in the metadata graph too: a remote store only shows the graphs listed there.
        root.apply_update(f"INSERT DATA {{ GRAPH <{GRAPH.value}> {{\n{''.join(triples)}}}\n"
                          f"  GRAPH <{META_GRAPH.value}> {{ <{GRAPH.value}> a <{SD_NAMED_GRAPH}> }} }}")
    return iris


class RecordsSource:
    """The ledger as a build source: every recorded report, in its named graph."""

    name = "eligibility-reports"
    graph = GRAPH

    def __init__(self, directory: Path):
        self.directory = directory

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*.nt")) if self.directory.is_dir() else []

    def provenance(self):
        from .sources import Provenance

        return Provenance(
            title_fr="Rapports d'éligibilité enregistrés", title_en="Recorded eligibility reports",
            source_iri=iris.SOFTWARE, version=__version__,
            licence_iri="https://www.etalab.gouv.fr/licence-ouverte-open-licence", publisher="ptce-kg",
        )

    def load(self, sink, ctx) -> None:
        from .errors import BuildError

        for path in self.files():
            try:
                for triple in pyoxigraph.parse(path=str(path), format=pyoxigraph.RdfFormat.N_TRIPLES):
                    sink.add(triple.subject, triple.predicate, triple.object)
            except SyntaxError as exc:
                raise BuildError(f"[{self.name}] {path}: {exc}") from exc
