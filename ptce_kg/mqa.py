"""The metadata quality score data.europa.eu gives each harvested dataset (MQA), computed on our catalogue.

Methodology: data.europa.eu's Metadata Quality Assessment, https://data.europa.eu/mqa/methodology (also
https://dataeuropa.gitlab.io/data-provider-manual/metadata-quality-dashboard/, read 2026-12-01): five dimensions
derived from FAIR — findability 100 points, accessibility 100, interoperability 110, reusability 75, contextuality
20, 405 in all — rated Excellent from 351, Good from 221, Sufficient from 121, Bad below. The indicators and their
points are `INDICATORS` below. How a distribution-level indicator becomes a dataset's points:

- interoperability: the best distribution counts (the methodology's "identical content in several
  distributions" assumption);
- accessibility, licence, rights and byte size: the share of the dataset's distributions that meet it
  (a SPARQL endpoint has no download URL, so a dataset with one loses part of those points);
- a URL is accessible when a HEAD request (a GET when HEAD is not allowed) answers 2xx or 3xx — checked
  against the running server, never assumed;
- DCAT-AP compliance (30 points) is given only when the official DCAT-AP SHACL shapes are at hand and report
  no violation on the dataset or its distributions; without the shapes it scores 0 ("not checked").

Format lists: the non-proprietary and machine-readable formats are those of data.europa.eu's own lists
(edp-non-proprietary-format, edp-machine-readable-format); "from a vocabulary" means an EU file-type IRI for
dct:format or an IANA media-type IRI for dcat:mediaType; a known licence is an IRI of the EU licence list; an
access right from the vocabulary is an IRI of the EU access-right list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx
import rdflib
from rdflib.namespace import DCAT, DCTERMS, RDF, SH

EU = "http://publications.europa.eu/resource/authority/"
IANA = ("https://www.iana.org/assignments/media-types/", "http://www.iana.org/assignments/media-types/")
HYDRA = rdflib.Namespace("http://www.w3.org/ns/hydra/core#")
MAX = 405
BANDS = ((351, "Excellent"), (221, "Good"), (121, "Sufficient"), (0, "Bad"))
NON_PROPRIETARY = {EU + "file-type/" + c for c in (
    "BMP", "CSV", "DBF", "GEOJSON", "GZIP", "HTML", "ICS", "JPEG2000", "JSON", "JSON_LD", "KML", "KMZ", "NETCDF",
    "ODS", "PNG", "RDF_N_QUADS", "RDF_N_TRIPLES", "RDF_TRIG", "RDF_TURTLE", "RDF_XML", "RSS", "RTF", "TAR", "TIFF",
    "TSV", "TXT", "WMS_SRVC", "XML", "ZIP")}
MACHINE_READABLE = {EU + "file-type/" + c for c in (
    "CSV", "GEOJSON", "ICS", "JSON", "JSON_LD", "KML", "KMZ", "NETCDF", "ODS", "RDFA", "RDF_N_QUADS",
    "RDF_N_TRIPLES", "RDF_TRIG", "RDF_TURTLE", "RDF_XML", "RSS", "SHP", "XLS", "XLSX", "XML")}
ACCESS_RIGHTS = {EU + "access-right/" + c for c in ("PUBLIC", "RESTRICTED", "NON_PUBLIC", "CONFIDENTIAL", "SENSITIVE")}

# (key, dimension, points, level): level "dataset", "share" (share of distributions) or "best" (best distribution)
INDICATORS = (
    ("keywords", "findability", 30, "dataset"),
    ("themes", "findability", 30, "dataset"),
    ("spatial", "findability", 20, "dataset"),
    ("temporal", "findability", 20, "dataset"),
    ("access-url-accessible", "accessibility", 50, "share"),
    ("download-url", "accessibility", 20, "share"),
    ("download-url-accessible", "accessibility", 30, "share"),
    ("format", "interoperability", 20, "best"),
    ("media-type", "interoperability", 10, "best"),
    ("format-media-type-from-vocabulary", "interoperability", 10, "best"),
    ("format-non-proprietary", "interoperability", 20, "best"),
    ("format-machine-readable", "interoperability", 20, "best"),
    ("dcat-ap-compliance", "interoperability", 30, "dataset"),
    ("licence", "reusability", 20, "share"),
    ("licence-from-vocabulary", "reusability", 10, "share"),
    ("access-rights", "reusability", 10, "dataset"),
    ("access-rights-from-vocabulary", "reusability", 5, "dataset"),
    ("contact-point", "reusability", 20, "dataset"),
    ("publisher", "reusability", 10, "dataset"),
    ("rights", "contextuality", 5, "share"),
    ("byte-size", "contextuality", 5, "share"),
    ("issued", "contextuality", 5, "dataset"),
    ("modified", "contextuality", 5, "dataset"),
)
DIMENSIONS = {"findability": 100, "accessibility": 100, "interoperability": 110, "reusability": 75, "contextuality": 20}
assert sum(p for _, _, p, _ in INDICATORS) == MAX and sum(DIMENSIONS.values()) == MAX


def rating(points: float) -> str:
    return next(label for floor, label in BANDS if points >= floor)


@dataclass
class DatasetScore:
    dataset: str
    points: float
    indicators: dict[str, float] = field(default_factory=dict)
    dimensions: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def rating(self) -> str:
        return rating(self.points)

    def as_dict(self) -> dict:
        return {"dataset": self.dataset, "points": round(self.points, 2), "rating": self.rating,
                "dimensions": {k: round(v, 2) for k, v in self.dimensions.items()},
                "indicators": {k: round(v, 2) for k, v in self.indicators.items()}, "failures": self.failures}


def harvest(client: httpx.Client, url: str, max_pages: int = 1000) -> rdflib.Graph:
    """The whole catalogue: every Hydra page from `url`, merged into one graph."""
    graph, seen, next_url = rdflib.Graph(), set(), url
    while next_url and next_url not in seen and len(seen) < max_pages:
        seen.add(next_url)
        response = client.get(next_url, headers={"Accept": "text/turtle"})
        response.raise_for_status()
        page = rdflib.Graph().parse(data=response.text, format="turtle")
        graph += page
        following = [o for view in page.objects(None, HYDRA.view) for o in page.objects(view, HYDRA.next)]
        next_url = str(following[0]) if following else None
    return graph


class Reachability:
    """HEAD (or GET when HEAD is refused) each URL once; 2xx and 3xx are accessible."""

    def __init__(self, client: httpx.Client):
        self.client, self.status = client, {}

    def __call__(self, url: str) -> bool:
        if url not in self.status:
            try:
                code = self.client.head(url).status_code
                if code in (405, 501):
                    with self.client.stream("GET", url) as response:
                        code = response.status_code
            except httpx.HTTPError:
                code = None
            self.status[url] = code
        code = self.status[url]
        return code is not None and 200 <= code < 400


def _violating_focus_nodes(graph: rdflib.Graph, shapes_dir: Path) -> set:
    import pyshacl

    shapes = rdflib.Graph().parse(shapes_dir / "dcat-ap-SHACL.ttl").parse(shapes_dir / "ranges.ttl")
    # The official files reference a few property shapes they never define: drop those references only.
    for s, o in [(s, o) for s, o in shapes.subject_objects(SH.property) if (o, SH.path, None) not in shapes]:
        shapes.remove((s, SH.property, o))
    _, report, _ = pyshacl.validate(graph, shacl_graph=shapes, inference="none")
    return {report.value(r, SH.focusNode) for r in report.subjects(RDF.type, SH.ValidationResult)
            if report.value(r, SH.resultSeverity) == SH.Violation}


def score_graph(graph: rdflib.Graph, reachable, shapes_dir: Path | None = None) -> list[DatasetScore]:
    """One score per dcat:Dataset of `graph`; `reachable(url)` says whether a URL answers."""
    violations = _violating_focus_nodes(graph, shapes_dir) if shapes_dir else None
    scores = []
    for ds in sorted(set(graph.subjects(RDF.type, DCAT.Dataset)), key=str):
        has = lambda p: any(True for _ in graph.objects(ds, p))  # noqa: E731
        dists = sorted(set(graph.objects(ds, DCAT.distribution)), key=str)

        def dist_checks(d) -> dict[str, bool]:
            formats = [str(o) for o in graph.objects(d, DCTERMS.format)]
            media = [str(o) for o in graph.objects(d, DCAT.mediaType)]
            access = [str(o) for o in graph.objects(d, DCAT.accessURL)]
            download = [str(o) for o in graph.objects(d, DCAT.downloadURL)]
            licences = [str(o) for o in graph.objects(d, DCTERMS.license)]
            return {
                "access-url-accessible": bool(access) and all(reachable(u) for u in access),
                "download-url": bool(download),
                "download-url-accessible": bool(download) and all(reachable(u) for u in download),
                "format": bool(formats), "media-type": bool(media),
                "format-media-type-from-vocabulary": any(f.startswith(EU + "file-type/") for f in formats)
                or any(m.startswith(IANA) and "/" in m.split("media-types/", 1)[1] for m in media),
                "format-non-proprietary": any(f in NON_PROPRIETARY for f in formats),
                "format-machine-readable": any(f in MACHINE_READABLE for f in formats),
                "licence": bool(licences),
                "licence-from-vocabulary": any(x.startswith(EU + "licence/") for x in licences),
                "rights": any(True for _ in graph.objects(d, DCTERMS.rights)),
                "byte-size": any(True for _ in graph.objects(d, DCAT.byteSize)),
            }
        per_dist = [dist_checks(d) for d in dists]
        access_rights = [str(o) for o in graph.objects(ds, DCTERMS.accessRights)]
        own = {
            "keywords": has(DCAT.keyword), "themes": has(DCAT.theme), "spatial": has(DCTERMS.spatial),
            "temporal": has(DCTERMS.temporal), "access-rights": bool(access_rights),
            "access-rights-from-vocabulary": any(a in ACCESS_RIGHTS for a in access_rights),
            "contact-point": has(DCAT.contactPoint), "publisher": has(DCTERMS.publisher),
            "issued": has(DCTERMS.issued), "modified": has(DCTERMS.modified),
            "dcat-ap-compliance": violations is not None and not ({ds, *dists} & violations),
        }
        result = DatasetScore(str(ds), 0.0, dimensions={d: 0.0 for d in DIMENSIONS})
        for key, dimension, points, level in INDICATORS:
            if level == "dataset":
                share = 1.0 if own[key] else 0.0
            elif not per_dist:
                share = 0.0
            elif level == "best":
                share = 1.0 if any(c[key] for c in per_dist) else 0.0
            else:
                share = sum(c[key] for c in per_dist) / len(per_dist)
            got = points * share
            result.indicators[key] = got
            result.dimensions[dimension] += got
            result.points += got
            if got < points:
                result.failures.append(key if key != "dcat-ap-compliance" or violations is not None
                                       else "dcat-ap-compliance (not checked: no shapes)")
        scores.append(result)
    return scores


def score_catalogue(client: httpx.Client, url: str, shapes_dir: Path | None = None) -> list[DatasetScore]:
    """Harvest `url` (every page) and score each dataset, checking each URL with `client`."""
    return score_graph(harvest(client, url), Reachability(client), shapes_dir)


def table(scores: list[DatasetScore]) -> str:
    lines = ["| dataset | F | A | I | R | C | points | rating |", "|---|---|---|---|---|---|---|---|"]
    for s in scores:
        d = s.dimensions
        lines.append(f"| {s.dataset.rsplit('/', 1)[-1]} | {d['findability']:g} | {d['accessibility']:g} | "
                     f"{d['interoperability']:g} | {d['reusability']:g} | {d['contextuality']:g} | "
                     f"{s.points:g} / {MAX} | {s.rating} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`ptce-kg catalogue --score` (also `python -m ptce_kg.mqa`): exit 0 when every dataset is Excellent."""
    import argparse
    import json

    from .config import settings

    parser = argparse.ArgumentParser(prog="ptce-kg catalogue", description=main.__doc__)
    parser.add_argument("--score", action="store_true", help="compute the MQA scores (the only action)")
    parser.add_argument("--url", help="the service's base URL (default: $PTCE_KG_PUBLIC_URL or http://127.0.0.1:8000/)")
    parser.add_argument("--shapes", help="folder of the official DCAT-AP 3.0.1 SHACL files (dcat-ap-SHACL.ttl, "
                                          "ranges.ttl), for the DCAT-AP compliance indicator")
    parser.add_argument("--format", choices=["table", "json"], default="table")
    args = parser.parse_args(argv)
    base = (args.url or settings().public_url).rstrip("/") + "/"
    with httpx.Client(timeout=60) as client:
        scores = score_catalogue(client, base + "catalog", Path(args.shapes) if args.shapes else None)
    if args.format == "json":
        print(json.dumps([s.as_dict() for s in scores], ensure_ascii=False, indent=2))
    else:
        print(table(scores))
        for s in scores:
            if s.failures:
                print(f"{s.dataset}: {', '.join(s.failures)}")
    return 0 if scores and all(s.points >= BANDS[0][0] for s in scores) else 1


if __name__ == "__main__":
    raise SystemExit(main())
