"""Helpers shared by the sources (ingest): the contract itself (Source, Provenance, BuildContext) is in ptce_kg.sources."""

from __future__ import annotations

import json
from pathlib import Path

from ptce_kg.errors import IngestError
from ptce_kg.rdf import TripleSink
from ptce_kg.sources import BuildContext, Provenance, Source  # the contract lives in core: ingest imports it

__all__ = ["BuildContext", "PackageSource", "Provenance", "Source", "TripleSink", "npm_version", "read_json_array"]


def npm_version(package_dir: Path, missing: str = "unknown") -> str:
    """The version an npm package's package.json states; `missing` without one (a test fixture folder)."""
    manifest = Path(package_dir) / "package.json"
    if not manifest.is_file():
        return missing
    return json.loads(manifest.read_text(encoding="utf-8")).get("version", "unknown")


class PackageSource(Source):
    """A source read from an installed package's folder (npm ci), its version from the folder's package.json
    (`missing_version` for a fixture folder without one)."""
    package = ""  # its name on npm
    missing_version = "unknown"

    def __init__(self, package_dir: str | Path):
        self.package_dir = Path(package_dir)

    def version(self) -> str:
        return npm_version(self.package_dir, self.missing_version)

    def package_provenance(self, title_fr: str, title_en: str, licence_iri: str, publisher: str) -> Provenance:
        """The provenance of a graph built from this package: its npm page at the version read."""
        version = self.version()
        return Provenance(title_fr=title_fr, title_en=title_en, version=version, licence_iri=licence_iri,
                          source_iri=f"https://www.npmjs.com/package/{self.package}/v/{version}", publisher=publisher)


def read_json_array(source: str, path: Path, missing: str) -> list:
    """A JSON file holding an array (a package's data file); IngestError naming the file, the line of a syntax
    error, or `missing` (how to obtain the file) when it is absent."""
    if not path.is_file():
        raise IngestError(source, missing, file=str(path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise IngestError(source, f"invalid JSON: {exc.msg}", file=str(path), line=exc.lineno) from exc
    if not isinstance(data, list):
        raise IngestError(source, "expected a JSON array of items", file=str(path))
    return data
