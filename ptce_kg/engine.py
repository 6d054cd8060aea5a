"""Query evaluation with limits that hold: Oxigraph in worker processes, killed at the timeout.

pyoxigraph cannot cancel a running query, so each query runs in one of a few worker processes;
when a query outlives the timeout its worker is killed (its work stops, not just the answer) and a
fresh worker takes its place. Other requests keep being served by the other workers.

`execute()` is the pure part — run one query on a store, cap the results, serialize them — and is
what the workers call.
"""

from __future__ import annotations

import asyncio
import io
import multiprocessing as mp
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pyoxigraph
from pyoxigraph import NamedNode, QueryResultsFormat, RdfFormat

from .rdf import PREFIXES

# name -> (media type, pyoxigraph format)
RESULT_FORMATS = {
    "json": ("application/sparql-results+json", QueryResultsFormat.JSON),
    "xml": ("application/sparql-results+xml", QueryResultsFormat.XML),
    "csv": ("text/csv", QueryResultsFormat.CSV),
    "tsv": ("text/tab-separated-values", QueryResultsFormat.TSV),
}
GRAPH_FORMATS = {
    "turtle": ("text/turtle", RdfFormat.TURTLE),
    "ntriples": ("application/n-triples", RdfFormat.N_TRIPLES),
    "jsonld": ("application/ld+json", RdfFormat.JSON_LD),
    "rdfxml": ("application/rdf+xml", RdfFormat.RDF_XML),
}


@dataclass
class QueryJob:
    text: str
    results_format: str | None = "json"  # None: the client accepts no results format
    graph_format: str | None = "turtle"  # None: the client accepts no graph format
    union_default_graph: bool = True
    default_graphs: list[str] | None = None
    named_graphs: list[str] | None = None
    max_rows: int = 10_000


@dataclass
class QueryOutcome:
    status: str  # ok | syntax | not_acceptable | unavailable | error | timeout
    kind: str = ""  # solutions | boolean | graph
    media_type: str = ""
    body: bytes = b""
    truncated: bool = False
    rows: int = 0
    message: str = ""
    seconds: float = 0.0


def _to_rdflib(term):
    import rdflib

    if term is None:
        return None
    if isinstance(term, pyoxigraph.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, pyoxigraph.BlankNode):
        return rdflib.BNode(term.value)
    if isinstance(term, pyoxigraph.Literal):
        if term.language:
            return rdflib.Literal(term.value, lang=term.language, normalize=False)
        return rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value), normalize=False)
    return rdflib.Literal(str(term))  # RDF-star triple terms: shown as text


def _capped_solutions(solutions: pyoxigraph.QuerySolutions, name: str, max_rows: int) -> tuple[bytes, int, bool]:
    """Serialize at most max_rows solutions (rdflib writes SPARQL JSON, pyoxigraph the other formats)."""
    import rdflib
    from rdflib.query import Result

    variables = [v.value for v in solutions.variables]
    rows = []
    truncated = False
    for solution in solutions:
        if len(rows) == max_rows:
            truncated = True
            break
        rows.append(solution)
    result = Result("SELECT")
    result.vars = [rdflib.Variable(v) for v in variables]
    result.bindings = [
        {rdflib.Variable(v): _to_rdflib(s[v]) for v in variables if s[v] is not None} for s in rows
    ]
    json_bytes = result.serialize(format="json")
    if isinstance(json_bytes, str):
        json_bytes = json_bytes.encode("utf-8")
    if name == "json":
        return json_bytes, len(rows), truncated
    reparsed = pyoxigraph.parse_query_results(json_bytes, format=QueryResultsFormat.JSON)
    return reparsed.serialize(format=RESULT_FORMATS[name][1]), len(rows), truncated


def _boolean(value: bool, name: str) -> bytes:
    parsed = pyoxigraph.parse_query_results(
        b'{"head":{},"boolean":%s}' % (b"true" if value else b"false"), format=QueryResultsFormat.JSON
    )
    return parsed.serialize(format=RESULT_FORMATS[name][1])


def _graph(triples, name: str, max_rows: int) -> tuple[bytes, int, bool]:
    kept = []
    truncated = False
    for triple in triples:
        if len(kept) == max_rows:
            truncated = True
            break
        kept.append(triple)
    buffer = io.BytesIO()
    fmt = GRAPH_FORMATS[name][1]
    if fmt in (RdfFormat.TURTLE, RdfFormat.RDF_XML):
        pyoxigraph.serialize(kept, buffer, format=fmt, prefixes=PREFIXES)
    else:
        pyoxigraph.serialize(kept, buffer, format=fmt)
    return buffer.getvalue(), len(kept), truncated


def execute(store: pyoxigraph.Store, job: QueryJob) -> QueryOutcome:
    started = time.monotonic()
    kwargs: dict = {}
    if job.default_graphs is not None:
        kwargs["default_graph"] = [NamedNode(g) for g in job.default_graphs]
    elif job.union_default_graph:
        kwargs["use_default_graph_as_union"] = True
    if job.named_graphs is not None:
        kwargs["named_graphs"] = [NamedNode(g) for g in job.named_graphs]
    try:
        result = store.query(job.text, **kwargs)
        if isinstance(result, pyoxigraph.QueryBoolean):
            if job.results_format is None:
                return QueryOutcome("not_acceptable", "boolean")
            body = _boolean(bool(result), job.results_format)
            outcome = QueryOutcome("ok", "boolean", RESULT_FORMATS[job.results_format][0], body, rows=1)
        elif isinstance(result, pyoxigraph.QuerySolutions):
            if job.results_format is None:
                return QueryOutcome("not_acceptable", "solutions")
            body, rows, truncated = _capped_solutions(result, job.results_format, job.max_rows)
            outcome = QueryOutcome("ok", "solutions", RESULT_FORMATS[job.results_format][0], body, truncated, rows)
        else:
            if job.graph_format is None:
                return QueryOutcome("not_acceptable", "graph")
            body, rows, truncated = _graph(result, job.graph_format, job.max_rows)
            outcome = QueryOutcome("ok", "graph", GRAPH_FORMATS[job.graph_format][0], body, truncated, rows)
    except SyntaxError as exc:
        return QueryOutcome("syntax", message=str(exc))
    except OSError as exc:  # evaluation errors (e.g. a SERVICE call that failed)
        return QueryOutcome("error", message=str(exc))
    outcome.seconds = time.monotonic() - started
    return outcome


# -- worker processes -------------------------------------------------------------------------------

def _worker_main(conn, store_path: str) -> None:
    from .errors import StoreError
    from .remote import open_root

    root = open_root(store_path)
    store, name = None, None
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        try:
            current = root.current_name()
            if store is None or current != name:
                store, name = root.open_read(), current
            outcome = execute(store, job)
        except StoreError as exc:
            outcome = QueryOutcome("unavailable", message=str(exc))
        except Exception as exc:  # report, keep the worker alive
            outcome = QueryOutcome("error", message=f"{type(exc).__name__}: {exc}")
        conn.send(outcome)


@dataclass
class _Worker:
    process: mp.process.BaseProcess
    conn: object
    jobs: int = field(default=0)


class QueryPool:
    """A few worker processes over the published store; each query gets one worker or waits."""

    def __init__(self, store_path: str, size: int = 4, timeout_s: float = 30.0):
        self.store_path = str(store_path)
        self.size = max(1, size)
        self.timeout_s = timeout_s
        self._ctx = mp.get_context("spawn")  # never fork a process that runs threads
        self._idle: asyncio.Queue | None = None
        self._threads = ThreadPoolExecutor(max_workers=self.size * 2, thread_name_prefix="ptce-kg-query")
        self._all: set = set()
        self._lock = threading.Lock()

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=_worker_main, args=(child, self.store_path), daemon=True,
                                    name="ptce-kg-query-worker")
        process.start()
        child.close()
        worker = _Worker(process, parent)
        with self._lock:
            self._all.add(worker.process)
        return worker

    def _retire(self, worker: _Worker) -> None:
        worker.process.kill()
        worker.process.join(timeout=5)
        with self._lock:
            self._all.discard(worker.process)

    async def start(self) -> None:
        if self._idle is None:
            self._idle = asyncio.Queue()
            loop = asyncio.get_running_loop()
            workers = await asyncio.gather(*[loop.run_in_executor(self._threads, self._spawn)
                                             for _ in range(self.size)])
            for worker in workers:
                self._idle.put_nowait(worker)

    async def run(self, job: QueryJob, timeout_s: float | None = None) -> QueryOutcome:
        await self.start()
        timeout = self.timeout_s if timeout_s is None else timeout_s
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        try:
            worker = await asyncio.wait_for(self._idle.get(), timeout)
        except asyncio.TimeoutError:
            return QueryOutcome("timeout", message=f"no worker free within {timeout:g} s", seconds=timeout)
        remaining = max(0.0, timeout - (time.monotonic() - started))
        try:
            worker.conn.send(job)
            ready = await loop.run_in_executor(self._threads, worker.conn.poll, remaining)
            if ready:
                outcome = await loop.run_in_executor(self._threads, worker.conn.recv)
                self._idle.put_nowait(worker)
                return outcome
        except (EOFError, BrokenPipeError, OSError) as exc:
            self._retire(worker)
            self._idle.put_nowait(await loop.run_in_executor(self._threads, self._spawn))
            return QueryOutcome("error", message=f"query worker failed: {exc!r}")
        # Timed out: stop the work itself, then replace the worker.
        self._retire(worker)
        self._idle.put_nowait(await loop.run_in_executor(self._threads, self._spawn))
        return QueryOutcome("timeout", message=f"query stopped after {timeout:g} s",
                            seconds=time.monotonic() - started)

    def close(self) -> None:
        with self._lock:
            processes = list(self._all)
            self._all.clear()
        for process in processes:
            process.kill()
            process.join(timeout=5)
        self._threads.shutdown(wait=False, cancel_futures=True)
