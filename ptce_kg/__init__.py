"""ptce-kg: the linked open data knowledge graph of France's PTCE."""

__version__ = "0.1.0"
