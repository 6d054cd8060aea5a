"""Start a throw-away Virtuoso (Debian's virtuoso-opensource) on loopback for the remote back-end tests."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx

BINARY = "virtuoso-t"
ISQL = "isql-vt"  # Debian's name for Virtuoso's SQL client (same package)
VAD = Path("/usr/share/virtuoso-opensource-7/vad")
USER, PASSWORD = "dba", "dba"  # a fresh database's administrator; loopback only, deleted with the test run

INI = """\
[Database]
DatabaseFile = {db}/virtuoso.db
ErrorLogFile = {db}/virtuoso.log
LockFile = {db}/virtuoso.lck
TransactionFile = {db}/virtuoso.trx
xa_persistent_file = {db}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
MaxCheckpointRemap = 2000
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {db}/virtuoso-temp.db
TransactionFile = {db}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping = 0

[Parameters]
ServerPort = 127.0.0.1:{sql_port}
LiteMode = 0
DisableUnixSocket = 1
DisableTcpSocket = 0
ServerThreads = 10
CheckpointInterval = 60
O_DIRECT = 0
CaseMode = 2
MaxStaticCursorRows = 5000
CheckpointAuditTrail = 0
AllowOSCalls = 0
SchedulerInterval = 10
DirsAllowed = ., {db}, {vad}
ThreadCleanupInterval = 0
ThreadThreshold = 10
ResourcesCleanupInterval = 0
FreeTextBatchSize = 100000
SingleCPU = 0
VADInstallDir = {vad}/
PrefixResultNames = 0
RdfFreeTextRulesSize = 100
IndexTreeMaps = 256
MaxMemPoolSize = 200000000
PrefixResultNames = 0
MacSpotlight = 0
MaxQueryMem = 1G
VectorSize = 1000
MaxVectorSize = 1000000
AdjustVectorSize = 0
ThreadsPerQuery = 2
AsyncQueueMaxThreads = 2
NumberOfBuffers = 60000
MaxDirtyBuffers = 45000

[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = {db}/vsp
MaxClientConnections = 10
DavRoot = DAV
EnabledDavVSP = 0
HTTPProxyEnabled = 0
TransactionFile = {db}/http.trx
HTTPLogFile = {db}/http.log
ServerThreads = 10
MaxKeepAlives = 10
KeepAliveTimeout = 10
MaxCachedProxyConnections = 10
ProxyConnectionCacheTimeout = 15
HTTPThreadSize = 280000
HttpTimeout = 300
HTTPThreadSize = 280000

[AutoRepair]
BadParentLinks = 0

[Client]
SQL_PREFETCH_ROWS = 100
SQL_PREFETCH_BYTES = 16000
SQL_QUERY_TIMEOUT = 0
SQL_TXN_TIMEOUT = 0

[SPARQL]
ResultSetMaxRows = 10000000
MaxQueryCostEstimationTime = 400
MaxQueryExecutionTime = 10
DefaultQuery = select distinct ?Concept where {{[] a ?Concept}} LIMIT 100
DeferInferenceRulesInit = 0

[Plugins]
LoadPath = /usr/lib/virtuoso-opensource-7/hosting
"""


def available() -> bool:
    return shutil.which(BINARY) is not None and shutil.which(ISQL) is not None


def start(folder: Path, http_port: int, sql_port: int) -> tuple[subprocess.Popen, str, int]:
    """virtuoso-t in the foreground on loopback with a new database in `folder`; returns (process, base URL,
    SQL port)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vsp").mkdir(exist_ok=True)
    ini = folder / "virtuoso.ini"
    ini.write_text(INI.format(db=folder, vad=VAD, http_port=http_port, sql_port=sql_port), encoding="utf-8")
    log = open(folder / "stdout.log", "wb")
    process = subprocess.Popen([BINARY, "+foreground", "+configfile", str(ini)], cwd=folder,
                               stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{http_port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("virtuoso exited: " + (folder / "virtuoso.log").read_text(errors="replace")[-3000:])
        try:
            if httpx.get(base + "/sparql", params={"query": "ASK {}"}, timeout=2).status_code == 200:
                return process, base, sql_port
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError("virtuoso did not answer within 120 s")


def bulk_load(folder: Path, sql_port: int, nquads: Path) -> None:
    """Load an N-Quads file (gzipped or not) with Virtuoso's bulk loader (ld_add, rdf_loader_run), each quad
    into its named graph, then checkpoint; raises if the loader reports an error for the file.

    The file is hard-linked (or copied) into the database folder, the one place DirsAllowed lets it read."""
    inbox = folder / "load"
    inbox.mkdir(exist_ok=True)
    target = inbox / nquads.name
    try:
        target.hardlink_to(nquads)
    except OSError:
        shutil.copyfile(nquads, target)
    script = (f"ld_add('{target}', 'urn:ptce-kg:no-graph');\nrdf_loader_run();\ncheckpoint;\n"
              f"select 'LOADED', ll_state, ll_error from DB.DBA.LOAD_LIST where ll_file = '{target}';\n")
    done = subprocess.run([ISQL, f"127.0.0.1:{sql_port}", USER, PASSWORD, "VERBOSE=OFF", "BANNER=OFF"],
                          input=script, capture_output=True, text=True, timeout=1800)
    lines = [line[line.index("LOADED"):].split() for line in done.stdout.splitlines() if "LOADED" in line]
    if done.returncode != 0 or lines != [["LOADED", "2", "NULL"]]:
        raise RuntimeError(f"virtuoso bulk load of {nquads} failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
