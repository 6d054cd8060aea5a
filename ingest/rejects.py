"""The rejects of one source: every rejected row written to a CSV with file, line, field and reason,
counted per reason for the build summary, and a threshold above which the source fails the build."""

from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path

from ptce_kg.errors import IngestError
from ptce_kg.sources import Source

REJECT_COLUMNS = ["file", "line", "field", "reason", "value"]
DEFAULT_MAX_REJECT_RATE = 0.05


class RejectingSource(Source):
    """An optional national source (sirene, inclusion): read from a file or folder its operator gives, it may
    reject up to `max_reject_rate` of its rows (PTCE_KG_<NAME>_MAX_REJECTS, read once in ptce_kg.config)."""

    def __init__(self, path: str | os.PathLike, max_reject_rate: float | None = None, *, file_only: bool):
        self.path = Path(path).expanduser()
        if not (self.path.is_file() if file_only else self.path.exists()):
            raise IngestError(self.name, "no such file / fichier introuvable" if file_only
                              else "no such file or folder / introuvable", file=str(self.path))
        self.max_reject_rate = DEFAULT_MAX_REJECT_RATE if max_reject_rate is None else float(max_reject_rate)

    def settle(self, rejects: "Rejects", ctx, considered: int, file: Path) -> None:
        """After the load: the rejects counted in the build's context, and the build failed above the threshold."""
        ctx.rejects[self.name] = dict(rejects.counts)
        rejects.check(self.name, considered, self.max_reject_rate, file)


class Rejects:
    """The rejects CSV of one source: every rejected row with file, line, field and reason."""

    def __init__(self, path: Path | None):
        self.path, self.counts = path, Counter()
        self._handle = self._writer = None

    def add(self, file: Path, line: int, field: str, reason: str, value: str) -> None:
        self.counts[reason] += 1
        if self.path is None:
            return
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "w", newline="", encoding="utf-8")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(REJECT_COLUMNS)
        self._writer.writerow([file.name, line, field, reason, value[:200]])

    def close(self) -> None:
        if self._handle:
            self._handle.close()

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def check(self, source: str, considered: int, max_rate: float, file: Path) -> None:
        """Fail the source when the share of rejected rows is above `max_rate` (the previous graph stays served)."""
        if considered and self.total / considered > max_rate:
            where = f"; see {self.path}" if self.path else ""
            raise IngestError(source, f"{self.total} of {considered} rows rejected "
                              f"({self.total / considered:.1%}), above the threshold of {max_rate:.0%}"
                              f"{where} / trop de lignes rejetées", file=str(file))
