from .mapping import GeoNamesSource

__all__ = ["GeoNamesSource"]
