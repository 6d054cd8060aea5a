"""Domain errors to HTTP: the core says why an input cannot be used (ptce_kg.errors.InputError.reason), the
service says which status that is, in one place."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from ptce_kg.errors import InputError

STATUS = {InputError.MALFORMED: 400, InputError.TOO_LARGE: 413, InputError.UNSUPPORTED: 415,
          InputError.INVALID: 422, InputError.FORBIDDEN: 403}


def status_of(reason: str) -> int:
    return STATUS[reason]


def refused(message: str, reason: str, where: str | None = None, headers: dict | None = None) -> JSONResponse:
    """The JSON body every refused input gets: the message (English / French) and where."""
    return JSONResponse({"error": message, "where": where}, status_code=STATUS[reason], headers=headers)
