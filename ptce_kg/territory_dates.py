"""The territories in force on an eligibility check's date (issue 21, item 2; README, "Territories through time").

A candidate's perimeter and members' locations are written as codes (communes, EPCI) as a document of its time
gave them. On the check's date D (``as_of``, today when not given) each one is read against the graph's
history (graph territory-history, query shapes/territory-as-of.rq):

* a date INSEE gives (ptce:validFrom / ptce:validUntil, up to 2019) is compared with D to the day;
* otherwise the reference is the millésime in force in D's year (the COG, or the DGCL's EPCI list, of 1 January):
  ptce:lastCog A and ptce:firstCogWithout B mean in force in years up to A, gone from year B; ptce:firstCog F
  means in force from year F, not in the millésime before (the last COG of what it replaces); a year between two
  pinned millésimes (2020 for communes) is *not known*, never guessed; EPCI lists start in 2020.

A territory that had ended by D is resolved to what replaced it (the territory in force on D, and today's); one
that did not exist yet in that form is reported with what stood in its place on D. The check itself still runs
on the territory hierarchy as the territory context gives it (a former commune through ptce:currentCommune).
Each finding is a plain dict, in French and English, carried by the report (`DatedReport.territories`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import rdflib
from rdflib.namespace import DCTERMS, RDF, RDFS, SKOS

from . import eligibility
from .config import SHAPES_DIR

PTCE = eligibility.PTCE
FIRST_EPCI_LIST = 2020  # the earliest DGCL list the pinned packages hold (0.8.0)


@dataclass
class DatedReport(eligibility.Report):
    """A report with what the check found of its territories on its date (empty: all in force)."""
    territories: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        out = super().as_dict()
        if self.territories:
            out["territories"] = self.territories
        return out


def dated(report: eligibility.Report, territories: list[dict]) -> DatedReport:
    return DatedReport(**{k: getattr(report, k) for k in report.__dataclass_fields__}, territories=territories)


def _year(value) -> int | None:
    return int(str(value)[:4]) if value is not None else None


def _date(value) -> dt.date | None:
    return dt.date.fromisoformat(str(value)) if value is not None else None


class _Node:
    def __init__(self, g: rdflib.Graph, n):
        self.g, self.n = g, n
        self.label = str(g.value(n, RDFS.label) or n)
        self.code = str(g.value(n, SKOS.notation) or "")
        self.types = set(g.objects(n, RDF.type))
        self.valid_from, self.valid_until = _date(g.value(n, PTCE.validFrom)), _date(g.value(n, PTCE.validUntil))
        self.first, self.last = _year(g.value(n, PTCE.firstCog)), _year(g.value(n, PTCE.lastCog))
        self.without = _year(g.value(n, PTCE.firstCogWithout))
        self.epci = bool(self.types & {PTCE.EPCI, PTCE.FormerEPCI})

    def ref(self) -> dict:
        return {"iri": str(self.n), "code": self.code, "label": self.label}

    def previous_year(self) -> int | None:
        """The last millésime without it: that of what it replaces (same pinned series), else the year before."""
        years = [_year(self.g.value(p, PTCE.lastCog)) for p in self.g.objects(self.n, DCTERMS.replaces)]
        years = [y for y in years if y is not None and y < self.first]
        return max(years) if years else self.first - 1

    def state(self, day: dt.date) -> tuple[str, dict]:
        """'valid', 'ended', 'not-yet' or 'not-known' on `day`, with when (a date or COG years)."""
        y = day.year
        if self.valid_from and day < self.valid_from:
            return "not-yet", {"date": self.valid_from.isoformat()}
        if self.first is not None:
            if y < self.first:
                previous = self.previous_year()
                if y <= previous:
                    return "not-yet", {"cog_first": str(self.first)}
                return "not-known", {"cog_last_without": str(previous), "cog_first": str(self.first)}
        elif self.epci and not self.valid_from and y < FIRST_EPCI_LIST:
            return "not-known", {"cog_first_list": str(FIRST_EPCI_LIST)}
        if self.valid_until and day >= self.valid_until:
            return "ended", {"date": self.valid_until.isoformat()}
        if self.without is not None and self.last is not None:
            if y >= self.without:
                return "ended", {"cog_last": str(self.last), "cog_first_without": str(self.without)}
            if y > self.last:
                return "not-known", {"cog_last": str(self.last), "cog_first_without": str(self.without)}
        return "valid", {}


def _in_force(g: rdflib.Graph, start, day: dt.date, step) -> list[_Node]:
    """Follow `step` (dct:isReplacedBy forward, dct:replaces back) from `start` to the territories in force on `day`."""
    found, seen, todo = [], {start}, list(g.objects(start, step))
    while todo:
        n = todo.pop(0)
        if n in seen:
            continue
        seen.add(n)
        node = _Node(g, n)
        if node.state(day)[0] == "valid":
            found.append(node)
        else:
            todo.extend(g.objects(n, step))
    return sorted(found, key=lambda x: str(x.n))


def _when(when: dict) -> tuple[str, str]:
    if "date" in when:
        return f"le {when['date']}", f"on {when['date']}"
    if "cog_first_without" in when:
        return (f"entre les COG de {when['cog_last']} et de {when['cog_first_without']}",
                f"between the COGs of {when['cog_last']} and {when['cog_first_without']}")
    if "cog_last_without" in when:
        return (f"entre les millésimes de {when['cog_last_without']} et de {when['cog_first']}",
                f"between the millésimes of {when['cog_last_without']} and {when['cog_first']}")
    if "cog_first_list" in when:
        return (f"les listes d'EPCI connues commencent en {when['cog_first_list']}",
                f"the EPCI lists known start in {when['cog_first_list']}")
    return f"au millésime {when['cog_first']}", f"in the millésime of {when['cog_first']}"


def _names(nodes: list[_Node]) -> str:
    return ", ".join(f"{n.label} ({n.code})" if n.code else n.label for n in nodes)


def findings(g: rdflib.Graph, seeds: list[str], day: dt.date) -> list[dict]:
    out = []
    for seed in seeds:
        n = rdflib.URIRef(seed)
        if (n, None, None) not in g:
            continue
        node = _Node(g, n)
        status, when = node.state(day)
        if status == "valid":
            continue
        wfr, wen = _when(when)
        item = {"territory": seed, "code": node.code, "label": node.label, "as_of": day.isoformat(),
                "status": status, "when": when}
        name = f"{node.label} ({node.code})" if node.code else node.label
        if status == "ended":
            then = _in_force(g, n, day, DCTERMS.isReplacedBy)
            today = [_Node(g, c) for c in sorted(g.objects(n, PTCE.currentCommune))]
            item["in_force_on_date"] = [x.ref() for x in then]
            item["current"] = [x.ref() for x in today]
            item["fr"] = (f"{name} n'existait plus le {day.isoformat()} (fin {wfr}) ; remplacé par "
                          f"{_names(then) or 'inconnu'} à cette date" + (f", aujourd'hui {_names(today)}" if today else "")
                          + " : le contrôle suit ce successeur.")
            item["en"] = (f"{name} no longer existed on {day.isoformat()} (ended {wen}); replaced by "
                          f"{_names(then) or 'unknown'} on that date" + (f", today {_names(today)}" if today else "")
                          + ": the check follows that successor.")
        elif status == "not-yet":
            before = _in_force(g, n, day, DCTERMS.replaces)
            item["in_force_on_date"] = [x.ref() for x in before]
            item["fr"] = (f"{name} n'existait pas encore sous cette forme le {day.isoformat()} (depuis {wfr.removeprefix('le ')}) ; "
                          f"à cette date : {_names(before) or 'inconnu'}.")
            item["en"] = (f"{name} did not yet exist in this form on {day.isoformat()} (since {wen.removeprefix('on ')}); "
                          f"on that date: {_names(before) or 'unknown'}.")
        else:
            item["fr"] = f"{name} : en vigueur le {day.isoformat()} non connu ({wfr})."
            item["en"] = f"{name}: whether it was in force on {day.isoformat()} is not known ({wen})."
        out.append(item)
    return out


def check(data: rdflib.Graph, store, as_of: dt.date | None) -> list[dict]:
    """What the check's date changes for the territories of `data` (perimeters and locations), read from `store`."""
    if store is None:
        return []
    seeds = sorted({str(o) for p in eligibility.TERRITORY_LINKS for o in data.objects(None, p)
                    if isinstance(o, rdflib.URIRef)})
    if not seeds:
        return []
    history = eligibility._construct(store, SHAPES_DIR / "territory-as-of.rq", "seed", seeds)
    return findings(history, seeds, as_of or dt.date.today())
