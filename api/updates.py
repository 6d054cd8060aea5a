"""Authorised SPARQL updates: applied to a copy of the published build, then published atomically.

Builds are read-only once published (query workers hold them open read-only), so an update makes a
RocksDB checkpoint of the current build, applies itself there and switches the pointer — the same
path a build takes. LOAD is refused even with a token: the service never fetches URLs or files.
The next `ptce-kg build` starts again from the sources; updates are for curators' quick fixes.
"""

from __future__ import annotations

import asyncio
from fastapi import Request
from fastapi.responses import PlainTextResponse, Response

from ptce_kg.sparql_guard import analyse, refused_services
from ptce_kg.remote import open_root

async def apply_update(request: Request, params: dict[str, list[str]]) -> Response:
    settings = request.app.state.settings
    text = params["update"][0]
    analysis = analyse(text, update=True)
    if analysis.has_load:
        return PlainTextResponse("LOAD is disabled: the service never fetches files or URLs.\n"
                                 "LOAD est désactivé : le service ne charge jamais de fichier ni d'URL.\n",
                                 status_code=403)
    refused = refused_services(analysis, settings.service_allowlist)
    if refused:
        return PlainTextResponse(f"SERVICE refused / refusé: {', '.join(refused)}\n", status_code=403)
    root = open_root(settings.store)
    try:
        await asyncio.get_running_loop().run_in_executor(None, root.apply_update, text)
    except SyntaxError as exc:
        return PlainTextResponse(f"Malformed SPARQL update / mise à jour mal formée.\n\n{exc}\n", status_code=400)
    except OSError as exc:
        return PlainTextResponse(f"Update failed / échec de la mise à jour.\n\n{exc}\n", status_code=500)
    return Response(status_code=204)
