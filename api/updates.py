"""Authorised SPARQL updates: applied to a copy of the published build, then published atomically.

Builds are read-only once published (query workers hold them open read-only), so an update makes a
RocksDB checkpoint of the current build, applies itself there and switches the pointer — the same
path a build takes. LOAD is refused even with a token: the service never fetches URLs or files. The update
runs in a confined process (`ptce_kg.sandbox`: no network beyond the back end), one update at a time.
The next `ptce-kg build` starts again from the sources; updates are for curators' quick fixes.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from fastapi import Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from ptce_kg.sparql_guard import QueryRefused, check_update

from .deps import service_of
from .errors import status_of


def _confine(store_spec: str) -> None:
    from ptce_kg.remote import RemoteRoot, open_root
    from ptce_kg.sandbox import confine

    root = open_root(store_spec)
    allowed = (root.endpoint.query, root.endpoint.update, root.endpoint.gsp) if isinstance(root, RemoteRoot) else ()
    confine(None, allowed)


def _apply(store_spec: str, text: str) -> None:
    from ptce_kg.remote import open_root

    open_root(store_spec).apply_update(text)


_executors: dict[str, ProcessPoolExecutor] = {}


def _executor(store_spec: str) -> ProcessPoolExecutor:
    if store_spec not in _executors:
        _executors[store_spec] = ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"),
                                                     initializer=_confine, initargs=(store_spec,))
    return _executors[store_spec]


async def apply_update(request: Request, params: dict[str, list[str]]) -> Response:
    settings = service_of(request).settings
    text = params["update"][0]
    try:
        await run_in_threadpool(check_update, text, settings.service_allowlist, max_bytes=settings.max_query_bytes,
                                max_nesting=settings.max_nesting, max_operators=settings.max_operators)
    except QueryRefused as refused:
        body = f"{refused.en}\n{refused.fr}\n" + (f"\n{refused.detail}\n" if refused.detail else "")
        return PlainTextResponse(body, status_code=status_of(refused.reason))
    try:
        await asyncio.get_running_loop().run_in_executor(_executor(settings.store), _apply, settings.store, text)
    except SyntaxError as exc:
        return PlainTextResponse(f"Malformed SPARQL update / mise à jour mal formée.\n\n{exc}\n", status_code=400)
    except BrokenProcessPool as exc:
        _executors.pop(settings.store, None)  # the next update starts a fresh process
        return PlainTextResponse(f"Update failed / échec de la mise à jour.\n\n{exc}\n", status_code=500)
    except OSError as exc:
        return PlainTextResponse(f"Update failed / échec de la mise à jour.\n\n{exc}\n", status_code=500)
    return Response(status_code=204)
