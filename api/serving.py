"""How `ptce-kg serve` runs uvicorn: connection limits that hold against slow and greedy clients, proxy
headers believed only from configured proxies, and one public base URL that every absolute link is built from.

- A connection must send a complete request head within PTCE_KG_HEADER_TIMEOUT seconds of opening (or, on a
  kept-alive connection, of the first byte of its next request); otherwise it gets 408 (or is simply closed
  if it sent nothing) — a slowloris holds a descriptor for seconds, not forever.
- At most PTCE_KG_MAX_CONNECTIONS_PER_CLIENT connections at once from one address (one /64 for IPv6), and at
  most PTCE_KG_MAX_CONNECTIONS in all (never more than half the descriptors the process may open, after the
  soft RLIMIT_NOFILE is raised to the hard limit). A connection beyond either cap gets a 503 written at
  once and is closed: it never waits, never reaches the application, and logs no traceback.
- What these limits refuse is logged as one summary line per LOG_INTERVAL_S at most, never one line (or one
  traceback) per connection; uvicorn's and asyncio's per-connection warnings are counted into it.
- X-Forwarded-For / X-Forwarded-Proto are read only from PTCE_KG_TRUSTED_PROXIES (none by default; uvicorn
  itself would trust 127.0.0.1). A trusted proxy is exempt from the per-address cap (it carries many
  clients; it should apply its own), not from the global one.
- The application sees the scheme and Host of PTCE_KG_PUBLIC_URL whatever the client sent (PublicOrigin), so
  nothing downstream — Starlette's slash redirects included — can echo a forged Host.

uvicorn's own `limit_concurrency` is not used: it still accepts every connection (a half-open socket costs
a descriptor all the same) and logs a warning per refused request. Its `timeout_keep_alive` (idle time
between requests) and `h11_max_incomplete_event_size` (size of a request head) are set below.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
import resource
import time
from collections import Counter
from urllib.parse import urlsplit

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from ptce_kg.config import Settings, settings as load_settings
from ptce_kg.errors import PtceKgError

log = logging.getLogger("ptce_kg.serving")

# Idle time between requests, longer than uvicorn's 5 s default: harvesters and load balancers reuse connections,
# and a server closing a connection as a client reuses it shows as a dropped request.
KEEP_ALIVE_S = 30
MAX_HEAD_BYTES = 16 * 1024  # a request head (request line and headers); larger gets 400 (h11's default, explicit)
LOG_INTERVAL_S = 10.0
LINGER_S = 1.0  # after a 408, how long input is read and dropped before the socket is closed
FD_SHARE_FOR_CONNECTIONS = 2  # connections get at most 1/2 of the descriptors: the store and workers need the rest


# -- descriptors, public URL, proxies --------------------------------------------------------------

def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft if soft != resource.RLIM_INFINITY else target
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    except (ValueError, OSError) as exc:
        log.warning("could not raise RLIMIT_NOFILE from %d to %d: %s", soft, target, exc)
        return soft


def default_public_url(host: str, port: int) -> str:
    """http://HOST:PORT/ of the bound address (IPv6 in brackets)."""
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def check_public_url(url: str) -> str:
    """The URL, ending in "/", or PtceKgError: http(s), a host, no user, query or fragment."""
    parts = urlsplit(url)
    try:
        valid = bool(parts.scheme in ("http", "https") and parts.hostname and parts.netloc.isascii()
                     and "@" not in parts.netloc and (parts.port is None or parts.port > 0)
                     and not parts.query and not parts.fragment)
    except ValueError:  # a port that is not a number
        valid = False
    if not valid:
        raise PtceKgError(f"PTCE_KG_PUBLIC_URL={url!r}: URL publique invalide (http(s)://hôte[:port]/chemin/) / "
                          f"invalid public URL (expected http(s)://host[:port]/path/)")
    return url.rstrip("/") + "/"


def parse_proxies(entries: tuple[str, ...]) -> list[str]:
    """Addresses or networks (CIDR) as uvicorn's forwarded_allow_ips takes them; PtceKgError on anything else."""
    proxies = []
    for entry in entries:
        try:
            proxies.append(str(ipaddress.ip_network(entry, strict=False)) if "/" in entry
                           else str(ipaddress.ip_address(entry)))
        except ValueError:
            raise PtceKgError(f"PTCE_KG_TRUSTED_PROXIES: {entry!r} n'est ni une adresse ni un réseau IP / "
                              f"is neither an IP address nor a network") from None
    return proxies


def _is_trusted(host: str | None, networks: list) -> bool:
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return any(address in network for network in networks)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def client_key(host: str | None) -> str:
    """What the per-address cap counts: the address; for IPv6, its /64 (one host usually holds a whole /64)."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return host or "-"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


# -- what is refused, counted and logged once in a while -----------------------------------------------

class Tally:
    """Counts refused and closed connections; logs the first at once, then one summary per interval at most."""

    def __init__(self, interval_s: float = LOG_INTERVAL_S, logger: logging.Logger = log):
        self.interval_s = interval_s
        self.logger = logger
        self.kinds: Counter = Counter()
        self.addresses: Counter = Counter()
        self.last = -float("inf")
        self.scheduled = False

    def note(self, kind: str, address: str | None = None) -> None:
        self.kinds[kind] += 1
        if address:
            self.addresses[address] += 1
        now = time.monotonic()
        if now - self.last >= self.interval_s:
            self.flush()
        elif not self.scheduled:
            try:
                asyncio.get_running_loop().call_later(self.last + self.interval_s - now, self.flush)
                self.scheduled = True
            except RuntimeError:  # no loop (tests, shutdown): the next note or flush reports it
                pass

    def flush(self) -> None:
        self.scheduled = False
        if not self.kinds:
            return
        self.last = time.monotonic()
        what = ", ".join(f"{count} {kind}" for kind, count in self.kinds.most_common())
        top = ", ".join(f"{address} ({count})" for address, count in self.addresses.most_common(3))
        self.logger.warning("connections refused or closed: %s%s (at most one such line per %g s)",
                            what, f"; from {top}" if top else "", self.interval_s)
        self.kinds.clear()
        self.addresses.clear()


class CountInstead(logging.Filter):
    """Per-connection warnings of uvicorn and asyncio (one per hostile connection) go into the Tally."""

    MESSAGES = {
        "Invalid HTTP request received.": "invalid request heads",
        "Unsupported upgrade request.": "unsupported upgrades",
        "socket.accept() out of system resource": "accepts failed for lack of descriptors",
    }

    def __init__(self, tally: Tally):
        super().__init__()
        self.tally = tally

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if message.startswith("No supported WebSocket library detected"):
            return False  # the second line uvicorn logs for each unsupported upgrade
        kind = self.MESSAGES.get(message)
        if kind is None:
            return True
        self.tally.note(kind)
        return False


# -- connections ---------------------------------------------------------------------------------

@dataclasses.dataclass
class ConnectionGuard:
    """Connections open now, per address and in all; shared by the protocol instances of one server (one loop)."""

    per_client: int
    total: int
    header_timeout_s: float
    trusted_proxies: list[str]  # addresses or networks, as parse_proxies() returns them
    tally: Tally = dataclasses.field(default_factory=Tally)
    open: Counter = dataclasses.field(default_factory=Counter)
    count: int = 0

    def __post_init__(self):
        self._trusted = [ipaddress.ip_network(p) for p in self.trusted_proxies]

    def admit(self, host: str | None) -> tuple[str | None, bytes | None]:
        """(key to release later, None) when admitted, else (None, the response to write before closing)."""
        key = client_key(host)
        if self.count >= self.total:
            self.tally.note("over the global cap", key)
            return None, GLOBAL_FULL
        if self.open[key] >= self.per_client and not _is_trusted(host, self._trusted):
            self.tally.note("over the per-address cap", key)
            return None, CLIENT_FULL
        self.open[key] += 1
        self.count += 1
        return key, None

    def release(self, key: str) -> None:
        self.count -= 1
        self.open[key] -= 1
        if self.open[key] <= 0:
            del self.open[key]


def _raw_response(status: str, fr: str, en: str, extra: str = "") -> bytes:
    body = f"{fr} / {en}\n".encode("utf-8")
    return (f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            f"{extra}Connection: close\r\n\r\n").encode("ascii") + body


CLIENT_FULL = _raw_response("503 Service Unavailable", "Trop de connexions ouvertes depuis cette adresse.",
                            "Too many open connections from this address.", "Retry-After: 5\r\n")
GLOBAL_FULL = _raw_response("503 Service Unavailable", "Le service a trop de connexions ouvertes, réessayez.",
                            "The service has too many open connections: retry.", "Retry-After: 5\r\n")
HEAD_TIMEOUT = _raw_response("408 Request Timeout", "En-têtes de requête incomplets dans le délai.",
                             "Request head not complete in time.")


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the caps of its `guard` and a deadline for each request head."""

    guard: ConnectionGuard  # set on the subclass protocol_class() makes for one server

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._key: str | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._lingering = False

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._key, refusal = self.guard.admit(self.client[0] if self.client else None)
        if refusal is not None:
            transport.write(refusal)  # a few hundred bytes into an empty socket buffer: never blocks
            transport.close()
            return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        if self._key is not None:
            self.guard.release(self._key)
            self._key = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._key is None or self._lingering:  # refused, or timed out: closing already
            return
        if self._head_timer is None and self.conn.their_state is h11.IDLE:
            self._arm_head_timer()  # the first byte of the next request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head is in (or the connection failed)
            self._cancel_head_timer()

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.guard.header_timeout_s, self._head_timeout)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        self.guard.tally.note("closed after the header timeout", self._key)
        if self.conn.trailing_data[0] and self.transport.can_write_eof():
            # Part of a head arrived: say why, then close gently. Closing a socket with unread input sends a
            # reset that can destroy the 408 in flight, so: 408, FIN, drop what still comes, close in LINGER_S.
            self.transport.write(HEAD_TIMEOUT)
            self.transport.write_eof()
            self._lingering = True
            self.loop.call_later(LINGER_S, self.transport.close)
            return
        self.transport.close()  # a silent socket is just closed


def protocol_class(guard: ConnectionGuard) -> type[GuardedH11Protocol]:
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"guard": guard})


# -- the Host the application sees ----------------------------------------------------------------

class PublicOrigin:
    """ASGI wrapper: each HTTP request carries the scheme and Host of the public URL, whatever the client sent.

    The pages build their links from settings.public_url already; this closes what they do not control (Starlette
    redirects `/dumps` to `/dumps/` with an absolute URL made from Host)."""

    def __init__(self, app, public_url: str):
        self.app = app
        parts = urlsplit(public_url)
        self.scheme, self.host = parts.scheme, parts.netloc.encode("ascii")

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            headers = [(name, value) for name, value in scope["headers"] if name != b"host"]
            scope = {**scope, "scheme": self.scheme, "headers": [(b"host", self.host), *headers]}
        await self.app(scope, receive, send)


# -- putting it together ----------------------------------------------------------------------------

def prepare(host: str, port: int, cfg: Settings | None = None) -> Settings:
    """Settings for serving on host:port: the public URL checked (by default http://HOST:PORT/), the
    descriptor limit raised (before the store and the workers open anything)."""
    cfg = cfg or load_settings()
    url = cfg.public_url if cfg.public_url_given else None
    if not url:
        url = default_public_url(host, port)
        if _is_ip(host) and ipaddress.ip_address(host).is_unspecified:  # 0.0.0.0, ::
            log.warning("serving on %s: links will say %s; set PTCE_KG_PUBLIC_URL to the address clients use",
                        host, url)
    cfg = dataclasses.replace(cfg, public_url=check_public_url(url))
    parse_proxies(cfg.trusted_proxies)
    if cfg.header_timeout_s <= 0 or cfg.max_connections_per_client < 1 or cfg.max_connections < 1:
        raise PtceKgError("PTCE_KG_HEADER_TIMEOUT, PTCE_KG_MAX_CONNECTIONS(_PER_CLIENT) : valeurs positives "
                          "attendues / positive values expected")
    raise_fd_limit()
    return cfg


def config(app, cfg: Settings, host: str, port: int, log_level: str):
    """The uvicorn Config: our protocol, proxy headers from the trusted proxies only, the public origin."""
    import uvicorn

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    total = cfg.max_connections
    if soft != resource.RLIM_INFINITY and total > soft // FD_SHARE_FOR_CONNECTIONS:
        total = max(1, soft // FD_SHARE_FOR_CONNECTIONS)
        log.warning("PTCE_KG_MAX_CONNECTIONS=%d lowered to %d: the process may open %d descriptors",
                    cfg.max_connections, total, soft)
    proxies = parse_proxies(cfg.trusted_proxies)
    guard = ConnectionGuard(per_client=cfg.max_connections_per_client, total=total,
                            header_timeout_s=cfg.header_timeout_s, trusted_proxies=proxies)
    server_config = uvicorn.Config(
        PublicOrigin(app, cfg.public_url), host=host, port=port, log_level=log_level,
        http=protocol_class(guard), timeout_keep_alive=KEEP_ALIVE_S, h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        proxy_headers=bool(proxies), forwarded_allow_ips=proxies,  # [] trusts nobody (None: 127.0.0.1)
    )
    server_config.guard = guard
    return server_config


def run(app, cfg: Settings, host: str, port: int, log_level: str) -> None:
    import uvicorn

    server_config = config(app, cfg, host, port, log_level)  # configures logging: our filters come after it
    quiet = CountInstead(server_config.guard.tally)
    for name in ("uvicorn.error", "asyncio"):
        logging.getLogger(name).addFilter(quiet)
    uvicorn.Server(server_config).run()
