"""Errors that tell a person where and why: source, file, line, field."""

from __future__ import annotations


class PtceKgError(Exception):
    """Base error; its message is meant for the person running the command."""


class IngestError(PtceKgError):
    def __init__(self, source: str, message: str, *, file: str | None = None,
                 line: int | str | None = None, field: str | None = None):
        self.source, self.file, self.line, self.field, self.reason = source, file, line, field, message
        where = file or ""
        if line is not None:
            where += f":{line}"
        parts = [f"[{source}]"]
        if where:
            parts.append(where)
        if field:
            parts.append(f"field '{field}'")
        super().__init__(" ".join(parts) + f": {message}")


class BuildError(PtceKgError):
    pass


class StoreError(PtceKgError):
    pass
