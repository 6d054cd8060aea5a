from .mapping import TerritoriesSource

__all__ = ["TerritoriesSource"]
