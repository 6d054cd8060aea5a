"""What the app factory opens once (the store root, the worker pool, caches, templates, limits) and how the
routes receive it: the `Service` of the app, as a FastAPI dependency (`Svc`) or through `service_of(request)` in
the helpers the routes call. Nothing else in api/ reads `app.state`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from ptce_kg.config import Settings
from ptce_kg.engine import QueryPool
from ptce_kg.store import LiveStore

from .answers import AnswerCache
from .limits import ClientLimits


@dataclass
class Service:
    settings: Settings        # read once, by the app factory
    live: LiveStore           # follows the published build of the root (embedded or remote: backends.Root)
    pool: QueryPool           # confined worker processes (ptce_kg/engine.py)
    answers: AnswerCache      # answers per build (api/answers.py)
    templates: Jinja2Templates
    limits: ClientLimits      # per-client concurrency and budget (api/limits.py)
    map_cache: dict = field(default_factory=dict)  # drawn maps per build (api/maps.py)


def service_of(request: Request) -> Service:
    """The app's Service, for code that holds the request (routes take it as `svc: Svc`)."""
    return request.app.state.service


async def _service(request: Request) -> Service:
    # async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a hand-off to another
    # thread and back on every request (about a third of the application's time on `ASK {}`)
    return request.app.state.service


Svc = Annotated[Service, Depends(_service)]
