"""What ``sjr report`` tells the user to open leads to what it produced (helper 78).

Before: a lead's ``sjr report trust CODE --audience organisation`` (the README's command) wrote
``organisation/CODE.html`` and ended with "Open .../index.html", an index that never links an
organisation-audience page (exact counts, for internal governance; the index is the public
one): in a fresh folder the organisation showed "(no report)" there. Now a run of internal
pages only names those pages to open, marked for internal governance; the index still does not
link them. A run with public pages still ends with the index.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import report_store
from report_store import PERIOD
from typer.testing import CliRunner

SJR = Path(sys.executable).with_name("sjr")


def _sjr(user: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTERHUB_USER",
                                                            "SJR_DATABASE_URL")}
    env["SJR_USER"] = user
    return subprocess.run([str(SJR), "report", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)


def _opened(stdout: str) -> list[Path]:
    """The paths the command's "Open ..." lines name."""
    return [Path(m) for m in re.findall(r"^Open (/\S+?)(?::|\s|$)", stdout, flags=re.M)]


@pytest.mark.slow
def test_a_leads_organisation_report_names_the_page_it_wrote(tmp_path):
    built = report_store.build(tmp_path)
    code = built.codes[0]
    done = _sjr(built.lead, "trust", code, "--audience", "organisation", "--db", built.url,
                "--out", "reports", "--period", PERIOD, "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    page = tmp_path / "reports" / PERIOD / "organisation" / f"{code}.html"
    assert page.is_file()
    assert _opened(done.stdout) == [page.resolve()], done.stdout
    assert "for internal governance" in done.stdout.splitlines()[-1]
    assert "For internal governance: apply disclosure control before publishing" in \
        page.read_text(encoding="utf-8")
    # the public index is still written and still does not link the internal page
    index = (tmp_path / "reports" / PERIOD / "index.html").read_text(encoding="utf-8")
    assert not [link for link in re.findall(r'href="([^"]+)"', index)
                if "organisation" in link]


def _summary_lines(names: list[str], ok: bool = True) -> list[str]:
    """What ``_summary`` prints for a batch of reports named ``names`` (no report run)."""
    from sjrlib.commands.report import _summary

    out = Path("/r/2022-23")
    results = [SimpleNamespace(name=n, ok=ok, error=None if ok else "boom") for n in names]
    pages = {n: out / ("organisation" if n.endswith("(organisation)") else "trusts")
             / f"{n.split()[0]}.html" for n in names}
    batch = SimpleNamespace(results=results, interrupted=None, period_label="2022-23",
                            out_dir=out, seconds=1.0, rendered=results if ok else [], kept=[],
                            failed=[] if ok else results, notes=[], problems=[], pages=pages,
                            index=out / "index.html")
    import typer

    app = typer.Typer()
    app.command()(lambda: _summary(batch))
    return CliRunner().invoke(app, []).output.splitlines()


def test_internal_pages_only_are_named_to_open_not_the_index():
    lines = _summary_lines(["XA1 (organisation)", "XA2 (organisation)"])
    assert [p for line in lines for p in _opened(line)] == [
        Path("/r/2022-23/organisation/XA1.html"), Path("/r/2022-23/organisation/XA2.html")]
    many = _summary_lines([f"X{i:02d} (organisation)" for i in range(9)])
    assert [p for line in many for p in _opened(line)] == [Path("/r/2022-23/organisation")]
    assert "9 reports for internal governance" in many[-1]


def test_a_batch_with_public_pages_still_ends_with_the_index():
    lines = _summary_lines(["XA1", "XA1 (organisation)"])
    assert lines[-2] == ("For internal governance (not linked from the index): "
                         "/r/2022-23/organisation/XA1.html")
    assert lines[-1] == "Open /r/2022-23/index.html"
