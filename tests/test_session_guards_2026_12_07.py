"""Guards of the review form (held-out audit of 2026-12-06) moved down into the session, so
they hold for every client: an insider calling ``data_access.session.Session`` from a
notebook, the CLI, the form.

1. A new second-stage review of a first-stage review that already has one (any status, a
   draft included) is refused, nothing written, the refusal audited; two sessions saving at
   once give one review, not two.
2. A new first-stage review of a case the same reviewer has a first-stage review of (any
   status) is refused; another reviewer's review of the same case is not.
3. A review id that looks like a patient identifier (an NHS number typed to find a case) is
   not looked up, and never reaches the append-only audit log: the entry holds a placeholder.
4. A plausible CHI number the ten-digit rule misses ("CHI.0101901232") is named (and masked
   as) a CHI number, not a telephone number.
5. "Not in the future" is checked against today's date in the UK (Europe/London), not the
   server's (UTC) date.

Runs on SQLite and (with ``SJR_TEST_POSTGRES_URL``) PostgreSQL through the service role;
``test_session_guards_pg_2026_12_07`` tries them as each person's own database role.
"""

from __future__ import annotations

import threading

import pytest
from access_setup import governed  # noqa: F401  (fixture: one store per engine, this module)
from dashboard_store import first_stage_values
from sqlalchemy import text

from data_access import AccessDenied, audit, open_session, store

NHS = "943 476 5919"
"""A valid NHS number (the spec's example): 9x10 + 4x9 + 3x8 + 4x7 + 7x6 + 6x5 + 5x4 + 9x3
+ 1x2 = 299; 299 mod 11 = 2; 11 - 2 = 9, the last digit."""


def _rows(gov, sql: str, **params) -> list[tuple]:
    engine = store.get_engine(gov.owner_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params).all()]
    finally:
        engine.dispose()


def _seconds_of(gov, first_id: str) -> list[tuple]:
    return _rows(gov, "SELECT review_id, reviewer_id, status FROM reviews "
                      "WHERE second_review_of = :f AND review_stage = 'second'", f=first_id)


def _denials(gov, action: str) -> list[str]:
    """Scopes of the refusals of ``action``, as stored (the audit queue flushed first)."""
    engine = store.get_engine(gov.owner_url)
    try:
        with engine.begin() as conn:
            audit.lock(conn)  # flushes the audit queue into the log
            return list(conn.execute(text("SELECT scope FROM audit_log WHERE action = :a"),
                                     {"a": f"{action}.denied"}).scalars())
    finally:
        engine.dispose()


def _first(gov, tag: str, *, reviewer: str | None = None) -> dict:
    """A submitted poor-care first-stage review by another reviewer of organisation A (in the
    second-stage queue of reviewer_a), saved by the lead; its values."""
    first = {**first_stage_values(f"CASE-{tag}", overall=1), "review_id": f"R-{tag}-FIRST",
             "death_month": "2021-08", "review_date": "2021-10-01",
             "reviewer_id": reviewer or gov.other_reviewer_id}
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        lead.save_review(first)
    return first


def _second(first: dict, review_id: str, **changes) -> dict:
    values = {**first, "review_id": review_id, "review_stage": "second",
              "second_review_of": first["review_id"], "status": "draft",
              "avoidability_score": 3, "avoidability_scale": "rcp"}
    values.pop("reviewer_id")
    values.update(changes)
    return values


# ------------------------------------------------------------ 1. second stage, once ----
def test_a_reviewer_cannot_start_a_second_second_stage_review(governed):  # noqa: F811
    """The audit's two tabs: the same queue entry started as a second-stage review twice by
    one reviewer gave two second-stage reviews of one first-stage review."""
    gov = governed
    first = _first(gov, "TWO-TABS")
    with open_session("reviewer_a", gov.app_url, tool="test") as s:
        assert first["review_id"] in set(s.second_stage_queue()["review_id"])
        s.save_review(_second(first, "R-TWO-TABS-S1"))  # a draft takes it off the queue
        with pytest.raises(AccessDenied, match="already has a second-stage review") as refused:
            s.save_review(_second(first, "R-TWO-TABS-S2", status="submitted"))
    assert first["review_id"] in str(refused.value) and "Nothing was saved" in str(refused.value)
    assert _seconds_of(gov, first["review_id"]) == [("R-TWO-TABS-S1", gov.reviewer_id, "draft")]
    assert any("R-TWO-TABS-S2" in scope for scope in _denials(gov, "save_review"))
    # Their own draft is still theirs to finish.
    with open_session("reviewer_a", gov.app_url, tool="test") as s:
        draft = s.review("R-TWO-TABS-S1")
        s.save_review(_second(first, "R-TWO-TABS-S1", status="submitted"),
                      expected_version=int(draft["version"]))
    assert _seconds_of(gov, first["review_id"]) == [("R-TWO-TABS-S1", gov.reviewer_id,
                                                     "submitted")]


def test_a_lead_cannot_add_a_second_stage_review_to_one_that_has_one(governed):  # noqa: F811
    """A lead reads everything of their organisation: the session, not the queue the form
    looks at, must refuse a second second-stage review, whatever its reviewer or status."""
    gov = governed
    first = _first(gov, "LEAD")
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        lead.save_review({**_second(first, "R-LEAD-S1"), "reviewer_id": gov.reviewer_id})
        for status in ("draft", "submitted"):
            with pytest.raises(AccessDenied, match="already has a second-stage review"):
                lead.save_review({**_second(first, f"R-LEAD-S2{status[0]}", status=status),
                                  "reviewer_id": "RVW-THIRD"})
    assert [r[0] for r in _seconds_of(gov, first["review_id"])] == ["R-LEAD-S1"]


def test_another_reviewer_is_refused_once_the_first_stage_is_taken(governed):  # noqa: F811
    """Taken by another reviewer (a draft): refused, in words that say why."""
    gov = governed
    first = _first(gov, "TAKEN", reviewer="RVW-FIRST-ONLY")
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        lead.save_review({**_second(first, "R-TAKEN-S1"), "reviewer_id": gov.other_reviewer_id})
    with open_session("reviewer_a", gov.app_url, tool="test") as s:
        assert first["review_id"] not in set(s.second_stage_queue()["review_id"])
        with pytest.raises(AccessDenied, match="second-stage queue|already has a second-stage"):
            s.save_review(_second(first, "R-TAKEN-S2"))
    assert [r[0] for r in _seconds_of(gov, first["review_id"])] == ["R-TAKEN-S1"]


def test_two_sessions_saving_at_once_make_one_second_stage_review(governed):  # noqa: F811
    """Two sessions (two tabs, two kernels) submitting a second-stage review of one
    first-stage review at the same moment: one is saved, the other refused."""
    gov = governed
    first = _first(gov, "RACE")
    start = threading.Barrier(2)
    outcome: dict[str, str] = {}

    def save(review_id: str) -> None:
        with open_session("reviewer_a", gov.app_url, tool="test") as s:
            start.wait()
            try:
                s.save_review(_second(first, review_id, status="submitted"))
                outcome[review_id] = "saved"
            except AccessDenied as exc:
                outcome[review_id] = str(exc)
            except Exception as exc:  # noqa: BLE001  (shown by the assertion below)
                outcome[review_id] = f"error: {exc!r}"

    threads = [threading.Thread(target=save, args=(f"R-RACE-S{i}",)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(v == "saved" for v in outcome.values()) == [False, True], outcome
    assert len(_seconds_of(gov, first["review_id"])) == 1


# ------------------------------------------------ 2. one first stage per reviewer ----
def test_a_reviewer_cannot_save_a_second_first_stage_review_of_a_case(governed):  # noqa: F811
    gov = governed
    values = {**first_stage_values("TWIN-0001"), "death_month": "2021-08",
              "review_date": "2021-10-01", "status": "draft"}
    with open_session("reviewer_a", gov.app_url, tool="test") as s:
        s.save_review({**values, "review_id": "R-TWIN-1"})
        for status in ("draft", "submitted"):
            with pytest.raises(AccessDenied, match="already has a first-stage review of case "
                                                   "'TWIN-0001'") as refused:
                s.save_review({**values, "review_id": f"R-TWIN-2{status[0]}", "status": status,
                               "case_id": " TWIN-0001 "})
            assert "R-TWIN-1" in str(refused.value)
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        with pytest.raises(AccessDenied, match="already has a first-stage review"):
            lead.save_review({**values, "review_id": "R-TWIN-3", "reviewer_id": gov.reviewer_id})
        # another reviewer's first-stage review of the same case is an ordinary one
        lead.save_review({**values, "review_id": "R-TWIN-4",
                          "reviewer_id": gov.other_reviewer_id})
        # ... and so is the reviewer's second-stage review of another's review of the case
    assert sorted(r[0] for r in _rows(gov, "SELECT review_id FROM reviews WHERE case_id = "
                                           "'TWIN-0001'")) == ["R-TWIN-1", "R-TWIN-4"]
    assert any("R-TWIN-2d" in scope for scope in _denials(gov, "save_review"))
    with open_session("reviewer_a", gov.app_url, tool="test") as s:  # changing it still works
        stored = s.review("R-TWIN-1")
        s.save_review({**values, "review_id": "R-TWIN-1", "status": "submitted"},
                      expected_version=int(stored["version"]))


# --------------------------------------------- 3. identifiers are not looked up ----
def _nothing_of_the_number_in_the_log(gov) -> None:
    digits = NHS.replace(" ", "")
    with open_session("admin", gov.app_url, tool="test") as admin:
        log = admin.audit_log()
    scopes = log["scope"].astype(str)
    assert not scopes.str.contains(f"{NHS}|{digits}|943 476|476 5919").any()
    assert not any(NHS in s or digits in s for s in _denials(gov, "review")
                   + _denials(gov, "lock_review") + _denials(gov, "save_review")
                   + _denials(gov, "code_review") + _denials(gov, "theme_codes"))


def test_an_nhs_number_as_review_id_is_not_looked_up_nor_audited(governed):  # noqa: F811
    gov = governed
    with open_session("reviewer_a", gov.app_url, tool="test") as s:
        with pytest.raises(AccessDenied, match="looks like a patient identifier") as refused:
            s.review(NHS)
    message = str(refused.value)
    assert "NHS number" in message
    assert not any(part in message for part in ("943", "476", "5919"))
    _nothing_of_the_number_in_the_log(gov)
    # The refusal is still audited, with a placeholder where the id was.
    assert any("withheld" in scope for scope in _denials(gov, "review"))


@pytest.mark.parametrize("call", ["lock_review", "save_review", "save_review.second_review_of",
                                  "save_review.changed", "code_review", "theme_codes"])
def test_no_door_records_an_identifier_typed_as_a_review_id(governed, call):  # noqa: F811
    gov = governed
    user = "lead_a"
    with open_session(user, gov.app_url, tool="test") as s:
        with pytest.raises(AccessDenied, match="looks like a patient identifier"):
            if call == "lock_review":
                s.lock_review(NHS, expected_version=1)
            elif call == "save_review":
                s.save_review({**first_stage_values("NHS-CASE"), "review_id": NHS,
                               "reviewer_id": gov.reviewer_id, "organisation_code": "XX9"})
            elif call == "save_review.second_review_of":
                s.save_review({**first_stage_values("NHS-CASE"), "review_id": "R-NHS-2",
                               "review_stage": "second", "second_review_of": NHS,
                               "reviewer_id": gov.reviewer_id})
            elif call == "save_review.changed":
                s.save_review({"review_id": f"  {NHS}"}, expected_version=3)
            elif call == "code_review":
                s.code_review(NHS, "sepsis")
            else:
                s.theme_codes(NHS)
    _nothing_of_the_number_in_the_log(gov)
    assert not _rows(gov, "SELECT review_id FROM reviews WHERE review_id IN ('R-NHS-2', :n)",
                     n=NHS)


def test_ordinary_review_ids_are_still_looked_up(governed):  # noqa: F811
    gov = governed
    with open_session("reviewer_a", gov.app_url, tool="test") as s:
        with pytest.raises(AccessDenied, match="not in the scope"):
            s.review("XA9-SJR999999")
        own = s.reviews().iloc[0]["review_id"]
        assert s.review(own)["review_id"] == own
    assert any("XA9-SJR999999" in scope for scope in _denials(gov, "review"))


# ------------------------------------------- 4. a CHI number is named a CHI number ----
@pytest.mark.parametrize("written", ["CHI.0101901232", "Chi no.0101901232", "seen.0101901239",
                                     "(0101) 901232", "CHI 0101901232-1", "CHI 0101901232.5"])
def test_a_chi_number_the_ten_digit_rule_misses_is_named_a_chi_number(written):
    """A plausible CHI number (a real DDMMYY date of birth, a valid modulus-11 or -10 check
    digit) written where the ten-digit rule does not look (after a full stop, in brackets,
    before '-1') was found only by the telephone rule: refused, but named a 'telephone
    number' and masked as one, keeping its first three digits, part of the date of birth."""
    from sjrlib.privacy import KINDS, chi_number_is_valid, describe, find_identifiers

    found = find_identifiers(written)
    assert [f.kind for f in found] == ["chi_number"], found
    assert chi_number_is_valid(found[0].text.replace("(", "").replace(")", ""))
    assert KINDS[found[0].kind] == "CHI number"
    assert not any(c.isdigit() for c in describe(found))  # no digit of the date of birth


@pytest.mark.parametrize("written", ["CHI.0101901233", "Call 01632 960123", "tel 0113 496 0000",
                                     "+44 20 7946 0018"])
def test_a_telephone_number_is_still_a_telephone_number(written):
    """Not a plausible CHI number (a wrong check digit, eleven digits, an international
    prefix): still refused, as a telephone number."""
    from sjrlib.privacy import find_identifiers

    assert [f.kind for f in find_identifiers(written)] == ["phone"]


def test_the_screen_still_refuses_a_chi_number_as_a_review_id(governed):  # noqa: F811
    gov = governed
    with open_session("reviewer_a", gov.app_url, tool="test") as s:
        with pytest.raises(AccessDenied, match=r"patient identifier \(CHI number\)"):
            s.review("CHI.0101901232")


# ------------------------------------- 5. "not in the future" is the date in the UK ----
def _just_after_midnight_bst():
    """00:30 on 2 June 2026 in the UK (BST, UTC+1): still 1 June in UTC."""
    import datetime as dt

    return dt.datetime(2026, 6, 1, 23, 30, tzinfo=dt.UTC)


def _review_date_errors(review_date: str) -> list[str]:
    import pandas as pd

    from sjrlib import domain
    from sjrlib.schema import ValidationFailed, validate_reviews

    values = {**first_stage_values("UK-DAY"), "organisation_code": "XQ1",
              "reviewer_id": "RVW-A", "death_month": "2026-05", "review_date": review_date}
    frame = pd.DataFrame([{c: values.get(c) for c in domain.REVIEW_COLUMNS}])
    try:
        validate_reviews(frame, source="test", known_organisations=["XQ1"])
    except ValidationFailed as exc:
        return [str(e) for e in exc.errors if "review_date" in str(e)]
    return []


def test_today_in_the_uk_is_not_in_the_future_just_after_midnight_bst(monkeypatch):
    """Validation took 'today' from the server's clock (UTC): just after midnight BST the UK
    date, typed as the review date, was 'in the future'. Today is the date in Europe/London."""
    from sjrlib import rules

    monkeypatch.setattr(rules, "_utc_now", _just_after_midnight_bst, raising=False)
    assert _review_date_errors("2026-06-02") == []  # today in the UK
    assert any("in the future" in e for e in _review_date_errors("2026-06-03"))
    assert rules.uk_today().isoformat() == "2026-06-02"


def test_the_form_takes_the_date_in_the_uk(governed, monkeypatch):  # noqa: F811
    """The review form's today (the review date it fills in, the month of death it checks)
    is the date in the UK too, when it is built and when its page is opened again."""
    import datetime as dt

    from sjrlib import rules
    from sjrlib.dashboards.entry_form import ReviewForm

    monkeypatch.setattr(rules, "_utc_now", _just_after_midnight_bst, raising=False)
    form = ReviewForm(open_session("reviewer_a", governed.app_url, tool="test"))
    assert form.today == dt.date(2026, 6, 2)
    form.today = dt.date(2020, 1, 1)
    form.page_opened()
    assert form.today == dt.date(2026, 6, 2)
    assert form.fields["review_date"].value == dt.date(2026, 6, 2)


def test_a_streamed_import_takes_the_date_in_the_uk(tmp_path, monkeypatch):
    """`sjr import reviews` validates a CSV file in streamed blocks (sjrlib.io.stream_reviews),
    which took the server's date as today."""
    import pandas as pd

    from sjrlib import domain, io, rules
    from sjrlib.schema import ValidationFailed

    monkeypatch.setattr(rules, "_utc_now", _just_after_midnight_bst, raising=False)

    def blocks(review_date: str) -> list[str]:
        values = {**first_stage_values("UK-DAY"), "organisation_code": "XQ1",
                  "reviewer_id": "RVW-A", "death_month": "2026-05",
                  "review_date": review_date}
        path = tmp_path / f"reviews-{review_date}.csv"
        pd.DataFrame([{c: values.get(c) for c in domain.REVIEW_COLUMNS}]).to_csv(
            path, index=False)
        try:
            list(io.stream_reviews(path, known_organisations=["XQ1"]))
        except ValidationFailed as exc:
            return [str(e) for e in exc.errors if "review_date" in str(e)]
        return []

    assert blocks("2026-06-02") == []
    assert any("in the future" in e for e in blocks("2026-06-03"))
