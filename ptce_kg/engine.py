"""Query evaluation with limits that hold: Oxigraph in worker processes, killed at the timeout.

pyoxigraph cannot cancel a running query, so each query runs in one of a few worker processes;
when a query outlives the timeout its worker is killed (its work stops, not just the answer) and a
fresh worker takes its place. Other requests keep being served by the other workers.

`execute()` is the pure part — run one query on a store, cap the results, serialize them — and is
what the workers call.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import pickle
import socket
import struct
import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pyoxigraph
from pyoxigraph import NamedNode, QueryResultsFormat, RdfFormat

from .errors import ServerLimitError
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
    max_bytes: int = 32 * 1024 * 1024  # the rows or triples kept, in bytes as written in SPARQL TSV / N-Triples


@dataclass
class TaskJob:
    """Other work from outside that must run confined (an eligibility check): `function(store, *args)`,
    a module-level function, whose return value is sent back as the outcome's `value`."""
    function: object
    args: tuple = ()


@dataclass
class QueryOutcome:
    status: str  # ok | syntax | not_acceptable | unavailable | error | timeout | server_limit | memory | too_large | crashed
    kind: str = ""  # solutions | boolean | graph | task
    media_type: str = ""
    body: bytes = b""
    truncated: bool = False
    rows: int = 0
    message: str = ""
    seconds: float = 0.0
    truncated_by: str = ""  # rows | bytes
    value: object = None  # a TaskJob's result
    build: str = ""  # the build that answered (its name), so that an answer is never kept under another


class _Full(OSError):
    """The capped writer has what it may keep: the serialiser is stopped."""


class _LineWriter:
    """A binary writer for pyoxigraph's line-based serialisers (SPARQL TSV, N-Triples: one solution or
    triple a line, line breaks inside values escaped), capped while they write: it stops the serialiser once
    more than `max_lines` lines after the header, or more than `max_bytes` after it, have come — so a
    runaway answer is never written whole — and `cut()` keeps the complete lines within both caps."""

    def __init__(self, max_lines: int, max_bytes: int, header: bool):
        self.max_lines, self.max_bytes, self.header = max_lines, max_bytes, header
        self.chunks: list[bytes] = []
        self.size = 0
        self.lines = 0
        self.header_bytes = None if header else 0
        self.full = False

    def write(self, data) -> int:
        data = bytes(data)
        self.chunks.append(data)
        self.size += len(data)
        self.lines += data.count(b"\n")
        if self.header_bytes is None and self.lines:
            self.header_bytes = b"".join(self.chunks).index(b"\n") + 1
        if self.header_bytes is not None and (self.lines - self.header > self.max_lines
                                              or self.size - self.header_bytes > self.max_bytes):
            self.full = True
            raise _Full()
        return len(data)

    def flush(self) -> None:
        pass

    def cut(self) -> tuple[bytes, bytes, int, str]:
        """(header, kept lines, their count, what cut them: "" | "rows" | "bytes"). As a row-by-row cap
        would: the rows are kept in order until the next one is row `max_lines + 1` ("rows") or would
        take the lines past `max_bytes` ("bytes")."""
        data = b"".join(self.chunks)
        head = self.header_bytes or 0
        header, body = data[:head], data[head:]
        by_bytes = body.rfind(b"\n", 0, self.max_bytes) + 1  # the end of the last whole line within the bytes
        fitting = body.count(b"\n", 0, by_bytes)
        if fitting >= self.max_lines:  # the first max_lines rows fit in the bytes
            end = 0
            for _ in range(self.max_lines):
                end = body.index(b"\n", end) + 1
            return header, body[:end], self.max_lines, ("rows" if len(body) > end else "")
        if by_bytes < len(body) or self.full:  # the next row is past the bytes (whole, or cut by the stop)
            return header, body[:by_bytes], fitting, "bytes"
        return header, body, fitting, ""


def _capped(serialize, max_lines: int, max_bytes: int, header: bool) -> tuple[bytes, bytes, int, str]:
    writer = _LineWriter(max_lines, max_bytes, header)
    try:
        serialize(writer)
    except (_Full, OSError):  # the writer's stop comes back as itself or as an I/O error; else it is evaluation's
        if not writer.full:
            raise
    return writer.cut()


def _solutions(solutions: pyoxigraph.QuerySolutions, name: str, max_rows: int, max_bytes: int):
    """The solutions the caps keep, written by pyoxigraph: its TSV writer (a solution a line) is capped while
    it writes; the kept lines are the answer in TSV, or are read back and written in the format asked for."""
    header, body, rows, cut = _capped(lambda out: solutions.serialize(out, format=QueryResultsFormat.TSV),
                                      max_rows, max_bytes, header=True)
    tsv = header + body
    if name == "tsv":
        return tsv, rows, cut
    parsed = pyoxigraph.parse_query_results(tsv, format=QueryResultsFormat.TSV)
    return parsed.serialize(format=RESULT_FORMATS[name][1]), rows, cut


def _graph(triples, name: str, max_rows: int, max_bytes: int):
    """The triples the caps keep: pyoxigraph's N-Triples writer (a triple a line) capped while it writes,
    then read back and written in the format asked for (with the project's prefixes). `triples` is the
    engine's QueryTriples, or the remote back end's list of triples."""
    def write(out):
        if isinstance(triples, pyoxigraph.QueryTriples):
            triples.serialize(out, format=RdfFormat.N_TRIPLES)
        else:
            pyoxigraph.serialize(triples, out, format=RdfFormat.N_TRIPLES)
    _, body, rows, cut = _capped(write, max_rows, max_bytes, header=False)
    fmt = GRAPH_FORMATS[name][1]
    if fmt == RdfFormat.N_TRIPLES:
        return body, rows, cut
    kept = pyoxigraph.parse(body, format=RdfFormat.N_TRIPLES)
    kwargs = {"prefixes": PREFIXES} if fmt in (RdfFormat.TURTLE, RdfFormat.RDF_XML) else {}
    return pyoxigraph.serialize(kept, format=fmt, **kwargs), rows, cut


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
            body = result.serialize(format=RESULT_FORMATS[job.results_format][1])
            outcome = QueryOutcome("ok", "boolean", RESULT_FORMATS[job.results_format][0], body, rows=1)
        elif isinstance(result, pyoxigraph.QuerySolutions):
            if job.results_format is None:
                return QueryOutcome("not_acceptable", "solutions")
            body, rows, cut = _solutions(result, job.results_format, job.max_rows, job.max_bytes)
            outcome = QueryOutcome("ok", "solutions", RESULT_FORMATS[job.results_format][0], body,
                                   bool(cut), rows, truncated_by=cut)
        else:
            if job.graph_format is None:
                return QueryOutcome("not_acceptable", "graph")
            body, rows, cut = _graph(result, job.graph_format, job.max_rows, job.max_bytes)
            outcome = QueryOutcome("ok", "graph", GRAPH_FORMATS[job.graph_format][0], body,
                                   bool(cut), rows, truncated_by=cut)
    except SyntaxError as exc:
        return QueryOutcome("syntax", message=str(exc))
    except ServerLimitError as exc:  # the remote server's own limits stopped it: like our timeout
        return QueryOutcome("server_limit", message=str(exc))
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
        current = root.current_name()  # one stat per job (StoreRoot keeps the name while CURRENT is unchanged)
        if state.get("store") is None or current != state.get("name"):
            state["store"], state["name"] = None, None  # let the old build go before opening the new one
            state["store"], state["name"] = root.open_read(), current
        if isinstance(job, TaskJob):
            started = time.monotonic()
            value = job.function(state["store"], *job.args)
            return QueryOutcome("ok", "task", value=value, seconds=time.monotonic() - started)
        outcome = execute(state["store"], job)
        outcome.build = state["name"] or ""
        return outcome
    except StoreError as exc:
        return QueryOutcome("unavailable", message=str(exc))
    except ServerLimitError as exc:  # a check's query, stopped by the remote server's own limits
        return QueryOutcome("server_limit", message=str(exc))
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
    # The whole receive → evaluate → send loop runs on the deep-stack thread: no hand-off between threads
    # per job inside the worker.
    executor.submit(_serve, conn, root, state).result()


def _serve(conn, root, state: dict) -> None:
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        outcome = _handle(root, state, job)
        try:
            conn.send(outcome)
        except MemoryError:
            conn.send(QueryOutcome("memory", message="the worker's memory limit was reached"))


class _Receiver:
    """One message from a worker, read on the event loop as it arrives (`loop.add_reader` on the pipe,
    non-blocking reads): no thread hop and no blocking read, however large the answer.

    The worker writes with `Connection.send`, whose framing is a 4-byte big-endian length (-1 then an
    8-byte length past 2 GiB) and the pickled object; the reads use MSG_DONTWAIT on the worker's duplicate
    of the socket (`_Worker.reader`), so the connection itself stays blocking for the pool's sends. A worker
    sends one message per job and then waits for the next job, so a read never takes bytes of another."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket):
        self.loop, self.sock, self.fd = loop, sock, sock.fileno()
        self.future = loop.create_future()
        self.buffer = bytearray()
        self.size: int | None = None
        self.start = 4
        loop.add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        try:
            while True:
                chunk = self.sock.recv(1 << 20 if self.size is None else
                                       min(self.start + self.size - len(self.buffer), 1 << 20), socket.MSG_DONTWAIT)
                if not chunk:
                    raise EOFError("the worker closed its end")
                self.buffer += chunk
                if self.size is None and len(self.buffer) >= 4:
                    size = struct.unpack("!i", self.buffer[:4])[0]
                    if size == -1:
                        if len(self.buffer) < 12:
                            continue
                        self.start, size = 12, struct.unpack("!Q", self.buffer[4:12])[0]
                    self.size = size
                if self.size is not None and len(self.buffer) >= self.start + self.size:
                    self._finish(pickle.loads(memoryview(self.buffer)[self.start:self.start + self.size]))
                    return
        except (BlockingIOError, InterruptedError):
            return
        except Exception as exc:  # EOF, a reset connection, a message that cannot be read
            self._finish(exc)

    def _finish(self, value) -> None:
        self.loop.remove_reader(self.fd)
        if not self.future.done():
            if isinstance(value, BaseException):
                self.future.set_exception(value if isinstance(value, (EOFError, OSError)) else EOFError(repr(value)))
            else:
                self.future.set_result(value)

    def close(self) -> None:
        self.loop.remove_reader(self.fd)


@dataclass
class _Worker:
    process: mp.process.BaseProcess
    conn: object
    jobs: int = field(default=0)
    reader: socket.socket | None = None  # a duplicate of conn's socket, read without blocking (_Receiver)

    def socket_for_reading(self) -> socket.socket:
        if self.reader is None:
            self.reader = socket.socket(fileno=os.dup(self.conn.fileno()))
        return self.reader


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
        if worker.reader is not None:
            worker.reader.close()
        worker.conn.close()
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
            worker.conn.send(job)  # the worker waits in recv: it reads the job as it is written
            receiving = _Receiver(loop, worker.socket_for_reading())
            try:
                outcome = await asyncio.wait_for(receiving.future, remaining)
            except asyncio.TimeoutError:
                outcome = None
            finally:
                receiving.close()
            if outcome is not None:
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
