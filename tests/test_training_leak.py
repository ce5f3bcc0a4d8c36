"""Training answers never reach a Learning from Deaths figure or a report (issue 15 acceptance).

The test tries to leak them. It reads everything reports are made from (reviews, deaths, the
summary, the exchange export, theme codes, the report batch's window and slices) and calls every
public function of ``sjrlib.stats`` and ``sjrlib.report`` that takes reviews, first on a store
without training data, then after a calibration round whose answers would move every figure if
they were counted (every case scored "very poor care", "definitely avoidable", by reviewers and
by a trainee who has written no review). Every output must be identical, and no trace of the
round (its id, its cases, the trainee) may appear in any of them.

The functions are found by introspection: their arguments are filled in by name (``_POOL``), and
a new public function taking ``reviews`` with an argument the pool cannot fill fails
:func:`test_every_function_taking_reviews_is_tried` until it has a row in ``CALLS``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import inspect
import pickle
import pkgutil
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from access_setup import governed_fresh  # noqa: F401  (fixture)

import sjrlib.report
import sjrlib.stats
from data_access import open_session, training
from data_access.training import RoundSpec

TRAINEE = "LEAK-TRAINEE-1"
ROUND = "LEAK-ROUND"
MARKERS = (TRAINEE, ROUND, "TC-2026-", "Training answer")


def _period():
    from sjrlib.report.params import parse_period

    return parse_period(None, "2021-04", "2022-03")


def _group(reviews):
    from sjrlib.report.collaborative import Collaborative

    members = tuple(sorted(reviews["organisation_code"].dropna().astype(str).unique())[:2])
    return Collaborative("leak", "Leak test group", members, "2021-04")


def _rule():
    from sjrlib.disclosure import DisclosureRule

    return DisclosureRule()


def _drafts(f):
    from sjrlib.report.completeness import read_draft_cases

    return read_draft_cases(f["session"], "2021-04", "2022-03", None, f["reviews"])


CALLS: dict[str, Any] = {
    "sjrlib.stats.agreement.agreement_summary": lambda f: f["m"](f["reviews"]),
    "sjrlib.stats.agreement.rating_pairs": lambda f: f["m"](f["reviews"]),
    "sjrlib.stats.agreement.reliability_data": lambda f: f["m"](f["reviews"]),
    "sjrlib.stats.clustered.poor_care_outcomes": lambda f: f["m"](f["reviews"]),
    "sjrlib.stats.clustered.poor_care_trend": lambda f: f["m"](f["reviews"], "quarter"),
    "sjrlib.stats.descriptive.avoidability_distribution": lambda f: f["m"](f["reviews"]),
    "sjrlib.stats.descriptive.care_score_distribution": lambda f: f["m"](f["reviews"]),
    "sjrlib.stats.descriptive.more_likely_than_not": lambda f: f["m"](f["reviews"]),
    "sjrlib.stats.descriptive.poor_care": lambda f: f["m"](f["reviews"]),
    "sjrlib.stats.descriptive.problem_count_distribution": lambda f: f["m"](f["reviews"]),
    "sjrlib.stats.descriptive.problem_frequency": lambda f: f["m"](f["reviews"]),
    "sjrlib.stats.descriptive.problems_per_review": lambda f: f["m"](f["reviews"]),
    "sjrlib.stats.drift.reviewer_drift": lambda f: f["m"](f["reviews"], min_pairs=2),
    "sjrlib.stats.lfd.learning_from_deaths": lambda f: f["m"](f["reviews"], f["deaths"]),
    "sjrlib.stats.models.ordinal_regression": lambda f: f["m"](f["reviews"]),
    "sjrlib.stats.models.poor_care_trend": lambda f: f["m"](f["reviews"], "quarter"),
    "sjrlib.stats.national.national_statistics": lambda f: f["m"](f["reviews"], f["deaths"]),
    "sjrlib.report.collaborative.collaborative_tables": lambda f: f["m"](
        _group(f["reviews"]), f["reviews"], f["deaths"], _period(), _rule()),
    "sjrlib.report.collaborative.write_collaborative_report": lambda f: f["m"](
        _group(f["reviews"]), f["reviews"], f["deaths"], {}, _period(), _rule(),
        f["out"] / "collaborative.html"),
    "sjrlib.report.completeness.quarter_completeness": lambda f: f["m"](
        f["reviews"], f["deaths"], _drafts(f), _period().months(), dt.date(2022, 6, 30)),
    "sjrlib.report.data.write_slices": lambda f: f["m"](
        f["reviews"], f["deaths"], f["organisations"],
        sorted(f["organisations"]["organisation_code"].astype(str)), f["out"],
        read_at="2022-06-30T00:00:00Z"),
    "sjrlib.report.narrative.second_stage_backlog": lambda f: f["m"](f["reviews"]),
    "sjrlib.report.tables.care_inputs": lambda f: f["m"](f["reviews"], 0.05),
}
"""How to call each public function of sjrlib.stats and sjrlib.report that takes reviews and
more required arguments (one taking reviews alone is called with the reviews alone)."""


_POOL = {"reviews": lambda f: f["reviews"], "deaths": lambda f: f["deaths"],
         "rule": lambda f: _rule(), "alpha": lambda f: 0.05, "period": lambda f: _period(),
         "organisations": lambda f: f["organisations"],
         "question": lambda f: "score_overall"}
"""Arguments filled in by name for a function without a row in CALLS."""


def _required(function) -> list[str]:
    return [p.name for p in inspect.signature(function).parameters.values()
            if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD,
                                                   p.KEYWORD_ONLY)]


def _call(name: str, function):
    if name in CALLS:
        return CALLS[name]
    return lambda f: f["m"](**{p: _POOL[p](f) for p in _required(function)})


def _functions_taking_reviews() -> dict[str, Any]:
    found = {}
    for package in (sjrlib.stats, sjrlib.report):
        for info in pkgutil.iter_modules(package.__path__):
            if info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for name, function in inspect.getmembers(module, inspect.isfunction):
                if name.startswith("_") or function.__module__ != module.__name__:
                    continue
                if "reviews" in inspect.signature(function).parameters:
                    found[f"{module.__name__}.{name}"] = function
    return found


def test_every_function_taking_reviews_is_tried():
    found = _functions_taking_reviews()
    assert {"sjrlib.stats.lfd.learning_from_deaths",
            "sjrlib.stats.descriptive.poor_care"} <= set(found)  # not vacuous
    missing = sorted(n for n, f in found.items()
                     if n not in CALLS and not set(_required(f)) <= set(_POOL))
    assert not missing, f"say how to call {missing} in CALLS (they take reviews)"


def _canon(obj: Any, out: Path) -> Any:
    """A comparable form of an output: frames as CSV, files by content, objects by fields."""
    if isinstance(obj, pd.DataFrame | pd.Series):
        return obj.to_csv()
    if isinstance(obj, Path):
        if obj.is_dir():
            return {p.relative_to(obj).as_posix(): _canon(p, out)
                    for p in sorted(obj.rglob("*")) if p.is_file()}
        if obj.suffix == ".pkl":  # the report batch's slices
            with obj.open("rb") as fh:
                return _canon(pickle.load(fh), out)  # noqa: S301 - written by this test
        data = obj.read_bytes().replace(str(out).encode(), b"<out>")
        return re.sub(rb'id="cell-id=[0-9a-f]+"', b'id="cell-id"', data)  # random per render
    if isinstance(obj, dict):
        return {str(k): _canon(v, out) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return {k: _canon(v, out) for k, v in obj._asdict().items()}
    if isinstance(obj, list | tuple):
        return [_canon(v, out) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _canon(getattr(obj, f.name), out) for f in dataclasses.fields(obj)}
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, float | int | str | bool | np.generic) or obj is None:
        return repr(obj)
    text = repr(obj)
    return type(obj).__name__ if " at 0x" in text else text


def _read_everything(gov, out: Path) -> dict[str, Any]:
    """What reports are made from, through the governed sessions."""
    from sjrlib.report import data as report_data

    got: dict[str, Any] = {}
    with open_session("national", gov.app_url, tool="test") as national:
        got["reviews"] = national.reviews()
        got["deaths"] = national.deaths()
        got["organisations"] = national.organisations()
        got["summary"] = national.summary()
        got["theme_codes"] = national.theme_codes()
        got["queue"] = national.second_stage_queue()
        window = report_data.read_window(national, "2021-04", "2022-03")
        (out / "batch").mkdir()
        got["window"] = window
        got["slices"] = report_data.write_slices(
            window[0], window[1], got["organisations"],
            sorted(got["organisations"]["organisation_code"].astype(str)), out / "batch",
            read_at="2022-06-30T00:00:00Z")
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        got["lead_reviews"] = lead.reviews()
        got["lead_export"] = lead.export("reviews")
        got["lead_summary"] = lead.summary()
    with open_session("reviewer_a", gov.app_url, tool="test") as reviewer:
        got["reviewer_reviews"] = reviewer.reviews()
    return got


def _outputs(gov, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True)
    sources = _read_everything(gov, out)
    found = _functions_taking_reviews()
    results = {name: _canon(value, out) for name, value in sources.items()}
    with open_session("national", gov.app_url, tool="test") as national:
        for name, function in sorted(found.items()):
            call = _call(name, function)
            frames = {"m": found[name], "reviews": sources["reviews"],
                      "deaths": sources["deaths"], "organisations": sources["organisations"],
                      "session": national, "out": out / name}
            (out / name).mkdir()
            results[name] = _canon(call(frames), out / name)
    return results


def _add_training(gov) -> int:
    """A round whose every answer would move the figures if it were counted."""
    today = dt.date.today()
    cases = training.shipped_cases()
    with open_session("national", gov.app_url, tool="test") as national:
        national.import_training_cases(cases)
        national.create_calibration_round(RoundSpec(
            ROUND, "Leak round", tuple(c.case_id for c in cases), today, today,
            ((gov.org_a, gov.reviewer_id), (gov.org_a, TRAINEE),
             (gov.org_a, gov.other_reviewer_id)), None))
    worst = {"status": "submitted", "avoidability_score": 1,
             "problems": {"monitoring": "yes", "medication": "yes"}, "themes": ["sepsis"],
             **{f"score_{p}": 1 for p in ("admission", "ongoing", "overall")},
             "comments": {p: "Training answer" for p in ("admission", "ongoing", "overall")}}
    saved = 0
    with open_session("reviewer_a", gov.app_url, tool="test") as reviewer:
        for case in cases:
            reviewer.save_calibration_answer(ROUND, case.case_id, worst)
            saved += 1
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        for who in (TRAINEE, gov.other_reviewer_id):
            for case in cases:
                lead.save_calibration_answer(ROUND, case.case_id, worst, reviewer_id=who)
                saved += 1
        lead.import_training_records(pd.DataFrame([{
            "record_id": "", "organisation_code": gov.org_a, "reviewer_id": TRAINEE,
            "trainer_id": None, "trained_on": "2021-05-01", "session": "Leak session",
            "refresher_dates": ""}]))
    return saved


@pytest.mark.filterwarnings("ignore")
def test_training_answers_reach_no_figure_and_no_report(governed_fresh, tmp_path):  # noqa: F811
    gov = governed_fresh
    before = _outputs(gov, tmp_path / "before")
    saved = _add_training(gov)
    with open_session("national", gov.app_url, tool="test") as national:
        assert len(national.calibration_answers(ROUND)) == saved == 3 * 14  # they are stored
    after = _outputs(gov, tmp_path / "after")
    assert set(after) == set(before)
    changed = sorted(name for name in before if before[name] != after[name])
    assert not changed, f"training answers changed {changed}"
    text = repr(after)
    for marker in MARKERS:
        assert marker not in text, marker
    assert len(after) >= len(_functions_taking_reviews()) + 8
