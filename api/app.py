"""The ptce-kg web service: SPARQL endpoint, pages, and (later) linked-data views of the graph."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from ptce_kg import __version__
from ptce_kg.config import NODE_MODULES, Settings, settings as load_settings
from ptce_kg.engine import QueryPool
from ptce_kg.remote import open_root
from ptce_kg.store import LiveStore

from . import limits
from .limits import ClientLimits
from .security import ResponseHeaders
from . import batch, eligibility, home, i18n, linked_data, maps, pages, publication, sparql
from . import changes
from . import reconcile, search
from .answers import AnswerCache
from .deps import Service

HERE = Path(__file__).resolve().parent
YASGUI_BUILD = NODE_MODULES / "@zazuko" / "yasgui" / "build"
LEAFLET_DIST = NODE_MODULES / "leaflet" / "dist"
DSFR_DIST = NODE_MODULES / "@gouvfr" / "dsfr" / "dist"


def create_app(cfg: Settings | None = None) -> FastAPI:
    cfg = cfg or load_settings()
    pool = QueryPool(cfg.store, size=cfg.workers, timeout_s=cfg.query_timeout_s, memory_mb=cfg.worker_memory_mb,
                     federated=bool(cfg.service_allowlist))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await pool.start()
        yield
        pool.close()

    app = FastAPI(title="ptce-kg", version=__version__, lifespan=lifespan,
                  description="Graphe de connaissances des PTCE / PTCE knowledge graph")
    # Opened once, handed to the routes as a dependency (api/deps.py). No client may hold every worker: its
    # concurrency stays below the pool size.
    app.state.service = Service(
        settings=cfg, pool=pool, live=LiveStore(open_root(cfg.store)), answers=AnswerCache(cfg.answer_cache_bytes),
        templates=Jinja2Templates(directory=str(HERE / "templates"), context_processors=[i18n.context]),
        limits=ClientLimits(min(cfg.client_concurrency, max(1, cfg.workers - 1)), cfg.client_budget_s))
    app.add_middleware(ResponseHeaders, tiles=cfg.map_tiles)  # security headers, and the ?lang= cookie (pure ASGI)
    # Read requests may come from any web page (YASGUI elsewhere, notebooks in a browser).
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "HEAD", "POST", "OPTIONS"],
                       allow_headers=["Accept", "Content-Type"], expose_headers=[
                           "X-Result-Count", "X-Result-Truncated", "X-Result-Limit", "X-Result-Limit-Bytes",
                           "X-Query-Limit", "ETag", "Last-Modified"])
    limits.install(app, cfg.max_body_bytes, cfg.body_timeout_s)  # outermost: bodies are capped before anything
    if YASGUI_BUILD.is_dir():
        app.mount("/assets/yasgui", StaticFiles(directory=str(YASGUI_BUILD)), name="yasgui")
    if DSFR_DIST.is_dir():
        app.mount("/assets/dsfr", StaticFiles(directory=str(DSFR_DIST)), name="dsfr")
    if LEAFLET_DIST.is_dir():
        app.mount("/assets/leaflet", StaticFiles(directory=str(LEAFLET_DIST)), name="leaflet")
    app.mount("/assets/site", StaticFiles(directory=str(HERE / "static")), name="site")
    app.include_router(home.router)
    app.include_router(sparql.router)
    app.include_router(batch.router)  # before eligibility's /eligibility/{ptce_id}
    app.include_router(eligibility.router)
    app.include_router(pages.router)
    app.include_router(search.router)  # /search and /reconcile (README, "Search and reconciliation")
    app.include_router(reconcile.router)
    app.include_router(maps.router)
    app.include_router(publication.router)
    app.include_router(changes.router)  # /changes, and /id/changes before linked data's /id/…
    app.include_router(linked_data.router)
    return app
