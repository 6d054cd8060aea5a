"""Batch checks: many candidates at once, each through the same chain as a single check.

Input (README "Article 9 eligibility", template and columns in `shapes/batch/`):

- a CSV of candidates, one row per candidate, whose columns are the fields of the JSON form
  (`shapes/candidate.schema.json`): lists separated by spaces, `;` or `,`; booleans as true/false, oui/non,
  yes/no, vrai/faux, 1/0; `evidence.<criterion>` columns for the form's `evidence` object; and a second CSV of
  members, one row per member, keyed by the candidate's `id` in its `candidate` column, whose other columns
  are the fields of a member. Comma or semicolon separated (the header says which), UTF-8 (a byte-order mark
  is dropped);
- or a JSON array of candidates, each in the single-candidate JSON form.

Each candidate becomes the JSON form it stands for and goes through `checking.check_form` — the parser, the
schema, the limits, the completion from the store and the rule set of a single check — so its verdicts are
those of a single check. A cell the schema refuses is reported with the file, line and field it came from;
the other candidates are checked all the same. A file that cannot be read at all (not UTF-8, an unknown
column, no `id` column) is a `BatchError`, before anything is checked.

Output: one line per candidate and criterion (CSV or NDJSON), or one line per candidate that could not be
checked (verdict `error`, with file, line and field).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field

from . import candidate, checking
from .errors import InputError

CANDIDATES_FILE, MEMBERS_FILE = "candidates.csv", "members.csv"
CANDIDATE_KEY = "candidate"  # the members.csv column naming the candidate's id
EVIDENCE_PREFIX = "evidence."
OUTPUT_COLUMNS = ["candidate", "label", "criterion", "verdict", "details", "eligibility", "file", "line", "field"]
ERROR = "error"
_TRUE = {"true", "oui", "yes", "vrai", "1", "o", "y"}
_FALSE = {"false", "non", "no", "faux", "0", "n"}
_LIST_SEPARATORS = re.compile(r"[\s;,]+")


class BatchError(InputError):
    """A batch file that cannot be read: nothing is checked. `reason` (InputError.MALFORMED by default) is mapped
    to an HTTP status by the service; file, line and field say where."""

    def __init__(self, message: str, file: str, line: int | None = None, field: str | None = None,
                 reason: str = InputError.MALFORMED):
        self.file, self.line, self.field = file, line, field
        super().__init__(message, reason, where_text(file, line, field))


def where_text(file: str, line: int | None, field: str | None) -> str:
    where = f"{file}:{line}" if line is not None else file
    return f"{where} field '{field}'" if field else where


@dataclass
class Origin:
    file: str
    line: int | None


@dataclass
class Item:
    """One candidate of a batch: its id, the JSON form it stands for, where each part of it came from."""
    id: str
    origin: Origin
    form: dict | None = None
    members: list[Origin] = field(default_factory=list)  # where members/0, members/1… came from
    error: tuple[str, str | None, Origin] | None = None  # (message, field, origin) when it cannot be checked
    path_fields: bool = False  # JSON input: the field is the form's path (members/0/role), not a column

    def locate(self, where: str | None) -> tuple[Origin, str]:
        """The file, line and field of a path of the form (candidate.CandidateError.where)."""
        parts = (where or "").split("/")
        if self.path_fields:
            return self.origin, where or "(candidate)"
        if parts[0] == "members" and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(self.members):
            return self.members[int(parts[1])], "/".join(parts[2:]) or "(row)"
        if parts[0] == "evidence" and len(parts) > 1:
            return self.origin, EVIDENCE_PREFIX + parts[1]
        if not parts[0] or parts[0] == "(form)":
            return self.origin, "(candidate)"
        return self.origin, parts[0] + (f" (item {int(parts[1]) + 1})" if len(parts) > 1 and parts[1].isdigit() else "")


# -- columns, from the schema ---------------------------------------------------------------------

def _properties() -> dict:
    return candidate.schema()["properties"]


def candidate_columns() -> list[str]:
    """The columns candidates.csv may have: every field of the form but members, evidence as evidence.<id>."""
    return [k for k in _properties() if k not in ("members", "evidence")]


def member_columns() -> list[str]:
    return [CANDIDATE_KEY, *_properties()["members"]["items"]["properties"]]


def _kind(spec: dict) -> str:
    if "type" in spec:
        return spec["type"] if isinstance(spec["type"], str) else spec["type"][0]
    if "enum" in spec and all(isinstance(v, bool) for v in spec["enum"]):
        return "boolean"
    return "string"


def _cell(value: str, spec: dict):
    """A CSV cell as the JSON value of its field. What does not convert is passed on as it is written, for
    the schema to refuse it in the same words as in a single check."""
    kind = _kind(spec)
    if kind == "array":
        return [v for v in _LIST_SEPARATORS.split(value) if v]
    if kind == "boolean":
        low = value.lower()
        return True if low in _TRUE else False if low in _FALSE else value
    if kind == "integer":
        return int(value) if re.fullmatch(r"[+-]?\d{1,18}", value) else value
    if kind == "number":
        try:
            return float(value.replace(",", "."))
        except ValueError:
            return value
    return value


# -- reading CSV ----------------------------------------------------------------------------------

def _text(content: bytes, name: str) -> str:
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BatchError(f"not UTF-8 (byte {exc.start}) / le fichier n'est pas en UTF-8", name,
                         content.count(b"\n", 0, exc.start) + 1) from None
    nul = text.find("\x00")
    if nul >= 0:
        raise BatchError("NUL byte / octet NUL", name, text.count("\n", 0, nul) + 1)
    return text


def _rows(content: bytes, name: str, known: list[str], required: str,
          evidence: bool = False) -> tuple[list[str], list[tuple[int, dict]]]:
    """(header, [(line, {column: cell})]) of a CSV file; comma or semicolon separated, by its header."""
    text = _text(content, name)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise BatchError("empty file / fichier vide", name, 1) from None
    except csv.Error as exc:
        raise BatchError(f"not CSV: {exc} / CSV illisible", name, 1) from None
    seen = set()
    for column in header:
        if column in seen:
            raise BatchError("column given twice / colonne en double", name, 1, column)
        seen.add(column)
        if column not in known and not (evidence and column.startswith(EVIDENCE_PREFIX)
                                        and len(column) > len(EVIDENCE_PREFIX)):
            raise BatchError(f"unknown column (expected: {', '.join(known)}) / colonne inconnue", name, 1,
                             candidate._short(column, 60))
    if required not in header:
        raise BatchError(f"the '{required}' column is required / la colonne '{required}' est obligatoire", name, 1,
                         required)
    rows = []
    line = reader.line_num
    try:
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                raise BatchError(f"{len(cells)} cells for {len(header)} columns / plus de cellules que de colonnes",
                                 name, start)
            rows.append((start, {h: c.strip() for h, c in zip(header, cells) if c.strip()}))
    except csv.Error as exc:
        raise BatchError(f"not CSV: {exc} / CSV illisible", name, line + 1) from None
    return header, rows


def read_csv(candidates: bytes, members: bytes | None = None, candidates_name: str = CANDIDATES_FILE,
             members_name: str = MEMBERS_FILE) -> list[Item]:
    """The candidates of a CSV batch, each with its JSON form (or the error that keeps it from being checked)."""
    props = _properties()
    _, rows = _rows(candidates, candidates_name, candidate_columns(), "id", evidence=True)
    items: list[Item] = []
    by_id: dict[str, Item] = {}
    for line, row in rows:
        origin = Origin(candidates_name, line)
        ident = row.get("id", "")
        item = Item(ident or f"#{line}", origin)
        items.append(item)
        if not ident:
            item.error = ("'id' is required in a batch / l'identifiant est obligatoire", "id", origin)
            continue
        if ident in by_id:
            first = by_id[ident].origin.line
            item.error = (f"id '{candidate._short(ident, 80)}' already on line {first} / identifiant déjà employé "
                          f"ligne {first}", "id", origin)
            continue
        by_id[ident] = item
        form: dict = {}
        for column, value in row.items():
            if column.startswith(EVIDENCE_PREFIX) and column not in props:
                form.setdefault("evidence", {})[column[len(EVIDENCE_PREFIX):]] = value
            else:
                form[column] = _cell(value, props[column])
        item.form = form
    if members is not None:
        member_spec = props["members"]["items"]["properties"]
        _, member_rows = _rows(members, members_name, member_columns(), CANDIDATE_KEY)
        for line, row in member_rows:
            origin = Origin(members_name, line)
            owner = row.get(CANDIDATE_KEY, "")
            item = by_id.get(owner)
            if item is None:
                stray = Item(owner or f"#{line}", origin)
                stray.error = (f"no candidate '{candidate._short(owner, 80)}' in {candidates_name} / aucun candidat "
                               f"de cet identifiant", CANDIDATE_KEY, origin)
                items.append(stray)
                continue
            if item.form is None:
                continue
            member = {k: _cell(v, member_spec[k]) for k, v in row.items() if k != CANDIDATE_KEY}
            item.form.setdefault("members", []).append(member)
            item.members.append(origin)
    return items


# -- reading JSON ---------------------------------------------------------------------------------

def read_json(content: bytes, name: str = "candidates.json") -> list[Item]:
    """A JSON array of candidates in the single-candidate JSON form; each with the line it starts on."""
    text = _text(content, name)
    decoder = json.JSONDecoder()
    position = _skip(text, 0)
    if not text.startswith("[", position):
        raise BatchError("expected a JSON array of candidates / un tableau JSON de candidats est attendu", name,
                         text.count("\n", 0, position) + 1, reason=InputError.INVALID)
    position = _skip(text, position + 1)
    items: list[Item] = []
    while not text.startswith("]", position):
        line = text.count("\n", 0, position) + 1
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise BatchError(f"invalid JSON: {exc.msg} / JSON invalide", name, exc.lineno) from None
        except (RecursionError, ValueError) as exc:
            raise BatchError(f"invalid JSON: {candidate._short(exc, 80)} / JSON invalide", name, line) from None
        ident = value.get("id") if isinstance(value, dict) else None
        item = Item(ident if isinstance(ident, str) and ident else f"#{len(items) + 1}", Origin(name, line),
                    path_fields=True)
        item.form = value
        items.append(item)
        position = _skip(text, end)
        if text.startswith(",", position):
            position = _skip(text, position + 1)
        elif not text.startswith("]", position):
            raise BatchError("expected ',' or ']' / ',' ou ']' attendu", name, text.count("\n", 0, position) + 1)
    if _skip(text, position + 1) != len(text):
        raise BatchError("text after the array / texte après le tableau", name, text.count("\n", 0, position) + 1)
    return items


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def read(path_or_name: str, content: bytes, members: bytes | None = None, members_name: str = MEMBERS_FILE) -> list[Item]:
    """A batch file by its name: .json is a JSON array, anything else CSV."""
    if path_or_name.lower().endswith(".json"):
        if members is not None:
            raise BatchError("members come in the JSON forms, not in a second file / les membres sont dans les "
                             "formulaires JSON", members_name)
        return read_json(content, path_or_name)
    return read_csv(content, members, path_or_name, members_name)


# -- checking and writing -------------------------------------------------------------------------

def error_lines(item: Item, message: str, where: str | None = None) -> list[dict]:
    """The one line of a candidate that could not be checked, with file, line and field."""
    if item.error is not None:
        message, field_name, origin = item.error
    else:
        origin, field_name = item.locate(where)
        if where and message.startswith(f"{where}: "):
            message = message[len(where) + 2:]
    label = item.form.get("name", "") if isinstance(item.form, dict) and isinstance(item.form.get("name"), str) else ""
    return [{"candidate": item.id, "label": label, "criterion": None, "verdict": ERROR, "details": [],
             "eligibility": ERROR, "file": origin.file, "line": origin.line, "field": field_name,
             "error": f"{where_text(origin.file, origin.line, field_name)}: {message}"}]


def report_lines(item: Item, report) -> list[dict]:
    """One line per criterion of the candidate's report (eligibility.Report)."""
    lines = []
    for result in report.candidates:
        for verdict in result.criteria:
            lines.append({"candidate": item.id, "label": result.label, "criterion": verdict.criterion.identifier,
                          "verdict": verdict.verdict,
                          "details": [{"severity": f.severity, "fr": f.message_fr, "en": f.message_en}
                                      for f in verdict.findings],
                          "eligibility": result.verdict, "file": item.origin.file, "line": item.origin.line,
                          "field": None})
    return lines


def lines_of(item: Item, checked) -> list[dict]:
    """The lines of one candidate from what `checking.check_form` returned."""
    if isinstance(checked, checking.Refusal):
        return error_lines(item, checked.message, checked.where)
    report, _graph = checked
    return report_lines(item, report)


def check_item(store, item: Item, rules: str, snapshot: str | None, as_of=None) -> list[dict]:
    """One candidate, in this process (the CLI); the service runs checking.check_form in its workers."""
    if item.error is not None or not isinstance(item.form, dict):
        return error_lines(item, "the candidate must be a JSON object / le candidat doit être un objet JSON")
    return lines_of(item, checking.check_form(store, item.form, rules, snapshot, as_of))


def csv_header() -> str:
    return _csv_line(OUTPUT_COLUMNS)


def _csv_line(cells) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


def as_csv(line: dict) -> str:
    if line["verdict"] == ERROR:
        details = line["error"]
    else:
        details = " | ".join(f"{d['fr']} / {d['en']}" for d in line["details"])
    return _csv_line([line["candidate"], line["label"], line["criterion"] or "", line["verdict"], details,
                      line["eligibility"], line["file"], "" if line["line"] is None else line["line"],
                      line["field"] or ""])


def as_json(line: dict) -> str:
    return json.dumps(line, ensure_ascii=False) + "\n"


def exit_code(eligibilities: list[str]) -> int:
    """0 every candidate eligible, 1 some not eligible or not enough information, 2 some could not be checked."""
    if ERROR in eligibilities or not eligibilities:
        return 2
    return 0 if set(eligibilities) == {"eligible"} else 1


def run_cli(args, progress) -> int:
    """`ptce-kg check --batch FILE [--members FILE]`: lines on stdout, progress on stderr."""
    import sys
    import time
    from pathlib import Path

    from .config import settings

    if getattr(args, "record", False):
        print("ptce-kg: --record keeps one candidate's report: check it alone", file=sys.stderr)
        return 2
    fmt = args.format or "csv"
    if fmt not in ("csv", "json"):
        print("ptce-kg: --batch writes csv or json (--format csv|json)", file=sys.stderr)
        return 2
    path = Path(args.batch)
    try:
        content = path.read_bytes()
        members = Path(args.members).read_bytes() if args.members else None
    except OSError as exc:
        print(f"ptce-kg: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        items = read(path.name, content, members, Path(args.members).name if args.members else MEMBERS_FILE)
    except BatchError as exc:
        print(f"ptce-kg: {exc}", file=sys.stderr)
        return 2
    from .eligibility import RuleSetError, ruleset_version

    try:
        version = ruleset_version(args.rules, getattr(args, "as_of", None))
    except RuleSetError as exc:
        print(f"ptce-kg: --as-of: {exc}", file=sys.stderr)
        return 2
    _root, store, snapshot = checking.open_published(args.store or settings().store, progress)
    progress(f"ptce-kg: {len(items)} candidate(s) against {args.rules} (text in force from {version.in_force_from}) "
             f"/ {len(items)} candidat(s)")
    out = sys.stdout
    if fmt == "csv":
        out.write(csv_header())
    eligibilities = []
    started = time.monotonic()
    for n, item in enumerate(items, 1):
        lines = check_item(store, item, args.rules, snapshot, getattr(args, "as_of", None))
        for line in lines:
            out.write(as_csv(line) if fmt == "csv" else as_json(line))
        out.flush()
        eligibility = lines[0]["eligibility"] if lines else ERROR
        eligibilities.append(eligibility)
        shown = lines[0]["error"] if eligibility == ERROR else eligibility
        progress(f"[{n}/{len(items)}] {item.id} ({where_text(item.origin.file, item.origin.line, None)}): {shown}")
    counts = {v: eligibilities.count(v) for v in sorted(set(eligibilities))}
    progress(f"ptce-kg: {len(items)} checked in {time.monotonic() - started:.1f} s: "
             + ", ".join(f"{count} {verdict}" for verdict, count in counts.items()))
    return exit_code(eligibilities)
