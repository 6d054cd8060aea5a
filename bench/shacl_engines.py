"""Run one SHACL engine on files and print its results as JSON (run in the engines' own venv).

`python bench/shacl_engines.py ENGINE SHAPES.ttl DATA.nt [DATA.nt …] [--reps N]`, ENGINE one of pyshacl,
pyshacl-turbo, pyrudof. Every engine's results graph is read back with rdflib and reduced to the same keys
(focus node, path, constraint component, severity, source shape when named), so engines are compared on
what they report, not on how they write it. Needs only rdflib and the engine: bench/shacl.py starts it with
the venv holding the engine (pyshacl-turbo and pyrudof are not dependencies of the product).
"""

from __future__ import annotations

import json
import sys
import time

import rdflib
from rdflib.namespace import RDF, SH


def keys(results: rdflib.Graph) -> list[list[str]]:
    out = []
    for r in results.subjects(RDF.type, SH.ValidationResult):
        shape = results.value(r, SH.sourceShape)
        path = results.value(r, SH.resultPath)
        out.append([str(results.value(r, SH.focusNode)),
                    "" if path is None or isinstance(path, rdflib.BNode) else str(path),
                    str(results.value(r, SH.sourceConstraintComponent)),
                    str(results.value(r, SH.resultSeverity)).rsplit("#", 1)[-1],
                    str(shape) if isinstance(shape, rdflib.URIRef) else "_:"])
    return out


def run_pyshacl(shapes_path: str, data_paths: list[str], reps: int) -> dict:
    import pyshacl

    shapes = rdflib.Graph().parse(shapes_path, format="turtle")
    out = []
    for path in data_paths:
        data = rdflib.Graph().parse(path, format="nt")
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            _, results, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none", advanced=True,
                                             allow_warnings=True, meta_shacl=False)
            times.append(time.perf_counter() - t)
        out.append({"data": path, "times": times, "results": keys(results)})
    return {"version": pyshacl.__version__, "runs": out}


def run_turbo(shapes_path: str, data_paths: list[str], reps: int) -> dict:
    import pyshacl_turbo

    shapes = rdflib.Graph().parse(shapes_path, format="turtle")
    out = []
    for path in data_paths:
        data = rdflib.Graph().parse(path, format="nt")
        times, error = [], None
        results = rdflib.Graph()
        for _ in range(reps):
            t = time.perf_counter()
            try:
                _, results, _ = pyshacl_turbo.validate(data, shacl_graph=shapes, inference="none", advanced=True,
                                                       allow_warnings=True)
            except Exception as exc:  # an engine that refuses the shapes: reported, not hidden
                error = f"{type(exc).__name__}: {str(exc)[:300]}"
                break
            times.append(time.perf_counter() - t)
        if not isinstance(results, rdflib.Graph):
            results = rdflib.Graph().parse(data=str(results), format="turtle")
        out.append({"data": path, "times": times, "results": keys(results), "error": error})
    return {"version": pyshacl_turbo.__version__, "runs": out}


def run_rudof(shapes_path: str, data_paths: list[str], reps: int) -> dict:
    import pyrudof

    out = []
    for path in data_paths:
        rudof = pyrudof.Rudof(pyrudof.RudofConfig())
        times, error, text = [], None, ""
        try:
            rudof.read_shacl(shapes_path, format=pyrudof.ShaclFormat.Turtle)
            rudof.read_data(path, format=pyrudof.RDFFormat.NTriples)
            for _ in range(reps):
                t = time.perf_counter()
                rudof.validate_shacl()
                times.append(time.perf_counter() - t)
            text = rudof.serialize_shacl_validation_results(format=pyrudof.ResultShaclValidationFormat.Turtle)
        except Exception as exc:
            error = f"{type(exc).__name__}: {str(exc)[:300]}"
        results = rdflib.Graph()
        if text:
            results.parse(data=text, format="turtle")
        out.append({"data": path, "times": times, "results": keys(results), "error": error})
    return {"version": pyrudof.__version__, "runs": out}


def main(argv: list[str]) -> int:
    reps = 1
    if "--reps" in argv:
        i = argv.index("--reps")
        reps = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    engine, shapes, *data = argv
    run = {"pyshacl": run_pyshacl, "pyshacl-turbo": run_turbo, "pyrudof": run_rudof}[engine]
    print(json.dumps(run(shapes, data, reps) | {"engine": engine}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
