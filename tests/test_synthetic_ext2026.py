"""The synthetic generator's ext2026 reviews: when, how consistent, at what rates, and that the
2017 data around them is untouched (``sjrlib.synthetic.ext2026``)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import pytest

from sjrlib import domain
from sjrlib.form.registry import BASE_VERSION, LATEST_VERSION, registry
from sjrlib.privacy import find_identifiers
from sjrlib.schema import validate_organisations, validate_reviews
from sjrlib.synthetic import CalibrationParams, generate

TODAY = dt.date(2026, 11, 26)
NEW = registry().columns_not_in(BASE_VERSION)
"""The columns of the questions rcp2017 does not ask."""


@pytest.fixture(scope="module")
def data():
    """About 15,000 reviews of deaths from April 2024 to March 2026, 3 of 20 organisations
    Scottish."""
    return generate(n_organisations=20, years=2, seed=5, start_year=2024, n_scottish=30,
                    today=TODAY)


@pytest.fixture(scope="module")
def ext(data):
    r = data.reviews.merge(data.organisations[["organisation_code", "nation"]],
                           on="organisation_code", how="left")
    return r[r["form_version"] == LATEST_VERSION].reset_index(drop=True)


def _yes(frame: pd.DataFrame, column: str) -> pd.Series:
    return (frame[column] == "yes").fillna(False).astype(bool)


def test_deaths_from_september_2024_are_on_ext2026_and_earlier_ones_on_rcp2017(data):
    r = data.reviews
    later = r["death_month"] >= CalibrationParams().ext2026_from
    assert (r.loc[later, "form_version"] == LATEST_VERSION).all()
    assert (r.loc[~later, "form_version"] == BASE_VERSION).all()
    assert later.sum() > 10_000 and (~later).sum() > 2_000
    assert r.loc[~later, list(NEW)].isna().all().all()  # the 2017 form never asked them
    for column in NEW:  # and every new question is answered somewhere
        assert r.loc[later, column].notna().any(), column


def test_the_2017_answers_do_not_depend_on_the_ext2026_questions():
    """The ext2026 draws come from a stream of their own: moving the start of ext2026 past the
    period changes nothing else in the data set."""
    kwargs = dict(n_organisations=6, years=2, seed=11, start_year=2024, today=TODAY)
    with_ext = generate(**kwargs)
    without = generate(**kwargs, params=dataclasses.replace(CalibrationParams(),
                                                            ext2026_from="2030-01"))
    assert (without.reviews["form_version"] == BASE_VERSION).all()
    assert without.reviews[list(NEW)].isna().all().all()
    old = [c for c in domain.REVIEW_COLUMNS if c not in NEW and c != "form_version"]
    pd.testing.assert_frame_equal(with_ext.reviews[old], without.reviews[old])
    pd.testing.assert_frame_equal(with_ext.deaths, without.deaths)
    again = generate(**kwargs)
    pd.testing.assert_frame_equal(again.reviews, with_ext.reviews)


def test_answers_keep_the_rules_of_the_form(ext):
    scottish = ext["nation"] == "scotland"
    assert scottish.any() and (~scottish).any()
    assert (ext.loc[scottish, "me_scrutiny"] == "not_applicable").all()
    assert not (ext.loc[~scottish, "me_scrutiny"] == "not_applicable").any()
    assert ext.loc[ext["me_scrutiny"] != "yes", "me_concern"].isna().all()
    assert ext.loc[ext["me_scrutiny"] == "yes", "me_concern"].notna().all()
    assert ext.loc[ext["age_at_death"] < 65, "clinical_frailty_scale"].isna().all()
    assert ext["clinical_frailty_scale"].dropna().between(1, 9).all()
    coroner = ext[domain.referral_column("coroner")].notna()
    fiscal = ext[domain.referral_column("procurator_fiscal")].notna()
    assert coroner.any() and fiscal.any()
    assert not (coroner & scottish).any() and not (fiscal & ~scottish).any()
    leder = ext[domain.referral_column("leder")].notna()
    assert leder.any()
    assert (_yes(ext, "learning_disability") | _yes(ext, "autism"))[leder].all()
    # a case's facts are the same in each of its reviews
    for column in ("autism", "clinical_frailty_scale", "me_scrutiny", "me_concern",
                   "family_concern"):
        assert (ext.groupby("case_id")[column].nunique(dropna=False) == 1).all(), column


def test_referral_references_are_short_harmless_and_only_with_a_referral(ext):
    for kind in domain.REFERRAL_TYPES:
        status = ext[domain.referral_column(kind)]
        reference = ext[domain.referral_ref_column(kind)]
        assert set(status.dropna()) <= set(domain.REFERRAL_STATUSES)
        assert status[reference.notna()].isin(["made", "completed"]).all(), kind
        assert (reference.dropna().str.len() <= 40).all()
        texts = reference.dropna().unique()
        assert len(texts) > 0, kind
        assert not [t for t in texts if find_identifiers(t, today=TODAY)], kind


def test_rates_are_the_documented_ones(ext):
    p = CalibrationParams()
    england = ext[ext["nation"] == "england"]
    assert _yes(england, "me_scrutiny").mean() == pytest.approx(0.94, abs=0.02)
    reasons = ext["review_reasons"].fillna("")
    asked_by_family = reasons.str.contains("family_concern")
    assert _yes(ext[asked_by_family], "family_concern").mean() == pytest.approx(0.95, abs=0.03)
    assert _yes(ext[~asked_by_family], "family_concern").mean() == pytest.approx(0.03, abs=0.01)
    no_ld = ext[ext["learning_disability"] != "yes"]
    assert _yes(no_ld, "autism").mean() == pytest.approx(0.008, abs=0.004)
    old = ext[ext["age_at_death"] >= 65]
    assert old["clinical_frailty_scale"].notna().mean() == pytest.approx(
        p.frailty_recorded_share, abs=0.03)
    assert (old["clinical_frailty_scale"] >= 5).mean() > 0.5  # mostly frail
    involved = ext["family_involved"].value_counts(normalize=True)
    assert involved["yes"] == pytest.approx(0.58, abs=0.05)
    second = ext[ext["review_stage"] == "second"]
    avoidable = second["avoidability_score"].between(1, 3).fillna(False)
    psii = second[domain.referral_column("psii")].notna()
    assert psii[avoidable].mean() == pytest.approx(0.40, abs=0.1)
    assert psii[~avoidable].mean() == pytest.approx(0.08, abs=0.03)
    # escalation planning and recognition of dying follow the care found
    poor_eol = ext["score_end_of_life"] <= 2
    good_eol = ext["score_end_of_life"] >= 4
    assert (ext.loc[poor_eol, "dying_recognised"] == "no").mean() > \
        3 * (ext.loc[good_eol, "dying_recognised"] == "no").mean()
    no_eol = ext["score_end_of_life"].isna()
    assert (ext.loc[no_eol, "dying_recognised"] == "not_applicable").mean() > 0.8


def test_calibration_tables_are_keyed_by_the_registrys_answers():
    p = CalibrationParams()
    reg = registry()

    def ids(question: str) -> set[str]:
        return set(reg.column(question).spec.answers.ids)

    for name, question in (("autism_otherwise", "autism"),
                           ("autism_given_learning_disability", "autism"),
                           ("me_concern_after_referral", "me_concern"),
                           ("me_concern_otherwise", "me_concern"),
                           ("family_concern_after_concern", "family_concern"),
                           ("family_concern_otherwise", "family_concern"),
                           ("family_involved", "family_involved"),
                           ("family_involved_after_concern", "family_involved"),
                           ("dying_recognised_without_end_of_life", "dying_recognised")):
        assert set(getattr(p, name)) == ids(question), name
    assert set(p.me_scrutiny_england) == ids("me_scrutiny") - {"not_applicable"}
    assert set(p.family_feedback_by_involvement) == ids("family_involved")
    for table in p.family_feedback_by_involvement.values():
        assert set(table) == ids("family_feedback")
    assert len(p.frailty_distribution) == len(ids("clinical_frailty_scale"))
    statuses = set(domain.REFERRAL_STATUSES)
    assert set(p.referral_status) == set(p.referral_status_recent) == statuses
    assert set(p.referral_reference_prefix) == set(domain.REFERRAL_TYPES)
    assert set(p.referral_rates) | {"coroner", "procurator_fiscal", "leder", "complaint"} == \
        set(domain.REFERRAL_TYPES)


def test_generated_ext2026_reviews_pass_validation(data):
    organisations = validate_organisations(data.organisations)
    valid = validate_reviews(data.reviews, known_organisations=organisations)
    assert len(valid) == len(data.reviews)
    assert (valid["form_version"] == data.reviews["form_version"]).all()


def test_a_question_without_synthetic_answers_is_named(monkeypatch):
    """The generator fills what the registry asks: a question registered without synthetic
    answers is an error naming it, not a silently short file."""
    from sjrlib.form.registry import Field, Kind, answer_list
    from sjrlib.synthetic import generator

    extra = Field("pain_controlled", "Was pain controlled?", Kind.ANSWERS, "end_of_life",
                  answers=answer_list("yn_unknown"), versions=(LATEST_VERSION,))
    monkeypatch.setattr(generator, "registry",
                        lambda: registry().with_question(extra, after="dying_recognised"))
    with pytest.raises(ValueError, match="no answers for pain_controlled"):
        generate(n_organisations=2, years=1, seed=1, start_year=2024, today=TODAY)
