"""The eligibility chain, assembled once: read the candidate, complete it from the store, evaluate, report.

The CLI calls these functions directly; the service runs them in its confined query workers (a
`engine.TaskJob`), with the same timeout, memory limit and per-client budget as queries. They return plain
values (picklable): `(report, candidate graph)`, or a `Refusal` for input that cannot be checked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from . import candidate, eligibility, territory_dates
from .errors import InputError


@dataclass(frozen=True)
class Refusal:
    """A candidate that cannot be checked (candidate.CandidateError, carried across processes): the message, the
    reason (errors.InputError.MALFORMED, TOO_LARGE, UNSUPPORTED, INVALID) and where."""
    message: str
    reason: str
    where: str | None = None


def _refusal(exc: candidate.CandidateError) -> Refusal:
    return Refusal(str(exc), exc.reason, exc.where)


def _evaluate(graph, store, snapshot: str | None, rules: str, as_of: dt.date | None):
    try:
        version = eligibility.ruleset_version(rules, as_of)
    except eligibility.RuleSetError as exc:
        return Refusal(str(exc), InputError.INVALID, "as_of")
    report = eligibility.evaluate(eligibility.complete_from_store(graph, store), snapshot, version.name, as_of)
    return territory_dates.dated(report, territory_dates.check(graph, store, as_of)), graph


def check_content(store, content: bytes, kind: str, rules: str, snapshot: str | None, as_of: dt.date | None = None):
    """A candidate as sent (JSON/YAML form or RDF), against the version of `rules` in force on `as_of`."""
    try:
        graph = candidate.read(content, kind, store)
    except candidate.CandidateError as exc:
        return _refusal(exc)
    return _evaluate(graph, store, snapshot, rules, as_of)


def check_form(store, form: dict, rules: str, snapshot: str | None, as_of: dt.date | None = None):
    """A candidate from the HTML form, already turned into the JSON form."""
    try:
        graph = candidate.from_form(form, store)
    except candidate.CandidateError as exc:
        return _refusal(exc)
    return _evaluate(graph, store, snapshot, rules, as_of)


def check_known(store, iri: str, rules: str, snapshot: str | None, as_of: dt.date | None = None):
    """A PTCE of the graph (rule set and date checked by the caller: RuleSetError otherwise)."""
    graph = eligibility.ptce_graph(store, iri)
    return territory_dates.dated(eligibility.evaluate(graph, snapshot, rules, as_of), territory_dates.check(graph, store, as_of))


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
