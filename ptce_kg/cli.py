"""`ptce-kg`: build the graph, serve it, query it."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys

from .errors import PtceKgError


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_build(args) -> int:
    from .build import build

    summary = build(args.store, progress=_progress)
    for graph, count in summary["graphs"].items():
        print(f"{count:>10,}  {graph}")
    print(f"{summary['triples']:>10,}  total ({summary['seconds']} s) -> {summary['store']}")
    return 0


def cmd_serve(args) -> int:
    import uvicorn

    if args.store:
        os.environ["PTCE_KG_STORE"] = args.store
    from api.app import create_app

    app = create_app()
    _progress(f"ptce-kg: serving on http://{args.host}:{args.port}/  (SPARQL: /sparql)")
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def _table(variables: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(v)] + [len(r[i]) for r in rows]) for i, v in enumerate(variables)]
    line = "  ".join(v.ljust(w) for v, w in zip(variables, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def term_text(term) -> str:
    if term is None:
        return ""
    return term.value


def cmd_query(args) -> int:
    import pyoxigraph
    from pyoxigraph import QueryResultsFormat, RdfFormat

    from . import queries
    from .config import settings
    from .store import StoreRoot

    if args.query == "-":
        text = sys.stdin.read()
    else:
        found = queries.find(args.query)
        if found is None:
            raise PtceKgError(f"no query file or queries/ name '{args.query}' / requête introuvable")
        text = found.text
    store = StoreRoot(args.store or settings().store).open_read()
    try:
        result = store.query(text, use_default_graph_as_union=True)
    except SyntaxError as exc:
        raise PtceKgError(f"SPARQL syntax error / erreur de syntaxe: {exc}") from exc
    out = sys.stdout
    if isinstance(result, pyoxigraph.QueryBoolean):
        value = bool(result)
        print(json.dumps({"boolean": value}) if args.format == "json" else str(value).lower(), file=out)
    elif isinstance(result, pyoxigraph.QuerySolutions):
        if args.format == "table":
            variables = [v.value for v in result.variables]
            rows = [[term_text(s[v]) for v in variables] for s in result]
            print(_table(variables, rows), file=out)
            print(f"({len(rows)} rows)", file=sys.stderr)
        else:
            fmt = QueryResultsFormat.CSV if args.format == "csv" else QueryResultsFormat.JSON
            out.write(result.serialize(format=fmt).decode("utf-8"))
            out.write("\n" if args.format == "json" else "")
    else:
        buffer = io.BytesIO()
        pyoxigraph.serialize(result, buffer, format=RdfFormat.TURTLE)
        out.write(buffer.getvalue().decode("utf-8"))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ptce-kg", description="ptce-kg: the PTCE knowledge graph")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="build the graph from its sources and publish it")
    p.add_argument("--store", help="store directory (default: $PTCE_KG_STORE or ./var/store)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("serve", help="serve the published graph (SPARQL endpoint, pages)")
    p.add_argument("--store")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--log-level", default="info")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("query", help="run a SPARQL query: a file, a queries/ name, or - for stdin")
    p.add_argument("--store")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("query")
    p.set_defaults(func=cmd_query)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except PtceKgError as exc:
        print(f"ptce-kg: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
