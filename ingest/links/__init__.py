"""Links to other datasets (NACE Rev. 2, the EU's countries table, ESSGLOBAL), described as VoID linksets."""
from .mapping import LINKSETS, LinksSource

__all__ = ["LINKSETS", "LinksSource"]
