"""The exploration dashboard's fast paths give what the plain pandas expressions give.

Filters select rows through integer codes (``explore._ReviewCodes``), the summary counts cases
from them, the reviews table orders them by numpy, and the care-score tab reads % poor care off
the care-score distribution: each is checked here against the straightforward pandas or
``sjrlib.stats`` computation it replaces, on the synthetic data (with a few awkward rows added).
"""

from __future__ import annotations

import gc
import itertools

import numpy as np
import pandas as pd
import pytest
from dashboard_store import add_users, populate

from data_access import open_session
from sjrlib import domain
from sjrlib.dashboards.explore import TABS, Explorer, _ReviewCodes, poor_care_by_phase
from sjrlib.stats import descriptive


def reference_filter(reviews: pd.DataFrame, sel: dict, start: str, end: str) -> pd.DataFrame:
    """The dashboard's filter as first written: pandas comparisons on the string columns."""
    keep = (reviews["death_month"] >= start) & (reviews["death_month"] <= end)
    if sel["organisation_code"]:
        keep &= reviews["organisation_code"] == sel["organisation_code"]
    for column in ("specialty", "admission_type"):
        if sel[column]:
            keep &= reviews[column] == sel[column]
    if sel["review_reason"]:
        keep &= reviews["review_reasons"].str.split(domain.REASON_SEPARATOR).map(
            lambda ids, wanted=sel["review_reason"]: wanted in ids, na_action="ignore")
    return reviews[keep.fillna(False).astype(bool)].reset_index(drop=True)


@pytest.fixture(scope="module")
def reviews(small_data) -> pd.DataFrame:
    """The synthetic reviews, plus rows with a missing month, specialty and reason list."""
    frame = small_data.reviews.copy()
    odd = frame.head(3).copy()
    odd["review_id"] = [f"{r}-odd" for r in odd["review_id"]]
    odd["death_month"] = pd.array([None, "2021-06", "2021-06"], dtype="string")
    odd["specialty"] = pd.array(["oncology", None, "oncology"], dtype="string")
    odd["review_reasons"] = pd.array(["random_sample", "random_sample", None], dtype="string")
    return pd.concat([frame, odd], ignore_index=True)


def selections(reviews: pd.DataFrame):
    months = sorted(reviews["death_month"].dropna().unique())
    periods = [(months[0], months[-1]), (months[3], months[9]), (months[-1], months[-1])]
    orgs = [None, str(reviews["organisation_code"].iloc[0])]
    specialties = [None, "oncology", "no_such_specialty"]
    admissions = [None, "elective"]
    reasons = [None, "family_concern", "random_sample"]
    for (start, end), org, spec, adm, reason in itertools.product(
            periods, orgs, specialties, admissions, reasons):
        yield start, end, {"organisation_code": org, "specialty": spec,
                           "admission_type": adm, "review_reason": reason}


def test_coded_filters_select_the_same_rows_cases_and_table_order(reviews):
    codes = _ReviewCodes(reviews)
    checked = 0
    for start, end, sel in selections(reviews):
        want = reference_filter(reviews, sel, start, end)
        rows = codes.rows(start, end, sel)
        pd.testing.assert_frame_equal(reviews.take(rows).reset_index(drop=True), want)
        for stage in domain.REVIEW_STAGES:
            staged = want[(want["review_stage"] == stage).fillna(False)]
            assert codes.cases(rows, stage) == len(
                staged.drop_duplicates(["organisation_code", "case_id"]))
            newest = staged.sort_values(["death_month", "review_id"], ascending=[False, True])
            pd.testing.assert_frame_equal(
                reviews.take(codes.newest_first(rows, stage)).reset_index(drop=True),
                newest.reset_index(drop=True))
        checked += len(want) > 0
    assert checked > 20  # most selections select something


def test_a_case_is_an_organisation_and_a_case_id(reviews):
    two = reviews.head(2).copy()
    two["case_id"] = "C1"
    two["review_stage"] = "first"
    two["organisation_code"] = ["XA1", "XA2"]
    codes = _ReviewCodes(two)
    assert codes.cases(np.arange(2), "first") == 2
    two["organisation_code"] = "XA1"
    assert _ReviewCodes(two).cases(np.arange(2), "first") == 1


@pytest.mark.parametrize("stage", domain.REVIEW_STAGES)
def test_poor_care_read_off_the_distribution_equals_poor_care(reviews, stage):
    parts = [reviews, reviews.head(40), reviews.head(3), reviews.iloc[:0],
             reviews[reviews["admission_type"] == "elective"]]
    for part in parts:
        got = poor_care_by_phase(descriptive.care_score_distribution(part, stage=stage))
        assert list(got) == list(domain.PHASES)
        for phase in domain.PHASES:
            pd.testing.assert_frame_equal(
                got[phase], descriptive.poor_care(part, phase=phase, stage=stage),
                check_exact=True)


@pytest.fixture(scope="module")
def store(tmp_path_factory, small_data):
    url = f"sqlite:///{tmp_path_factory.mktemp('explore-filters') / 'sjr.db'}"
    populate(url, small_data)
    return url, add_users(url, str(small_data.organisations["organisation_code"].iloc[0]))


def test_free_text_is_read_only_where_it_is_shown(store):
    url, users = store
    lead = Explorer(open_session(users.lead, url, tool="test"))
    national = Explorer(open_session(users.programme, url, tool="test"))
    comments = {domain.comment_column(p) for p in domain.PHASES}
    assert comments & set(lead.all_reviews.columns) == {"comment_overall"}
    assert not comments & set(national.all_reviews.columns)


def test_the_explorer_filters_as_the_reference_and_redraws_after_a_filter_change(store):
    url, users = store
    national = Explorer(open_session(users.programme, url, tool="test"))
    everything = national.session.reviews(status=["submitted", "locked"])
    f = national.filters
    months = [v for _, v in f["start_month"].options]
    national.tabs.selected_index = TABS.index("Reviews")
    f["start_month"].value = months[0]
    assert national.reviews.equals(national.all_reviews)
    f["specialty"].value = "oncology"
    sel = {k: national.selection()[k] for k in ("organisation_code", "specialty",
                                                "admission_type", "review_reason")}
    want = reference_filter(everything, sel, months[0], f["end_month"].value)
    pd.testing.assert_frame_equal(national.reviews, want[national.reviews.columns])
    first_rows = national.views["Reviews"][1].children[0].value
    f["admission_type"].value = "emergency"
    assert national.views["Reviews"][1].children[0].value != first_rows
    assert set(national.reviews["admission_type"]) == {"emergency"}


def test_the_dashboard_kernel_keeps_its_loaded_objects_out_of_full_collections(store):
    url, users = store
    explorer = Explorer(open_session(users.lead, url, tool="test"))
    try:
        explorer.freeze()
        assert explorer.frozen and gc.get_freeze_count() > 0
        old = explorer.all_reviews
        explorer.reload()  # unfreezes so the old data can go, then freezes again
        assert explorer.all_reviews is not old
        assert explorer.frozen and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_a_from_month_after_the_to_month_puts_the_boxes_in_order_and_the_table_shows_labels(
        store):
    """The walk-through audit (2026-12-06): "from" Mar 2026 and "to" Apr 2021 read the reviews
    of Apr 2021 to Mar 2026, while the boxes kept saying Mar 2026 to Apr 2021; and the reviews
    table showed specialty codes (``care_of_the_elderly``)."""
    url, users = store
    national = Explorer(open_session(users.programme, url, tool="test"))
    f = national.filters
    months = [v for _, v in f["start_month"].options]
    early, late = months[0], months[-1]
    f["start_month"].value = early
    f["end_month"].value = early
    f["start_month"].value = late  # after the "to"
    assert (f["start_month"].value, f["end_month"].value) == (early, late)
    assert national.period == (early, late)
    national.tabs.selected_index = TABS.index("Reviews")
    table = national.views["Reviews"][1].children[0].value
    shown = national.reviews["specialty"].dropna().unique()
    assert len(shown) and all(domain.label("specialty", s) in table for s in shown)
    assert not [s for s in shown if "_" in s and f"<td>{s}</td>" in table]  # no code
