"""A deaths feed may not count a month that has not begun.

Before, `sjr import deaths` stored "2030-01" (most often a mistyped year: 2031 for 2021), and the
month then opened a financial year of its own in every report and the deaths' period list. The
rows are written by hand here, not taken from the synthetic generator.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from typer.testing import CliRunner

from data_access import loading, store
from data_access.session import bootstrap_administrator
from sjrlib import cli
from sjrlib.rules import uk_today
from sjrlib.schema import ValidationFailed, validate_deaths


def _deaths(*months: str) -> pd.DataFrame:
    return pd.DataFrame([{"organisation_code": "RXX", "month": m, "deaths_in_scope": "40",
                          "learning_disability_deaths": "1"} for m in months])


def _errors(frame: pd.DataFrame, today: dt.date) -> list[tuple[int, str, str]]:
    try:
        validate_deaths(frame, today=today)
    except ValidationFailed as failed:
        return [(e.row, e.column, e.rule) for e in failed.errors]
    return []


def test_a_month_after_this_one_is_refused_and_named():
    today = dt.date(2026, 12, 7)
    with pytest.raises(ValidationFailed) as caught:
        validate_deaths(_deaths("2026-11", "2027-01", "2030-01"), today=today)
    assert [(e.row, e.column, e.rule) for e in caught.value.errors] == [
        (3, "month", "month_not_in_future"), (4, "month", "month_not_in_future")]
    assert "after this month (2026-12)" in caught.value.errors[0].message


def test_this_month_and_earlier_ones_are_kept():
    """Control: the current month (a feed may count a month that has begun) and past ones."""
    assert _errors(_deaths("2026-12", "2026-11", "2019-04"), dt.date(2026, 12, 1)) == []
    # the first of the month in the UK: the month has begun
    assert _errors(_deaths("2027-01"), dt.date(2027, 1, 1)) == []


def test_sjr_import_deaths_refuses_the_whole_file(tmp_path, monkeypatch):
    """Through the command, against today's date: nothing of the file is stored."""
    url = f"sqlite:///{tmp_path / 'sjr.db'}"
    store.init_db(url)
    bootstrap_administrator("test-admin", url)
    today = uk_today()
    next_month = (today.replace(day=1) + dt.timedelta(days=32)).strftime("%Y-%m")
    this_month = today.strftime("%Y-%m")
    (tmp_path / "organisations.csv").write_text(
        "organisation_code,name,nation,region\n"
        "RXX,Example Hospitals NHS Trust,england,North East and Yorkshire\n", encoding="utf-8")
    (tmp_path / "deaths.csv").write_text(
        "organisation_code,month,deaths_in_scope,learning_disability_deaths\n"
        f"RXX,{this_month},40,1\nRXX,{next_month},38,0\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    done = runner.invoke(cli.app, ["import", "organisations", "organisations.csv", "--db", url],
                         env={"SJR_USER": "test-admin"})
    assert done.exit_code == 0, done.output
    result = runner.invoke(cli.app, ["import", "deaths", "deaths.csv", "--db", url],
                           env={"SJR_USER": "test-admin"})
    assert result.exit_code == 1, result.output
    assert (f"deaths.csv, row 3, column month (value '{next_month}'): month is after this month "
            f"({this_month})") in result.output
    assert "nothing was imported" in result.output
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            assert loading.load_deaths(conn).empty
    finally:
        engine.dispose()
