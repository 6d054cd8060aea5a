"""Synthetic graphs with the shape of the real one, N times larger.

Every IRI of the ptce-kg namespace (except the vocabulary, code lists and named graphs) is copied per
replica with a suffix, so replica k is an isomorphic copy of the real data: same classes, same fan-outs,
same query plans, N times the triples. Not shipped as data: generated when the benchmark runs.
"""

from __future__ import annotations

import pyoxigraph
from pyoxigraph import NamedNode, Quad

ID = "https://w3id.org/ptce-kg/id/"


def _rename(term, k: int):
    if k and isinstance(term, NamedNode) and term.value.startswith(ID):
        iri, hash_, fragment = term.value.partition("#")
        return NamedNode(f"{iri}-r{k}{hash_}{fragment}")
    return term


def replicate(quads: list[Quad], factor: int):
    """Yield the quads of `factor` replicas (replica 0 is the original)."""
    for k in range(factor):
        for q in quads:
            yield Quad(_rename(q.subject, k), q.predicate, _rename(q.object, k), q.graph_name)


def build_store(path: str, quads: list[Quad], factor: int, compact: bool = True) -> pyoxigraph.Store:
    """The replicas bulk-loaded, then compacted: each `bulk_extend` ingests its SST files over the previous
    ones (at 10× up to 7 overlapping sorted runs per index, L0 files left uncompacted when the store closes),
    which every range scan must merge. `optimize()` leaves one run per index, the layout `oxigraph load` +
    `oxigraph optimize` gives Oxigraph server in bench/peers.py (bench/reports/store-layout.md)."""
    store = pyoxigraph.Store(path)
    batch = []
    for quad in replicate(quads, factor):
        batch.append(quad)
        if len(batch) >= 500_000:
            store.bulk_extend(batch)
            batch = []
    store.bulk_extend(batch)
    store.flush()
    if compact:
        store.optimize()
    return store
