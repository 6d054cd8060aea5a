"""What the composition root hands each layer: the declared sources to the build."""

from __future__ import annotations

from pathlib import Path

from ingest.sources import default_sources
from ptce_kg import build as core
from ptce_kg.config import Settings, settings


def build(store_path: str | Path | None = None, *, cfg: Settings | None = None, **options) -> dict:
    """Build the graph from every source `ingest/sources.py` declares for this configuration, and publish it
    (`ptce_kg.build.build` for the options and the summary it returns)."""
    cfg = cfg or settings()
    return core.build(store_path, sources=default_sources(cfg), cfg=cfg, **options)
