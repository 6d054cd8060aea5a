"""`ptce-kg`: build the graph, serve it, query it. The composition root: the one place that wires the sources
(ingest) into the build (core) and the routers (api) onto the store."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path

from ptce_kg.errors import PtceKgError


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


OPTIONAL_SOURCES = ("sirene", "inclusion")  # Settings fields of the optional sources (ingest/sources.py)


def cmd_build(args) -> int:
    import dataclasses

    from ptce_kg.config import settings

    from .wiring import build

    cfg = settings()
    for spec in args.source or []:
        name, _, path = spec.partition("=")
        if name not in OPTIONAL_SOURCES or not path:
            print(f"ptce-kg: --source {spec}: expected sirene=PATH or inclusion=PATH", file=sys.stderr)
            return 2
        cfg = dataclasses.replace(cfg, **{name: Path(path).expanduser().resolve()})
    summary = build(args.store, progress=_progress, cfg=cfg)
    for graph, count in summary["graphs"].items():
        print(f"{count:>10,}  {graph}")
    for source, reasons in summary["rejects"].items():
        for reason, count in sorted(reasons.items()):
            print(f"{count:>10,}  rejected by {source}: {reason}")
    print(f"{summary['triples']:>10,}  total ({summary['seconds']} s) -> {summary['store']}")
    return 0


def cmd_export(args) -> int:
    from ptce_kg.config import settings
    from ptce_kg.export import export
    from ptce_kg.remote import open_root

    store = open_root(args.store or settings().store).open_read()
    for f in export(store, args.folder, _progress):
        print(f"{f.sha256}  {f.bytes:>12,}  {f.triples:>9,}  {f.name}")
    return 0


def cmd_serve(args) -> int:
    import logging

    # Our level first: pyLODE calls logging.basicConfig(level=DEBUG) when imported, which would log every
    # request to the SPARQL back end (and fill a log nobody reads).
    level = getattr(logging, args.log_level.upper(), logging.WARNING)
    logging.basicConfig(level=level)
    if args.store:
        os.environ["PTCE_KG_STORE"] = args.store
    from api import serving
    from api.app import create_app

    # Connection limits, trusted proxies, public URL, descriptor limit: api/serving.py.
    cfg = serving.prepare(args.host, args.port)
    app = create_app(cfg)
    logging.getLogger().setLevel(level)
    logging.getLogger("httpx").setLevel(max(level, logging.WARNING))  # one line per back-end query otherwise
    _progress(f"ptce-kg: serving on http://{args.host}:{args.port}/  (SPARQL: /sparql; public URL: {cfg.public_url})")
    serving.run(app, cfg, host=args.host, port=args.port, log_level=args.log_level)
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

    from ptce_kg import queries
    from ptce_kg.config import settings
    from ptce_kg.remote import open_root

    if args.query == "-":
        text = sys.stdin.read()
    else:
        found = queries.find(args.query)
        if found is None:
            raise PtceKgError(f"no query file or queries/ name '{args.query}' / requête introuvable")
        text = found.text
    store = open_root(args.store or settings().store).open_read()
    from ptce_kg.search import SearchPatternError, expand_service, for_root  # SERVICE <…/search> (ptce_kg/search.py)

    try:
        text = expand_service(text, for_root(open_root(args.store or settings().store)))
    except SearchPatternError as exc:
        raise PtceKgError(f"search block / bloc de recherche: {exc}") from exc
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


def _print_report(report: dict) -> None:
    marks = {"met": "✔", "not-met": "✘", "not-enough-information": "?"}
    words = {"eligible": "ÉLIGIBLE / eligible", "not-eligible": "NON ÉLIGIBLE / not eligible",
             "incomplete": "INFORMATION INSUFFISANTE / not enough information"}
    for candidate in report["candidates"]:
        print(f"{candidate['label']}  <{candidate['candidate']}>")
        print(f"  {words[candidate['verdict']]}  ({report['ruleset']}, {report['law']})")
        v = report["rule_set_version"]
        print(f"  texte en vigueur du {v['in_force_from']}{' au ' + v['in_force_until'] if v['in_force_until'] else ''} "
              f"(version du {v['text_version']}) / text in force from {v['in_force_from']}"
              + (f", dossier daté du {report['as_of']} / file dated {report['as_of']}" if report.get("as_of") else ""))
        if report.get("scope_note"):
            print(f"  ! {report['scope_note']['fr']}\n    {report['scope_note']['en']}")
        for t in report.get("territories", []):  # territories not in force on the check's date
            print(f"  ! {t['fr']}\n    {t['en']}")
        for c in candidate["criteria"]:
            print(f"  {marks[c['verdict']]} {c['title']['fr']} / {c['title']['en']}: {c['verdict']}")
            for d in c["details"]:
                print(f"      {d['fr']}\n      {d['en']}")
            if c["verdict"] != "met":
                print(f"      « {c['legal_text']} »")


def _date(text: str):
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date YYYY-MM-DD / n'est pas une date AAAA-MM-JJ") from None


def cmd_check(args) -> int:
    """Exit 0 eligible, 1 not eligible (or not enough information), 2 invalid input."""
    from pathlib import Path

    from ptce_kg import candidate, checking
    from ptce_kg.config import settings

    if args.batch:
        from ptce_kg.batch import run_cli

        return run_cli(args, _progress)
    if not args.file or args.members:
        print("ptce-kg: check FILE, or check --batch FILE [--members FILE]", file=sys.stderr)
        return 2
    if (args.format or "text") not in ("text", "json"):
        print("ptce-kg: a single check writes text or json (--format text|json)", file=sys.stderr)
        return 2
    path = Path(args.file)
    kind = args.input_format or candidate.SUFFIXES.get(path.suffix.lower())
    if kind is None:
        print(f"ptce-kg: unknown input format for '{path.name}' (.json, .yaml, .ttl, .jsonld, .rdf, .nt)", file=sys.stderr)
        return 2
    root, store, snapshot = checking.open_published(args.store or settings().store, _progress)
    try:
        content = sys.stdin.buffer.read() if args.file == "-" else path.read_bytes()
    except OSError as exc:
        print(f"ptce-kg: {path.name}: {exc}", file=sys.stderr)
        return 2
    checked = checking.check_content(store, content, kind, args.rules, snapshot, args.as_of)
    if isinstance(checked, checking.Refusal):
        print(f"ptce-kg: {path.name}: {checked.message}", file=sys.stderr)
        return 2
    result, graph = checked
    if args.record:
        from ptce_kg.records import record

        result.records = record(result, graph, root)
        for iri in result.records:
            _progress(f"ptce-kg: report kept / rapport enregistré: {iri}")
    report = result.as_dict()
    if args.format == "json":
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_report(report)
    return 0 if report["verdict"] == "eligible" else 1


def cmd_validate(args) -> int:
    """Exit 1 on any SHACL violation or any contradiction between statements (ptce_kg/consistency/)."""
    from ptce_kg import consistency
    from ptce_kg.config import settings
    from ptce_kg.remote import open_root
    from ptce_kg.validate import validate

    store = open_root(args.store or settings().store).open_read()
    _progress("[validate] loading the graph and running the shapes…")
    summary = validate(store)
    _progress("[validate] consistency checks (ptce_kg/consistency/*.rq)…")
    contradictions = consistency.run(store)
    if args.format == "json":
        report = summary.as_dict()
        report["contradictions"] = [c.as_dict() for c in contradictions]
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        rows = [[r["shapes"], r["shape"], r["severity"], str(r["count"])] for r in summary.as_dict()["results"]]
        print(_table(["shapes", "shape", "severity", "results"], rows) if rows else "no result: the graph conforms")
        print(f"{summary.triples:,} triples validated in {summary.seconds:.1f} s; {summary.violations} violation(s)")
        for c in contradictions:
            print(f"\n✘ [{c.check}] {c.message['fr']}\n  {c.message['en']}")
            print(_table(["side", "fact", "value", "source (document, locator)"],
                         [[f.role, consistency.short(f.iri), f.value or "", f.where()] for f in c.facts]))
        print(f"{len(consistency.checks())} consistency checks: {len(contradictions)} contradiction(s) "
              f"/ {len(contradictions)} contradiction(s) entre déclarations")
    return 1 if summary.violations or contradictions else 0


def cmd_catalogue(argv: list[str]) -> int:
    """Score each dataset of a running service's catalogue by data.europa.eu's MQA (ptce_kg/mqa.py)."""
    from ptce_kg import mqa

    return mqa.main(argv)


def main(argv: list[str] | None = None) -> int:
    from ptce_kg.eligibility import RULESETS

    parser = argparse.ArgumentParser(prog="ptce-kg", description="ptce-kg: the PTCE knowledge graph")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="build the graph from its sources and publish it")
    p.add_argument("--store", help="store directory (default: $PTCE_KG_STORE or ./var/store)")
    p.add_argument("--source", action="append", metavar="NAME=PATH",
                   help="an optional source: sirene=PATH (folder or StockUniteLegale file; or $PTCE_KG_SIRENE), "
                        "inclusion=PATH (data·inclusion structures export .json/.csv; or $PTCE_KG_INCLUSION)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("export", help="write dumps (N-Triples, Turtle, N-Quads, JSON-LD; gzip) with checksums")
    p.add_argument("--store")
    p.add_argument("folder")
    p.set_defaults(func=cmd_export)

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

    p = sub.add_parser("check", help="check a candidate PTCE against article 9 (exit 0 eligible, 1 not, 2 invalid)")
    p.add_argument("--store")
    p.add_argument("--format", choices=["text", "json", "csv"],
                   help="text (default) or json for one candidate; csv (default) or json (one JSON object a line) "
                        "for --batch")
    p.add_argument("--input-format", choices=["form", "form-yaml", "turtle", "json-ld", "xml", "nt", "json"],
                   help="default: from the file extension")
    p.add_argument("--rules", choices=list(RULESETS), default="article-9",
                   help="article 9 of the law (default), a programme's criteria, or the conditions of article 3 of "
                        "décret no. 2015-431 for answering a State call for projects (decret-2015-431)")
    p.add_argument("--as-of", type=_date, metavar="YYYY-MM-DD",
                   help="the date of the file: the check uses the version of the rule set in force that day "
                        "(default: today); refused when no version was in force then")
    p.add_argument("--record", action="store_true",
                   help="keep the report in the graph with its provenance (rule-set version, data snapshot, time)")
    p.add_argument("--batch", metavar="FILE",
                   help="check many candidates: a CSV, one row per candidate (template: shapes/batch/), or a .json "
                        "array of forms; one line per candidate and criterion on stdout, progress on stderr")
    p.add_argument("--members", metavar="FILE", help="with --batch FILE.csv: the members, one row each, keyed by the "
                                                     "candidate's id in the 'candidate' column")
    p.add_argument("file", nargs="?",
                   help="a .json or .yaml form (see shapes/candidate.schema.json), or RDF (.ttl, .jsonld…)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("validate", help="validate the published graph: SHACL shapes of shapes/ and consistency checks "
                                            "(exit 1 on a violation or a contradiction)")
    p.add_argument("--store")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_validate)

    sub.add_parser("catalogue", add_help=False, help="ptce-kg catalogue --score [--url URL] [--shapes DIR]: score "
                   "each dataset of a running service's DCAT catalogue by data.europa.eu's MQA (exit 1 below Excellent)")
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["catalogue"]:
        return cmd_catalogue(argv[1:])

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except PtceKgError as exc:
        print(f"ptce-kg: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
