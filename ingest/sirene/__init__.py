from .mapping import SireneSource

__all__ = ["SireneSource"]
