"""A failed report's one line says where it failed: the notebook's code cell and the innermost
frame in this project's code (``sjr report``'s ``FAILED`` lines, :mod:`sjrlib.report.failures`).
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from sjrlib.report import tables
from sjrlib.report.failures import failure_line


def _line_of(function, text: str) -> str:
    """``sjrlib/report/tables.py:223``: where ``text`` is in ``function``'s source."""
    lines, first = inspect.getsourcelines(function)
    number = first + next(k for k, line in enumerate(lines) if text in line)
    return f"sjrlib/report/{Path(inspect.getsourcefile(function)).name}:{number}"


RAISES_AT = _line_of(tables.quarter_label, "names[quarter]")


def test_a_python_error_names_the_innermost_project_frame():
    with pytest.raises(KeyError) as caught:
        tables.quarter_label("2024/25 Q9")  # KeyError inside sjrlib, no frame of a library
    assert failure_line(caught.value) == f"KeyError: 9 (at {RAISES_AT})"
    with pytest.raises(ValueError) as caught:
        raise ValueError("first line\nsecond line " + "x" * 500)
    assert failure_line(caught.value) == "ValueError: first line"  # no project frame here
    with pytest.raises(ValueError) as caught:
        raise ValueError("y" * 500)
    assert len(failure_line(caught.value)) < 200


def _cell(source: str, tags: list[str] | None = None) -> dict:
    return {"cell_type": "code", "execution_count": None, "id": f"c{abs(hash(source))}",
            "metadata": {"tags": tags or []}, "outputs": [], "source": [source]}


@pytest.mark.slow
def test_a_cell_error_names_the_notebooks_code_cell_in_every_report(tmp_path):
    """Papermill's execution count was reported as the cell: in a batch worker's reused kernel
    it runs on, so the same failing cell was "cell 4" in a worker's first report and "cell 8"
    in its second (first-run walk-through), and nothing said where in sjrlib it failed."""
    from sjrlib.report.workers import ReportJob, run_jobs

    notebook = tmp_path / "t.ipynb"
    notebook.write_text(json.dumps({
        "cells": [
            {"cell_type": "markdown", "id": "m1", "metadata": {}, "source": ["# A report"]},
            _cell("quarter = 'Q9'", ["parameters"]),
            _cell("from sjrlib.report import tables"),
            {"cell_type": "markdown", "id": "m2", "metadata": {}, "source": ["## Quarters"]},
            _cell("tables.quarter_label(f'2024/25 {quarter}')"),
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}))
    jobs = [ReportJob(name, notebook, {"quarter": "Q9"}, tmp_path / f"{name}.html", title=name)
            for name in ("first", "second")]
    results = run_jobs(jobs, workers=1, progress=False)  # one worker: one kernel for both
    assert [r.error for r in results] == \
        [f"t.ipynb, code cell 3: KeyError: 9 (at {RAISES_AT})"] * 2


def test_a_fault_of_the_machine_names_the_file_and_what_to_do_not_a_code_location(
        tmp_path, monkeypatch):
    """A full disk or a folder it may not write is not a bug: the line named a frame of
    ``private_files.py`` (and the hidden part file), which sent the programme team into the
    code."""
    import errno
    import os

    from sjrlib.report import private_files

    target = tmp_path / "trusts" / "XA1.html"

    def refused(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    with monkeypatch.context() as m:
        m.setattr(private_files.os, "open", refused)
        with pytest.raises(PermissionError) as caught:
            private_files.write_private(target, "<html></html>")
    line = failure_line(caught.value)
    assert line == (f"cannot write {target}: permission denied. Give the report folder write "
                    "permission (or choose another with --out) and run it again.")

    class FullDisk:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")  # as write(2) gives it

    real_fdopen = os.fdopen
    with monkeypatch.context() as m:
        m.setattr(private_files.os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode)))
        with pytest.raises(OSError) as caught:
            private_files.write_private(tmp_path / "r" / "XB2.html", "<html></html>")
    assert failure_line(caught.value) == (
        f"cannot write {tmp_path / 'r' / 'XB2.html'}: the disk is full. Free some space and "
        "run it again: reports already written are kept, and the next run renders only what "
        "is missing.")
    assert not list((tmp_path / "r").iterdir())  # the part file is gone
    # a fault of the code keeps its location
    with pytest.raises(KeyError) as caught:
        tables.quarter_label("2024/25 Q9")
    assert failure_line(caught.value).endswith(f"(at {RAISES_AT})")
