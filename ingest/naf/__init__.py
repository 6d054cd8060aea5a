from .mapping import NafSource

__all__ = ["NafSource"]
