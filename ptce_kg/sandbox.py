"""What a query worker may do: no network beyond its back end, bounded memory, a deep enough stack.

Every query, update and eligibility check that comes from outside runs in a worker process confined here,
as defence in depth behind the guard (`ptce_kg.sparql_guard`):

- **Network.** The embedded back end needs none: a seccomp filter (libseccomp through `pyseccomp`) makes
  `socket(AF_INET|AF_INET6, …)` fail with EACCES in the whole process — Python code and the engine's own
  HTTP client (Oxigraph follows SERVICE natively) alike. Where seccomp cannot be loaded, a new network
  namespace (root only) does the same; where neither is possible the worker says so in the log. On the
  remote back end the worker must reach its SPARQL server and only it: an audit hook refuses every
  `socket.connect` to another address (the remote back end speaks HTTP from Python, through httpx).
- **Memory.** `RLIMIT_AS` caps the address space at the worker's footprint once its store is open plus
  `memory_mb`: an allocation past it fails (Rust aborts the process, Python raises MemoryError) and the
  pool reports 503 and starts a fresh worker.
- **Stack.** The engine's parser and evaluator recurse; work runs on a thread with a 128 MB stack, far
  beyond what the guard's nesting and operator limits let through.
"""

from __future__ import annotations

import errno
import logging
import os
import resource
import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("ptce_kg.sandbox")
STACK_BYTES = 128 * 1024 * 1024
_CLONE_NEWNET = 0x40000000


def _vm_size() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _deny_inet_sockets() -> str:
    """No IPv4/IPv6 socket can be created from now on in this process. Returns the mechanism used."""
    try:
        import pyseccomp as seccomp

        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        rules.set_attr(seccomp.Attr.CTL_TSYNC, 1)  # every thread of the process, not only the caller
        for family in (socket.AF_INET, socket.AF_INET6):
            rules.add_rule(seccomp.ERRNO(errno.EACCES), "socket", seccomp.Arg(0, seccomp.EQ, family))
        rules.load()
        return "seccomp"
    except Exception as exc:  # libseccomp missing, or seccomp refused by the kernel
        reason = f"{type(exc).__name__}: {exc}"
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(_CLONE_NEWNET) == 0:
            return "network namespace"
        reason += f"; unshare: {os.strerror(ctypes.get_errno())}"
    except OSError as exc:
        reason += f"; unshare: {exc}"
    log.warning("query worker: could not remove network access (%s); the query guard is the only barrier", reason)
    return "none"


def _allow_only(addresses: set[tuple[str, int]]) -> None:
    """An audit hook: socket.connect only to the given (host, port) pairs."""

    def hook(event, args):
        if event != "socket.connect":
            return
        address = args[1]
        if isinstance(address, tuple) and (str(address[0]), int(address[1])) in addresses:
            return
        if not isinstance(address, tuple):  # AF_UNIX: the pipes of multiprocessing
            return
        raise PermissionError(errno.EACCES, f"connection refused by the worker sandbox: {address!r}")

    sys.addaudithook(hook)


def resolve(url: str) -> set[tuple[str, int]]:
    """The (address, port) pairs an http(s) URL may connect to."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    found = {(parts.hostname or "", port)}
    try:
        for info in socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP):
            found.add((info[4][0], port))
    except OSError:
        pass
    return found


def confine(memory_mb: int | None, allowed_urls: tuple[str, ...] = (), federated: bool = False) -> str:
    """Confine the current process: network, then memory. Returns the network barrier used."""
    barrier = confine_network(allowed_urls, federated)
    limit_memory(memory_mb)
    return barrier


def confine_network(allowed_urls: tuple[str, ...] = (), federated: bool = False) -> str:
    """No network beyond `allowed_urls` (the back end's, on the remote back end), for every thread.

    `federated`: SERVICE endpoints are allow-listed (PTCE_KG_SERVICE_ALLOWLIST), so the engine must reach the
    network natively: the guard is then the only barrier, as the log says."""
    os.environ["RUST_BACKTRACE"] = "0"  # an aborted allocation must not print pages of backtrace
    if federated:
        log.warning("query worker: SERVICE allow-list set, the engine keeps network access; "
                    "the query guard is the only barrier")
        return "guard only"
    if allowed_urls:
        _allow_only(set().union(*(resolve(u) for u in allowed_urls)))
        return "audit hook"
    _allow_only(set())
    return _deny_inet_sockets()


def limit_memory(memory_mb: int | None) -> None:
    """Cap the address space at the current footprint plus memory_mb (call once the store is open)."""
    if not memory_mb:
        return
    limit = _vm_size() + memory_mb * 1024 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def deep_stack_executor() -> ThreadPoolExecutor:
    """One thread with a large stack (created before the memory limit, which counts its reservation)."""
    previous = threading.stack_size(STACK_BYTES)
    try:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ptce-kg-eval")
        executor.submit(lambda: None).result()  # start the thread now, with this stack size
    finally:
        threading.stack_size(previous)
    return executor
