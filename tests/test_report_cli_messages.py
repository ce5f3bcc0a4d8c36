"""``sjr report`` refusing what it cannot report, in the command line's words.

- a period the store holds nothing for (after the data, before it) is refused with one line
  naming the periods it holds, exit 1, nothing written (it used to write a reassuring page of
  zeros: "Every quarter of the period is final");
- ``--audience`` and ``--start-month`` mistakes name the option and its allowed values, not a
  parameter file's field;
- an organisation code in lower case gets "did you mean";
- a CSV saved with ';' is told so, not "more cells than the header's 1".

Inputs are written here by hand; the store, the session and the command are the real ones.
"""

from __future__ import annotations

import re

import pytest
import report_store
from sqlalchemy import text
from typer.testing import CliRunner


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return report_store.build(tmp_path_factory.mktemp("store"))


def _held_years(url: str) -> list[str]:
    """Financial years of the store's death months and reviews, by hand from raw SQL."""
    from data_access import store as store_module

    engine = store_module.get_engine(url)
    try:
        with engine.connect() as conn:
            months = set(conn.execute(text("SELECT DISTINCT month FROM deaths")).scalars())
            months |= set(conn.execute(text("SELECT DISTINCT death_month FROM reviews"))
                          .scalars())
    finally:
        engine.dispose()
    years = set()
    for m in months:
        if m:
            y, mo = int(m[:4]), int(m[5:7])
            first = y - 1 if mo <= 3 else y
            years.add(f"{first}-{(first + 1) % 100:02d}")
    return sorted(years)


def _invoke(monkeypatch, user: str, *args: str):
    from sjrlib.cli import app

    monkeypatch.setenv("SJR_USER", user)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    return CliRunner().invoke(app, ["report", *args])


@pytest.mark.parametrize("command", [["trust", "CODE"], ["national"], ["all"]])
@pytest.mark.parametrize("period", ["2030-31", "2015-16"])
def test_a_period_without_data_is_refused(store, tmp_path, monkeypatch, command, period):
    held = _held_years(store.url)
    assert held and period not in held
    args = [store.codes[1] if c == "CODE" else c for c in command]
    out = tmp_path / "out"
    result = _invoke(monkeypatch, store.programme, *args, "--db", store.url, "--out", str(out),
                     "--period", period, "--quiet")
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert f"no deaths and no reviews in the store for {period}" in lines[0]
    for year in held:
        assert year in lines[0]
    assert "Traceback" not in result.output
    assert not out.exists()


def test_a_lead_is_refused_an_empty_period_too(store, tmp_path, monkeypatch):
    out = tmp_path / "out"
    result = _invoke(monkeypatch, store.lead, "trust", store.codes[0], "--audience",
                     "organisation", "--db", store.url, "--out", str(out), "--period",
                     "2030-31", "--quiet")
    assert result.exit_code == 1, result.output
    assert "no deaths and no reviews in the store for 2030-31" in result.output
    assert not out.exists()


def test_months_without_data_are_refused_in_the_options_words(store, tmp_path, monkeypatch):
    out = tmp_path / "out"
    result = _invoke(monkeypatch, store.programme, "national", "--db", store.url, "--out",
                     str(out), "--start-month", "2031-01", "--end-month", "2031-02", "--quiet")
    assert result.exit_code == 1, result.output
    assert "2031-01 to 2031-02" in result.output
    assert not out.exists()


def test_a_mistyped_audience_names_the_option(store, tmp_path, monkeypatch):
    result = _invoke(monkeypatch, store.programme, "trust", store.codes[1], "--audience",
                     "organization", "--db", store.url, "--out", str(tmp_path / "out"),
                     "--period", report_store.PERIOD)
    assert result.exit_code == 2, result.output
    assert "--audience" in result.output
    assert all(word in result.output for word in ("organisation", "collaborative", "public"))
    assert "did you mean 'organisation'" in result.output
    assert "trust_defaults.yaml" not in result.output and "Input should be" not in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("options", "named"), [
    (["--start-month", "2024-4", "--end-month", "2025-03"], "--start-month"),
    (["--start-month", "2024-04", "--end-month", "March"], "--end-month"),
    (["--start-month", "2025-04", "--end-month", "2025-03"], "--start-month 2025-04 is after "
                                                              "--end-month 2025-03"),
    (["--start-month", "2024-04"], "--end-month"),
    (["--period", "2024-25", "--start-month", "2024-04"], "--period"),
])
def test_month_mistakes_name_the_option(store, tmp_path, monkeypatch, options, named):
    result = _invoke(monkeypatch, store.programme, "national", "--db", store.url, "--out",
                     str(tmp_path / "out"), *options)
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert not re.search(r"'(start_month|end_month|period)'", result.output), result.output


def test_a_lower_case_code_gets_did_you_mean(store, tmp_path, monkeypatch):
    code = store.codes[1]
    assert code != code.lower()
    result = _invoke(monkeypatch, store.programme, "trust", code.lower(), "--db", store.url,
                     "--out", str(tmp_path / "out"), "--period", report_store.PERIOD)
    assert result.exit_code == 2, result.output
    assert f"did you mean {code}?" in result.output


def test_a_lower_case_code_of_a_leads_own_organisation_gets_did_you_mean(store, tmp_path,
                                                                        monkeypatch):
    code = store.codes[0]  # the lead's
    result = _invoke(monkeypatch, store.lead, "trust", code.lower(), "--db", store.url,
                     "--out", str(tmp_path / "out"), "--period", report_store.PERIOD)
    assert result.exit_code == 2, result.output
    assert f"did you mean {code}?" in result.output
    assert "may only produce" not in result.output


@pytest.mark.parametrize(("separator", "said"), [(";", "';'"), ("\t", "tabs")])
def test_a_csv_with_another_separator_is_told_so(tmp_path, separator, said):
    from sjrlib import io

    path = tmp_path / "deaths.csv"
    rows = [["organisation_code", "month", "deaths_in_scope", "learning_disability_deaths"],
            ["RXX", "2025-04", "10", "1"],
            ["RXX", "2025-05", "3,5", "0"]]  # a decimal comma, as such spreadsheets write
    path.write_text("".join(separator.join(r) + "\r\n" for r in rows), encoding="utf-8")
    with pytest.raises(io.ImportFileError) as caught:
        io.read_deaths(path, known_organisations={"RXX"})
    message = str(caught.value)
    assert f"seems to use {said} as separator" in message
    assert "commas" in message
    assert "more cells than the header" not in message


def test_a_failed_report_names_its_notebook_and_error(store, tmp_path, monkeypatch):
    """"FAILED national: cell 16: ..." sent nobody anywhere: the notebook is named, with the
    error's last line, and the command exits 1."""
    cell = ('{"cell_type": "code", "execution_count": null, "id": "%s", "metadata": {%s}, '
            '"outputs": [], "source": [%s]}')
    book = ('{"cells": [%s, %s], "metadata": {"kernelspec": {"name": "python3", '
            '"display_name": "Python 3", "language": "python"}}, "nbformat": 4, '
            '"nbformat_minor": 5}')
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name in ("national_report.ipynb", "trust_report.ipynb"):
        (notebooks / name).write_text(book % (
            cell % ("p", '"tags": ["parameters"]', '"x = 1"'),
            cell % ("b", "", '"raise ValueError(\\"time data was not understood\\")"')))
    monkeypatch.setenv("SJR_NOTEBOOKS", str(notebooks))
    result = _invoke(monkeypatch, store.programme, "national", "--db", store.url, "--out",
                     str(tmp_path / "out"), "--period", report_store.PERIOD, "--quiet",
                     "--jobs", "1")
    assert result.exit_code == 1, result.output
    # the second code cell of the notebook as written; raised in the cell, so no sjrlib frame
    assert "FAILED national: national_report.ipynb, code cell 2: ValueError: time data was " \
        "not understood\n" in result.output, result.output


def test_the_summary_tells_rendered_from_kept(tmp_path, capsys):
    """A refresh that rendered one report and kept 134 said "135 of 135 reports ... written"
    (first-run walk-through): the line now counts what was rendered, what was unchanged and
    kept, and what failed."""
    from sjrlib.commands.report import _summary
    from sjrlib.report.runner import BatchResult
    from sjrlib.report.workers import JobResult

    out = tmp_path / "2025-26"
    refresh = BatchResult("2025-26", out, seconds=3.21, results=[
        JobResult("national", True, 3.0),
        *(JobResult(f"X{i:02d}", True, 0.0, kept=True) for i in range(134))])
    _summary(refresh)
    said = capsys.readouterr()
    assert f"135 reports for 2025-26 in {out} (3.2 s): 1 rendered, 134 unchanged and kept." \
        in said.out, said
    assert "written" not in said.out + said.err
    failing = BatchResult("2025-26", out, seconds=1.0, results=[
        JobResult("national", True, 1.0), JobResult("X01", False, 0.1, "ValueError: x")])
    _summary(failing)
    said = capsys.readouterr()
    assert f"2 reports for 2025-26 in {out} (1.0 s): 1 rendered, 1 failed." in said.out
    assert "FAILED X01: ValueError: x" in said.err
    _summary(BatchResult("2025-26", out, results=[JobResult("XA2", True, 1.0)]))
    assert f"1 report for 2025-26 in {out} (0.0 s): 1 rendered." in capsys.readouterr().out
