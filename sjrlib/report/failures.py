"""A failed report in one line: what went wrong, and where (``sjr report``'s ``FAILED`` lines).

A batch of 135 reports prints one line per failure, never a traceback, so the line must say
where to look: for an error in a notebook's cell, the notebook and its code cell (counted in the
notebook as written, not papermill's execution count, which runs on from one report to the next
in a batch worker's reused kernel); and, for any error, the innermost frame in this project's
code (``sjrlib/...`` or ``data_access/...``), from the kernel's traceback or the exception's::

    national_report.ipynb, code cell 9: KeyError: 7 (at sjrlib/report/tables.py:223)

A fault of the machine rather than of the code (a full disk, a folder it may not write, a
read-only filesystem) names the file and what to do, without a code location: nothing in the
code is to be looked at::

    cannot write /r/trusts/XA1.html: permission denied. Give the report folder write
    permission (or choose another with --out) and run it again.
"""

from __future__ import annotations

import errno
import re
import traceback
from collections.abc import Iterable
from pathlib import Path

__all__ = ["MESSAGE_CHARS", "failure_line", "project_frame"]

MESSAGE_CHARS = 160
"""The error's message is cut to this many characters (its first line only)."""

_ROOT = Path(__file__).resolve().parents[2]
_PACKAGES = ("sjrlib", "data_access")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# IPython 8+: "File /path/x.py:223, in f(...)"; the standard library and older IPython:
# 'File "/path/x.py", line 223, in f'
_KERNEL_FRAME = re.compile(r'File "?(?P<path>[^"\n]+?)"?(?::(?P<a>\d+), in |, line (?P<b>\d+))')


_FREE_SPACE = ("Free some space and run it again: reports already written are kept, and the "
               "next run renders only what is missing.")
_MAY_WRITE = ("Give the report folder write permission (or choose another with --out) and run "
              "it again.")
_MACHINE_FAULTS = {
    errno.ENOSPC: ("the disk is full", _FREE_SPACE),
    errno.EDQUOT: ("the disk quota is used up", _FREE_SPACE),
    errno.EACCES: ("permission denied", _MAY_WRITE),
    errno.EPERM: ("operation not permitted", _MAY_WRITE),
    errno.EROFS: ("the filesystem is read-only", "Choose a writable folder with --out and run "
                  "it again."),
}
"""Faults of the machine, not of the code: their line names the file and what to do."""


def _machine_fault(exc: BaseException) -> str | None:
    if not isinstance(exc, OSError) or exc.errno not in _MACHINE_FAULTS:
        return None
    what, todo = _MACHINE_FAULTS[exc.errno]
    where = f"cannot write {exc.filename}" if exc.filename else "cannot write the report"
    return f"{where}: {what}. {todo}"


def project_frame(frames: Iterable[tuple[str, int]]) -> str | None:
    """The innermost of ``frames`` (file, line; outermost first) in this project's code, as
    ``sjrlib/report/tables.py:223``; None when none is."""
    found = None
    for filename, line in frames:
        try:
            relative = Path(filename).resolve().relative_to(_ROOT)
        except (ValueError, OSError):
            continue
        if relative.parts and relative.parts[0] in _PACKAGES:
            found = f"{relative.as_posix()}:{line}"
    return found


def _kernel_frames(lines: Iterable[str]) -> list[tuple[str, int]]:
    text = _ANSI.sub("", "\n".join(lines))
    return [(m["path"], int(m["a"] or m["b"])) for m in _KERNEL_FRAME.finditer(text)]


def _code_cell(notebook: Path, source: str) -> int | None:
    """The 1-based number of the code cell of ``notebook`` whose source is ``source``."""
    import nbformat

    try:
        nb = nbformat.read(str(notebook), as_version=4)
    except Exception:  # an unreadable notebook fails elsewhere, and says so there
        return None
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    return next((k for k, cell in enumerate(code, start=1) if cell.source == source), None)


def _message(name: str, text: str) -> str:
    lines = str(text).strip().splitlines()
    first = lines[0].strip() if lines else ""
    if len(first) > MESSAGE_CHARS:
        first = first[:MESSAGE_CHARS - 1] + "…"
    return f"{name}: {first}" if first else name


def failure_line(exc: BaseException, notebook: str | Path | None = None) -> str:
    """``exc`` in one short line: type, the first line of its message, and where it was
    raised (see the module docstring). ``notebook`` is the notebook papermill was running,
    for a cell's error."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        where = []
        if notebook is not None:
            where.append(Path(notebook).name)
            number = _code_cell(Path(notebook), exc.source)
            if number is not None:
                where.append(f"code cell {number}")
        line = _message(exc.ename, exc.evalue)
        frame = project_frame(_kernel_frames(exc.traceback or ()))
        if where:
            line = f"{', '.join(where)}: {line}"
    elif (fault := _machine_fault(exc)) is not None:
        return fault
    else:
        if isinstance(exc, OSError) and exc.strerror:
            line = f"{type(exc).__name__}: {exc.strerror}"
            if exc.filename:
                line += f" ({exc.filename})"
        else:
            line = _message(type(exc).__name__, str(exc))
        frame = project_frame((f.filename, f.lineno or 0)
                              for f in traceback.extract_tb(exc.__traceback__))
    return f"{line} (at {frame})" if frame else line
