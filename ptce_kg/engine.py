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
from collections import OrderedDict, deque
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
    max_bytes: int = 32 * 1024 * 1024  # the values of the rows or triples kept, in bytes


@dataclass
class TaskJob:
    """Other work from outside that must run confined (an eligibility check): `function(store, *args)`,
    a module-level function, whose return value is sent back as the outcome's `value`."""
    function: object
    args: tuple = ()


@dataclass
class QueryOutcome:
    status: str  # ok | syntax | not_acceptable | unavailable | error | timeout | memory | too_large | crashed
    kind: str = ""  # solutions | boolean | graph | task
    media_type: str = ""
    body: bytes = b""
    truncated: bool = False
    rows: int = 0
    message: str = ""
    seconds: float = 0.0
    truncated_by: str = ""  # rows | bytes
    value: object = None  # a TaskJob's result


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


def _term_bytes(term) -> int:
    if term is None:
        return 0
    if isinstance(term, pyoxigraph.Literal):
        return len(term.value.encode("utf-8", "surrogatepass")) + len(term.datatype.value) + 8
    if isinstance(term, (pyoxigraph.Triple, pyoxigraph.Quad)):
        return _term_bytes(term.subject) + _term_bytes(term.predicate) + _term_bytes(term.object)
    return len(term.value.encode("utf-8", "surrogatepass")) + 8


class _Cap:
    """Rows (or triples) kept under a count and a byte budget; says which one stopped them."""

    def __init__(self, max_rows: int, max_bytes: int):
        self.max_rows, self.max_bytes = max_rows, max_bytes
        self.kept: list = []
        self.bytes = 0
        self.truncated_by = ""

    def take(self, items, size) -> list:
        for item in items:
            if len(self.kept) == self.max_rows:
                self.truncated_by = "rows"
                break
            cost = size(item)
            if self.bytes + cost > self.max_bytes:
                self.truncated_by = "bytes"
                break
            self.bytes += cost
            self.kept.append(item)
        return self.kept


def _capped_solutions(solutions: pyoxigraph.QuerySolutions, name: str, cap: _Cap) -> bytes:
    """Serialize the solutions the cap keeps (rdflib writes SPARQL JSON, pyoxigraph the other formats)."""
    import rdflib
    from rdflib.query import Result

    variables = [v.value for v in solutions.variables]
    rows = cap.take(solutions, lambda s: sum(_term_bytes(s[v]) for v in variables) + 2)
    result = Result("SELECT")
    result.vars = [rdflib.Variable(v) for v in variables]
    result.bindings = [
        {rdflib.Variable(v): _to_rdflib(s[v]) for v in variables if s[v] is not None} for s in rows
    ]
    json_bytes = result.serialize(format="json")
    if isinstance(json_bytes, str):
        json_bytes = json_bytes.encode("utf-8")
    if name == "json":
        return json_bytes
    reparsed = pyoxigraph.parse_query_results(json_bytes, format=QueryResultsFormat.JSON)
    return reparsed.serialize(format=RESULT_FORMATS[name][1])


def _boolean(value: bool, name: str) -> bytes:
    parsed = pyoxigraph.parse_query_results(
        b'{"head":{},"boolean":%s}' % (b"true" if value else b"false"), format=QueryResultsFormat.JSON
    )
    return parsed.serialize(format=RESULT_FORMATS[name][1])


def _graph(triples, name: str, cap: _Cap) -> bytes:
    kept = cap.take(triples, _term_bytes)
    buffer = io.BytesIO()
    fmt = GRAPH_FORMATS[name][1]
    if fmt in (RdfFormat.TURTLE, RdfFormat.RDF_XML):
        pyoxigraph.serialize(kept, buffer, format=fmt, prefixes=PREFIXES)
    else:
        pyoxigraph.serialize(kept, buffer, format=fmt)
    return buffer.getvalue()


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
            cap = _Cap(job.max_rows, job.max_bytes)
            body = _capped_solutions(result, job.results_format, cap)
            outcome = QueryOutcome("ok", "solutions", RESULT_FORMATS[job.results_format][0], body,
                                   bool(cap.truncated_by), len(cap.kept), truncated_by=cap.truncated_by)
        else:
            if job.graph_format is None:
                return QueryOutcome("not_acceptable", "graph")
            cap = _Cap(job.max_rows, job.max_bytes)
            body = _graph(result, job.graph_format, cap)
            outcome = QueryOutcome("ok", "graph", GRAPH_FORMATS[job.graph_format][0], body,
                                   bool(cap.truncated_by), len(cap.kept), truncated_by=cap.truncated_by)
    except SyntaxError as exc:
        return QueryOutcome("syntax", message=str(exc))
    except OSError as exc:  # evaluation errors (e.g. a SERVICE call that failed)
        return QueryOutcome("error", message=str(exc))
    if outcome.truncated_by == "bytes" and outcome.rows == 0:
        return QueryOutcome("too_large", outcome.kind, message=f"a single result is over {job.max_bytes} bytes")
    outcome.seconds = time.monotonic() - started
    return outcome


# -- worker processes -------------------------------------------------------------------------------

def _handle(root, state: dict, job) -> QueryOutcome:
    from .errors import StoreError

    try:
        current = root.current_name()
        if state.get("store") is None or current != state.get("name"):
            state["store"], state["name"] = None, None  # let the old build go before opening the new one
            state["store"], state["name"] = root.open_read(), current
        if isinstance(job, TaskJob):
            started = time.monotonic()
            value = job.function(state["store"], *job.args)
            return QueryOutcome("ok", "task", value=value, seconds=time.monotonic() - started)
        return execute(state["store"], job)
    except StoreError as exc:
        return QueryOutcome("unavailable", message=str(exc))
    except MemoryError:
        return QueryOutcome("memory", message="the worker's memory limit was reached")
    except RecursionError:
        return QueryOutcome("error", message="nested too deeply")
    except Exception as exc:  # report, keep the worker alive
        outcome = QueryOutcome("error", message=f"{type(exc).__name__}: {exc}")
        if isinstance(job, TaskJob):
            outcome.value = exc if _picklable(exc) else None
        return outcome


def _picklable(value) -> bool:
    import pickle

    try:
        pickle.dumps(value)
        return True
    except Exception:
        return False


def _worker_main(conn, store_path: str, memory_mb: int | None, federated: bool = False) -> None:
    from .errors import StoreError
    from .remote import RemoteRoot, open_root
    from .sandbox import confine_network, deep_stack_executor, limit_memory

    root = open_root(store_path)
    state: dict = {}
    try:  # open the published build before the memory limit, so the limit counts from there
        state["store"], state["name"] = root.open_read(), root.current_name()
        state["store"].query("ASK { ?s ?p ?o }")
    except StoreError:
        pass
    allowed = ()
    if isinstance(root, RemoteRoot):
        allowed = (root.endpoint.query, root.endpoint.update, root.endpoint.gsp)
    confine_network(allowed, federated)  # first: every thread started from here on is confined too
    executor = deep_stack_executor()
    limit_memory(memory_mb)  # last: the limit counts the open store and the evaluation thread's stack
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        outcome = executor.submit(_handle, root, state, job).result()
        try:
            conn.send(outcome)
        except MemoryError:
            conn.send(QueryOutcome("memory", message="the worker's memory limit was reached"))


@dataclass
class _Worker:
    process: mp.process.BaseProcess
    conn: object
    jobs: int = field(default=0)


# How a worker that died is reported: an aborted allocation (Rust aborts on out-of-memory) or a kill by the
# kernel's OOM killer is the memory limit; anything else is a crash.
_MEMORY_EXITS = {-6, -9}


class QueryPool:
    """A few confined worker processes over the published store (`ptce_kg.sandbox`).

    Each job gets one worker or waits in a fair queue: waiting clients are served in turn (round robin), so a
    client with many queued jobs does not delay the others; the service also keeps each client's concurrency
    below the pool size (api/limits.py)."""

    def __init__(self, store_path: str, size: int = 4, timeout_s: float = 30.0, memory_mb: int | None = 1024,
                 federated: bool = False):
        self.store_path = str(store_path)
        self.federated = federated  # SERVICE endpoints allow-listed: the workers keep network access
        self.size = max(1, size)
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self._ctx = mp.get_context("spawn")  # never fork a process that runs threads
        self._idle: list[_Worker] | None = None
        self._waiting: OrderedDict[str, deque] = OrderedDict()
        self._threads = ThreadPoolExecutor(max_workers=self.size * 2, thread_name_prefix="ptce-kg-query")
        self._all: set = set()
        self._lock = threading.Lock()
        self._starting: asyncio.Lock | None = None

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=_worker_main, args=(child, self.store_path, self.memory_mb, self.federated),
                                    daemon=True, name="ptce-kg-query-worker")
        process.start()
        child.close()
        worker = _Worker(process, parent)
        with self._lock:
            self._all.add(worker.process)
        return worker

    def _retire(self, worker: _Worker) -> int | None:
        worker.process.kill()
        worker.process.join(timeout=5)
        with self._lock:
            self._all.discard(worker.process)
        return worker.process.exitcode

    async def start(self) -> None:
        if self._idle is not None:
            return
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._idle is None:
                loop = asyncio.get_running_loop()
                workers = await asyncio.gather(*[loop.run_in_executor(self._threads, self._spawn)
                                                 for _ in range(self.size)])
                self._idle = list(workers)

    # -- the fair queue --------------------------------------------------------------------------

    def _release(self, worker: _Worker) -> None:
        """Give a free worker to the next waiting client in turn, or keep it idle."""
        while self._waiting:
            client, queue = next(iter(self._waiting.items()))
            future = queue.popleft()
            if queue:
                self._waiting.move_to_end(client)
            else:
                del self._waiting[client]
            if not future.done():
                future.set_result(worker)
                return
        self._idle.append(worker)

    async def _acquire(self, client: str, timeout: float) -> _Worker | None:
        if self._idle and not self._waiting:
            return self._idle.pop()
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(client, deque()).append(future)
        done, _ = await asyncio.wait({future}, timeout=timeout)
        if done:
            return future.result()
        future.cancel()
        queue = self._waiting.get(client)
        if queue is not None:
            try:
                queue.remove(future)
            except ValueError:
                pass
            if not queue:
                del self._waiting[client]
        return None

    async def _replace(self, worker: _Worker) -> int | None:
        loop = asyncio.get_running_loop()
        exitcode = self._retire(worker)
        self._release(await loop.run_in_executor(self._threads, self._spawn))
        return exitcode

    async def run(self, job, timeout_s: float | None = None, client: str = "-") -> QueryOutcome:
        await self.start()
        timeout = self.timeout_s if timeout_s is None else timeout_s
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        worker = await self._acquire(client, timeout)
        if worker is None:
            return QueryOutcome("timeout", message=f"no worker free within {timeout:g} s", seconds=timeout)
        remaining = max(0.0, timeout - (time.monotonic() - started))
        try:
            worker.conn.send(job)
            ready = await loop.run_in_executor(self._threads, worker.conn.poll, remaining)
            if ready:
                outcome = await loop.run_in_executor(self._threads, worker.conn.recv)
                if outcome.status == "memory":
                    await self._replace(worker)  # after a MemoryError its state is not to be trusted
                else:
                    self._release(worker)
                return outcome
        except (EOFError, BrokenPipeError, OSError) as exc:
            exitcode = await self._replace(worker)
            if exitcode in _MEMORY_EXITS:
                return QueryOutcome("memory", message=f"the worker's memory limit ({self.memory_mb} MB) was reached")
            return QueryOutcome("crashed", message=f"query worker failed (exit {exitcode}): {exc!r}")
        # Timed out: stop the work itself, then replace the worker.
        await self._replace(worker)
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
