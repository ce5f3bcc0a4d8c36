"""Incremental refresh of ``sjr report`` (issue 16 part 3): a second run into the same folder
renders exactly the reports whose inputs changed and keeps the others.

Real batches (papermill, warm kernels) on the small report store (3 English trusts, 1 Scottish
board), with every kind of output: public trust reports and their Learning from Deaths
workbooks, the organisations' own reports (``organisation_reports``), a collaborative of two
members and the national report. Which files a run rewrote is read from the folder itself
(inode and modification time of every file), not only from what the runner says.
"""

from __future__ import annotations

import json
import pickle
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import report_store
from dashboard_store import first_stage_values
from report_store import PERIOD

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NOT_REPORTS = {"index.html", "manifest.json", "trainers.html", "trainers.csv"}
"""Rewritten by every run (the index is rebuilt; the manifest records the run)."""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from data_access import open_session

    built = report_store.build(tmp_path_factory.mktemp("store"))
    with open_session(built.admin, built.url, tool="test") as admin:
        admin.add_user("lead_b", "organisation_lead", organisation_code=built.codes[1],
                       reviewer_id="RVW-LB")
    return built


def _notebooks(folder: Path) -> Path:
    """A copy of the report notebooks: a test may change one (a code change)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("trust_report.ipynb", "national_report.ipynb"):
        shutil.copy(ROOT / "notebooks" / name, folder / name)
    return folder


def _parameters(folder: Path, **trust: object) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    national = folder / "national.yaml"
    shutil.copy(ROOT / "parameters" / "national.yaml", national)
    trusts = folder / "trust_defaults.yaml"
    text = (ROOT / "parameters" / "trust_defaults.yaml").read_text(encoding="utf-8")
    for key, value in trust.items():
        text, n = re.subn(rf"(?m)^{key}: .*$", f"{key}: {value}", text)
        assert n == 1, key
    trusts.write_text(text, encoding="utf-8")
    return [national, trusts]


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


def _rewritten(before: dict, after: dict) -> set[str]:
    return {name for name in set(before) | set(after)
            if before.get(name) != after.get(name) and name not in NOT_REPORTS}


def _outputs(folder: Path, names: set[str]) -> set[str]:
    """The files of the reports ``names`` as the manifest records them (page, workbook, the
    history of what it published)."""
    reports = json.loads((folder / "manifest.json").read_text())["reports"]
    return {f for name in names for f in reports[name]["outputs"]}


def _history_rewritten(files: set[str]) -> set[str]:
    """A kept history is rewritten only when the data changed (same data: nothing to add)."""
    return {f for f in files if not f.startswith(".history/")}


def _audit(store, action: str) -> pd.DataFrame:
    from data_access import audit
    from data_access import store as store_module

    engine = store_module.get_engine(store.url)
    try:
        with engine.connect() as conn:
            entries = audit.entries(conn, username=store.programme)
            assert audit.verify(conn).ok
    finally:
        engine.dispose()
    return entries[entries["action"] == action]


def _scope(entry) -> dict:
    scope = entry["scope"]
    return json.loads(scope) if isinstance(scope, str) else dict(scope)


def test_a_refresh_renders_exactly_what_changed(store, tmp_path):
    from data_access import open_session
    from sjrlib.report.runner import run_reports

    codes = store.codes
    groups = tmp_path / "groups.yaml"
    groups.write_text("collaboratives:\n  - {id: pair, name: A pair, members: "
                      f"[{codes[0]}, {codes[1]}], agreed_from: '2020-04'}}\n")
    notebooks = _notebooks(tmp_path / "notebooks")
    params = _parameters(tmp_path / "parameters")
    writes_before = len(_audit(store, "report.write"))
    reads_before = len(_audit(store, "reviews"))

    def run(**kw):
        batch = run_reports("all", db=store.url, out=tmp_path / "reports", period=PERIOD,
                            workers=2, progress=False, user=store.programme,
                            notebooks=notebooks, parameter_files=params,
                            organisation_reports=True, collaboratives=groups, **kw)
        assert batch.failed == [] and batch.problems == [], (batch.failed, batch.problems)
        return batch

    first = run()
    everything = {"national", "collaborative pair", *codes, *(f"{c} (organisation)"
                                                              for c in codes)}
    assert {r.name for r in first.rendered} == everything and first.kept == []
    folder = first.out_dir
    manifest = json.loads((folder / "manifest.json").read_text())
    assert oct((folder / "manifest.json").stat().st_mode & 0o777) == "0o600"
    assert set(manifest["reports"]) == everything
    for code in codes:  # a report's files are covered together: page, workbook, history
        for folder_name in ("trusts", "organisation"):
            name = code if folder_name == "trusts" else f"{code} (organisation)"
            assert {f"{folder_name}/{code}.html", f"{folder_name}/{code}-lfd.xlsx"} <= \
                set(manifest["reports"][name]["outputs"])
    for code in codes:  # the snapshot the refresh keys on is the one the page's stamp shows
        page = (folder / "trusts" / f"{code}.html").read_text(encoding="utf-8")
        snapshot = re.search(r"<code>([0-9a-f]{64})</code>", page)[1]
        assert manifest["reports"][code]["snapshot"] == snapshot

    # nothing changed: nothing rendered, no report file touched, the index rebuilt
    files = _files(folder)
    second = run()
    assert second.rendered == [] and {r.name for r in second.kept} == everything
    assert _rewritten(files, _files(folder)) == set()
    assert _files(folder)["index.html"] != files["index.html"]

    # a new review at one trust, through the governed session
    review = first_stage_values("C-REFRESH-1") | {
        "review_id": "SJR-REFRESH-1", "death_month": "2022-09", "review_date": "2022-11-01",
        "reviewer_id": "RVW-LB"}
    with open_session("lead_b", store.url, tool="test") as lead:
        lead.save_review(review)
    files = _files(folder)
    third = run()
    changed = {codes[1], f"{codes[1]} (organisation)", "national", "collaborative pair"}
    assert {r.name for r in third.rendered} == changed
    assert {r.name for r in third.kept} == everything - changed
    assert _rewritten(files, _files(folder)) == _outputs(folder, changed)
    page = (folder / "trusts" / f"{codes[1]}.html").read_text(encoding="utf-8")
    assert json.loads((folder / "manifest.json").read_text())["reports"][codes[1]][
        "snapshot"] in page

    # a page deleted, a workbook altered: those reports again, page and workbook together
    (folder / "trusts" / f"{codes[2]}.html").unlink()
    with open(folder / "organisation" / f"{codes[3]}-lfd.xlsx", "ab") as fh:
        fh.write(b"\0")
    files = _files(folder)
    fourth = run()
    again = {codes[2], f"{codes[3]} (organisation)"}
    assert {r.name for r in fourth.rendered} == again
    assert _rewritten(files, _files(folder)) == _history_rewritten(_outputs(folder, again))
    from openpyxl import load_workbook

    load_workbook(folder / "organisation" / f"{codes[3]}-lfd.xlsx")

    # each run read through the governed session (audited) and audited what it would write
    writes = _audit(store, "report.write").iloc[writes_before:]
    assert len(writes) == 4
    assert len(_audit(store, "reviews")) >= reads_before + 4
    scopes = [_scope(e) for _, e in writes.iterrows()]
    assert [set(s["render"]) for s in scopes] == [everything, set(), changed, again]
    assert [set(s["keep"]) for s in scopes] == [set(), everything, everything - changed,
                                                everything - again]
    assert {s["folder"] for s in scopes} == {str(folder)}


@pytest.fixture(scope="module")
def one_trust_store(tmp_path_factory):
    """A store of one trust: ``sjr report all`` is then the national report and one trust
    report, so each step of the test below costs two renders, not five."""
    from dashboard_store import add_users, populate

    from sjrlib.synthetic import generate

    data = generate(n_organisations=1, years=2, seed=3, n_scottish=0)
    url = f"sqlite:///{tmp_path_factory.mktemp('one-trust') / 'sjr.db'}"
    populate(url, data)
    code = str(data.organisations["organisation_code"].iloc[0])
    return url, code, add_users(url, code).programme


def test_parameters_code_and_force_render_again(one_trust_store, tmp_path, monkeypatch):
    import sjrlib
    from sjrlib.report.runner import run_reports

    url, code, programme = one_trust_store
    notebooks = _notebooks(tmp_path / "notebooks")
    out = tmp_path / "reports"

    def run(params=None, **kw):
        batch = run_reports("all", db=url, out=out, period=PERIOD, workers=1,
                            progress=False, user=programme, notebooks=notebooks,
                            parameter_files=params or _parameters(tmp_path / "p0"), **kw)
        assert batch.failed == [] and batch.problems == [], (batch.failed, batch.problems)
        return {r.name for r in batch.rendered}, {r.name for r in batch.kept}

    everything = {"national", code}
    assert run() == (everything, set())
    assert run() == (set(), everything)
    assert run(force=True) == (everything, set())
    # the trusts' parameters: every trust report, not the national one
    assert run(_parameters(tmp_path / "p1", trend_months=24)) == ({code}, {"national"})
    assert run() == ({code}, {"national"})  # and back
    # the code: the package version, or a notebook
    monkeypatch.setattr(sjrlib, "__version__", sjrlib.__version__ + "+test")
    assert run() == (everything, set())
    book = notebooks / "national_report.ipynb"
    nb = json.loads(book.read_text())
    nb["metadata"]["sjr_test_edit"] = 1
    book.write_text(json.dumps(nb))
    assert run() == ({"national"}, {code})
    assert run() == (set(), everything)
    # a new codebook in the store: every report shows its labels
    import dataclasses

    from data_access import open_session
    from sjrlib.themes.codebook import shipped_codebook

    with open_session(programme, url, tool="test") as session:
        session.import_codebook(dataclasses.replace(shipped_codebook(), version="2099.1"))
    assert run() == (everything, set())
    assert run() == (set(), everything)


def test_the_snapshots_are_the_slices_stamps(tmp_path):
    """One pass over the batch's frames gives each organisation's slice hash (what its stamp
    prints) and the national one, drafts frame included."""
    from sjrlib.report.data import snapshot_hash, write_slices
    from sjrlib.report.manifest import data_snapshots
    from sjrlib.synthetic import generate

    data = generate(n_organisations=5, years=2, seed=11)
    reviews, deaths, organisations = data.reviews, data.deaths, data.organisations
    codes = list(organisations["organisation_code"])
    drafts = deaths.iloc[::7][["organisation_code", "month"]].assign(
        cases=1).reset_index(drop=True)
    paths = write_slices(reviews, deaths, organisations, codes, tmp_path, drafts=drafts)
    per_code, whole = data_snapshots([reviews, deaths, drafts], codes)
    for code in [*codes, "national"]:
        with open(paths[code], "rb") as fh:
            part = pickle.load(fh)
        expected = snapshot_hash(part["reviews"], part["deaths"], part["drafts"])
        assert (whole if code == "national" else per_code[code]) == expected, code
    # a changed row changes its organisation's snapshot only
    changed = reviews.copy()
    row = changed.index[changed["organisation_code"] == codes[2]][0]
    changed.loc[row, "score_overall"] = 5 if changed.loc[row, "score_overall"] != 5 else 4
    after, whole_after = data_snapshots([changed, deaths, drafts], codes)
    assert {c for c in codes if after[c] != per_code[c]} == {codes[2]}
    assert whole_after != whole


def test_a_manifest_that_cannot_be_trusted_is_set_aside(tmp_path):
    from sjrlib.report.manifest import Manifest

    page = tmp_path / "trusts" / "AAA.html"
    page.parent.mkdir()
    page.write_text("page")
    manifest = Manifest(tmp_path)
    manifest.record("AAA", "k1", "s1", (page,))
    manifest.save()
    assert Manifest.load(tmp_path).is_current("AAA", "k1", (page,))
    assert not Manifest.load(tmp_path).is_current("AAA", "k2", (page,))
    page.write_text("page, altered")
    assert not Manifest.load(tmp_path).is_current("AAA", "k1", (page,))
    page.unlink()
    page.symlink_to(tmp_path / "elsewhere.html")
    (tmp_path / "elsewhere.html").write_text("page")
    assert not Manifest.load(tmp_path).is_current("AAA", "k1", (page,))

    (tmp_path / "manifest.json").write_text("{not json")
    broken = Manifest.load(tmp_path)
    assert broken.entries == {} and "set aside" in broken.problem
    (tmp_path / "manifest.json").unlink()
    (tmp_path / "manifest.json").symlink_to(tmp_path / "elsewhere.html")
    linked = Manifest.load(tmp_path)
    assert linked.entries == {} and linked.problem
