from .mapping import TerritoryHistorySource, default_millesimes

__all__ = ["TerritoryHistorySource", "default_millesimes"]
