"""The index of a report folder after a single report is run into it.

The walk-through audit: ``sjr report trust XA2 --audience organisation`` by XA2's lead into the
folder of a whole batch rewrote ``index.html`` with 5 links (271 before): the lead reads only
their own organisation, so the index listed it alone. The index is the folder's: it lists every
organisation the batch listed, and keeps its rule of linking public pages only (an
organisation-audience report, exact counts for internal governance, is never linked from it;
the command says where it is). The batch, the lead's run and the pages are real (papermill).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import report_store
from report_store import PERIOD

pytestmark = pytest.mark.slow

SJR = Path(sys.executable).with_name("sjr")


def _sjr(user: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTERHUB_USER",
                                                            "SJR_DATABASE_URL")}
    env["SJR_USER"] = user
    return subprocess.run([str(SJR), "report", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)


def _links(index: Path) -> list[str]:
    return re.findall(r'href="([^"]+)"', index.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """A store and ``sjr report all`` of its period, by the programme team."""
    folder = tmp_path_factory.mktemp("index")
    built = report_store.build(folder)
    done = _sjr(built.programme, "all", "--db", built.url, "--out", str(folder / "reports"),
                "--period", PERIOD, "--jobs", "2", "--quiet", cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    return built, folder / "reports" / PERIOD


def _expected_links(codes: list[str]) -> set[str]:
    """By hand: the national page, each organisation's page and workbook."""
    return ({"national.html"} | {f"trusts/{c}.html" for c in codes}
            | {f"trusts/{c}-lfd.xlsx" for c in codes})


def test_a_leads_organisation_report_keeps_the_folders_index(batch, tmp_path):
    built, period_dir = batch
    out = tmp_path / "reports"
    shutil.copytree(period_dir.parent, out)
    before = set(_links(out / PERIOD / "index.html"))
    assert _expected_links(built.codes) <= before

    done = _sjr(built.lead, "trust", built.codes[0], "--audience", "organisation", "--db",
                built.url, "--out", str(out), "--period", PERIOD, "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    internal = out / PERIOD / "organisation" / f"{built.codes[0]}.html"
    assert internal.exists()
    after = _links(out / PERIOD / "index.html")
    assert set(after) == before, (before ^ set(after))
    assert not any("organisation/" in link for link in after)  # public pages only
    assert f"trusts/{built.codes[0]}.html" in after
    assert str(internal.resolve()) in done.stdout  # the command says where the page is

    # and again: the manifest remembers the index's organisations across single runs
    again = _sjr(built.lead, "trust", built.codes[0], "--db", built.url, "--out", str(out),
                 "--period", PERIOD, "--quiet", "--force", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert set(_links(out / PERIOD / "index.html")) == before


def test_an_index_a_manifest_cannot_rebuild_is_kept(batch, tmp_path):
    """A folder whose manifest predates the index rows (no "index"): the lead's run keeps the
    batch's index, says so, and does not make it an index of one organisation."""
    built, period_dir = batch
    out = tmp_path / "reports"
    shutil.copytree(period_dir.parent, out)
    manifest = out / PERIOD / "manifest.json"
    data = json.loads(manifest.read_text())
    data.pop("index", None)
    manifest.write_text(json.dumps(data))
    index = (out / PERIOD / "index.html").read_bytes()

    done = _sjr(built.lead, "trust", built.codes[0], "--audience", "organisation", "--db",
                built.url, "--out", str(out), "--period", PERIOD, "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (out / PERIOD / "index.html").read_bytes() == index
    assert "index was kept" in done.stderr
