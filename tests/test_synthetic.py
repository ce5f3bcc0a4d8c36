"""The synthetic data generator: shapes, validity, reproducibility and calibration."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sjrlib import domain, io, spc
from sjrlib.privacy import contains_identifiers, find_identifiers
from sjrlib.schema import validate_deaths, validate_organisations, validate_reviews
from sjrlib.synthetic import (
    ENGLAND_CODE_PATTERN,
    SCENARIO_COLUMNS,
    SCOTLAND_CODE_PATTERN,
    CalibrationParams,
    generate,
)
from sjrlib.synthetic.casemix import SPECIALTIES
from sjrlib.synthetic.organisations import scottish_count
from sjrlib.synthetic.phrases import comment_bank

TODAY = dt.date(2026, 11, 26)
PHASE_SCORES = [domain.score_column(p) for p in domain.PHASES]
PROBLEMS = [domain.problem_column(t) for t in domain.PROBLEM_TYPES]


@pytest.fixture(scope="module")
def small():
    return generate(n_organisations=6, years=2, seed=11, today=TODAY)


@pytest.fixture(scope="module")
def tiny():
    """About 1,500 reviews: small enough to run through every validation rule quickly."""
    return generate(n_organisations=4, years=1, seed=2, today=TODAY)


@pytest.fixture(scope="module")
def mid():
    """About 15,000 reviews, for calibration checks."""
    return generate(n_organisations=20, years=2, seed=5, today=TODAY)


def _first(reviews: pd.DataFrame) -> pd.DataFrame:
    return reviews[reviews["review_stage"] == "first"]


# --- shapes ---------------------------------------------------------------------------------

def test_frames_have_the_domain_columns_and_dtypes(small):
    r = small.reviews
    assert tuple(r.columns) == domain.REVIEW_COLUMNS
    assert {c: str(t) for c, t in r.dtypes.items()} == {
        c: str(pd.Series(dtype=t).dtype) for c, t in domain.REVIEW_DTYPES.items()}
    assert tuple(small.deaths.columns) == domain.DEATH_COLUMNS
    assert dict(small.deaths.dtypes.astype(str)) == {
        c: str(pd.Series(dtype=t).dtype) for c, t in domain.DEATH_DTYPES.items()}
    assert tuple(small.organisations.columns) == domain.ORGANISATION_COLUMNS
    assert tuple(small.scenarios.columns) == SCENARIO_COLUMNS
    assert r["review_id"].is_unique
    assert len(small.deaths) == 6 * 24
    assert small.deaths["month"].iloc[0] == "2021-04" and small.deaths["month"].max() == "2023-03"


def test_same_seed_gives_identical_frames_and_another_seed_does_not(small):
    again = generate(n_organisations=6, years=2, seed=11, today=TODAY)
    for name in ("organisations", "deaths", "reviews", "scenarios"):
        pd.testing.assert_frame_equal(getattr(small, name), getattr(again, name))
    other = generate(n_organisations=6, years=2, seed=12, today=TODAY)
    assert not other.reviews["score_overall"].equals(small.reviews["score_overall"])


def test_output_passes_every_validation_rule_unchanged(tiny):
    orgs = validate_organisations(tiny.organisations, source="organisations")
    deaths = validate_deaths(tiny.deaths, source="deaths", known_organisations=orgs)
    reviews = validate_reviews(tiny.reviews, source="reviews", known_organisations=orgs,
                               today=TODAY)
    pd.testing.assert_frame_equal(orgs, tiny.organisations)
    pd.testing.assert_frame_equal(deaths, tiny.deaths)
    pd.testing.assert_frame_equal(reviews, tiny.reviews)
    assert (tiny.reviews["review_stage"] == "second").sum() > 20  # the links were exercised


# --- organisations --------------------------------------------------------------------------

def test_organisations_are_fictional_with_real_region_names(small):
    o = small.organisations
    england = o[o["nation"] == "england"]
    scotland = o[o["nation"] == "scotland"]
    assert len(england) == 5 and len(scotland) == 1
    assert england["organisation_code"].str.fullmatch(ENGLAND_CODE_PATTERN.pattern).all()
    assert scotland["organisation_code"].str.fullmatch(SCOTLAND_CODE_PATTERN.pattern).all()
    # Real acute trusts' ODS codes start with R; real health boards are S08000xxx.
    assert not o["organisation_code"].str.startswith(("R", "S08000")).any()
    assert set(england["region"]) <= set(domain.NHS_ENGLAND_REGIONS)
    assert (scotland["region"] == domain.SCOTLAND_REGION).all()
    assert england["name"].str.contains("NHS").all()
    assert scotland["name"].str.startswith("NHS ").all()
    assert o["name"].is_unique and o["organisation_code"].is_unique


def test_the_default_has_fourteen_scottish_boards_scaled_down_for_fewer_organisations():
    assert scottish_count(134) == 14
    assert scottish_count(6) == 1
    assert scottish_count(3) == 0
    data = generate(n_organisations=3, years=1, seed=1, n_scottish=0, today=TODAY)
    assert (data.organisations["nation"] == "england").all()


# --- deaths and volumes ---------------------------------------------------------------------

def test_deaths_are_consistent_with_reviews_and_peak_in_winter(mid):
    d = mid.deaths
    assert (d["learning_disability_deaths"] <= d["deaths_in_scope"]).all()
    per_year = d.groupby("organisation_code")["deaths_in_scope"].sum() / 2
    assert per_year.between(150, 6000).all()
    cases = (_first(mid.reviews).drop_duplicates("case_id")
             .groupby(["organisation_code", "death_month"]).size())
    ld_cases = (_first(mid.reviews)[lambda f: f["learning_disability"] == "yes"]
                .drop_duplicates("case_id").groupby(["organisation_code", "death_month"]).size())
    feed = d.set_index(["organisation_code", "month"])
    assert (cases <= feed["deaths_in_scope"].reindex(cases.index)).all()
    assert (ld_cases <= feed["learning_disability_deaths"].reindex(ld_cases.index)).all()
    share = cases.groupby(level=0).sum() / d.groupby("organisation_code")["deaths_in_scope"].sum()
    assert share.between(0.08, 0.35).all()
    month = d["month"].str[5:]
    winter = d.loc[month.isin(["12", "01", "02"]), "deaths_in_scope"].mean()
    summer = d.loc[month.isin(["06", "07", "08"]), "deaths_in_scope"].mean()
    assert winter > 1.1 * summer


# --- review content -------------------------------------------------------------------------

def test_reviews_are_adults_with_a_plausible_case_mix(mid):
    r = _first(mid.reviews)
    assert r["age_at_death"].between(domain.MIN_AGE, domain.MAX_AGE).all()
    assert 75 <= r["age_at_death"].median() <= 86
    assert (r["admission_type"] == "emergency").mean() > 0.8
    assert (r["location_of_death"] == "ward").mean() > 0.6
    assert set(r["specialty"]) <= set(SPECIALTIES)
    assert r["postcode_district"].dropna().str.fullmatch(r"[A-Z]{1,2}[0-9]{1,2}").all()
    same_day = r["days_to_death"] == 0
    assert (r.loc[same_day, "death_hour"] >= r.loc[same_day, "arrival_hour"]).all()
    ld = r["learning_disability"] == "yes"
    assert r.loc[ld, "review_reasons"].str.contains("learning_disability").all()
    assert not r.loc[~ld, "review_reasons"].str.contains("learning_disability").any()


def test_review_reasons_are_known_ids_in_spec_order(mid):
    order = {r: i for i, r in enumerate(domain.REVIEW_REASONS)}
    for text in mid.reviews["review_reasons"].unique():
        ids = text.split(domain.REASON_SEPARATOR)
        assert ids and all(i in order for i in ids)
        assert [order[i] for i in ids] == sorted(order[i] for i in ids)
    me = mid.reviews["review_reasons"].str.contains("medical_examiner")
    assert (mid.reviews.loc[me, "death_month"] >= "2024-09").all()


def test_scored_phases_have_comments_and_unscored_phases_none(small):
    r = small.reviews
    for phase in domain.PHASES:
        scored = r[domain.score_column(phase)].notna()
        has_comment = r[domain.comment_column(phase)].notna()
        assert (scored == has_comment).all(), phase
    assert r["score_overall"].notna().all()


def test_problems_are_consistent_with_any_problems(small):
    r = small.reviews
    present = r[PROBLEMS].notna().any(axis=1)
    assert (present == (r["any_problems"] == "yes")).all()
    for col in PROBLEMS:
        assert set(r[col].dropna()) <= set(domain.HARM_VALUES)


def test_comments_read_like_their_score(small):
    r = small.reviews
    text = r["comment_overall"].str.lower()
    poor = r["score_overall"] <= 2
    good = r["score_overall"] >= 4
    assert text[poor].str.contains("poor|below the expected").all()
    assert text[good].str.contains("good|excellent|exemplary|highest").all()
    assert not text[good].str.contains("poor").any()


def test_no_synthetic_text_contains_an_identifier(small):
    bank = comment_bank()
    every_comment = [c for phase in bank.values() for arr in phase.values() for c in arr]
    assert len(every_comment) > 1000
    flagged = {c: find_identifiers(c, today=TODAY) for c in every_comment}
    assert {c: f for c, f in flagged.items() if f} == {}
    causes = [c for s in SPECIALTIES.values() for c in s.causes]
    assert not any(find_identifiers(c) for c in causes)
    for col in ("case_id", "reviewer_id", "specialty", "location_of_death", "cause_of_death"):
        assert not contains_identifiers(small.reviews[col]).any(), col


# --- second stage, dates, statuses ----------------------------------------------------------

def test_second_stage_reviews_follow_a_first_stage_review_of_the_same_case(small):
    r = small.reviews
    second = r[r["review_stage"] == "second"]
    first = r[r["review_stage"] == "first"].set_index("review_id")
    assert len(second) > 50
    target = first.loc[second["second_review_of"]]
    assert (target["case_id"].to_numpy() == second["case_id"].to_numpy()).all()
    assert (target["reviewer_id"].to_numpy() != second["reviewer_id"].to_numpy()).all()
    assert (target["review_date"].to_numpy() <= second["review_date"].to_numpy()).all()
    assert (target["status"] != "draft").all()
    assert second["avoidability_score"].between(1, 6).all()
    assert (second["avoidability_scale"] == "rcp").all()
    assert r.loc[r["review_stage"] == "first", "avoidability_score"].isna().all()
    assert r.loc[r["review_stage"] == "first", "second_review_of"].isna().all()
    poor_first = first[first["score_overall"] <= 2]
    followed = poor_first.index.isin(second["second_review_of"])
    assert followed.mean() > 0.6


def test_review_dates_are_within_the_death_month_and_today_and_statuses_mostly_submitted(small):
    r = small.reviews
    month_start = pd.to_datetime(r["death_month"] + "-01")
    assert (r["review_date"] >= month_start).all()
    assert (r["review_date"] <= pd.Timestamp(TODAY)).all()
    share = r["status"].value_counts(normalize=True)
    assert share["submitted"] > 0.6
    assert 0 < share["draft"] < 0.1 and share["locked"] > 0.05


def test_review_dates_are_capped_at_today():
    data = generate(n_organisations=2, years=1, seed=3, start_year=2025,
                    today=dt.date(2026, 4, 10))
    assert data.reviews["review_date"].max() <= pd.Timestamp("2026-04-10")


def test_a_period_that_has_not_ended_is_refused():
    with pytest.raises(ValueError, match="does not end before today"):
        generate(n_organisations=2, years=1, start_year=2026, today=TODAY)


# --- calibration ----------------------------------------------------------------------------

def test_overall_care_scores_follow_the_calibration(mid):
    r = _first(mid.reviews)
    share = r["score_overall"].value_counts(normalize=True).sort_index()
    expected = pd.Series(CalibrationParams().overall_distribution, index=range(1, 6))
    assert (share.reindex(expected.index) - expected).abs().max() < 0.03
    for phase, rate in CalibrationParams().phase_applicability.items():
        scored = r[domain.score_column(phase)].notna().mean()
        assert scored == pytest.approx(rate, abs=0.2 if phase == "ongoing" else 0.04), phase
        far = (r[domain.score_column(phase)] - r["score_overall"]).abs() >= 2
        assert far.mean() < 0.06


def _good_or_excellent(reviews: pd.DataFrame, phase: str) -> float:
    scores = reviews[domain.score_column(phase)].dropna()
    return float((scores >= 4).mean())


def test_end_of_life_care_is_rated_better_than_the_other_phases(mid):
    # Published (Miller et al., BMJ Support Palliat Care 2022, one trust's SJRs): end-of-life
    # care 96% good or excellent (68% once reviewers had quality indicators), other phases
    # 50-75%.
    r = _first(mid.reviews)
    eol = _good_or_excellent(r, "end_of_life")
    assert 0.68 <= eol <= 0.96
    for phase in ("admission", "ongoing", "procedure", "perioperative"):
        other = _good_or_excellent(r, phase)
        assert 0.45 <= other <= 0.75, phase
        assert eol - other > 0.12, phase
    poor = {ph: float((r[domain.score_column(ph)].dropna() <= 2).mean())
            for ph in ("admission", "ongoing", "end_of_life")}
    assert poor["end_of_life"] < 0.6 * min(poor["admission"], poor["ongoing"])


def test_phase_offsets_are_a_parameter_and_unknown_phases_are_refused():
    alike = CalibrationParams(phase_offset_by_phase={})
    r = _first(generate(n_organisations=6, years=2, seed=11, today=TODAY,
                        params=alike).reviews)
    assert abs(_good_or_excellent(r, "end_of_life") - _good_or_excellent(r, "admission")) < 0.05
    with pytest.raises(ValueError, match="unknown phase 'discharge'"):
        CalibrationParams(phase_offset_by_phase={"discharge": (0, 0, 1, 0, 0)})
    with pytest.raises(ValueError, match=r"phase_offset_by_phase\['end_of_life'\] needs 5"):
        CalibrationParams(phase_offset_by_phase={"end_of_life": (0.5, 0.5)})


def test_problems_are_far_more_frequent_with_poor_care_and_led_by_the_prism_types(mid):
    r = _first(mid.reviews)
    yes = r["any_problems"] == "yes"
    assert yes[r["score_overall"] <= 2].mean() > 0.8
    assert yes[r["score_overall"] >= 4].mean() < 0.1
    poor = r[r["score_overall"] <= 2]
    counts = poor[PROBLEMS].notna().sum().sort_values(ascending=False)
    assert set(counts.index[:3]) == {"problem_monitoring", "problem_assessment",
                                     "problem_medication"}
    harm_yes = {s: (r.loc[r["score_overall"] == s, PROBLEMS] == "yes").sum().sum() /
                max(r.loc[r["score_overall"] == s, PROBLEMS].notna().sum().sum(), 1)
                for s in (1, 4)}
    assert harm_yes[1] > harm_yes[4]


def test_avoidability_table_gives_back_prism_2_when_every_death_is_scored():
    p = CalibrationParams()
    table = np.asarray(p.avoidability_by_overall)
    marginal = np.asarray(p.overall_distribution) @ table
    prism2 = np.array([0.000, 0.010, 0.019, 0.028, 0.036, 0.907])  # RCP 1..6, spec
    assert np.abs(marginal - prism2).max() < 0.003
    assert marginal[:3].sum() == pytest.approx(0.030, abs=0.003)


def test_avoidability_at_second_stage_is_worse_with_worse_care(mid):
    second = mid.reviews[mid.reviews["review_stage"] == "second"]
    mltn = second["avoidability_score"] <= 3
    assert mltn[second["score_overall"] == 1].mean() > mltn[second["score_overall"] == 2].mean()
    assert mltn[second["score_overall"] >= 3].mean() < 0.05
    cases = _first(mid.reviews)["case_id"].nunique()
    assert 0.01 < mltn.sum() / cases < 0.06  # spec: PRISM 2 3.0%, pooled 3.6%


def test_double_reviews_agree_moderately_not_perfectly(mid):
    first = _first(mid.reviews)
    pairs = first[first.duplicated("case_id", keep=False)].sort_values(["case_id", "review_id"])
    grouped = pairs.groupby("case_id")
    assert (grouped.size() == 2).all()
    assert (grouped["reviewer_id"].nunique() == 2).all()
    a = grouped["score_overall"].first().astype(float).to_numpy()
    b = grouped["score_overall"].last().astype(float).to_numpy()
    assert 0.02 < len(a) / first["case_id"].nunique() < 0.06
    assert (np.abs(a - b) <= 1).mean() > 0.5
    assert 0.2 < (a == b).mean() < 0.8
    # One-way ICC(1) for two raters: (MSB - MSW) / (MSB + MSW).
    means = (a + b) / 2
    msb = 2 * np.sum((means - means.mean()) ** 2) / (len(a) - 1)
    msw = np.sum((a - means) ** 2 + (b - means) ** 2) / len(a)
    icc = (msb - msw) / (msb + msw)
    assert 0.3 < icc < 0.65  # spec: 0.46-0.52 for holistic scores


def test_scenarios_record_real_changes(mid):
    sc = mid.scenarios
    assert len(sc) >= 2
    assert set(sc["direction"]) == {"improvement", "deterioration"}
    first = _first(mid.reviews)
    for row in sc.itertuples():
        org = first[first["organisation_code"] == row.organisation_code]
        before = (org.loc[org["death_month"] < row.start_month, "score_overall"] <= 2).mean()
        after = (org.loc[org["death_month"] >= row.start_month, "score_overall"] <= 2).mean()
        assert (after - before) * (1 if row.direction == "deterioration" else -1) > 0.04
        assert row.expected_poor_share_after != pytest.approx(row.expected_poor_share_before)
    assert not set(sc["organisation_code"]) == set(mid.organisations["organisation_code"])


def test_scenario_changes_are_found_by_spc_and_stable_baselines_are_quiet(mid):
    first = _first(mid.reviews)
    for row in mid.scenarios.itertuples():
        org = first[first["organisation_code"] == row.organisation_code]
        monthly = org.groupby("death_month")["score_overall"].agg(
            reviews="size", poor=lambda s: int((s <= 2).sum()))
        after = monthly.index >= row.start_month
        assert (~after).sum() >= 12 and after.sum() >= 8
        chart = spc.p_chart(monthly["poor"], monthly["reviews"], improvement="decrease",
                            fix_after_n_points=int((~after).sum()))
        expected = ("special_cause_concern" if row.direction == "deterioration"
                    else "special_cause_improvement")
        assert (chart.loc[after, "point_type"] == expected).sum() >= 3, row
        assert (chart.loc[~after, "point_type"] == expected).sum() <= 2, row


def test_calibration_is_a_parameter():
    worse = CalibrationParams(overall_distribution=(0.20, 0.30, 0.30, 0.15, 0.05),
                              changing_organisation_share=0.0)
    data = generate(n_organisations=3, years=1, seed=4, params=worse, today=TODAY)
    poor = (_first(data.reviews)["score_overall"] <= 2).mean()
    assert poor == pytest.approx(0.50, abs=0.05)
    assert data.scenarios.empty
    with pytest.raises(ValueError, match="overall_distribution needs 5"):
        CalibrationParams(overall_distribution=(0.5, 0.5))


# --- CLI ------------------------------------------------------------------------------------

def test_sjr_generate_writes_the_three_files_in_the_exchange_format(tmp_path):
    from sjrlib.cli import app

    result = CliRunner().invoke(app, ["generate", "--out", str(tmp_path / "out"),
                                      "--organisations", "3", "--years", "1", "--seed", "4"])
    assert result.exit_code == 0, result.output
    expected = generate(n_organisations=3, years=1, seed=4)
    assert f"{len(expected.reviews):,} reviews" in result.output
    out = tmp_path / "out"
    raw = pd.read_csv(out / "reviews.csv", dtype=str, keep_default_na=False, nrows=5)
    assert tuple(raw.columns) == io.export_columns(expected.reviews)
    assert raw["review_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    orgs = io.read_organisations(out / "organisations.csv")
    deaths = io.read_deaths(out / "deaths.csv", known_organisations=orgs)
    reviews = io.read_reviews(out / "reviews.csv", known_organisations=orgs)
    pd.testing.assert_frame_equal(orgs, expected.organisations)
    pd.testing.assert_frame_equal(deaths, expected.deaths)
    pd.testing.assert_frame_equal(reviews, expected.reviews)


def test_sjr_generate_refuses_a_period_that_has_not_ended(tmp_path):
    from sjrlib.cli import app

    result = CliRunner().invoke(app, ["generate", "--out", str(tmp_path / "out"),
                                      "--organisations", "2", "--years", "1",
                                      "--start-year", "2099"])
    assert result.exit_code == 1
    assert "does not end before today" in result.output
    assert not (tmp_path / "out").exists()
