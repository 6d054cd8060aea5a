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


class ServerLimitError(OSError):
    """A remote SPARQL server refused or cut a query by its own limits (Virtuoso's estimate of the query's cost
    before it starts, its "anytime" timeout or its row limit after): the answer is not given, never given in
    part. An OSError, so code that handles the server's other refusals handles this one too."""


class InputError(PtceKgError):
    """Input that cannot be used, and why in the domain's words: `reason` is one of the constants below (the
    service maps each to an HTTP status, api/errors.py; the command line exits 2), `where` the place in the
    input (a field path, `line N`, a header) when one can be named."""

    MALFORMED = "malformed"  # does not parse, or is refused before parsing (encoding, DOCTYPE, remote context)
    TOO_LARGE = "too-large"  # past a size or count limit (the message names the limit and its setting)
    UNSUPPORTED = "unsupported"  # a format that is not read
    INVALID = "invalid"  # parses, but breaks the schema or names what the graph does not hold
    FORBIDDEN = "forbidden"  # asks for what the service never does (an update on the read-only endpoint, LOAD,
    # a SERVICE off the allow-list)
    REASONS = (MALFORMED, TOO_LARGE, UNSUPPORTED, INVALID, FORBIDDEN)

    def __init__(self, message: str, reason: str = MALFORMED, where: str | None = None):
        if reason not in self.REASONS:
            raise ValueError(f"unknown input-error reason {reason!r}")
        self.reason, self.where = reason, where
        super().__init__(f"{where}: {message}" if where else message)
