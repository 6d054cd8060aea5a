"""Batch checks (issue 24, item 3): a CSV or JSON list of candidates gives the verdicts of as many single
checks, with file, line and field in every error; the API streams the same lines as the CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx

import cli
from ptce_kg import batch
from ptce_kg.config import SHAPES_DIR

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "batch"
CANDIDATES, MEMBERS, FORMS = FIXTURES / "candidates.csv", FIXTURES / "members.csv", FIXTURES / "candidates.json"
TEMPLATES = SHAPES_DIR / "batch"


def run(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def ndjson(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def by_candidate(lines: list[dict]) -> dict[str, dict]:
    """{candidate id: {"eligibility", "criteria": {criterion: (verdict, details)}, "error"}}."""
    found: dict[str, dict] = {}
    for line in lines:
        entry = found.setdefault(line["candidate"], {"eligibility": line["eligibility"], "criteria": {}, "error": None})
        if line["verdict"] == batch.ERROR:
            entry["error"] = line["error"]
        else:
            entry["criteria"][line["criterion"]] = (line["verdict"], line["details"])
    return found


def single_checks(store_args, tmp_path, capsys) -> dict[str, dict]:
    """Each candidate of the fixture, checked alone by `ptce-kg check --format json FILE`."""
    results = {}
    for form in json.loads(FORMS.read_text(encoding="utf-8")):
        path = tmp_path / f"{form['id']}.json"
        path.write_text(json.dumps(form, ensure_ascii=False), encoding="utf-8")
        code, out, err = run(capsys, "check", *store_args, "--format", "json", str(path))
        if code == 2:
            results[form["id"]] = {"eligibility": batch.ERROR, "criteria": {}, "error": err}
            continue
        report = json.loads(out)
        (only,) = report["candidates"]
        results[form["id"]] = {"eligibility": only["verdict"], "error": None, "criteria": {
            c["id"]: (c["verdict"], c["details"]) for c in only["criteria"]}}
        assert code == (0 if only["verdict"] == "eligible" else 1)
    return results


# -- the template ---------------------------------------------------------------------------------

def test_the_template_has_a_column_for_every_field_of_the_form():
    header = next(csv.reader(io.StringIO((TEMPLATES / "candidates.csv").read_text(encoding="utf-8"))))
    assert [c for c in header if not c.startswith(batch.EVIDENCE_PREFIX)] == batch.candidate_columns()
    members = next(csv.reader(io.StringIO((TEMPLATES / "members.csv").read_text(encoding="utf-8"))))
    assert members == batch.member_columns()
    documented = (TEMPLATES / "README.md").read_text(encoding="utf-8")
    assert all(f"`{c}`" in documented for c in batch.candidate_columns() + batch.member_columns())


def test_the_template_example_is_checked(built_store, capsys):
    code, out, err = run(capsys, "check", "--store", str(built_store), "--batch", str(TEMPLATES / "candidates.csv"),
                         "--members", str(TEMPLATES / "members.csv"))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == batch.OUTPUT_COLUMNS
    assert {r["candidate"]: r["eligibility"] for r in rows} == {"pole-dechets-lons": "eligible",
                                                               "projet-tiers-lieu-fives": "incomplete"}
    assert code == 1 and "[2/2] projet-tiers-lieu-fives" in err


# -- a batch gives the verdicts of single checks --------------------------------------------------

def test_a_30_candidate_batch_gives_the_verdicts_of_30_single_checks(built_store, tmp_path, capsys):
    store_args = ["--store", str(built_store)]
    code, out, err = run(capsys, "check", *store_args, "--batch", str(CANDIDATES), "--members", str(MEMBERS),
                         "--format", "json")
    assert code == 2  # one candidate could not be checked
    got = by_candidate(ndjson(out))
    alone = single_checks(store_args, tmp_path, capsys)
    assert len(got) == len(alone) == 30 and list(got) == list(alone)
    for ident, expected in alone.items():
        assert got[ident]["eligibility"] == expected["eligibility"], ident
        assert got[ident]["criteria"] == expected["criteria"], ident
    # The fixture is varied: eligible, not eligible, not enough information, and one bad cell.
    overall = [entry["eligibility"] for entry in got.values()]
    assert overall.count("eligible") >= 5 and overall.count("not-eligible") >= 5 and overall.count("incomplete") >= 5
    assert overall.count(batch.ERROR) == 1
    # The bad cell: the single check says what is wrong; the batch says it too, with file, line and field.
    (bad,) = [i for i, entry in got.items() if entry["error"]]
    line = next(n for n, text in enumerate(MEMBERS.read_text(encoding="utf-8").splitlines(), 1)
                if text.startswith(f"{bad},") and "agriculteur" in text)
    assert got[bad]["error"].startswith(f"members.csv:{line} field 'role': must be one of")
    assert "members/1/role: must be one of" in alone[bad]["error"]
    # Progress on stderr, one line per candidate, then a summary.
    assert err.count("\n[") == 30 and "[30/30] clermont-partiel" in err and "30 checked" in err


def test_the_same_candidates_as_a_json_array_give_the_same_lines(built_store, capsys):
    store_args = ["--store", str(built_store)]
    _, from_csv, _ = run(capsys, "check", *store_args, "--batch", str(CANDIDATES), "--members", str(MEMBERS),
                         "--format", "json")
    code, from_json, _ = run(capsys, "check", *store_args, "--batch", str(FORMS), "--format", "json")
    assert code == 2
    a, b = by_candidate(ndjson(from_csv)), by_candidate(ndjson(from_json))
    assert {k: (v["eligibility"], v["criteria"]) for k, v in a.items()} == \
           {k: (v["eligibility"], v["criteria"]) for k, v in b.items()}
    errors = [line for line in ndjson(from_json) if line["verdict"] == batch.ERROR]
    assert errors[0]["file"] == "candidates.json" and errors[0]["field"] == "members/1/role"
    id_line = next(n for n, text in enumerate(FORMS.read_text(encoding="utf-8").splitlines(), 1)
                   if '"id": "rennes-erreur"' in text)
    assert errors[0]["line"] == id_line - 1  # the line its object opens on


# -- errors name file, line and field -------------------------------------------------------------

def write(tmp_path, name, rows) -> Path:
    path = tmp_path / name
    with open(path, "w", newline="", encoding="utf-8") as out:
        csv.writer(out, delimiter=";" if name.startswith("semicolon") else ",").writerows(rows)
    return path


def test_a_bad_cell_is_named_by_file_line_and_field(store):
    candidates = ("id,name,continuous_strategy,perimeter,grouping_kind,carrier\n"
                  "bon,Pôle bon,oui,commune:39300,,\n"
                  "\"multi\",\"Un nom\nsur deux lignes\",peut-être,,,\n"
                  "territoire,Pôle du territoire inconnu,,commune:39300 commune:99999,,\n"
                  "code,Pôle au mauvais code,,commune:3930x,,\n"
                  "nature,Pôle de nature inconnue,,,cluster,\n"
                  "porteur,Pôle sans porteur,,,,absent\n"
                  "bon,Pôle en double,,,,\n"
                  ",Pôle sans identifiant,,,,\n").encode()
    members = ("candidate,name,role,siren,ess\n"
               "bon,Association,ess-enterprise,,oui\n"
               "bon,Entreprise,other-enterprise,123456789,\n"
               "inconnu,Entreprise,other-enterprise,,\n"
               "porteur,Association,ess-enterprise,,peut-être\n").encode()
    items = batch.read_csv(candidates, members)
    errors = [line["error"] for item in items for line in batch.check_item(store, item, "article-9", None)
              if line["verdict"] == batch.ERROR]
    expected = [
        "members.csv:3 field 'siren': SIREN '123456789' has an invalid Luhn key",
        "candidates.csv:3 field 'continuous_strategy': must be of type boolean",  # a cell on lines 3 and 4
        "candidates.csv:5 field 'perimeter (item 2)': unknown territory 'commune:99999'",
        "candidates.csv:6 field 'perimeter (item 1)': 'commune:3930x' does not match",
        "candidates.csv:7 field 'grouping_kind': must be one of",
        "members.csv:5 field 'ess': must be of type boolean",
        "candidates.csv:9 field 'id': id 'bon' already on line 2",
        "candidates.csv:10 field 'id': 'id' is required",
        "members.csv:4 field 'candidate': no candidate 'inconnu'",
    ]
    assert len(errors) == len(expected)
    for error, start in zip(errors, expected):
        assert error.startswith(start), (error, start)


def test_an_unreadable_file_stops_the_batch_with_file_line_and_field(built_store, tmp_path, capsys):
    store_args = ["--store", str(built_store)]
    unknown = write(tmp_path, "liste.csv", [["id", "name", "taille"], ["a", "A", "3"]])
    code, out, err = run(capsys, "check", *store_args, "--batch", str(unknown))
    assert code == 2 and out == "" and "liste.csv:1 field 'taille': unknown column" in err
    no_id = write(tmp_path, "sans-id.csv", [["name"], ["A"]])
    assert run(capsys, "check", *store_args, "--batch", str(no_id))[2].startswith(
        "ptce-kg: sans-id.csv:1 field 'id': the 'id' column is required")
    members = write(tmp_path, "membres.csv", [["candidate", "nom"], ["a", "X"]])
    good = write(tmp_path, "ok.csv", [["id", "name"], ["a", "A"]])
    assert "membres.csv:1 field 'nom': unknown column" in run(
        capsys, "check", *store_args, "--batch", str(good), "--members", str(members))[2]
    latin = tmp_path / "latin.csv"
    latin.write_bytes("id,name\na,Pôle\n".encode("latin-1"))
    assert "latin.csv:2: not UTF-8" in run(capsys, "check", *store_args, "--batch", str(latin))[2]


def test_semicolons_and_a_byte_order_mark_are_read(store, tmp_path):
    path = write(tmp_path, "semicolon.csv", [["id", "name", "perimeter", "continuous_strategy"],
                                             ["pole-a", "Pôle A", "commune:39300;epci:200071116", "vrai"]])
    (item,) = batch.read_csv(b"\xef\xbb\xbf" + path.read_bytes())
    assert item.form == {"id": "pole-a", "name": "Pôle A", "perimeter": ["commune:39300", "epci:200071116"],
                         "continuous_strategy": True}


# -- over HTTP: the same lines as the CLI, streamed -----------------------------------------------

def upload(fmt: str | None = None, **extra) -> dict:
    return dict(files={"candidates": ("candidates.csv", CANDIDATES.read_bytes(), "text/csv"),
                       "members": ("members.csv", MEMBERS.read_bytes(), "text/csv")},
                params={"format": fmt} if fmt else {}, timeout=120, **extra)


def test_the_api_answers_the_same_as_the_cli(embedded_server, built_store, capsys):
    store_args = ["--store", str(built_store)]
    for fmt in ("csv", "json"):
        _, expected, _ = run(capsys, "check", *store_args, "--batch", str(CANDIDATES), "--members", str(MEMBERS),
                             "--format", fmt)
        with httpx.stream("POST", embedded_server + "/eligibility/batch", **upload(fmt)) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/csv" if fmt == "csv" else "application/x-ndjson")
            assert "content-length" not in response.headers  # streamed
            assert response.headers["x-batch-candidates"] == "30"
            chunks = [chunk for chunk in response.iter_text()]
        assert "".join(chunks) == expected
    # A client that goes away in the middle leaves the workers serving the next batch.
    with httpx.stream("POST", embedded_server + "/eligibility/batch", **upload("csv")) as response:
        next(response.iter_bytes())
    # A JSON array of forms, and Accept for the format.
    response = httpx.post(embedded_server + "/eligibility/batch", content=FORMS.read_bytes(),
                          headers={"Content-Type": "application/json"}, timeout=120)
    _, expected, _ = run(capsys, "check", *store_args, "--batch", str(FORMS), "--format", "json")
    assert response.status_code == 200 and response.text == expected
    as_csv = httpx.post(embedded_server + "/eligibility/batch", **upload(headers={"Accept": "text/csv"}))
    assert as_csv.text.startswith(batch.csv_header())


def test_the_api_refuses_what_it_cannot_read(embedded_server):
    url = embedded_server + "/eligibility/batch"
    bad = httpx.post(url, files={"candidates": ("liste.csv", b"id,name,taille\na,A,3\n", "text/csv")}, timeout=30)
    assert bad.status_code == 400 and bad.json()["where"] == "liste.csv:1 field 'taille'"
    assert httpx.post(url, json={"name": "X"}, timeout=30).status_code == 422
    assert httpx.post(url, content=b"x", headers={"Content-Type": "text/turtle"}, timeout=30).status_code == 415
    missing = httpx.post(url, files={"members": ("members.csv", MEMBERS.read_bytes(), "text/csv")}, timeout=30)
    assert missing.status_code == 422 and missing.json()["where"] == "candidates"
    # The body limit of every route (PTCE_KG_MAX_BODY, 1 MiB by default).
    big = b"id,name\n" + b"".join(b"c-%d,Candidat %d\n" % (i, i) for i in range(70000))
    assert httpx.post(url, content=big, headers={"Content-Type": "text/csv"}, timeout=30).status_code == 413
    # A bad cell is a line of the answer, not a failure of the batch.
    one = httpx.post(url, content="id,name,continuous_strategy\npole,Pôle,peut-être\n".encode(),
                     headers={"Content-Type": "text/csv"}, params={"format": "json"}, timeout=30)
    (line,) = ndjson(one.text)
    assert one.status_code == 200 and line["verdict"] == "error" and line["field"] == "continuous_strategy"
    assert line["error"].startswith("candidates.csv:2 field 'continuous_strategy': must be of type boolean")


def test_the_templates_are_published(embedded_server):
    for name in ("candidates.csv", "members.csv"):
        response = httpx.get(embedded_server + f"/eligibility/batch/template/{name}", timeout=30)
        assert response.status_code == 200 and response.content == (TEMPLATES / name).read_bytes()
    spec = httpx.get(embedded_server + "/openapi.json", timeout=30).json()
    assert "multipart/form-data" in spec["paths"]["/eligibility/batch"]["post"]["requestBody"]["content"]


def test_a_batch_over_the_candidate_limit_is_refused(built_store):
    from conftest import start_server, stop

    from concurrent.futures import ThreadPoolExecutor

    process, base = start_server(built_store, PTCE_KG_BATCH_MAX_CANDIDATES=29, PTCE_KG_CLIENT_CONCURRENCY=1)
    try:
        response = httpx.post(base + "/eligibility/batch", **upload("csv"))
        assert response.status_code == 413 and "PTCE_KG_BATCH_MAX_CANDIDATES" in response.json()["error"]
        small = httpx.post(base + "/eligibility/batch", content=b"id,name\na,A\n",
                           headers={"Content-Type": "text/csv"}, timeout=30)
        assert small.status_code == 200 and len(ndjson(small.text)) == 8  # NDJSON by default: 8 criteria
        # Two batches at once from a client allowed one check at a time: each waits its turn, none is refused.
        body = b"id,name,perimeter\n" + b"".join(b"c-%d,Candidat %d,commune:39300\n" % (i, i) for i in range(20))

        def post(_):
            return httpx.post(base + "/eligibility/batch", content=body, headers={"Content-Type": "text/csv"},
                              timeout=120)
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(post, range(2)))
        for answer in answers:
            lines = ndjson(answer.text)
            assert answer.status_code == 200 and len(lines) == 20 * 8
            assert {line["eligibility"] for line in lines} == {"incomplete"}
    finally:
        stop(process)
