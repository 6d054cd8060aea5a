from .mapping import RegistrySource

__all__ = ["RegistrySource"]
