"""The nbval run of ``make test``: each notebook runs as its user with its parameters, and a
notebook that errors fails the run (notebooks written here, run by a real pytest with nbval)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _notebook(path: Path, *cells: tuple[str, list[str]]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    for source, tags in cells:
        cell = nbformat.v4.new_code_cell(source)
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nbformat.write(nb, path)


@pytest.mark.slow
def test_notebooks_run_as_their_user_with_parameters_and_errors_fail(tmp_path):
    # Named as notebooks of notebooks/, so that they run as those notebooks' users.
    _notebook(tmp_path / "explore.ipynb", (
        "import os\n"
        "assert os.environ['SJR_USER'] == 'demo-lead', os.environ.get('SJR_USER')\n"
        "assert os.environ['SJR_DATABASE_URL'].endswith('/demo.db')\n"
        "assert 'JUPYTERHUB_USER' not in os.environ", []))
    _notebook(tmp_path / "trust_report.ipynb",
              ("organisation_code = ''\nperiod = None", ["parameters"]),
              ("import os, re\n"
               "assert os.environ['SJR_USER'] == 'demo-programme'\n"
               "assert re.fullmatch(r'[A-Z0-9]{3,}', organisation_code), organisation_code\n"
               "assert re.fullmatch(r'20\\d\\d-\\d\\d', period), period", []))
    _notebook(tmp_path / "review_entry.ipynb", ("x = 1", []), ("1 / 0", []))
    _notebook(tmp_path / "unlisted.ipynb", ("x = 1", []))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "nbval", "-p", "tests.notebooks.nbval_demo",
         "--nbval-lax", "-p", "no:cacheprovider", "-p", "no:randomly", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert re.search(r"FAILED .*review_entry\.ipynb::Cell 1", out), out
    assert re.search(r"ERROR .*unlisted\.ipynb::Cell 0", out), out
    assert "unlisted.ipynb: no demo user for this notebook" in out
    assert re.search(r"1 failed, 4 passed, 1 error", out), out
    assert "nbval: 3 notebooks, 4 cells run without error, 1 notebooks failed" in out, out
