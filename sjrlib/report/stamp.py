"""The reproducibility stamp every report ends with.

Parameters (of the store, only its kind: ``sqlite`` or ``postgresql``; never its path, host,
user or database name, which a published page has no business printing), the SHA-256 of the
rows the report used, the package version, the git commit of the code (with ``+changes`` when
the working tree differs from it), and the generation time. Everything but the generation time
is a pure function of the inputs, so regenerating a report from the same data, parameters and
code gives an identical page apart from the element of class ``sjr-generated``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import platform
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import sjrlib

__all__ = ["Stamp", "code_version", "git_commit", "source_digest", "store_is_synthetic",
           "store_kind"]

_INTERNAL = {"data_file", "lfd_workbook", "published_history", "user"}
"""Not shown: the batch's own file paths, and the name of the person who ran the report (a
member of staff; it is in the audit log, and it changes no figure)."""


@cache
def git_commit() -> str:
    """The commit of the checkout ``sjrlib`` runs from (``+changes`` if modified), or
    ``"unknown"`` outside a git checkout. Cached per process."""
    root = Path(sjrlib.__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no", "--", "sjrlib", "notebooks",
                                "data_access"],
                               capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+changes" if dirty.strip() else "")


_SOURCE_FOLDERS = ("sjrlib", "data_access")
"""The code a report runs (its figures, tables, disclosure control, the data it may read)."""

_LIBRARIES = ("pandas", "numpy", "scipy", "statsmodels", "matplotlib", "seaborn", "nbconvert",
              "nbformat", "papermill", "openpyxl")
"""Libraries whose version can change a report's numbers, figures or page."""


@cache
def source_digest() -> str:
    """SHA-256 of the files of ``sjrlib`` and ``data_access`` (path and content, ``__pycache__``
    left out) as this process loaded them. Cached per process: it describes the code already
    imported, and a batch's workers are forked from it.

    The commit alone does not say what ran: a checkout with changes is ``<commit>+changes``
    whatever the changes are, and an installed package has no commit."""
    root = Path(sjrlib.__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for folder in _SOURCE_FOLDERS:
        base = root / folder
        for path in sorted(p for p in base.rglob("*")
                           if p.is_file() and "__pycache__" not in p.parts
                           and p.suffix not in (".pyc", ".pyo")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def code_version() -> dict[str, Any]:
    """The code a report is made by, as the refresh keys it (:mod:`sjrlib.report.manifest`):
    the package version and the commit the stamp shows, a digest of the source
    (:func:`source_digest`) and the versions of the libraries that draw and compute. Any of
    them changing re-renders every report."""
    return {"package": sjrlib.__version__, "commit": git_commit(), "source": source_digest(),
            "libraries": _library_versions()}


def store_kind(url: str | None) -> str:
    """The kind of store ``url`` names (``"sqlite"``, ``"postgresql"``), and nothing else of
    it: a path, host, user or database name is where the data is, not what it is (the data
    snapshot hash says that). ``None``: the store the report would open by default."""
    if not url:
        import os

        url = os.environ.get("SJR_DATABASE_URL") or "sqlite:///data/sjr.db"
    if "://" not in url:  # a bare file path is a SQLite file (data_access.database)
        return "sqlite"
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).get_backend_name()
    except Exception:  # an unparsable URL: show nothing of it
        return "(given)"


class Stamp:
    """What a report was made from; displays as a small table."""

    def __init__(self, parameters: dict[str, Any], snapshot: str, rows: int) -> None:
        self.parameters = {
            ("store" if k == "db" else k): (store_kind(v) if k == "db" else v)
            for k, v in parameters.items() if k not in _INTERNAL
        }
        self.snapshot = snapshot
        self.rows = rows
        self.version = sjrlib.__version__
        self.commit = git_commit()
        self.generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    def items(self) -> list[tuple[str, str]]:
        params = ", ".join(f"{k}={v!r}" for k, v in self.parameters.items() if v is not None)
        return [
            ("Parameters", params),
            # the hash alone: an exact row count (reviews, second stage and deaths rows) is an
            # unrounded count that could be differenced across reports and periods
            ("Data snapshot (SHA-256 of the rows used)", self.snapshot),
            ("Package", f"sjr-environment {self.version}"),
            ("Code commit", self.commit),
        ]

    def _repr_html_(self) -> str:
        rows = "".join(
            f'<tr><th scope="row">{html.escape(k)}</th><td><code>{html.escape(v)}</code></td></tr>'
            for k, v in self.items()
        )
        rows += (f'<tr><th scope="row">Generated</th><td class="sjr-generated">'
                 f"{html.escape(self.generated)}</td></tr>")
        return f'<table class="sjr-table sjr-stamp"><tbody>{rows}</tbody></table>'

    def __repr__(self) -> str:
        return "\n".join(f"{k}: {v}" for k, v in [*self.items(), ("Generated", self.generated)])


def store_is_synthetic(url: str | None) -> bool:
    """Whether the store at ``url`` (``None``: the default) is marked synthetic
    (``sjr demo-data``; :func:`data_access.demo.is_synthetic`), so its reports carry the
    synthetic-data banner. A store that cannot be read, or has no mark, is not: a real
    store's report never says its data is fictional."""
    from data_access.demo import is_synthetic
    from data_access.store import existing_store_url, get_engine

    try:
        engine = get_engine(existing_store_url(url))
    except Exception:  # noqa: BLE001 - no store here (a slice-only run): no mark
        return False
    try:
        with engine.connect() as conn:
            return is_synthetic(conn)
    except Exception:  # noqa: BLE001 - no store_meta (an old store): no mark
        return False
    finally:
        engine.dispose()
