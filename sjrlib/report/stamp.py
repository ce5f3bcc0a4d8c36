"""The reproducibility stamp every report ends with.

Parameters (database password hidden), the SHA-256 of the rows the report used, the package
version, the git commit of the code (with ``+changes`` when the working tree differs from it),
and the generation time. Everything but the generation time is a pure function of the inputs,
so regenerating a report from the same data, parameters and code gives an identical page apart
from the element of class ``sjr-generated``.
"""

from __future__ import annotations

import datetime as dt
import html
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import sjrlib

__all__ = ["Stamp", "git_commit"]

_INTERNAL = {"data_file", "lfd_workbook", "user"}
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


def _safe_db(url: str | None) -> str:
    if not url:
        return "(default)"
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: show nothing of it rather than a secret
        return "(given)"


class Stamp:
    """What a report was made from; displays as a small table."""

    def __init__(self, parameters: dict[str, Any], snapshot: str, rows: int) -> None:
        self.parameters = {
            k: (_safe_db(v) if k == "db" else v)
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
            ("Data snapshot (SHA-256 of the rows used)", f"{self.snapshot} ({self.rows:,} rows)"),
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
