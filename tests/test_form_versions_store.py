"""Reviews of both form versions in the store, on SQLite and PostgreSQL: imports, one-review
saves, loads, referrals as child rows, exports that round-trip, researchers' views.

The data: a synthetic set over April 2024 to March 2025, so reviews of deaths before September
2024 are ``rcp2017`` and later ones ``ext2026`` with referrals (``sjrlib.synthetic.ext2026``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pandas as pd
import pytest
from dashboard_store import populate
from sqlalchemy import func, select, text

from data_access import open_session, store
from data_access.models import Referral, Review
from data_access.pseudonymise import FREE_TEXT_COLUMNS, researcher_view
from data_access.session import bootstrap_administrator
from sjrlib import domain, io, schema
from sjrlib.form.registry import BASE_VERSION, LATEST_VERSION, registry
from sjrlib.synthetic import generate

TODAY = dt.date(2026, 11, 26)
NEW = registry().columns_not_in(BASE_VERSION)
REFERRAL_STATUS = [domain.referral_column(t) for t in domain.REFERRAL_TYPES]
REFERRAL_REF = [domain.referral_ref_column(t) for t in domain.REFERRAL_TYPES]


@pytest.fixture(scope="module")
def generated():
    """Synthetic data of both versions: 4 organisations (one Scottish), reviews of 2024-25."""
    return generate(n_organisations=4, years=1, seed=3, start_year=2024, n_scottish=34,
                    today=TODAY)


@pytest.fixture(scope="module")
def mixed(generated):
    """Validated frames of both versions (organisations, deaths, reviews)."""
    organisations = schema.validate_organisations(generated.organisations)
    reviews = schema.validate_reviews(generated.reviews, known_organisations=organisations)
    deaths = schema.validate_deaths(generated.deaths, known_organisations=organisations)
    assert set(reviews["form_version"]) == {BASE_VERSION, LATEST_VERSION}
    return organisations, deaths, reviews


@pytest.fixture
def url(db_url, generated):
    """A store holding ``generated`` (imported as the dashboards' test stores are)."""
    populate(db_url, generated)
    return db_url


def _load(url: str, **filters) -> pd.DataFrame:
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            return store.load_reviews(conn, **filters)
    finally:
        engine.dispose()


def _referral_rows(url: str) -> list[tuple]:
    engine = store.get_engine(url)
    table = Referral.__table__
    try:
        with engine.connect() as conn:
            # each under its review's organisation (the key to it holds that: 0035)
            reviews = Review.__table__
            assert conn.execute(select(func.count()).select_from(table).join(
                reviews, reviews.c.review_id == table.c.review_id).where(
                reviews.c.organisation_code != table.c.organisation_code)).scalar_one() == 0
            return [tuple(r) for r in conn.execute(select(
                table.c.review_id, table.c.referral_type, table.c.referral_status,
                table.c.referral_reference).order_by(table.c.review_id, table.c.referral_type))]
    finally:
        engine.dispose()


def _expected_referral_rows(reviews: pd.DataFrame) -> list[tuple]:
    rows = []
    for kind, status, reference in zip(domain.REFERRAL_TYPES, REFERRAL_STATUS, REFERRAL_REF,
                                       strict=True):
        given = reviews[reviews[status].notna()]
        rows += [(r, kind, s, None if pd.isna(f) else f) for r, s, f in
                 zip(given["review_id"], given[status], given[reference], strict=True)]
    return sorted(rows)


def test_both_versions_load_back_exactly_as_imported(url, mixed):
    _, _, reviews = mixed
    loaded = _load(url)
    expected = reviews.sort_values("review_id", ignore_index=True)
    pd.testing.assert_frame_equal(loaded[list(domain.REVIEW_COLUMNS)], expected)
    assert set(NEW) <= set(loaded.columns) and "form_version" in loaded.columns
    old = loaded[loaded["form_version"] == BASE_VERSION]
    assert len(old) and old[list(NEW)].isna().all().all()
    # referrals are child rows: one per review and type with a status, with its reference
    rows = _referral_rows(url)
    assert rows == _expected_referral_rows(reviews)
    assert len(rows) > 50 and any(r[3] is not None for r in rows)


def test_load_filters_and_ids_keep_the_ext2026_columns(url, mixed):
    _, _, reviews = mixed
    org = sorted(reviews["organisation_code"].unique())[0]
    got = _load(url, organisation_codes=[org], start_month="2024-09", stage="first")
    keep = ((reviews["organisation_code"] == org) & (reviews["death_month"] >= "2024-09")
            & (reviews["review_stage"] == "first"))
    expected = reviews[keep].sort_values("review_id", ignore_index=True)
    pd.testing.assert_frame_equal(got[list(domain.REVIEW_COLUMNS)], expected)
    assert (got["form_version"] == LATEST_VERSION).all()


def _governed(url: str, org: str) -> None:
    bootstrap_administrator("admin", url)
    with open_session("admin", url, tool="test") as admin:
        admin.add_user("lead", "organisation_lead", organisation_code=org, reviewer_id="RV-L")
        admin.add_user("programme", "programme_team")


def _english(mixed) -> str:
    organisations = mixed[0]
    return sorted(organisations.loc[organisations["nation"] == "england",
                                    "organisation_code"])[0]


def _ext2026_values(review_id: str, **referrals: tuple[str, str | None]) -> dict:
    values = {
        "review_id": review_id, "case_id": f"C-{review_id}", "review_stage": "first",
        "reviewer_id": "RV-L",
        "status": "submitted", "form_version": LATEST_VERSION, "review_date": "2026-11-02",
        "review_reasons": "medical_examiner", "age_at_death": 82, "sex": "female",
        "death_month": "2026-08", "admission_type": "emergency", "learning_disability": "no",
        "autism": "no", "clinical_frailty_scale": 7, "me_scrutiny": "yes", "me_concern": "yes",
        "family_concern": "no", "family_involved": "yes", "family_feedback": "not_yet",
        "escalation_plan": "no", "dying_recognised": "no",
        "score_end_of_life": 2, "comment_end_of_life": "Dying was not recognised.",
        "score_overall": 2, "comment_overall": "Late recognition of deterioration.",
        "record_quality_score": 3, "any_problems": "yes", "problem_monitoring": "yes",
    }
    for kind, (status, reference) in referrals.items():
        values[domain.referral_column(kind)] = status
        values[domain.referral_ref_column(kind)] = reference
    return values


def test_a_lead_saves_and_changes_an_ext2026_review_with_referrals(url, mixed):
    org = _english(mixed)
    _governed(url, org)
    values = _ext2026_values("SJR-EXT-1", psii=("made", "PSII/26/004"),
                             coroner=("considered_not_needed", None))
    with open_session("lead", url, tool="test") as lead:
        review_id, version = lead.save_review(values)
        saved = lead.review(review_id)
    assert saved["form_version"] == LATEST_VERSION and saved["clinical_frailty_scale"] == 7
    assert saved[domain.referral_column("psii")] == "made"
    assert saved[domain.referral_ref_column("psii")] == "PSII/26/004"
    assert saved[domain.referral_column("coroner")] == "considered_not_needed"
    assert saved[domain.referral_column("leder")] is None
    mine = [r for r in _referral_rows(url) if r[0] == review_id]
    assert mine == [(review_id, "coroner", "considered_not_needed", None),
                    (review_id, "psii", "made", "PSII/26/004")]
    # the coroner referral withdrawn, the PSII completed, a mortality meeting added
    changed = _ext2026_values("SJR-EXT-1", psii=("completed", "PSII/26/004"),
                              mortality_meeting=("planned", None))
    with open_session("lead", url, tool="test") as lead:
        assert lead.save_review(changed, expected_version=version) == (review_id, version + 1)
    mine = [r for r in _referral_rows(url) if r[0] == review_id]
    assert mine == [(review_id, "mortality_meeting", "planned", None),
                    (review_id, "psii", "completed", "PSII/26/004")]


def test_a_review_saved_without_a_version_is_rcp2017_and_keeps_no_new_answer(url, mixed):
    org = _english(mixed)
    _governed(url, org)
    values = {k: v for k, v in _ext2026_values("SJR-OLD-1").items()
              if k not in NEW and k != "form_version"}
    with open_session("lead", url, tool="test") as lead:
        review_id, _ = lead.save_review(values)
        saved = lead.review(review_id)
    assert saved["form_version"] == BASE_VERSION
    assert all(saved[c] is None for c in NEW)


def test_a_reference_without_a_referral_is_refused_by_the_store(url, mixed):
    """Validation refuses it first (referral_ref_needs_referral); the store does too, rather
    than lose it, on both write paths, and writes nothing."""
    org = _english(mixed)
    before = _referral_rows(url)
    cells = _ext2026_values("SJR-ORPHAN", psii=(None, "PSII/26/009"))
    cells["organisation_code"] = org
    engine = store.get_engine(url)
    try:
        with pytest.raises(store.StoreError, match="referral_ref_psii"), engine.begin() as conn:
            store.save_review(conn, cells)
        frame = pd.DataFrame([{c: cells.get(c) for c in domain.REVIEW_COLUMNS}])
        frame = frame.astype(domain.REVIEW_DTYPES)
        with pytest.raises(store.StoreError, match="referral_ref_psii"):
            store.import_reviews(engine, frame)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM reviews WHERE review_id = "
                                     "'SJR-ORPHAN'")).scalar_one() == 0
    finally:
        engine.dispose()
    assert _referral_rows(url) == before


def test_an_import_with_update_replaces_referrals(url, mixed):
    _, _, reviews = mixed
    kind = "mortality_meeting"
    status, reference = domain.referral_column(kind), domain.referral_ref_column(kind)
    with_one = reviews[reviews[status].notna() & (reviews["status"] != "locked")]
    target = with_one["review_id"].iloc[0]
    changed = reviews.copy()
    row = changed["review_id"] == target
    changed.loc[row, status] = pd.NA
    changed.loc[row, reference] = pd.NA
    changed.loc[row, domain.referral_column("thematic_review")] = "planned"
    engine = store.get_engine(url)
    try:
        with pytest.raises(store.ImportConflictError, match=target):
            store.import_reviews(engine, changed)
        result = store.import_reviews(engine, changed, update=True)
    finally:
        engine.dispose()
    assert (result.updated, result.inserted) == (1, 0)
    assert [r for r in _referral_rows(url) if r[0] == target] == [
        (target, "thematic_review", "planned", None)]
    loaded = _load(url)
    pd.testing.assert_frame_equal(loaded[list(domain.REVIEW_COLUMNS)],
                                  changed.sort_values("review_id", ignore_index=True))


def test_export_round_trip_keeps_every_answer_of_both_versions(url, mixed, tmp_path):
    _governed(url, _english(mixed))
    with open_session("admin", url, tool="test") as admin:
        exported = admin.export("reviews")
    assert set(NEW) <= set(exported.columns)  # the columns of every version present
    path = tmp_path / "reviews.csv"
    io.write_reviews(exported, path)
    organisations, deaths, reviews = mixed
    other = f"sqlite:///{tmp_path / 'again.db'}"
    store.init_db(other)
    engine = store.get_engine(other)
    try:
        store.import_organisations(engine, organisations)
        read = io.read_reviews(path, known_organisations=organisations)
        store.import_reviews(engine, read)
    finally:
        engine.dispose()
    again = _load(other)
    pd.testing.assert_frame_equal(again[list(domain.REVIEW_COLUMNS)],
                                  reviews.sort_values("review_id", ignore_index=True))
    assert _referral_rows(other) == _referral_rows(url)


def test_an_export_of_2017_reviews_only_has_no_ext2026_column(db_url, generated, mixed):
    reviews = generated.reviews
    populate(db_url, replace(generated, reviews=reviews[reviews["form_version"] == BASE_VERSION]))
    _governed(db_url, _english(mixed))
    with open_session("admin", db_url, tool="test") as admin:
        exported = admin.export("reviews")
    assert not set(NEW) & set(exported.columns)
    assert (exported["form_version"] == BASE_VERSION).all()


def test_researchers_get_ext2026_fields_only_when_approved_and_references_redacted(mixed):
    _, _, reviews = mixed
    kind = "psii"
    reference = domain.referral_ref_column(kind)
    assert reference in FREE_TEXT_COLUMNS  # free text, by the registry
    frame = reviews[reviews[reference].notna()].head(3).copy()
    frame.loc[frame.index[0], reference] = "PSII 943 476 5919"  # slipped past the checks
    fields = ["review_id", "autism", domain.referral_column(kind), reference]
    secret = b"s" * 32
    with_text = researcher_view(frame, fields=fields, free_text=True, coarsening="month",
                                secret=secret)
    without = researcher_view(frame, fields=fields, free_text=False, coarsening="month",
                              secret=secret)
    assert list(without.columns) == fields[:3]
    assert "943 476 5919" not in with_text[reference].iloc[0]
    assert "[NHS_NUMBER]" in with_text[reference].iloc[0]
    assert with_text[reference].iloc[1:].tolist() == frame[reference].iloc[1:].tolist()
    assert with_text["autism"].tolist() == frame["autism"].tolist()


def test_a_researcher_extracts_the_ext2026_fields_an_approval_releases(url, mixed, tmp_path):
    from data_access import AccessDenied
    from data_access.approvals import ApprovalSpec
    from data_access.extract import read_extract

    organisations, _, reviews = mixed
    _governed(url, _english(mixed))
    codes = tuple(organisations["organisation_code"])
    fields = ("review_id", "death_month", "autism", "clinical_frailty_scale", "me_scrutiny",
              domain.referral_column("psii"), domain.referral_ref_column("psii"))
    today = dt.date.today()

    def spec(approval_id: str, free_text: bool, released=fields) -> ApprovalSpec:
        return ApprovalSpec(id=approval_id, applicants=("res",), purpose="ext2026 study",
                            organisations=codes, period_start="2024-04",
                            period_end="2025-03", fields=released, free_text=free_text,
                            start_date=today - dt.timedelta(days=1),
                            end_date=today + dt.timedelta(days=30))

    with pytest.raises(ValueError, match="referral_ref_psii need free_text"):
        spec("DARG-X0", False)  # a referral's reference is free text, by the registry
    with open_session("admin", url, tool="test") as admin:
        admin.add_user("res", "researcher")
        admin.add_approval(spec("DARG-X1", True))
        admin.add_approval(spec("DARG-X2", False, fields[:-1]))
    with open_session("res", url, tool="test") as res:
        result = res.extract("DARG-X1", tmp_path / "x1.parquet")
        without = res.reviews(approval_id="DARG-X2")
        with pytest.raises(AccessDenied, match="does not release"):
            res.reviews(approval_id="DARG-X2", columns=["family_concern"])
    frame = read_extract(result.path)
    assert list(frame.columns) == list(fields)
    released = reviews[reviews["status"] != "draft"]
    assert len(frame) <= len(released) and len(frame) > 0.9 * len(released)
    ext = frame[frame["autism"].notna()]
    assert len(ext) and frame["clinical_frailty_scale"].dropna().between(1, 9).all()
    assert set(ext["me_scrutiny"].dropna()) <= {"yes", "no", "unknown", "not_applicable"}
    references = frame[domain.referral_ref_column("psii")].dropna()
    assert len(references) and references.str.fullmatch(r"PSII/\d\d/\d{3}").all()
    assert domain.referral_ref_column("psii") not in without.columns
    assert not set(frame["review_id"]) & set(reviews["review_id"])  # pseudonymised


def test_a_question_registered_gets_its_store_column_from_the_registry():
    """The reviews table's ext2026 columns are made from the registry: a question registered
    there gets its column and the check of its answers (the migration adding it is the one
    step by hand, and tests/test_store.py compares the two)."""
    from sqlalchemy import Integer, String, Text

    from data_access.models import Review, question_columns
    from sjrlib.form.registry import Field, Kind, answer_list

    assert [name for name, _, _ in question_columns()] == [
        "form_version", *(c for c in NEW if c in Review.__table__.c)]
    reg = registry()
    for question in (
        Field("sepsis_screen", "Was sepsis screening done?", Kind.ANSWERS, "screening",
              answers=answer_list("yn_unknown"), versions=(LATEST_VERSION,)),
        Field("news2_peak", "Highest NEWS2 score", Kind.INTEGER, "screening", low=0, high=20,
              versions=(LATEST_VERSION,)),
        Field("panel_note", "Panel note", Kind.FREE_TEXT, "end_of_life",
              privacy=reg.column("comment_overall").privacy, max_length=200,
              versions=(LATEST_VERSION,)),
    ):
        reg = reg.with_question(question, after="autism")
    made = {name: (column.column, check) for name, column, check in question_columns(reg)}
    assert list(made)[:5] == ["form_version", "autism", "panel_note", "news2_peak",
                              "sepsis_screen"]
    column, check = made["sepsis_screen"]
    assert isinstance(column.type, String) and column.nullable
    assert all(f"sepsis_screen = '{a}'" in str(check.sqltext) for a in ("yes", "no", "unknown"))
    column, check = made["news2_peak"]
    assert isinstance(column.type, Integer) and "BETWEEN 0 AND 20" in str(check.sqltext)
    column, check = made["panel_note"]
    assert isinstance(column.type, (String, Text)) and "<= 200" in str(check.sqltext)
