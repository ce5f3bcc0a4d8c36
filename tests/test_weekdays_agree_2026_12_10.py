"""The day of death agrees with the day of admission and the days from arrival to death.

A walkthrough imported a review admitted on a Monday that died on a Friday with
``days_to_death`` 0: every cell was valid alone, and the store took it. Where all three are
given, the day of death is the day of admission plus ``days_to_death`` (mod 7); the import
refuses a row that says otherwise (naming file, row and column) and so does the review entry
form, beside the day of death. Every input here is written by hand.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pandas as pd
import pytest
from dashboard_store import add_users, populate
from sqlalchemy import text
from typer.testing import CliRunner

from data_access import open_session, store
from sjrlib.cli import app
from sjrlib.dashboards.entry_form import ReviewForm
from sjrlib.schema import ValidationFailed, validate_reviews

HEADER = ("review_id,case_id,organisation_code,review_stage,status,reviewer_id,review_date,"
          "review_reasons,age_at_death,sex,admission_weekday,death_weekday,days_to_death,"
          "death_month,admission_type,score_overall,comment_overall,record_quality_score,"
          "any_problems")


def _row(n: int, admitted: str, died: str, days: str) -> str:
    return (f"HW-{n:03d},C-{n:03d},RXX,first,submitted,RVW-A,2026-03-20,random_sample,81,"
            f"female,{admitted},{died},{days},2026-02,emergency,3,Adequate care throughout "
            "the admission.,4,no")


def _store(tmp_path) -> tuple[str, object]:
    url = f"sqlite:///{tmp_path / 'sjr.db'}"
    data = SimpleNamespace(
        organisations=pd.DataFrame([{"organisation_code": "RXX", "name": "Example Hospitals",
                                     "nation": "england", "region": "London"}]),
        deaths=pd.DataFrame([{"organisation_code": "RXX", "month": "2026-02",
                              "deaths_in_scope": "90", "learning_disability_deaths": "1"}]),
        reviews=pd.DataFrame(columns=HEADER.split(",")))
    populate(url, data)
    return url, add_users(url, "RXX")


def _stored(url: str) -> list[str]:
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(conn.execute(text("SELECT review_id FROM reviews")).scalars())
    finally:
        engine.dispose()


def test_the_import_refuses_a_day_of_death_the_days_do_not_reach(tmp_path):
    url, _ = _store(tmp_path)
    path = tmp_path / "reviews.csv"
    path.write_text("\n".join([HEADER,
                               _row(1, "mon", "thu", "3"),     # Monday + 3 = Thursday
                               _row(2, "mon", "fri", "0"),     # the walkthrough's row
                               _row(3, "sat", "mon", "2"),     # across the week's end
                               _row(4, "tue", "tue", "14"),    # two whole weeks
                               _row(5, "wed", "mon", "10"),    # Wednesday + 10 = Saturday
                               _row(8, "wed", "sun", "10"),    # one more: 24-hour periods
                               _row(6, "mon", "fri", ""),      # days not recorded: no rule
                               _row(7, "", "fri", "0")]) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["import", "reviews", str(path), "--db", url],
                                env={"SJR_USER": "admin"})
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if "death_weekday_after" in line]
    assert lines == [
        "reviews.csv, row 3, column death_weekday (value 'fri'): death_weekday is fri, but "
        "admission_weekday mon plus days_to_death 0 is a mon (or a tue, counted in whole "
        "24-hour periods across midnight): the day of death is the day of admission plus the "
        "days from arrival to death; correct whichever of the three is wrong "
        "[death_weekday_after_days_to_death]",
        "reviews.csv, row 6, column death_weekday (value 'mon'): death_weekday is mon, but "
        "admission_weekday wed plus days_to_death 10 is a sat (or a sun, counted in whole "
        "24-hour periods across midnight): the day of death is the day of admission plus the "
        "days from arrival to death; correct whichever of the three is wrong "
        "[death_weekday_after_days_to_death]"]
    assert "nothing was imported" in result.output
    assert _stored(url) == []


def test_the_rule_reads_the_three_cells_of_a_frame_from_code():
    def frame(admitted, died, days):
        return pd.DataFrame([dict(zip(HEADER.split(","), _row(1, admitted, died, days)
                                      .split(","), strict=True))])

    validate_reviews(frame("sun", "mon", "1"), today=dt.date(2026, 4, 1))
    with pytest.raises(ValidationFailed) as failed:
        validate_reviews(frame("sun", "sun", "1"), today=dt.date(2026, 4, 1))
    assert [(e.row, e.column, e.rule) for e in failed.value.errors] == [
        (2, "death_weekday", "death_weekday_after_days_to_death")]


def test_one_day_more_only_where_the_days_may_be_whole_24_hour_periods():
    """Arrival Wednesday 22:00, death 10 days later by the clock's periods but at 03:00: the
    calendar says Sunday, admission plus 10 says Saturday. Accepted where death's hour is no
    later than arrival's; refused (without the alternative) where it is later, since then the
    two ways of counting agree."""
    def frame(arrival, death):
        row = dict(zip(HEADER.split(","), _row(1, "wed", "sun", "10").split(","), strict=True))
        return pd.DataFrame([{**row, "arrival_hour": arrival, "death_hour": death}])

    validate_reviews(frame("22", "3"), today=dt.date(2026, 4, 1))
    validate_reviews(frame("10", "10"), today=dt.date(2026, 4, 1))
    with pytest.raises(ValidationFailed) as failed:
        validate_reviews(frame("9", "15"), today=dt.date(2026, 4, 1))
    assert [(e.column, e.rule) for e in failed.value.errors] == [
        ("death_weekday", "death_weekday_after_days_to_death")]
    assert "is a sat:" in str(failed.value.errors[0].message), failed.value.errors[0]


def test_the_entry_form_says_so_beside_the_day_of_death_and_does_not_save(tmp_path):
    url, users = _store(tmp_path)
    form = ReviewForm(open_session(users.reviewer, url, tool="test"),
                      today=dt.date(2026, 4, 1))
    with form.holding_checks():
        f = form.fields
        f["case_id"].widget.value = "C-100"
        f["age_at_death"].widget.value = "84"
        f["death_month"].widget.value = "2026-02"
        form.reason_boxes["family_concern"].value = True
        for phase in ("admission", "ongoing", "procedure", "perioperative", "end_of_life"):
            form._na[phase].value = True
        f["score_overall"].widget.value = 3
        f["comment_overall"].widget.value = "Adequate care throughout the admission."
        f["record_quality_score"].widget.value = 3
        f["any_problems"].widget.value = "no"
        f["admission_weekday"].widget.value = "mon"
        f["death_weekday"].widget.value = "fri"
        f["days_to_death"].widget.value = "0"
    assert form.errors()["death_weekday"] == [
        "A Monday plus 0 days from arrival to death is a Monday (or a Tuesday, if the days "
        "are whole 24-hour periods and death came after midnight), not a Friday: correct the "
        "day of death, the day of admission or the days from arrival to death"]
    assert form.save(submit=True) is False and form.review_id is None
    f["days_to_death"].widget.value = "4"  # Monday + 4 = Friday
    assert "death_weekday" not in form.errors()
    assert form.save(submit=True) and form.review_id is not None
