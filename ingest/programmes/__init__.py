from .mapping import ProgrammesSource

__all__ = ["ProgrammesSource"]
