from .mapping import InclusionSource

__all__ = ["InclusionSource"]
