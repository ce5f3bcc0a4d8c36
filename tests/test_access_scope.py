"""Every way round the row, column and role rules must fail (SQLite and PostgreSQL).

On PostgreSQL the sessions connect as an ordinary role, so row-level security is in force too.
Each refusal is an :class:`AccessDenied`; tests also check that nothing outside scope came back.
"""

from __future__ import annotations

import pandas as pd
import pytest
from access_setup import approval, governed  # noqa: F401  (governed: fixture)
from sqlalchemy import text

from data_access import AccessDenied, open_session
from data_access import store as store_module


def _other_org_review(gov, org: str) -> str:
    engine = store_module.get_engine(gov.owner_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT min(review_id) FROM reviews "
                                     "WHERE organisation_code = :o"), {"o": org}).scalar_one()
    finally:
        engine.dispose()


# ------------------------------------------------------------------ organisation leads ----
def test_lead_sees_only_their_organisation(governed):  # noqa: F811
    with open_session("lead_a", governed.app_url, tool="test") as s:
        assert s.organisation_codes == (governed.org_a,)
        reviews = s.reviews()
        assert len(reviews) > 0
        assert set(reviews["organisation_code"]) == {governed.org_a}
        assert set(s.deaths()["organisation_code"]) == {governed.org_a}
        assert set(s.organisations()["organisation_code"]) == {governed.org_a}
        queue = s.second_stage_queue()
        assert set(queue["organisation_code"]) <= {governed.org_a}


@pytest.mark.parametrize("asked", ["B", ["B"], ["A", "B"], ["B", "C"], ["A' OR '1'='1"]])
def test_lead_asking_for_another_organisation_is_refused(governed, asked):  # noqa: F811
    codes = {"A": governed.org_a, "B": governed.org_b, "C": governed.org_c}
    if isinstance(asked, str):
        asked = codes.get(asked, asked)
    else:
        asked = [codes.get(a, a) for a in asked]
    with open_session("lead_a", governed.app_url, tool="test") as s:
        with pytest.raises(AccessDenied, match="outside the scope"):
            s.reviews(organisation_codes=asked)
        with pytest.raises(AccessDenied, match="outside the scope"):
            s.deaths(organisation_codes=asked)


def test_lead_filters_cannot_smuggle_sql(governed):  # noqa: F811
    with open_session("lead_a", governed.app_url, tool="test") as s:
        with pytest.raises(ValueError, match="stage"):
            s.reviews(stage="first' OR 1=1 --")
        with pytest.raises(ValueError, match="month"):
            s.reviews(start_month="2021-04' OR '1'='1")
        # an empty list of organisations is not "all organisations"
        assert len(s.reviews(organisation_codes=[])) == 0


def test_lead_cannot_read_another_organisations_review_by_raw_id(governed):  # noqa: F811
    foreign = _other_org_review(governed, governed.org_b)
    with open_session("lead_a", governed.app_url, tool="test") as s:
        with pytest.raises(AccessDenied) as foreign_exc:
            s.review(foreign)
        with pytest.raises(AccessDenied) as missing_exc:
            s.review("NO-SUCH-REVIEW")
    # the same answer whether the id exists elsewhere or not at all: no existence oracle
    assert str(foreign_exc.value).replace(foreign, "X") == \
        str(missing_exc.value).replace("NO-SUCH-REVIEW", "X")


def test_lead_cannot_write_or_lock_another_organisations_review(governed):  # noqa: F811
    foreign = _other_org_review(governed, governed.org_b)
    with open_session("lead_b", governed.app_url, tool="test") as s:
        values = s.review(foreign)
    with open_session("lead_a", governed.app_url, tool="test") as s:
        with pytest.raises(AccessDenied):
            s.save_review(dict(values), expected_version=int(values["version"]))
        with pytest.raises(AccessDenied):
            s.lock_review(foreign, expected_version=int(values["version"]))
        moved = dict(values, organisation_code=governed.org_a)
        with pytest.raises(AccessDenied):  # re-labelling it as ours does not help either
            s.save_review(moved, expected_version=int(values["version"]))
    with open_session("lead_b", governed.app_url, tool="test") as s:
        assert s.review(foreign)["version"] == values["version"]


def test_trust_report_parameters_cannot_name_another_organisation(governed):  # noqa: F811
    from sjrlib.report.data import read_window

    with open_session("lead_a", governed.app_url, tool="report") as s:
        with pytest.raises(AccessDenied):
            read_window(s, "2021-04", "2022-03", [governed.org_b])
        reviews, deaths, organisations = read_window(s, "2021-04", "2022-03",
                                                     [governed.org_a])
    assert set(reviews["organisation_code"]) == {governed.org_a}
    assert set(organisations["organisation_code"]) == {governed.org_a}


def test_lead_cannot_read_as_a_researcher(governed):  # noqa: F811
    with open_session("lead_a", governed.app_url, tool="test") as s:
        with pytest.raises(AccessDenied):
            s.reviews(approval_id="DARG-2")


# --------------------------------------------------------------------------- reviewers ----
def test_reviewer_sees_own_reviews_and_own_queue_only(governed):  # noqa: F811
    with open_session("reviewer_a", governed.app_url, tool="test") as s:
        own = s.reviews()
        assert len(own) > 0
        assert set(own["reviewer_id"]) == {governed.reviewer_id}
        assert set(own["organisation_code"]) == {governed.org_a}
        queue = s.second_stage_queue()
        assert set(queue["organisation_code"]) <= {governed.org_a}
        assert governed.reviewer_id not in set(queue["reviewer_id"])  # never one's own
        with pytest.raises(AccessDenied):
            s.deaths()
        with pytest.raises(AccessDenied):
            s.reviews(organisation_codes=[governed.org_b])
    with open_session("lead_a", governed.app_url, tool="test") as s:
        everything = s.reviews()
        lead_queue = s.second_stage_queue()
        queue_ids = set(lead_queue["review_id"])
    # The lead's queue holds this reviewer's poor-care reviews too; the reviewer's own does not.
    assert governed.reviewer_id in set(lead_queue["reviewer_id"])
    theirs = everything[(everything["reviewer_id"] != governed.reviewer_id)
                        & ~everything["review_id"].isin(queue_ids)]
    with open_session("reviewer_a", governed.app_url, tool="test") as s:
        with pytest.raises(AccessDenied):
            s.review(theirs["review_id"].iloc[0])
        assert s.review(own["review_id"].iloc[0])["reviewer_id"] == governed.reviewer_id
        with pytest.raises(AccessDenied):  # saving under another reviewer's reference
            s.save_review({"review_id": "NEW-1", "reviewer_id": governed.other_reviewer_id})


# ------------------------------------------------------------------------- researchers ----
def test_researcher_without_approval_gets_nothing(governed):  # noqa: F811
    with open_session("res_none", governed.app_url, tool="test") as s:
        assert s.organisation_codes == ()
        with pytest.raises(AccessDenied, match="no active"):
            s.reviews()
        with pytest.raises(AccessDenied):
            s.deaths()
        assert len(s.organisations()) == 0
        assert len(s.approvals()) == 0


@pytest.mark.parametrize("user, approval, reason", [
    ("res1", "DARG-OLD", "ended on"),
    ("res2", "DARG-REV", "revoked"),
    ("res2", "DARG-LATER", "starts on"),
    ("res2", "DARG-1", "holds no approval"),  # someone else's approval
    ("res1", "DARG-NONE", "holds no approval"),
])
def test_researcher_with_unusable_approval_is_refused(governed, user, approval,  # noqa: F811
                                                      reason):
    with open_session(user, governed.app_url, tool="test") as s:
        with pytest.raises(AccessDenied, match=reason):
            s.reviews(approval_id=approval)
        with pytest.raises(AccessDenied, match=reason):
            s.deaths(approval_id=approval)


def test_researcher_outside_the_approval_is_refused(governed):  # noqa: F811
    with open_session("res1", governed.app_url, tool="test") as s:
        with pytest.raises(AccessDenied, match="several approvals"):
            s.reviews()
        # an organisation the approval does not cover
        with pytest.raises(AccessDenied, match="outside the scope"):
            s.reviews(approval_id="DARG-1", organisation_codes=[governed.org_c])
        # a period outside the approval's (DARG-1: 2021-04 to 2021-09)
        with pytest.raises(AccessDenied, match="2021-09 only"):
            s.reviews(approval_id="DARG-1", end_month="2021-12")
        with pytest.raises(AccessDenied, match="only"):
            s.reviews(approval_id="DARG-1", start_month="2021-01")
        with pytest.raises(AccessDenied, match="only"):
            s.deaths(approval_id="DARG-1", end_month="2022-03")
        # a field the approval does not release
        with pytest.raises(AccessDenied, match="does not release reviewer_id"):
            s.reviews(approval_id="DARG-2", columns=["review_id", "reviewer_id"])
        with pytest.raises(AccessDenied, match="does not release"):
            s.reviews(approval_id="DARG-2", columns=["comment_overall"])
        # drafts are never released
        with pytest.raises(AccessDenied, match="draft"):
            s.reviews(approval_id="DARG-2", status="draft")
        # record-level tools of reviewers and leads
        with pytest.raises(AccessDenied):
            s.review("anything")
        with pytest.raises(AccessDenied):
            s.second_stage_queue()
        with pytest.raises(AccessDenied):
            s.save_review({"review_id": "X"})


def test_researcher_gets_only_what_the_approval_releases(governed):  # noqa: F811
    with open_session("res1", governed.app_url, tool="test") as s:
        frame = s.reviews(approval_id="DARG-2")
        narrow = s.reviews(approval_id="DARG-1")
    assert list(frame.columns) == ["review_id", "case_id", "organisation_code", "death_month",
                                   "score_overall"]
    assert set(frame["organisation_code"]) <= {governed.org_a, governed.org_b, governed.org_c}
    # quarters within the period, or the year where k-anonymity needed it (the release says)
    unit = narrow.attrs["disclosure"]["period_unit"]
    assert unit in ("quarter", "year")
    assert narrow["death_month"].str.fullmatch(
        r"2021-Q[23]" if unit == "quarter" else r"2021").all()
    assert narrow["review_date"].dropna().str.fullmatch(r"\d{4}(-Q[1-4])?").all()
    assert set(narrow["organisation_code"]) <= {governed.org_a, governed.org_b}
    engine = store_module.get_engine(governed.owner_url)
    try:
        with engine.connect() as conn:
            stored = store_module.load_reviews(conn)
    finally:
        engine.dispose()
    for column in ("review_id", "case_id"):
        assert not set(frame[column]) & set(stored[column])
    assert not set(narrow["reviewer_id"].dropna()) & set(stored["reviewer_id"].dropna())
    # drafts are not released; the count matches the stored non-draft rows in scope
    released = stored[stored["status"] != "draft"]
    in_scope = released[released["organisation_code"].isin([governed.org_a, governed.org_b])
                        & released["death_month"].between("2021-04", "2021-09")]
    # (less the rows k-anonymity withheld, as counted in the release's description)
    assert len(narrow) == len(in_scope) - narrow.attrs["disclosure"]["suppressed_rows"]


# ------------------------------------------------------------------ identity and users ----
def test_unknown_disabled_and_missing_users_get_nothing(governed, monkeypatch,  # noqa: F811
                                                       tmp_path):
    for var in ("JUPYTERHUB_USER", "SJR_USER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SJR_CONFIG", str(tmp_path / "no-such-identity"))
    with pytest.raises(AccessDenied, match="not a registered user"):
        open_session("stranger", governed.app_url)
    with pytest.raises(AccessDenied, match="disabled"):
        open_session("gone", governed.app_url)
    with pytest.raises(AccessDenied, match="no user identity"):
        open_session(None, governed.app_url)


def test_jupyterhub_user_cannot_claim_another_identity(governed, monkeypatch):  # noqa: F811
    monkeypatch.setenv("JUPYTERHUB_USER", "res2")
    monkeypatch.setenv("SJR_USER", "national")
    with pytest.raises(AccessDenied, match="cannot act as"):
        open_session("national", governed.app_url)
    with open_session(None, governed.app_url) as s:
        assert (s.user, s.role) == ("res2", "researcher")


def test_identity_comes_from_sjr_user_then_the_identity_file(governed, monkeypatch,  # noqa: F811
                                                             tmp_path):
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    identity = tmp_path / "identity"
    identity.write_text("# who runs here\nlead_b\n", encoding="utf-8")
    monkeypatch.setenv("SJR_CONFIG", str(identity))
    monkeypatch.setenv("SJR_USER", "lead_a")
    with open_session(None, governed.app_url) as s:
        assert s.user == "lead_a"
    monkeypatch.delenv("SJR_USER")
    with open_session(None, governed.app_url) as s:
        assert s.user == "lead_b"


@pytest.mark.parametrize("user, call", [
    ("admin", lambda s: s.reviews()),
    ("admin", lambda s: s.deaths()),
    ("admin", lambda s: s.review("x")),
    ("national", lambda s: s.save_review({"review_id": "x"})),
    ("national", lambda s: s.lock_review("x", expected_version=1)),
    ("national", lambda s: s.users()),
    ("lead_a", lambda s: s.users()),
    ("lead_a", lambda s: s.add_user("me2", "programme_team")),
    ("lead_a", lambda s: s.audit_log()),
    ("lead_a", lambda s: s.verify_audit()),
    ("res1", lambda s: s.add_approval(approval("DARG-MINE", ["res1"], ["XQ1"]))),
    ("res1", lambda s: s.revoke_approval("DARG-1", "mine")),
    ("reviewer_a", lambda s: s.lock_review("x", expected_version=1)),
    ("national", lambda s: s.extract("DARG-2", "out.csv")),
])
def test_roles_cannot_use_other_roles_tools(governed, user, call, tmp_path,  # noqa: F811
                                            monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open_session(user, governed.app_url, tool="test") as s:
        with pytest.raises(AccessDenied):
            call(s)
    assert not (tmp_path / "out.csv").exists()


def test_frames_have_the_review_frame_dtypes(governed):  # noqa: F811
    from sjrlib import domain

    with open_session("national", governed.app_url, tool="test") as s:
        frame = s.reviews(stage="second")
    assert list(frame.columns[: len(domain.REVIEW_COLUMNS)]) == list(domain.REVIEW_COLUMNS)
    for column, dtype in domain.REVIEW_DTYPES.items():
        assert str(frame[column].dtype) == dtype, column
    assert (frame["review_stage"] == "second").all()
    assert isinstance(frame, pd.DataFrame)
