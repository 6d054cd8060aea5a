"""pySHACL, run once per data graph with the SPARQL of each constraint parsed once per process.

pySHACL sends the same SPARQL text of a SHACL-SPARQL constraint for every focus node of every check
(`$this` goes in as an initial binding), and rdflib parses it anew each time: parsing was ~80 % of an
eligibility check. The data graph is validated in place through a view on its own store: it is the
caller's, inference is off, so nothing is copied or changed.
"""

from __future__ import annotations

import functools

import rdflib
from rdflib.plugins.sparql import prepareQuery


@functools.lru_cache(maxsize=512)
def _prepared(text: str):
    return prepareQuery(text)


class _PreparedQueries(rdflib.Graph):
    """A view on a graph's store whose SPARQL strings are parsed and translated once."""

    def query(self, query_object, *args, **kwargs):
        if isinstance(query_object, str) and not kwargs.get("initNs"):
            query_object = _prepared(query_object)
        return super().query(query_object, *args, **kwargs)


def validate(data: rdflib.Graph, shapes: rdflib.Graph) -> rdflib.Graph:
    """The SHACL results graph of `data` against `shapes` (SHACL-SPARQL on, warnings allowed)."""
    import pyshacl

    view = _PreparedQueries(store=data.store, identifier=data.identifier, namespace_manager=data.namespace_manager)
    _, results, _ = pyshacl.validate(view, shacl_graph=shapes, inference="none", advanced=True,
                                     allow_warnings=True, meta_shacl=False, inplace=True)
    return results
