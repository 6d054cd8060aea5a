"""Network guard for the servers the tests start (on PYTHONPATH only for them): any connection to an address
outside the loopback is refused and written to $PTCE_KG_CONNECT_LOG. An audit hook sees every socket.connect
of the process and of the query workers it spawns, whatever library makes it."""

import os
import sys

_LOG = os.environ.get("PTCE_KG_CONNECT_LOG")


def _hook(event, args):
    if event != "socket.connect" or not _LOG:
        return
    address = args[1]
    host = address[0] if isinstance(address, tuple) else str(address)
    if isinstance(address, tuple) and not (host.startswith("127.") or host in ("::1", "localhost")):
        with open(_LOG, "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()} {address!r}\n")
        raise PermissionError(f"outbound connection refused by the test guard: {address!r}")


if _LOG:
    sys.addaudithook(_hook)
