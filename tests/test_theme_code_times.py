"""Theme codes' times (``theme_codes.coded_at``) as the readers return them.

SQLite keeps a time as text, in whatever ISO 8601 form its writer used: the demo's and the
imports' rows ``2021-08-01 10:00:00+00:00``, a code the coding dashboard wrote in the walk-through
audit ``2026-12-06T07:54:32.139041+00:00``. The readers returned that text, ``pd.to_datetime``
guessed the form from the first row and failed on the other (the national report failed after a
lead accepted one suggested theme), and codes were ordered by the text (a ``T`` sorts after a
space, so a later code of the same day came first). The times below are written by hand in both
forms; the store, the session and the report notebook are the real ones.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from data_access import open_session, store

SJR = Path(sys.executable).with_name("sjr")

# Coder "early_t" coded first (09:00, written with a 'T'); "late_space" an hour later (written
# with a space). As text, "2021-08-01 10:..." sorts before "2021-08-01T09:...".
EARLY_T = "2021-08-01T09:00:00.250000+00:00"
LATE_SPACE = "2021-08-01 10:00:00+00:00"
LATER_ZULU_OFFSET = "2021-08-02T11:30:00+01:00"  # 10:30 UTC the next day


def _owner_insert(url: str, rows: list[dict]) -> None:
    engine = store.get_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO theme_codes (id, organisation_code, review_id, theme, phase, "
                "codebook_version, coded_by, coded_at, from_suggestion) VALUES (:id, "
                "(SELECT organisation_code FROM reviews WHERE review_id = :r), :r, :t, NULL, "
                "'2026.1', :u, :at, :s)"), rows)
    finally:
        engine.dispose()


def _submitted_review(url: str, org: str, months: tuple[str, str] = ("0000", "9999")) -> str:
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT min(review_id) FROM reviews WHERE organisation_code = :o AND status IN "
                "('submitted', 'locked') AND death_month BETWEEN :a AND :b"),
                {"o": org, "a": months[0], "b": months[1]}).scalar_one()
    finally:
        engine.dispose()


def _stored_text(url: str) -> list[str]:
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            return [str(v) for v in conn.execute(text("SELECT coded_at FROM theme_codes"))
                    .scalars()]
    finally:
        engine.dispose()


@pytest.fixture
def coded(populated_db_url, small_data):
    """A store with a lead's code (through the session, as the coding dashboard writes it) and
    three hand-written codes of one review by two coders, in mixed forms."""
    from dashboard_store import add_users

    org = str(small_data.organisations["organisation_code"].iloc[0])
    users = add_users(populated_db_url, org)
    review = _submitted_review(populated_db_url, org)
    with open_session(users.lead, populated_db_url, tool="test") as lead:
        lead.code_review(review, "sepsis", from_suggestion=True)
    _owner_insert(populated_db_url, [
        {"id": "c1", "r": review, "t": "diagnosis", "u": "late_space", "at": LATE_SPACE,
         "s": False},
        {"id": "c2", "r": review, "t": "communication", "u": "early_t", "at": EARLY_T,
         "s": False},
        {"id": "c3", "r": review, "t": "medication", "u": "late_space",
         "at": LATER_ZULU_OFFSET, "s": False},
    ])
    return populated_db_url, users, review


def test_theme_codes_come_back_as_utc_times_in_time_order(coded):
    url, users, review = coded
    with open_session(users.programme, url, tool="test") as programme:
        codes = programme.theme_codes()
    assert isinstance(codes["coded_at"].dtype, pd.DatetimeTZDtype)
    assert str(codes["coded_at"].dt.tz) == "UTC"
    hand = codes[codes["id"].isin(["c1", "c2", "c3"])]
    assert list(hand["id"]) == ["c2", "c1", "c3"]  # by time, not by the text of the time
    assert list(hand["coded_at"]) == [pd.Timestamp("2021-08-01 09:00:00.25", tz="UTC"),
                                      pd.Timestamp("2021-08-01 10:00", tz="UTC"),
                                      pd.Timestamp("2021-08-02 10:30", tz="UTC")]
    mine = codes[codes["coded_by"] == users.lead]
    assert len(mine) == 1 and mine["coded_at"].iloc[0] > pd.Timestamp("2026-01-01", tz="UTC")
    assert list(codes["coded_at"]) == sorted(codes["coded_at"])


def test_the_session_writes_one_form(coded):
    url, _users, _review = coded
    if not url.startswith("sqlite"):
        pytest.skip("PostgreSQL keeps timestamptz, not text")
    written = [v for v in _stored_text(url) if v not in (EARLY_T, LATE_SPACE, LATER_ZULU_OFFSET)]
    assert len(written) == 1
    assert written[0][10] == " " and written[0].endswith("+00:00"), written


def test_the_first_coder_is_the_earliest_in_time(coded):
    from sjrlib.measures import primary_codes
    from sjrlib.stats.agreement import theme_code_pairs

    url, users, review = coded
    with open_session(users.programme, url, tool="test") as programme:
        codes = programme.theme_codes()
    codes = codes[codes["review_id"] == review]
    first = primary_codes(codes[codes["coded_by"] != users.lead])
    assert list(first["theme"]) == ["communication"]
    a, b = theme_code_pairs(codes[codes["coded_by"] != users.lead])
    assert a == {review: {"communication"}} and b == {review: {"diagnosis", "medication"}}


def test_agreement_and_measures_take_stored_text_in_mixed_forms():
    """The report's functions given the text itself (as the readers returned it before)."""
    from data_access.pseudonymise import researcher_theme_codes
    from sjrlib.measures import primary_codes
    from sjrlib.stats.agreement import theme_code_pairs

    codes = pd.DataFrame({
        "id": ["a", "b", "c"], "review_id": ["R1", "R1", "R1"],
        "theme": ["diagnosis", "communication", "medication"],
        "phase": [None, None, None], "codebook_version": ["2026.1"] * 3,
        "coded_by": ["late_space", "early_t", "late_space"],
        "coded_at": [LATE_SPACE, EARLY_T, LATER_ZULU_OFFSET],
        "from_suggestion": [False, True, False]})
    a, b = theme_code_pairs(codes)
    assert a == {"R1": {"communication"}} and b == {"R1": {"diagnosis", "medication"}}
    assert list(primary_codes(codes)["theme"]) == ["communication"]
    released = researcher_theme_codes(codes, secret=b"k" * 32)
    first = released[released["coder"] == 1]
    assert list(first["theme"]) == ["communication"]


@pytest.mark.slow
def test_the_national_report_renders_after_a_dashboard_code(tmp_path):
    """``sjr report national`` (papermill running the notebook) on a store holding a lead's
    accepted code and codes in the other form: it used to fail in the agreement cell."""
    import report_store

    (tmp_path / "store").mkdir()
    built = report_store.build(tmp_path / "store")
    year = ("2022-04", "2023-03")  # report_store.PERIOD
    review = _submitted_review(built.url, built.codes[0], year)
    with open_session(built.lead, built.url, tool="test") as lead:
        lead.code_review(review, "sepsis", from_suggestion=True)
    other = _submitted_review(built.url, built.codes[1], year)
    _owner_insert(built.url, [
        {"id": "c1", "r": review, "t": "diagnosis", "u": "second", "at": LATE_SPACE,
         "s": False},
        {"id": "c2", "r": other, "t": "communication", "u": "first", "at": EARLY_T,
         "s": False},
        {"id": "c3", "r": other, "t": "medication", "u": "second",
         "at": "2026-12-06T07:54:32.139041+00:00", "s": True},
    ])
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTERHUB_USER",
                                                            "SJR_DATABASE_URL")}
    env["SJR_USER"] = built.programme
    done = subprocess.run(
        [str(SJR), "report", "national", "--db", built.url, "--out", str(tmp_path / "out"),
         "--period", report_store.PERIOD, "--quiet"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "out" / report_store.PERIOD / "national.html").exists()
