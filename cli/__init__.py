"""The composition root of ptce-kg: the command line, which wires ingest → core → api (README, "Layout")."""

from .main import main
from .wiring import build

__all__ = ["build", "main"]
