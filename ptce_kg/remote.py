"""An existing SPARQL 1.1 server as the store (Oxigraph server, Virtuoso, Fuseki, QLever…).

Selected with `PTCE_KG_STORE=sparql+http://host:port/query` (or `sparql+https://`). The update and Graph
Store Protocol URLs default to Oxigraph server's (`/update`, `/store`) and are set with
`PTCE_KG_SPARQL_UPDATE` and `PTCE_KG_SPARQL_GSP`; credentials with `PTCE_KG_SPARQL_USER` and
`PTCE_KG_SPARQL_PASSWORD`, read from the environment only, sent with HTTP basic auth or, with
`PTCE_KG_SPARQL_AUTH=digest`, digest auth (Virtuoso's `/sparql-auth` and `/sparql-graph-crud-auth`).

`RemoteStore` offers the part of `pyoxigraph.Store` the service uses (query, quads_for_pattern,
named_graphs), over the standard Query protocol, so the endpoint, the pages, the eligibility checks and the
catalogue run unchanged. The service's safety rules apply before a query leaves for the server.

Datasets are explicit: queries without FROM are sent with `default-graph-uri` and `named-graph-uri` set to the
published graphs, so the default graph is their union on any server and graphs being loaded are invisible.

A build runs locally as usual (sources, checks, dumps, in a local cache store), then uploads each named graph
to a staging graph with the Graph Store Protocol (the servers' bulk path) and switches every graph in one
SPARQL Update request (`MOVE`), which the servers apply atomically: readers see the old or the new graph,
never half of one. A failed upload drops the staging graphs and leaves the published graphs untouched.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyoxigraph
from pyoxigraph import NamedNode, QueryResultsFormat, RdfFormat

from .backends import Root
from .config import Settings, settings
from .errors import BuildError, ServerLimitError, StoreError
from .iris import DEF, GRAPH, ID, META_GRAPH

SCHEME = "sparql+"
STAGING = GRAPH + "staging/"
BUILD_PREFIX = ID + "build/"
NO_GRAPH = "urn:ptce-kg:no-graph"
SD_NAMED_GRAPH = "http://www.w3.org/ns/sparql-service-description#NamedGraph"
DIGEST = DEF + "contentDigest"
SWITCH_TIMEOUT_S = 1800.0
UPLOAD_CHUNK = 50_000  # triples a Graph Store request
VIRTUOSO_GEOMETRY = b"http://www.openlinksw.com/schemas/virtrdf#Geometry"
WKT_LITERAL = b"http://www.opengis.net/ont/geosparql#wktLiteral"  # MOVE of a large graph is one long transaction on the server


def _form(text: str) -> str:
    """SELECT, ASK, CONSTRUCT or DESCRIBE, read by the endpoint's own tokenizer."""
    from .sparql_guard import analyse

    try:
        return analyse(text, max_bytes=1 << 30, max_nesting=1 << 20, max_operators=1 << 30).form
    except Exception:  # noqa: BLE001 - the server will say what is wrong with it
        return "SELECT"


# -- booleans: Virtuoso binds the value of a boolean expression as xsd:integer 0/1 ----------------------------

XSD = "http://www.w3.org/2001/XMLSchema#"
# Built-in calls whose value is xsd:boolean (SPARQL 1.1, 17.4).
_BOOLEAN_CALLS = {"BOUND", "ISIRI", "ISURI", "ISBLANK", "ISLITERAL", "ISNUMERIC", "REGEX", "CONTAINS", "STRSTARTS",
                  "STRENDS", "SAMETERM", "LANGMATCHES", "EXISTS"}
_COMPARISONS = {"=", "!=", "<", ">", "<=", ">=", "&&", "||"}
_ARITHMETIC = {"+", "-", "*", "/"}


def _closing(toks, start: int) -> int:
    """The index of the bracket closing toks[start] (one of ( { [), or len(toks) when it is not closed."""
    depth = 0
    for index in range(start, len(toks)):
        if toks[index].kind == "punct" and toks[index].text in "({[":
            depth += 1
        elif toks[index].kind == "punct" and toks[index].text in ")}]":
            depth -= 1
            if depth == 0:
                return index
    return len(toks)


def _top_level(toks) -> list:
    """The tokens of an expression outside any brackets, each with its index."""
    found, index = [], 0
    while index < len(toks):
        token = toks[index]
        found.append((index, token))
        index = _closing(toks, index) + 1 if token.kind == "punct" and token.text in "({[" else index + 1
    return found


def _arguments(toks, open_at: int) -> list:
    """The comma-separated arguments of the call whose "(" is toks[open_at]."""
    inner = toks[open_at + 1:_closing(toks, open_at)]
    parts, current = [], []
    depth = 0
    for token in inner:
        if token.kind == "punct" and token.text in "({[":
            depth += 1
        elif token.kind == "punct" and token.text in ")}]":
            depth -= 1
        if depth == 0 and token.kind == "punct" and token.text == ",":
            parts.append(current)
            current = []
        else:
            current.append(token)
    return parts + [current]


def _is_boolean(toks, prefixes: dict) -> bool:
    """Whether a SPARQL expression's value is xsd:boolean, read from its outermost operator or call."""
    if not toks:
        return False
    top = _top_level(toks)
    operators = {t.text.upper() for _, t in top if t.kind in ("punct", "word")}
    if operators & (_COMPARISONS | {"IN"}):  # || && and comparisons bind looser than arithmetic
        return True
    if any(t.kind == "punct" and t.text in _ARITHMETIC for _, t in top[1:]) or \
            any(t.kind == "number" and t.text[0] in "+-" for _, t in top[1:]):
        return False
    first = toks[0]
    if first.kind == "punct" and first.text == "!":
        return True
    if len(top) == 1 and first.kind == "punct" and first.text == "(":
        return _is_boolean(toks[1:-1], prefixes)
    if len(top) == 1 and first.kind == "word" and first.text.upper() in ("TRUE", "FALSE"):
        return True
    word = first.text.upper() if first.kind == "word" else None
    if word == "NOT" and len(toks) > 1 and toks[1].kind == "word" and toks[1].text.upper() == "EXISTS":
        return True
    called = len(top) == 2 and top[1][1].kind == "punct" and top[1][1].text in "({"
    if not called:
        return False
    if word in _BOOLEAN_CALLS:
        return True
    if word == "IF":
        arguments = _arguments(toks, 1)
        return len(arguments) == 3 and _is_boolean(arguments[1], prefixes) and _is_boolean(arguments[2], prefixes)
    if word == "COALESCE":
        return all(_is_boolean(argument, prefixes) for argument in _arguments(toks, 1))
    if first.kind == "pname" and ":" in first.text:  # a cast: xsd:boolean(…)
        prefix, local = first.text.split(":", 1)
        return prefixes.get(prefix, "") + local == XSD + "boolean"
    return first.kind == "iri" and first.text[1:-1] == XSD + "boolean"


def boolean_variables(text: str) -> frozenset[str]:
    """The variables a query binds to the value of a boolean expression: `BIND(expr AS ?v)` and `(expr AS ?v)`
    in a projection, where expr is a comparison, a logical operator, EXISTS, or a built-in call whose value is a
    boolean (BOUND, isIRI, REGEX, CONTAINS…)."""
    from .sparql_guard import tokens

    toks = tokens(text)
    prefixes = {}
    for index, token in enumerate(toks[:-2]):
        if token.kind == "word" and token.text.upper() == "PREFIX" and toks[index + 1].kind == "pname" \
                and toks[index + 2].kind == "iri":
            prefixes[toks[index + 1].text[:-1]] = toks[index + 2].text[1:-1]
    found = set()
    opened: list[int] = []
    for index, token in enumerate(toks):
        if token.kind == "punct" and token.text in "({[":
            opened.append(index)
        elif token.kind == "punct" and token.text in ")}]":
            if opened:
                opened.pop()
        elif token.kind == "word" and token.text.upper() == "AS" and opened and index + 1 < len(toks) \
                and toks[index + 1].kind == "var" and toks[opened[-1]].text == "(":
            if _is_boolean(toks[opened[-1] + 1:index], prefixes):
                found.add(toks[index + 1].text[1:])
    return frozenset(found)


def _booleans_from_integers(content: bytes, variables: frozenset[str]) -> bytes:
    """SPARQL JSON results with the 0/1 bound to `variables` (xsd:integer, or xsd:boolean in its non-canonical
    form, as Virtuoso casts) written as xsd:boolean false/true."""
    import json

    body = json.loads(content)
    changed = False
    for row in body.get("results", {}).get("bindings", []):
        for name in variables & row.keys():
            term = row[name]
            if term.get("type") in ("literal", "typed-literal") and term.get("value") in ("0", "1") \
                    and term.get("datatype") in (XSD + "integer", XSD + "boolean"):  # xsd:boolean("1") too
                row[name] = {"type": "literal", "datatype": XSD + "boolean",
                             "value": "true" if term["value"] == "1" else "false"}
                changed = True
    return json.dumps(body).encode("utf-8") if changed else content


_PATH_OPERATORS = {"|", "/", "^", "*", "+", "?", "!"}
_PREDICATE_PUNCT = _PATH_OPERATORS | {"(", ")"}


def path_variables(toks) -> set[str]:
    """The variables written as the subject or object of a property path (`?s (p|q)* ?o`, `?s ^p/q ?o`): a
    variable followed by a predicate that holds an IRI (or `a`) and a path operator.

    >>> from ptce_kg.sparql_guard import tokens
    >>> sorted(path_variables(tokens("SELECT * { VALUES ?s { <a> } ?s (<p>|<q>)* ?o . ?o <r> ?x }")))
    ['?o', '?s']
    >>> sorted(path_variables(tokens("SELECT * { ?m ?p ?o FILTER(?x * 2 > 1) ?m a ?t }")))
    []
    """
    found: set[str] = set()
    for index, token in enumerate(toks):
        if token.kind != "var":
            continue
        end, names, operators = index + 1, False, False
        while end < len(toks):
            t = toks[end]
            if t.kind in ("iri", "pname") or (t.kind == "word" and t.text == "a"):
                names = True
            elif t.kind == "punct" and t.text in _PREDICATE_PUNCT:
                operators |= t.text in _PATH_OPERATORS
            else:
                break
            end += 1
        if names and operators:
            found.add(token.text)
            if end < len(toks) and toks[end].kind == "var":
                found.add(toks[end].text)
    return found


def values_as_subqueries(text: str) -> str:
    """Each VALUES block inside a group that binds the start or end of a property path written as a sub-select
    of it, `{ SELECT * WHERE { VALUES … } }` (the same solutions, joined the same way): Virtuoso 7.2 does not
    take variables bound by an inline VALUES as the start of a property path (`VALUES ?s { <a> } ?s p* ?o`):
    it refuses ("transitive start not given") or, joined with other patterns, walks from every node of the
    graph and answers wrong. From a sub-select it starts where it should.

    Every other VALUES stays inline: wrapped, it hides its bindings from Virtuoso's planner, which then often
    scans a predicate's every triple (`VALUES ?m {…} VALUES ?p {…} ?m ?p ?o`: 8 s instead of 0.01 s, or
    Virtuoso's own transaction timeout, on 9 of 10 fresh databases). A query's final VALUES clause is left as
    it is.

    >>> values_as_subqueries("SELECT * WHERE { VALUES ?s { <a> } ?s <p>* ?o }")
    'SELECT * WHERE { { SELECT * WHERE { VALUES ?s { <a> } } } ?s <p>* ?o }'
    >>> values_as_subqueries("SELECT * WHERE { VALUES ?m { <a> } VALUES ?p { <b> } ?m ?p ?o }")
    'SELECT * WHERE { VALUES ?m { <a> } VALUES ?p { <b> } ?m ?p ?o }'
    """
    from .sparql_guard import tokens

    toks = tokens(text)
    paths = path_variables(toks)
    if not paths:
        return text
    spans: list[tuple[int, int]] = []
    opened: list[int] = []
    index = 0
    while index < len(toks):
        token = toks[index]
        if token.kind == "punct" and token.text in "({[":
            opened.append(index)
        elif token.kind == "punct" and token.text in ")}]":
            if opened:
                opened.pop()
        elif token.kind == "word" and token.text.upper() == "VALUES" and opened and toks[opened[-1]].text == "{" \
                and not (opened[-1] + 1 < len(toks) and toks[opened[-1] + 1].kind == "word"
                         and toks[opened[-1] + 1].text.upper() == "SELECT"):
            data = index + 1
            if data < len(toks) and toks[data].text == "(":
                data = _closing(toks, data) + 1
            else:
                data += 1
            bound = {t.text for t in toks[index + 1:data] if t.kind == "var"}
            if data < len(toks) and toks[data].text == "{":
                end = _closing(toks, data)
                if end < len(toks):
                    if bound & paths:
                        spans.append((token.offset, toks[end].offset + 1))
                    index = end + 1
                    continue
        index += 1
    for start, end in reversed(spans):
        text = f"{text[:start]}{{ SELECT * WHERE {{ {text[start:end]} }} }}{text[end:]}"
    return text


def is_remote(spec: str | os.PathLike | None) -> bool:
    return isinstance(spec, str) and spec.startswith(SCHEME)


@dataclass(frozen=True)
class Endpoint:
    query: str
    update: str
    gsp: str
    auth: tuple[str, str] | None = None
    timeout_s: float = 120.0
    auth_scheme: str = "basic"  # or "digest"

    @classmethod
    def from_spec(cls, spec: str, cfg: Settings | None = None) -> "Endpoint":
        """The endpoints of `sparql+http(s)://…/query`, with the credentials and overrides of the settings
        (PTCE_KG_SPARQL_USER, _PASSWORD, _AUTH, _UPDATE, _GSP; ptce_kg/config.py)."""
        cfg = cfg or settings()
        query = spec[len(SCHEME):]
        root = query[: -len("/query")] if query.endswith("/query") else query.rstrip("/")
        if cfg.sparql_auth not in ("basic", "digest"):
            raise StoreError(f"PTCE_KG_SPARQL_AUTH must be basic or digest, not {cfg.sparql_auth!r}")
        return cls(query=query, update=cfg.sparql_update or root + "/update", gsp=cfg.sparql_gsp or root + "/store",
                   auth=(cfg.sparql_user, cfg.sparql_password) if cfg.sparql_user else None,
                   auth_scheme=cfg.sparql_auth)

    def httpx_auth(self):
        if self.auth is None:
            return None
        return httpx.DigestAuth(*self.auth) if self.auth_scheme == "digest" else httpx.BasicAuth(*self.auth)


# Virtuoso's refusals by its own limits (its SQL states): the cost estimated before the query starts
# (MaxQueryCostEstimationTime: "42000 … The estimated execution time … exceeds the limit"), a transaction or
# query timeout (S1T00).
_SERVER_LIMITS = re.compile(r"estimated execution time .* exceeds the limit|\bS1T00\b")


def _refused(response: httpx.Response, what: str) -> None:
    """The documented errors of the back ends (ptce_kg/backends.py): SyntaxError for the server's 400,
    ServerLimitError when the server refused the query by its own limits, OSError for any other refusal."""
    if response.status_code == 400:
        raise SyntaxError(response.text.strip()[:500])
    if response.status_code >= 300:
        text = response.text.strip()
        if _SERVER_LIMITS.search(text[:2000]):
            raise ServerLimitError(f"{what} refused the query by its own limits: {text.splitlines()[0][:300]}")
        raise OSError(f"{what} answered {response.status_code}: {text[:300]}")


class RemoteStore:
    """The subset of pyoxigraph.Store that ptce-kg uses, over the SPARQL 1.1 Query protocol."""

    GRAPHS_TTL_S = 2.0

    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint
        self._client = httpx.Client(auth=endpoint.httpx_auth(), timeout=endpoint.timeout_s)
        self._graphs: tuple[float, list[str]] = (0.0, [])
        self._lock = threading.Lock()
        self.virtuoso = False  # learnt from the server's answers (its Server header)

    # -- dataset ---------------------------------------------------------------------------------
    def published_graphs(self) -> list[str]:
        with self._lock:
            stamp, graphs = self._graphs
            if time.monotonic() - stamp < self.GRAPHS_TTL_S:
                return graphs
        # Published = listed in the metadata graph (uploaded last, switched atomically), plus that graph.
        rows = self._select(f"SELECT DISTINCT ?g WHERE {{ GRAPH <{META_GRAPH}> {{ ?g a <{SD_NAMED_GRAPH}> }} }}",
                            [("named-graph-uri", META_GRAPH)])
        graphs = sorted({r["g"].value for r in rows} | ({META_GRAPH} if rows else set()))
        with self._lock:
            self._graphs = (time.monotonic(), graphs)
        return graphs

    def named_graphs(self):
        return [NamedNode(g) for g in self.published_graphs()]

    # -- queries ---------------------------------------------------------------------------------
    def _post(self, text: str, params) -> httpx.Response:
        # A form (query= and the dataset), which every server reads: Virtuoso 7.2 never answers a POST of
        # application/sparql-query. One Accept by query form: Virtuoso answers the first type listed, even a
        # CONSTRUCT in SPARQL results (?s ?p ?o rows).
        graph_query = _form(text) in ("CONSTRUCT", "DESCRIBE")
        form: dict[str, list[str]] = {"query": [text]}
        for key, value in params:
            form.setdefault(key, []).append(value)
        try:
            response = self._client.post(
                self.endpoint.query, data=form,
                headers={"Accept": "application/n-triples" if graph_query else "application/sparql-results+json"})
        except httpx.HTTPError as exc:
            raise OSError(f"SPARQL server unreachable at {self.endpoint.query}: {exc}") from exc
        self.virtuoso = response.headers.get("server", "").lower().startswith("virtuoso")
        _refused(response, "SPARQL server")
        # Virtuoso answers 200 with part of the result when its own limits cut it (its "anytime" timeout,
        # its ResultSetMaxRows): never pass a partial answer on as a whole one.
        if response.headers.get("x-sql-state") or response.headers.get("x-sparql-maxrows"):
            raise ServerLimitError("SPARQL server sent a partial answer: "
                          f"{response.headers.get('x-sql-message') or 'row limit ' + response.headers.get('x-sparql-maxrows', '')}")
        return response

    def _select(self, text: str, params: dict):
        return pyoxigraph.parse_query_results(self._post(text, params).content, format=QueryResultsFormat.JSON)

    def query(self, text: str, *, use_default_graph_as_union: bool = False, default_graph=None,
              named_graphs=None, substitutions=None, **_ignored):
        if substitutions:
            from .iris import with_values

            for variable, value in substitutions.items():
                text = with_values(text, variable.value, [value.value])
        # Only published graphs ever reach the server: anything else (file:, http: of elsewhere, staging)
        # is replaced by a graph that does not exist, so it reads nothing and fetches nothing.
        published = self.published_graphs()

        def restrict(graphs) -> list[str]:
            kept = [g.value for g in graphs if isinstance(g, NamedNode) and g.value in published]
            return kept or [NO_GRAPH]
        params: list[tuple[str, str]] = []
        if default_graph is not None:
            params += [("default-graph-uri", g) for g in restrict(
                default_graph if isinstance(default_graph, list) else [default_graph])]
        elif use_default_graph_as_union:
            params += [("default-graph-uri", g) for g in published]
        else:
            params += [("default-graph-uri", NO_GRAPH)]  # like the embedded store: an empty default graph
        if named_graphs is not None:
            params += [("named-graph-uri", g) for g in restrict(named_graphs)]
        else:
            params += [("named-graph-uri", g) for g in published]
        if self.virtuoso:
            text = values_as_subqueries(text)
        response = self._post(text, params)
        kind = response.headers.get("content-type", "").split(";")[0].strip()
        # Virtuoso types the geo:wktLiteral values it stores as its own virtrdf:Geometry: give them back
        # their datatype (their text is Virtuoso's, coordinates rounded: see the README).
        content = response.content.replace(VIRTUOSO_GEOMETRY, WKT_LITERAL)
        if kind == "application/sparql-results+json":
            booleans = boolean_variables(text) if self.virtuoso and b'"bindings"' in content else frozenset()
            if booleans:
                content = _booleans_from_integers(content, booleans)
            return pyoxigraph.parse_query_results(content, format=QueryResultsFormat.JSON)
        if kind in ("application/n-triples", "text/plain"):
            return list(pyoxigraph.parse(content, format=RdfFormat.N_TRIPLES))
        raise OSError(f"unexpected result type from the SPARQL server: {kind or '(none)'}")

    def quads_for_pattern(self, subject=None, predicate=None, obj=None, graph=None):
        def term(t, var):
            return str(t) if t is not None else var
        graphs = [graph.value] if isinstance(graph, NamedNode) else self.published_graphs()
        text = (f"SELECT ?g ?s ?p ?o WHERE {{ GRAPH ?g {{ {term(subject, '?s')} {term(predicate, '?p')} "
                f"{term(obj, '?o')} }} }}")
        for row in self.query(text, named_graphs=[NamedNode(g) for g in graphs]):
            yield pyoxigraph.Quad(subject or row["s"], predicate or row["p"], obj if obj is not None else row["o"], row["g"])

    # -- writing ---------------------------------------------------------------------------------
    def update(self, text: str, timeout_s: float | None = None) -> None:
        try:
            response = self._client.post(self.endpoint.update, content=text.encode("utf-8"),
                                         headers={"Content-Type": "application/sparql-update"},
                                         timeout=timeout_s or self.endpoint.timeout_s)
        except httpx.HTTPError as exc:
            raise OSError(f"SPARQL server unreachable at {self.endpoint.update}: {exc}") from exc
        _refused(response, "SPARQL update")
        with self._lock:
            self._graphs = (0.0, [])

    def put_graph(self, graph: str, ntriples: bytes) -> None:
        """PUT the first UPLOAD_CHUNK triples, POST (add) the others by as many: Virtuoso stalls on lock waits
        loading a few hundred thousand triples in one request; the graph is a staging or unpublished one,
        invisible until the switch, so loading it in parts changes nothing for readers."""
        lines = ntriples.splitlines(keepends=True)  # N-Triples: one triple a line
        for start in range(0, max(len(lines), 1), UPLOAD_CHUNK):
            method = "PUT" if start == 0 else "POST"
            try:
                response = self._client.request(
                    method, self.endpoint.gsp, params={"graph": graph}, content=b"".join(lines[start:start + UPLOAD_CHUNK]),
                    headers={"Content-Type": "application/n-triples"}, timeout=SWITCH_TIMEOUT_S)
            except httpx.HTTPError as exc:
                raise OSError(f"Graph Store unreachable at {self.endpoint.gsp}: {exc}") from exc
            if response.status_code >= 300:
                raise OSError(f"Graph Store {method} answered {response.status_code}: {response.text.strip()[:300]}")


class RemoteRoot:
    """Same role as StoreRoot for a remote server: what is published, where its dumps are."""

    def __init__(self, spec: str, cache: str | os.PathLike | None = None):
        from .config import PROJECT_ROOT
        from .store import StoreRoot

        self.spec = spec
        self.endpoint = Endpoint.from_spec(spec)
        # The local build cache: builds, checks and dumps happen here before the upload.
        default_cache = PROJECT_ROOT / "var" / "remote-cache"
        self.cache = StoreRoot(cache or settings().remote_cache or default_cache)
        self.path = self.cache.path
        self.dumps = self.cache.dumps
        self._store: RemoteStore | None = None
        self._name: tuple[float, str | None] = (0.0, None)

    def open_read(self) -> RemoteStore:
        self.require_published()
        return self._client_store()

    def _client_store(self) -> RemoteStore:
        if self._store is None:
            self._store = RemoteStore(self.endpoint)
        return self._store

    def current_name(self) -> str | None:
        stamp, name = self._name
        if time.monotonic() - stamp < 2.0:
            return name
        try:
            rows = list(self._client_store().query(
                f"SELECT ?b WHERE {{ GRAPH <{META_GRAPH}> {{ ?b a <http://www.w3.org/ns/prov#Activity> }} }}",
                named_graphs=[NamedNode(META_GRAPH)]))
        except OSError:
            rows = []
        name = rows[0]["b"].value[len(BUILD_PREFIX):] if rows else None
        self._name = (time.monotonic(), name)
        return name

    def dumps_of(self, build_name: str | None) -> Path | None:
        return self.cache.dumps_of(build_name)

    def apply_update(self, text: str) -> None:
        """The server applies it (one request, atomic there); callers have already run the guards."""
        self.open_read().update(text)

    def require_published(self) -> None:
        if self.current_name() is None:
            raise StoreError(f"No graph published on {self.endpoint.query}: run `ptce-kg build` with "
                             f"PTCE_KG_STORE={self.spec}")

    # -- publishing ------------------------------------------------------------------------------
    def publish_from(self, local: pyoxigraph.Store, build_name: str, progress=lambda m: None) -> None:
        """Upload what changed, then switch it all in one update request.

        A graph whose digest equals the published one is not sent again. A graph not yet published is
        written under its own name: readers only see graphs the metadata graph lists, and that graph is
        switched last. A published graph that changed goes to a staging graph, then MOVEs into place.
        """
        remote = self._client_store()
        published = set(remote.published_graphs())
        remote_digests = {}
        if published:
            rows = remote.query(f"SELECT ?g ?d WHERE {{ GRAPH <{META_GRAPH}> {{ ?g <{DIGEST}> ?d }} }}",
                                named_graphs=[NamedNode(META_GRAPH)])
            remote_digests = {r["g"].value: r["d"].value for r in rows}
        local_digests = {r["g"].value: r["d"].value for r in local.query(
            f"SELECT ?g ?d WHERE {{ GRAPH <{META_GRAPH}> {{ ?g <{DIGEST}> ?d }} }}")}
        graphs = sorted(g.value for g in local.named_graphs() if isinstance(g, NamedNode))
        written: list[str] = []  # staging or not-yet-published graphs to clean up on failure
        moves: list[tuple[str, str]] = []
        try:
            for graph in graphs:
                if graph != META_GRAPH and graph in published and remote_digests.get(graph) == local_digests.get(graph):
                    progress(f"[remote] {graph} unchanged, kept")
                    continue
                direct = graph not in published and graph != META_GRAPH
                target = graph if direct else f"{STAGING}{build_name}/{graph[len(GRAPH):]}"
                data = pyoxigraph.serialize(
                    (q.triple for q in local.quads_for_pattern(None, None, None, NamedNode(graph))),
                    format=RdfFormat.N_TRIPLES)
                remote.put_graph(target, data)
                written.append(target)
                if not direct:
                    moves.append((target, graph))
                progress(f"[remote] uploaded {graph}" + ("" if direct else " to staging"))
            gone = sorted(g for g in published - set(graphs) if g.startswith(GRAPH))
            switch = " ;\n".join([f"MOVE SILENT GRAPH <{s}> TO GRAPH <{g}>" for s, g in moves]
                                 + [f"DROP SILENT GRAPH <{g}>" for g in gone])
            remote.update(switch, timeout_s=SWITCH_TIMEOUT_S)  # one request: applied atomically by the server
            progress(f"[remote] switched {len(moves)} graph(s) on {self.endpoint.query}")
        except (OSError, SyntaxError) as exc:
            for target in written:
                try:
                    remote.update(f"DROP SILENT GRAPH <{target}>")
                except (OSError, SyntaxError):
                    pass
            raise BuildError(f"upload to {self.endpoint.query} failed, nothing changed there / échec de "
                             f"l'envoi, rien n'a changé : {exc}") from exc
        self._name = (0.0, None)


def open_root(spec: str | os.PathLike) -> Root:
    """A StoreRoot for a local directory, a RemoteRoot for `sparql+http(s)://…` (both follow `backends.Root`)."""
    from .store import StoreRoot

    return RemoteRoot(spec) if is_remote(spec) else StoreRoot(spec)
