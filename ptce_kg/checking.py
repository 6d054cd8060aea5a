"""The eligibility chain, assembled once: read the candidate, complete it from the store, evaluate, report.

The CLI calls these functions directly; the service runs them in its confined query workers (a
`engine.TaskJob`), with the same timeout, memory limit and per-client budget as queries. They return plain
values (picklable): `(report, candidate graph)`, or a `Refusal` for input that cannot be checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import candidate, eligibility


@dataclass(frozen=True)
class Refusal:
    """A candidate that cannot be checked (candidate.CandidateError, carried across processes)."""
    message: str
    status: int
    where: str | None = None


def _refusal(exc: candidate.CandidateError) -> Refusal:
    return Refusal(str(exc), exc.status, exc.where)


def _evaluate(graph, store, snapshot: str | None, rules: str):
    return eligibility.evaluate(eligibility.complete_from_store(graph, store), snapshot, rules), graph


def check_content(store, content: bytes, kind: str, rules: str, snapshot: str | None):
    """A candidate as sent (JSON/YAML form or RDF)."""
    try:
        graph = candidate.read(content, kind, store)
    except candidate.CandidateError as exc:
        return _refusal(exc)
    return _evaluate(graph, store, snapshot, rules)


def check_form(store, form: dict, rules: str, snapshot: str | None):
    """A candidate from the HTML form, already turned into the JSON form."""
    try:
        graph = candidate.from_form(form, store)
    except candidate.CandidateError as exc:
        return _refusal(exc)
    return _evaluate(graph, store, snapshot, rules)


def check_known(store, iri: str, rules: str, snapshot: str | None):
    """A PTCE of the graph."""
    return eligibility.evaluate(eligibility.ptce_graph(store, iri), snapshot, rules)


def open_published(spec, progress):
    """For the command line: the store root named by `spec`, its published graph and that graph's snapshot name.
    With nothing published yet the graph is None (members and territories are then checked as given), said once
    through `progress`."""
    from .errors import StoreError
    from .remote import open_root

    root = open_root(spec)
    try:
        store = root.open_read()
    except StoreError:
        progress("ptce-kg: no published graph: members and territories are checked as given only")
        return root, None, None
    return root, store, root.current_name()
