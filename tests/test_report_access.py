"""Who may produce which report, and for whom: no system user, refusals before anything runs,
the national report only for national scope, audiences and the floor of disclosure control.

The store has a programme-team user, the lead and a reviewer of its first organisation, and an
administrator (``tests/report_store.py``); refusals must come before any kernel starts (no
output folder), as one line and exit 2, and be in the audit log.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
import report_store
from openpyxl import load_workbook
from report_store import PERIOD
from typer.testing import CliRunner

from sjrlib.cli import app
from sjrlib.report.params import INTERNAL_NOTICE


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return report_store.build(tmp_path_factory.mktemp("store"))


@pytest.fixture
def as_user(monkeypatch, tmp_path):
    """``as_user(name)``: the identity the next command runs as (None: no identity at all)."""

    def set_user(name: str | None) -> None:
        monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
        monkeypatch.setenv("SJR_CONFIG", str(tmp_path / "no-identity-file"))
        if name is None:
            monkeypatch.delenv("SJR_USER", raising=False)
        else:
            monkeypatch.setenv("SJR_USER", name)

    return set_user


def _denials(url: str, username: str):
    from data_access import audit
    from data_access import store as store_module

    engine = store_module.get_engine(url)
    try:
        with engine.connect() as conn:
            entries = audit.entries(conn, username=username)
    finally:
        engine.dispose()
    return entries[entries["action"] == "report.denied"]


def _refused(result, out) -> str:
    # as every other command refuses: "refused: ...", exit 1 (it was "Access denied: ...",
    # exit 2, where 2 is a usage error)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("refused: "), result.output
    assert "Traceback" not in result.output
    assert not out.exists(), "nothing may run or be written before the refusal"
    return lines[0]


@pytest.mark.parametrize("what", [["national"], ["all"]])
def test_a_lead_cannot_produce_the_national_report(store, as_user, tmp_path, what):
    as_user(store.lead)
    out = tmp_path / "reports"
    result = CliRunner().invoke(app, ["report", *what, "--db", store.url, "--out", str(out),
                                      "--period", PERIOD, "--quiet"])
    line = _refused(result, out)
    assert "only the programme team" in line
    denied = _denials(store.url, store.lead)
    assert what[0] in " ".join(denied["scope"].astype(str))


def test_a_lead_cannot_produce_another_organisations_report(store, as_user, tmp_path):
    as_user(store.lead)
    out = tmp_path / "reports"
    result = CliRunner().invoke(app, ["report", "trust", store.codes[1], "--db", store.url,
                                      "--out", str(out), "--period", PERIOD])
    line = _refused(result, out)
    assert f"may only produce their own organisation's report, not {store.codes[1]}" in line


@pytest.mark.parametrize("who", ["reviewer", "admin", "unknown", "system", "nobody"])
def test_no_one_else_may_produce_a_report(store, as_user, tmp_path, who):
    name = {"reviewer": store.reviewer, "admin": store.admin, "unknown": "someone-else",
            "system": "sjr-reports", "nobody": None}[who]
    as_user(name)
    out = tmp_path / "reports"
    result = CliRunner().invoke(app, ["report", "trust", store.codes[0], "--db", store.url,
                                      "--out", str(out), "--period", PERIOD])
    line = _refused(result, out)
    if who in ("unknown", "system"):
        assert "is not a registered user" in line
    elif who == "nobody":
        assert "no user identity" in line
    else:
        assert "may not produce trust reports" in line
        assert len(_denials(store.url, name)) >= 1


def test_a_notebook_run_by_hand_refuses_a_national_report_to_a_lead(store):
    from data_access import AccessDenied
    from sjrlib.report.national import national_report

    with pytest.raises(AccessDenied, match="only the programme team"):
        national_report({"period": PERIOD, "db": store.url, "user": store.lead})


def test_a_parameter_file_cannot_choose_the_data_or_the_workbook(store, as_user, tmp_path):
    as_user(store.programme)
    params = tmp_path / "national.yaml"
    params.write_text(f"report: national\ndata_file: {tmp_path / 'one-trust.pkl'}\n")
    out = tmp_path / "reports"
    result = CliRunner().invoke(app, ["report", "national", "--db", store.url, "--out",
                                      str(out), "--params", str(params), "--period", PERIOD])
    assert result.exit_code == 2
    assert "'data_file' is set by `sjr report` itself" in result.output
    assert not out.exists()


@pytest.mark.parametrize(("text", "ok"), [
    ("report: trust\ndisclosure_threshold: 0\n", False),
    ("report: trust\naudience: collaborative\ndisclosure_threshold: 4\n", False),
    ("report: national\ndisclosure_threshold: 0\n", False),
    ("report: national\naudience: organisation\n", False),
    ("report: trust\naudience: organisation\ndisclosure_threshold: 0\n", True),
    ("report: trust\ndisclosure_threshold: 5\ndisclosure_rounding: 1\n", True),
])
def test_disclosure_control_has_a_floor_below_organisation_audience(tmp_path, text, ok):
    from sjrlib.report.params import ParameterError, load_parameters

    path = tmp_path / "p.yaml"
    path.write_text(text)
    overrides = {"organisation_code": "X01"} if "trust" in text else {}
    if ok:
        load_parameters(path, overrides=overrides)
        return
    with pytest.raises(ParameterError, match="p.yaml: ") as err:
        load_parameters(path, overrides=overrides)
    assert "floor of 5" in str(err.value) or "its audience is 'public'" in str(err.value)


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.mark.slow
def test_a_lead_produces_their_own_report_for_internal_governance(store, as_user, tmp_path):
    as_user(store.lead)
    code = store.codes[0]
    result = CliRunner().invoke(app, ["report", "trust", code, "--db", store.url, "--out",
                                      str(tmp_path / "reports"), "--period", PERIOD,
                                      "--audience", "organisation", "--quiet"])
    assert result.exit_code == 0, result.output
    # never among the public pages: organisation/, not trusts/
    assert not (tmp_path / "reports" / PERIOD / "trusts" / f"{code}.html").exists()
    folder = tmp_path / "reports" / PERIOD / "organisation"
    page = (folder / f"{code}.html").read_text(encoding="utf-8")
    assert f'<p class="sjr-notice" role="note">{INTERNAL_NOTICE}</p>' in page
    parser = _Cells()
    parser.feed(page)
    counts = [int(c.replace(",", "")) for c in parser.cells if re.fullmatch(r"[\d,]+", c)]
    assert any(c % 5 for c in counts), "exact counts: not all rounded to 5"
    assert "*" not in parser.cells
    assert "audience='organisation'" in page  # the stamp says for whom it was made
    assert store.lead not in page  # who ran it is in the audit log, not on the page
    sheet = load_workbook(folder / f"{code}-lfd.xlsx")["Learning from Deaths"]
    assert INTERNAL_NOTICE in sheet["A2"].value
