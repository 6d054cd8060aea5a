"""Communes through time: INSEE's dated history and the successive millésimes of the COG.

Two kinds of evidence, from npm versions of @etalab/decoupage-administratif pinned side by side
(package.json aliases ``decoupage-cog-YYYY``):

* ``decoupage-cog-2019`` (0.8.0) ships ``historique-communes.json``: INSEE's history of every commune
  since 1943, each version with its start and end *dates* (day precision), the reason, its successor
  and, for a commune déléguée or associée, the commune it belongs to (``pole``). It stops at the COG of
  1 January 2019.
* Later changes are read by comparing the current communes of consecutive millésimes (2019, 2021, 2022,
  2023, 2024, 2025 and the current package): a code present in COG A and absent from COG B ended
  between those two 1 Januaries, nothing more precise is known, so only the two years are stated
  (``ptce:lastCog``, ``ptce:firstCogWithout``), never a date. Its successor is the commune of COG B that
  lists it in ``anciensCodes`` or whose commune déléguée/associée of that code it is.

IRIs (README, "Territories through time"): a former commune whose code no longer names a current
commune keeps ``id/commune/{code}`` (so a code written in an old document dereferences); an ended
version whose code lives on (the chef-lieu of a commune nouvelle keeps its code) gets
``id/commune/{code}/until/{date}`` or, known to the year only, ``id/commune/{code}/until/cog-{year}``.
Only versions ended since 2012-01-01 (PTCE documents date from 2013) are published.

EPCI: a SIREN in one yearly DGCL list (epci.json) and not in the next is a former EPCI (years only), replaced
by the EPCI of the next list holding its communes. Each list's members (epci.json ``membres``) give the communes'
EPCI per year: a ptce:EPCIMembership per commune, EPCI and unbroken run of lists (2020, the list 0.8.0 ships,
to the current one; no pinned version holds an earlier list).
"""

from __future__ import annotations

from pathlib import Path

from pyoxigraph import NamedNode

from ingest.base import BuildContext, Provenance, Source, npm_version, read_json_array
from ptce_kg.rdf import DCT, IGEO, PTCE, RDFS, SKOS, A, TripleSink, fr, graph, iri, string, typed

PACKAGE = "@etalab/decoupage-administratif"
LICENCE = "https://www.etalab.gouv.fr/licence-ouverte-open-licence"
SINCE = "2012-01-01"  # versions ended before this date are not published
HISTORY_YEAR = "2019"  # the millésime that carries historique-communes.json


# COG year -> npm alias in package.json; the current package (6.0.0) is the COG of 2026 (its README's table).
MILLESIMES = {"2019": "decoupage-cog-2019", "2021": "decoupage-cog-2021", "2022": "decoupage-cog-2022",
              "2023": "decoupage-cog-2023", "2024": "decoupage-cog-2024", "2025": "decoupage-cog-2025"}
CURRENT_YEAR = "2026"
EPCI_YEARS = {"2019": "2020"}  # 0.8.0 ships the COG of 2019 but the DGCL's EPCI list of 1 January 2020


def default_millesimes(current_dir: Path) -> tuple[dict[str, Path], Path, str]:
    from ptce_kg.config import NODE_MODULES

    return {y: NODE_MODULES / alias for y, alias in MILLESIMES.items()}, Path(current_dir), CURRENT_YEAR


def _gyear(year: str):
    return typed(year, "gYear")


def _date(day: str):
    return typed(day, "date")


class TerritoryHistorySource(Source):
    name = "territory-history"
    graph = graph("territory-history")

    def __init__(self, millesimes: dict[str, Path], current_dir: Path, current_year: str):
        """``millesimes``: COG year -> package directory; ``current_dir``: the current package, COG ``current_year``."""
        self.millesimes = {y: Path(p) for y, p in sorted(millesimes.items())}
        self.current_dir = Path(current_dir)
        self.current_year = current_year

    def _version(self, d: Path) -> str:
        return npm_version(d, missing="fixture")

    def provenance(self) -> Provenance:
        versions = ", ".join(f"COG {y}: {self._version(d)}" for y, d in self.millesimes.items())
        return Provenance(
            title_fr="Historique des communes (dates de l'INSEE jusqu'en 2019, millésimes du COG ensuite)",
            title_en="History of the communes (INSEE's dates up to 2019, COG millésimes after)",
            source_iri=f"https://www.npmjs.com/package/{PACKAGE}",
            version=f"{versions}; current: {self._version(self.current_dir)}",
            licence_iri=LICENCE,
            publisher="Etalab / INSEE (Code officiel géographique)",
        )

    def _read(self, d: Path, name: str) -> list[dict]:
        return read_json_array(self.name, d / "data" / name, "missing file; install the pinned packages with `npm ci` "
                               "/ fichier absent : installez les paquets avec `npm ci`")

    # -------------------------------------------------------------------------------------------
    def load(self, sink: TripleSink, ctx: BuildContext) -> None:
        add = sink.add
        current_items = self._read(self.current_dir, "communes.json")
        current = {x["code"]: x for x in current_items if x.get("type") == "commune-actuelle"}

        def current_node(c: str) -> NamedNode:
            return iri(f"commune/{c}")

        # ---- 0. what the millésimes after the history show (used by both phases) ---------------------
        years = sorted(self.millesimes)
        sets: list[tuple[str, dict[str, dict], list[dict]]] = []
        for y in years:
            if y < HISTORY_YEAR:
                continue
            items = self._read(self.millesimes[y], "communes.json")
            sets.append((y, {x["code"]: x for x in items if x.get("type", "commune-actuelle") == "commune-actuelle"},
                         items))
        sets.append((self.current_year, current, current_items))
        transitions = []
        renewed: dict[str, str] = {}  # current code -> COG of its first renewal after 2019 (absorbed others)
        for (ya, a, _), (yb, b, items_b) in zip(sets, sets[1:]):
            absorbed_by: dict[str, set[str]] = {}
            for x in items_b:
                if x.get("type", "commune-actuelle") == "commune-actuelle":
                    for old in x.get("anciensCodes") or []:
                        absorbed_by.setdefault(old, set()).add(x["code"])
                elif x.get("chefLieu") and x["type"] in ("commune-deleguee", "commune-associee"):
                    absorbed_by.setdefault(x["code"], set()).add(x["chefLieu"])
            gone = sorted(set(a) - set(b))
            if not gone:
                continue
            hosts = {s for g in gone for s in absorbed_by.get(g, ()) if s in b}
            transitions.append((ya, a, yb, b, absorbed_by, gone, hosts))
            for s in hosts:
                if s in a and s in current:
                    renewed.setdefault(s, yb)  # the first renewal ends the version INSEE's history knows

        # ---- 1. dated history (up to the 2019 COG) ------------------------------------------------
        history_dir = self.millesimes.get(HISTORY_YEAR)
        history = {h["id"]: h for h in self._read(history_dir, "historique-communes.json")} if history_dir else {}
        # last ended version per code that no longer names a current commune keeps id/commune/{code}
        self._formers = set()
        cog_history = set(sets[0][1]) if sets and sets[0][0] == HISTORY_YEAR else set()
        last_end: dict[str, str] = {}
        for h in history.values():
            if h["type"] == "COM" and h.get("dateFin") and h["code"] not in current and h["code"] not in cog_history:
                last_end[h["code"]] = max(last_end.get(h["code"], ""), h["dateFin"])

        nodes: dict[str, NamedNode] = {}  # history id -> IRI

        def node_of(hid: str) -> NamedNode | None:
            if hid in nodes:
                return nodes[hid]
            h = history.get(hid)
            if h is None or h["type"] != "COM":
                return None
            c = h["code"]
            if not h.get("dateFin"):
                n = iri(f"commune/{c}/until/cog-{renewed[c]}") if c in renewed else current_node(c)
            elif c not in current and last_end.get(c) == h["dateFin"]:
                n = current_node(c)
            else:
                n = iri(f"commune/{c}/until/{h['dateFin']}")
            nodes[hid] = n
            return n

        def commune_after(hid: str, seen=()) -> list[str]:
            """The COM version(s) a version's successor designates: itself if COM, else its pole."""
            h = history.get(hid)
            if h is None or hid in seen:
                return []
            if h["type"] == "COM":
                return [hid]
            if h.get("pole"):
                return commune_after(h["pole"], seen + (hid,))
            return []

        replaced: dict[NamedNode, set[NamedNode]] = {}  # former -> successors
        started: dict[str, tuple[str, str]] = {}  # current code -> dated start of its current version
        for hid, h in history.items():
            if h["type"] != "COM":
                continue
            if not h.get("dateFin"):
                # a current version: its start is dated when it began with an event
                if h.get("dateDebut") and h.get("raisonDebut") and h["code"] in renewed:  # renewed after 2019
                    add(node_of(hid), PTCE.validFrom, _date(h["dateDebut"]))
                    add(node_of(hid), PTCE.creationReason, fr(h["raisonDebut"]))
                elif h.get("dateDebut") and h.get("raisonDebut") and h["code"] in current:
                    started[h["code"]] = (h["dateDebut"], h["raisonDebut"])
                continue
            if h["dateFin"] < SINCE:
                continue
            n = node_of(hid)
            self._former(add, n, h["code"], h["nom"])
            add(n, PTCE.validUntil, _date(h["dateFin"]))
            if h.get("dateDebut"):
                add(n, PTCE.validFrom, _date(h["dateDebut"]))
            if h.get("raisonFin"):
                add(n, PTCE.endReason, fr(h["raisonFin"]))
            succ = h.get("successeur")
            targets = [x for s in ([succ] if isinstance(succ, str) else (succ or [])) for x in commune_after(s)]
            for t in targets:
                tn = node_of(t)
                if tn is not None and tn != n:
                    add(n, DCT.isReplacedBy, tn)
                    add(tn, DCT.replaces, n)
                    replaced.setdefault(n, set()).add(tn)

        # ---- 2. millésimes after the history: year precision ---------------------------------------
        first_cog: dict[str, str] = {}
        for ya, a, yb, b, absorbed_by, gone, hosts in transitions:
            first_without = yb
            for g in gone:
                n = current_node(g)
                if g in current or n in self._formers:  # the code names another commune now, or again
                    n = iri(f"commune/{g}/until/cog-{first_without}")
                self._former(add, n, g, a[g]["nom"])
                add(n, PTCE.lastCog, _gyear(ya))
                add(n, PTCE.firstCogWithout, _gyear(first_without))
                for s in sorted(absorbed_by.get(g, ())):
                    if s in b and s != g:
                        sn = current_node(s) if s in current else None
                        if sn is None:
                            continue  # successor itself ended later: handled when its own step is read
                        add(n, DCT.isReplacedBy, sn)
                        add(sn, DCT.replaces, n)
                        replaced.setdefault(n, set()).add(sn)
            # a host that absorbed others is a commune nouvelle from COG B on: its former self (same code) ended
            for s in sorted(hosts):
                if s in a and s in current:
                    old = iri(f"commune/{s}/until/cog-{first_without}")
                    self._former(add, old, s, a[s]["nom"])
                    add(old, PTCE.lastCog, _gyear(ya))
                    add(old, PTCE.firstCogWithout, _gyear(first_without))
                    add(old, DCT.isReplacedBy, current_node(s))
                    add(current_node(s), DCT.replaces, old)
                    replaced.setdefault(old, set()).add(current_node(s))
                if s in current:
                    first_cog[s] = first_without  # the latest renewal: the current form dates from it
                    started.pop(s, None)  # the dated start was its previous self's
        for c, year in sorted(first_cog.items()):
            add(current_node(c), PTCE.firstCog, _gyear(year))
        for c, (day, reason) in sorted(started.items()):
            add(current_node(c), PTCE.validFrom, _date(day))
            add(current_node(c), PTCE.creationReason, fr(reason))

        # ---- 3. the current commune(s) each former one resolves to ---------------------------------
        current_iris = {current_node(c) for c in current}
        resolved: dict[NamedNode, set[NamedNode]] = {}

        def resolve(n: NamedNode, seen: frozenset = frozenset()) -> set[NamedNode]:
            if n in resolved:
                return resolved[n]
            out: set[NamedNode] = set()
            for s in replaced.get(n, ()):
                if s in seen:
                    continue
                if s in current_iris and s not in replaced:
                    out.add(s)
                else:
                    out |= resolve(s, seen | {n})
            resolved[n] = out
            return out

        for n in list(replaced):
            for s in sorted(resolve(n), key=lambda x: x.value):
                add(n, PTCE.currentCommune, s)
        self._epci(add, ctx)
        # a code written in an old document resolves (registry, candidate perimeters) to its former commune,
        # which links to the current one; codes of current communes are left as the territories source set them
        for n in self._formers:
            c = n.value.rsplit("/", 1)[-1]
            if n == current_node(c):
                ctx.territories.setdefault(f"commune:{c}", n)

    def _epci(self, add, ctx: BuildContext) -> None:
        """EPCI seen in one yearly list and not in the next: former EPCI, successors by their member communes.

        The DGCL list 0.8.0 ships is that of 1 January 2020 (the package's README), the others that of their COG.
        """
        lists: list[tuple[str, dict[str, dict]]] = []
        for y, d in sorted(self.millesimes.items()):
            if y < HISTORY_YEAR:
                continue
            lists.append((EPCI_YEARS.get(y, y), {e["code"]: e for e in self._read(d, "epci.json")}))
        lists.append((self.current_year, {e["code"]: e for e in self._read(self.current_dir, "epci.json")}))
        current = lists[-1][1]
        for (ya, a), (yb, b) in zip(lists, lists[1:]):
            where: dict[str, str] = {m["code"]: siren for siren, e in b.items() for m in e.get("membres", [])}
            for siren in sorted(set(a) - set(b)):
                n = iri(f"epci/{siren}")
                add(n, A, PTCE.FormerEPCI)
                add(n, RDFS.label, fr(a[siren]["nom"]))
                add(n, SKOS.prefLabel, fr(a[siren]["nom"]))
                add(n, SKOS.notation, string(siren))
                add(n, PTCE.siren, string(siren))
                add(n, PTCE.lastCog, _gyear(ya))
                add(n, PTCE.firstCogWithout, _gyear(yb))
                members = [m["code"] for m in a[siren].get("membres", [])]
                for succ in sorted({where[c] for c in members if c in where}):
                    add(n, DCT.isReplacedBy, iri(f"epci/{succ}"))
                    add(iri(f"epci/{succ}"), DCT.replaces, n)
                if siren not in current:
                    ctx.territories.setdefault(f"epci:{siren}", n)
            for siren in sorted(set(b) - set(a)):
                if siren in current:
                    add(iri(f"epci/{siren}"), PTCE.firstCog, _gyear(yb))
        self._memberships(add, lists)

    def _memberships(self, add, lists: list[tuple[str, dict[str, dict]]]) -> None:
        """Which commune was in which EPCI, per yearly DGCL list: one ptce:EPCIMembership per unbroken run of lists.

        A run starting after the first list gets ptce:firstCog, one ended before the last (current) list
        ptce:lastCog and ptce:firstCogWithout: years only, as for the EPCI themselves (lists of 1 January). The
        commune is named by the code the list gives (``id/commune/{code}``, a former commune when it no longer exists).
        """
        years = [y for y, _ in lists]
        held: dict[tuple[str, str], list[int]] = {}
        for i, (_, epcis) in enumerate(lists):
            for siren, e in epcis.items():
                for m in e.get("membres", []):
                    held.setdefault((siren, m["code"]), []).append(i)
        for (siren, code), indexes in sorted(held.items()):
            runs: list[list[int]] = []
            for i in indexes:
                if runs and runs[-1][-1] == i - 1:
                    runs[-1].append(i)
                elif not runs or runs[-1][-1] != i:
                    runs.append([i])
            for run in runs:
                n = iri(f"epci-membership/{siren}/{code}/{years[run[0]]}")
                add(n, A, PTCE.EPCIMembership)
                add(n, PTCE.memberCommune, iri(f"commune/{code}"))
                add(n, PTCE.ofEPCI, iri(f"epci/{siren}"))
                if run[0] > 0:
                    add(n, PTCE.firstCog, _gyear(years[run[0]]))
                if run[-1] < len(years) - 1:
                    add(n, PTCE.lastCog, _gyear(years[run[-1]]))
                    add(n, PTCE.firstCogWithout, _gyear(years[run[-1] + 1]))

    def _former(self, add, n: NamedNode, c: str, name: str) -> None:
        self._formers.add(n)
        add(n, A, PTCE.FormerCommune)
        add(n, RDFS.label, fr(name))
        add(n, SKOS.prefLabel, fr(name))
        add(n, SKOS.notation, string(c))
        add(n, IGEO.codeINSEE, string(c))
