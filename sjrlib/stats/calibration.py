"""Calibration rounds: reviewers' answers on training cases against the panel's reference answers.

A calibration round is a set of fictional training cases that a group of reviewers score
independently; an expert panel agreed a reference answer for each case
(``shared/spec/training.md``). :func:`calibration_results` compares each reviewer with the
panel (exact and within-one agreement on phase and overall scores, the direction of the
differences, agreement on the second-stage trigger and on avoidability 1-3 vs 4-6, themes) and
describes the group (Krippendorff's alpha, Gwet's AC2 and weighted kappa with intervals), and
follows each reviewer across rounds.

The functions take plain frames; who may see which rows (a reviewer their own, a lead their
organisation's reviewers, the programme team the national distribution without naming
organisations) is decided by the caller before and after. Training answers never enter a
Learning from Deaths figure: nothing here reads a review frame.

Direction: a *lower* care score is a harsher judgement of the care; a lower RCP avoidability
score (1 = definitely avoidable) likewise judges the death more harshly. ``mean_difference`` is
reviewer minus panel, so negative = harsher than the panel.

References
----------
Gwet KL. Handbook of Inter-Rater Reliability, 4th ed. Advanced Analytics, 2014. Krippendorff K.
Computing Krippendorff's alpha-reliability. 2011. Cohen J. Weighted kappa. Psychol Bull
1968;70:213-20. Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall, 1993.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from sjrlib import domain
from sjrlib.stats import agreement

__all__ = [
    "FEWER_THAN_TWO_PAIRS",
    "ITEMS",
    "SAME_AS_PANEL",
    "CalibrationResults",
    "calibration_results",
    "kappa_not_estimable",
    "parse_themes",
]

ITEMS: tuple[str, ...] = (*domain.PHASES, "avoidability")
"""Items compared: every phase score (``overall`` included) and avoidability."""

_TRIGGER = "trigger"
_SHARES = ("exact_share", "within_one_share", "trigger_share")


def _column(item: str) -> str:
    return "avoidability_score" if item == "avoidability" else domain.score_column(item)


def _scale(item: str) -> tuple[int, ...]:
    return domain.AVOIDABILITY_SCORES if item == "avoidability" else domain.CARE_SCORES


def parse_themes(value) -> frozenset[str] | None:
    """Themes of one answer: ``";"``-joined ids or an iterable of ids; None when not answered.

    An empty string or empty list means "answered: no theme"."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        return frozenset(t.strip() for t in value.split(domain.REASON_SEPARATOR) if t.strip())
    if isinstance(value, Iterable):
        return frozenset(str(t).strip() for t in value if str(t).strip())
    raise ValueError(f"themes must be ';'-joined theme ids or a list of them, not {value!r}")


@dataclasses.dataclass
class CalibrationResults:
    """What :func:`calibration_results` returns (the columns are listed in its Returns)."""

    items: pd.DataFrame
    reviewers: pd.DataFrame
    group: pd.DataFrame
    change: pd.DataFrame

    def distribution(self, by: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Quartiles of the reviewers' agreement shares per round, naming no reviewer.

        Parameters
        ----------
        by : str or list of str, optional
            Extra columns of ``self.reviewers`` to group by (e.g. ``region`` merged in by the
            caller). Never group by organisation in a national output.

        Returns
        -------
        pandas.DataFrame
            ``round_id``, the ``by`` columns, ``measure`` (``exact_share``,
            ``within_one_share``, ``trigger_share``), ``n_reviewers``, ``q25``, ``median``,
            ``q75`` (linear quantiles of the reviewers' shares).
        """
        keys = ["round_id", *([by] if isinstance(by, str) else (by or []))]
        long = self.reviewers.melt(id_vars=keys, value_vars=list(_SHARES), var_name="measure",
                                   value_name="share").dropna(subset=["share"])
        grouped = long.groupby([*keys, "measure"], sort=True)["share"]
        out = grouped.agg(n_reviewers="count", q25=lambda s: s.quantile(0.25),
                          median="median", q75=lambda s: s.quantile(0.75)).reset_index()
        out["n_reviewers"] = out["n_reviewers"].astype(np.int64)
        return out


def _check_frames(reference: pd.DataFrame, answers: pd.DataFrame) -> list[str]:
    """The items both frames carry; errors for people on anything else."""
    if "case_id" not in reference.columns:
        raise ValueError("reference needs a case_id column (one row per training case)")
    missing = [c for c in ("round_id", "reviewer_id", "case_id") if c not in answers.columns]
    if missing:
        raise ValueError(f"answers lack the column(s) {missing}; expected round_id, reviewer_id, "
                         "case_id and the score columns")
    dup = reference["case_id"].duplicated()
    if dup.any():
        raise ValueError(f"reference has case {reference['case_id'][dup].iloc[0]!r} twice; one "
                         "reference answer per training case")
    key = ["round_id", "reviewer_id", "case_id"]
    dup = answers.duplicated(key)
    if dup.any():
        row = answers.loc[dup, key].iloc[0]
        raise ValueError(f"answers row {int(np.flatnonzero(dup)[0])}: reviewer "
                         f"{row['reviewer_id']!r} answered case {row['case_id']!r} twice in "
                         f"round {row['round_id']!r}; keep one answer per case and round")
    unknown = ~answers["case_id"].isin(reference["case_id"])
    if unknown.any():
        raise ValueError(f"answers row {int(np.flatnonzero(unknown)[0])}: case "
                         f"{answers['case_id'][unknown].iloc[0]!r} has no reference answer")
    items = [i for i in ITEMS if _column(i) in reference.columns and _column(i) in answers.columns]
    if "overall" not in items:
        raise ValueError("both frames need score_overall (the overall care score)")
    for frame, name in ((reference, "reference"), (answers, "answers")):
        for item in items:
            values = pd.to_numeric(frame[_column(item)], errors="coerce")
            bad = values.notna() & ~values.isin(_scale(item))
            bad |= values.isna() & frame[_column(item)].notna()
            if bad.any():
                value = frame[_column(item)][bad].iloc[0]
                value = value.item() if isinstance(value, np.generic) else value
                raise ValueError(f"{name} row {int(np.flatnonzero(bad)[0])}: {_column(item)} = "
                                 f"{value!r} is not one of "
                                 f"{list(_scale(item))} (blank = not applicable)")
    return items


def _merged(reference: pd.DataFrame, answers: pd.DataFrame, items: list[str]) -> pd.DataFrame:
    cols = [_column(i) for i in items] + (["themes"] if "themes" in reference.columns else [])
    ref = reference[["case_id", *cols]].rename(columns={c: f"{c}_panel" for c in cols})
    keep = ["round_id", "reviewer_id", "case_id", *cols,
            *(["round_date"] if "round_date" in answers.columns else [])]
    keep = [c for c in dict.fromkeys(keep) if c in answers.columns]
    merged = answers[keep].merge(ref, on="case_id", how="left", validate="many_to_one")
    for item in items:
        for c in (_column(item), f"{_column(item)}_panel"):
            merged[c] = pd.to_numeric(merged[c], errors="coerce").astype("Float64").to_numpy(
                np.float64, na_value=np.nan)
    merged["round_id"] = merged["round_id"].astype(str)
    merged["reviewer_id"] = merged["reviewer_id"].astype(str)
    merged["case_id"] = merged["case_id"].astype(str)
    return merged


TOO_FEW = "too few differences to say"
"""The direction of a reviewer's item when fewer than :data:`MIN_DIFFERENCES` of their
answers differ from the panel's in the direction of their mean difference."""

MIN_DIFFERENCES = 2
"""A direction (harsher, more lenient) is stated only when at least this many of a reviewer's
answers differ from the panel's that way, and more do so than the other way: one case scored
one point above the panel is not a reviewer "more lenient than the panel" (the walk-through
audit of 2026-12-06 found "Care during a procedure | 1 case | more lenient than the panel")."""


SAME_AS_PANEL = "no differences from the panel"
"""The direction of a reviewer's item when every answer has the panel's score: there is no
difference to weigh, so nothing is said of a consistent or inconsistent one (the audit of
2026-12-06 found 'Same score 100% ... no consistent difference')."""


def _direction(mean_difference: float, n_harsher: int, n_more_lenient: int
               ) -> str | None:
    """Harsher or more lenient than the panel, from the mean difference of a reviewer's
    answers, stated only where at least :data:`MIN_DIFFERENCES` answers go that way and more
    go that way than the other (else :data:`TOO_FEW`, or no consistent difference where as
    many go each way); :data:`SAME_AS_PANEL` where none differs."""
    if np.isnan(mean_difference):
        return None
    harsher, lenient = int(n_harsher), int(n_more_lenient)
    if harsher == lenient == 0:
        return SAME_AS_PANEL
    if mean_difference < 0 and harsher > lenient:
        return "harsher than the panel" if harsher >= MIN_DIFFERENCES else TOO_FEW
    if mean_difference > 0 and lenient > harsher:
        return "more lenient than the panel" if lenient >= MIN_DIFFERENCES else TOO_FEW
    return "no consistent difference"


def _item_rows(merged: pd.DataFrame, items: list[str]) -> pd.DataFrame:
    parts = []
    for item in items:
        col = _column(item)
        diff = merged[col] - merged[f"{col}_panel"]
        frame = pd.DataFrame({"round_id": merged["round_id"], "reviewer_id": merged["reviewer_id"],
                              "d": diff}).dropna(subset=["d"])
        frame["exact"] = frame["d"] == 0
        frame["within_one"] = frame["d"].abs() <= 1
        frame["harsher"] = frame["d"] < 0
        frame["lenient"] = frame["d"] > 0
        g = frame.groupby(["round_id", "reviewer_id"], sort=True)
        out = pd.DataFrame({"n": g.size(), "exact": g["exact"].sum(),
                            "within_one": g["within_one"].sum(),
                            "mean_difference": g["d"].mean(), "n_harsher": g["harsher"].sum(),
                            "n_more_lenient": g["lenient"].sum()}).reset_index()
        out.insert(2, "item", item)
        parts.append(out)
    out = pd.concat(parts, ignore_index=True)
    for c in ("n", "exact", "within_one", "n_harsher", "n_more_lenient"):
        out[c] = out[c].astype(np.int64)
    out["exact_share"] = out["exact"] / out["n"]
    out["within_one_share"] = out["within_one"] / out["n"]
    out["direction"] = [_direction(m, h, m_) for m, h, m_ in zip(
        out["mean_difference"], out["n_harsher"], out["n_more_lenient"], strict=True)]
    order = {item: k for k, item in enumerate(ITEMS)}
    out = out.sort_values(["round_id", "reviewer_id", "item"], key=lambda s: s.map(order)
                          if s.name == "item" else s, kind="stable").reset_index(drop=True)
    return out[["round_id", "reviewer_id", "item", "n", "exact", "within_one", "exact_share",
                "within_one_share", "mean_difference", "n_harsher", "n_more_lenient",
                "direction"]]


def _poor(values: np.ndarray) -> np.ndarray:
    """Second-stage trigger: overall care 1-2 (1.0), 3-5 (0.0), NaN when not answered."""
    return np.where(np.isnan(values), np.nan, np.isin(values, domain.POOR_CARE).astype(float))


def _more_likely(values: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(values), np.nan,
                    np.isin(values, domain.MORE_LIKELY_THAN_NOT).astype(float))


def _theme_rows(merged: pd.DataFrame, themes: Sequence[str] | None) -> pd.DataFrame:
    keys = ["round_id", "reviewer_id"]
    empty = pd.DataFrame(columns=[*keys, "themes_n", "themes_found", "themes_extra",
                                  "themes_share"])
    if "themes" not in merged.columns or "themes_panel" not in merged.columns:
        return empty
    given = [parse_themes(v) for v in merged["themes"]]
    panel = [parse_themes(v) for v in merged["themes_panel"]]
    both = [g is not None and p is not None for g, p in zip(given, panel)]
    if not any(both):
        return empty
    universe = (sorted(set(themes)) if themes is not None
                else sorted(set().union(*(g | p for g, p, ok in zip(given, panel, both) if ok))))
    rows = []
    for (r, v), idx in merged.groupby(keys, sort=True).groups.items():
        pos = [merged.index.get_loc(i) for i in idx if both[merged.index.get_loc(i)]]
        if not pos:
            continue
        ref_total = sum(len(panel[p]) for p in pos)
        found = sum(len(panel[p] & given[p]) for p in pos)
        extra = sum(len(given[p] - panel[p]) for p in pos)
        agree = sum(len(universe) - len((panel[p] ^ given[p]) & set(universe)) for p in pos)
        rows.append((r, v, len(pos), found / ref_total if ref_total else np.nan, extra,
                     agree / (len(pos) * len(universe)) if universe else np.nan))
    out = pd.DataFrame(rows, columns=empty.columns)
    out["themes_n"] = out["themes_n"].astype(np.int64)
    out["themes_extra"] = out["themes_extra"].astype(np.int64)
    return out


def _reviewer_rows(merged: pd.DataFrame, items_frame: pd.DataFrame,
                   themes: Sequence[str] | None) -> pd.DataFrame:
    keys = ["round_id", "reviewer_id"]
    overall = items_frame[items_frame["item"] == "overall"].drop(columns="item")
    out = overall.rename(columns={"n": "n_cases"})[[
        *keys, "n_cases", "exact_share", "within_one_share", "mean_difference", "n_harsher",
        "n_more_lenient", "direction"]]
    given = _poor(merged["score_overall"].to_numpy())
    panel = _poor(merged["score_overall_panel"].to_numpy())
    frame = merged[keys].copy()
    ok = ~(np.isnan(given) | np.isnan(panel))
    frame["t_ok"] = ok
    frame["t_agree"] = ok & (given == panel)
    frame["t_missed"] = ok & (panel == 1) & (given == 0)
    frame["t_extra"] = ok & (panel == 0) & (given == 1)
    if "avoidability_score" in merged.columns:
        a_given = _more_likely(merged["avoidability_score"].to_numpy())
        a_panel = _more_likely(merged["avoidability_score_panel"].to_numpy())
        a_ok = ~(np.isnan(a_given) | np.isnan(a_panel))
    else:
        a_given = a_panel = np.zeros(len(merged))
        a_ok = np.zeros(len(merged), dtype=bool)
    frame["a_ok"] = a_ok
    frame["a_agree"] = a_ok & (a_given == a_panel)
    g = frame.groupby(keys, sort=True)
    counts = pd.DataFrame({
        "trigger_n": g["t_ok"].sum(), "trigger_agree": g["t_agree"].sum(),
        "trigger_missed": g["t_missed"].sum(), "trigger_extra": g["t_extra"].sum(),
        "avoidability_n": g["a_ok"].sum(), "avoidability_agree": g["a_agree"].sum(),
    }).astype(np.int64).reset_index()
    with np.errstate(invalid="ignore", divide="ignore"):
        counts["trigger_share"] = counts["trigger_agree"] / counts["trigger_n"].where(
            counts["trigger_n"] > 0)
        counts["avoidability_share"] = counts["avoidability_agree"] / counts[
            "avoidability_n"].where(counts["avoidability_n"] > 0)
    out = out.merge(counts, on=keys, how="outer")
    out = out.merge(_theme_rows(merged, themes), on=keys, how="left")
    # A reviewer who left the overall score blank throughout has no overall row: 0 cases.
    for c in ("n_cases", "n_harsher", "n_more_lenient"):
        out[c] = out[c].fillna(0).astype(np.int64)
    for c in ("themes_n", "themes_extra"):  # <NA>: no case with themes on both sides
        out[c] = out[c].astype("Int64")
    order = [*keys, "n_cases", "exact_share", "within_one_share", "mean_difference", "n_harsher",
             "n_more_lenient", "direction", "trigger_n", "trigger_agree", "trigger_share",
             "trigger_missed", "trigger_extra", "avoidability_n", "avoidability_agree",
             "avoidability_share", "themes_n", "themes_found", "themes_extra", "themes_share"]
    return out[order].sort_values(keys, kind="stable").reset_index(drop=True)


def _kappa_from_tables(tables: np.ndarray, disagreement: np.ndarray) -> np.ndarray:
    """Cohen's (weighted) kappa of each k x k table in ``tables`` (..., k, k)."""
    total = tables.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = tables.sum(axis=-1)[..., :, None] * tables.sum(axis=-2)[..., None, :] / \
            total[..., None, None]
        observed = (tables * disagreement).sum(axis=(-2, -1))
        chance = (expected * disagreement).sum(axis=(-2, -1))
        return np.where(chance > 0, 1 - observed / np.where(chance > 0, chance, 1), np.nan)


FEWER_THAN_TWO_PAIRS = "fewer than two answers to compare with the panel's"
"""Why a kappa against the panel is not estimable on no or one answer."""


def kappa_not_estimable(given: np.ndarray, panel: np.ndarray) -> str | None:
    """Why Cohen's (weighted) kappa of the pairs ``given``/``panel`` (no missing values) is not
    estimable, or ``None`` when it is.

    Not on fewer than two pairs, and not when either side's scores do not vary: then the
    agreement expected by chance equals the agreement observed whatever it is (kappa is 0 by
    construction, or 0/0 when both sides keep to one value: expected agreement 1), so the
    statistic says nothing of how well the reviewers agree with the panel.
    """
    if given.size < 2:
        return FEWER_THAN_TWO_PAIRS
    still = [who for who, v in (("the reviewers'", given), ("the panel's", panel))
             if np.unique(v).size < 2]
    if len(still) == 2:
        return "neither the reviewers' nor the panel's scores vary"
    if still:
        return f"{still[0]} scores do not vary"
    return None


def _kappa_vs_panel(given: np.ndarray, panel: np.ndarray, case: np.ndarray, scale: Sequence,
                    weights: str | None, n_boot: int, alpha: float,
                    rng: np.random.Generator) -> tuple[float, float, float, int, str | None]:
    """Kappa of pooled reviewer-vs-panel pairs; percentile interval resampling cases (a case's
    answers by every reviewer go together: they share the case, so are not independent).
    The last value says why the kappa is not estimable (:func:`kappa_not_estimable`)."""
    ok = ~(np.isnan(given) | np.isnan(panel))
    given, panel, case = given[ok], panel[ok], case[ok]
    cases = np.unique(case)
    why = kappa_not_estimable(given, panel)
    if why is not None:
        return np.nan, np.nan, np.nan, int(cases.size), why
    point = agreement.weighted_kappa(given, panel, weights, categories=scale).kappa
    k = len(scale)
    lookup = {v: i for i, v in enumerate(scale)}
    gi = np.array([lookup[v] for v in given])
    pi = np.array([lookup[v] for v in panel])
    ci = np.searchsorted(cases, case)
    per_case = np.zeros((cases.size, k, k))
    np.add.at(per_case, (ci, gi, pi), 1.0)
    i = np.arange(k)
    if weights is None:
        disagreement = (i[:, None] != i[None, :]).astype(float)
    else:
        power = 1 if weights == "linear" else 2
        disagreement = np.abs(i[:, None] - i[None, :]).astype(float) ** power
    draws = rng.multinomial(cases.size, np.full(cases.size, 1 / cases.size), size=n_boot)
    replicates = _kappa_from_tables(np.einsum("bc,cij->bij", draws.astype(float), per_case),
                                    disagreement)
    defined = replicates[~np.isnan(replicates)]
    if np.isnan(point) or defined.size == 0:
        return float(point), np.nan, np.nan, int(cases.size), None
    lo, hi = np.quantile(defined, [alpha / 2, 1 - alpha / 2])
    return float(point), float(lo), float(hi), int(cases.size), None


def _group_rows(merged: pd.DataFrame, items: list[str], alpha: float, n_boot: int,
                seed: int | None) -> pd.DataFrame:
    rows = []
    rng = np.random.default_rng(seed)
    for round_id, part in merged.groupby("round_id", sort=True):
        for item in [*items, _TRIGGER]:
            if item == _TRIGGER:
                given = _poor(part["score_overall"].to_numpy())
                panel = _poor(part["score_overall_panel"].to_numpy())
                scale: tuple = (0.0, 1.0)
            else:
                given = part[_column(item)].to_numpy()
                panel = part[f"{_column(item)}_panel"].to_numpy()
                scale = _scale(item)
            wide = pd.DataFrame({"case": part["case_id"].to_numpy(),
                                 "reviewer": part["reviewer_id"].to_numpy(), "v": given}).pivot(
                index="case", columns="reviewer", values="v")
            n_reviewers = int(wide.notna().any(axis=0).sum())
            n_cases = int((wide.notna().sum(axis=1) >= 2).sum())
            data = wide.to_numpy(np.float64)
            if n_reviewers >= 2 and n_cases >= 1:
                level = "nominal" if item == _TRIGGER else "ordinal"
                al = agreement.krippendorff_alpha_interval(
                    data.T, level, value_domain=scale, n_boot=n_boot, alpha=alpha, seed=seed)
                rows.append((round_id, item, f"alpha_{level}", al.estimate, al.ci_lower,
                             al.ci_upper, al.n_units, n_reviewers, None))
                weights = "unweighted" if item == _TRIGGER else "linear"
                ac = agreement.gwet_ac_raters(np.where(np.isnan(data), None, data).astype(object),
                                              categories=scale, weights=weights, alpha=alpha)
                name = "gwet_ac1" if item == _TRIGGER else "gwet_ac2_linear"
                rows.append((round_id, item, name, ac.estimate, ac.ci_lower, ac.ci_upper, ac.n,
                             n_reviewers, None))
            weights_k = None if item == _TRIGGER else "linear"
            kappa, lo, hi, n, why = _kappa_vs_panel(given, panel, part["case_id"].to_numpy(),
                                                    scale, weights_k, n_boot, alpha, rng)
            name = "kappa_vs_panel" if item == _TRIGGER else "kappa_linear_vs_panel"
            rows.append((round_id, item, name, kappa, lo, hi, n, n_reviewers, why))
    out = pd.DataFrame(rows, columns=["round_id", "item", "statistic", "estimate", "ci_lower",
                                      "ci_upper", "n_cases", "n_reviewers", "not_estimable"])
    out["not_estimable"] = pd.Series([w if isinstance(w, str) else None
                                      for w in out["not_estimable"]], dtype=object,
                                     index=out.index)
    for c in ("n_cases", "n_reviewers"):
        out[c] = out[c].astype(np.int64)
    return out


def _change_rows(merged: pd.DataFrame, reviewers: pd.DataFrame) -> pd.DataFrame:
    if "round_date" in merged.columns:
        when = pd.to_datetime(merged["round_date"]).groupby(merged["round_id"]).min()
        order = when.sort_values(kind="stable").index.tolist()
        order += sorted(set(merged["round_id"]) - set(order))
    else:
        order = sorted(set(merged["round_id"]))
    rank = {r: k for k, r in enumerate(order)}
    out = reviewers[["reviewer_id", "round_id", "exact_share", "within_one_share",
                     "trigger_share"]].copy()
    out["_rank"] = out["round_id"].map(rank)
    out = out.sort_values(["reviewer_id", "_rank"], kind="stable").drop(columns="_rank")
    out.insert(2, "round_number", out.groupby("reviewer_id").cumcount().astype(np.int64) + 1)
    out["change_exact"] = out.groupby("reviewer_id")["exact_share"].diff()
    return out.reset_index(drop=True)


def calibration_results(
    reference: pd.DataFrame,
    answers: pd.DataFrame,
    *,
    themes: Sequence[str] | None = None,
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int | None = 20261204,
) -> CalibrationResults:
    """Each reviewer against the panel's reference answers, the group's agreement, and change.

    Parameters
    ----------
    reference : pandas.DataFrame
        One row per training case: ``case_id``, ``score_<phase>`` for the phases of
        :data:`sjrlib.domain.PHASES` (``<NA>`` = phase not applicable; ``score_overall``
        required), ``avoidability_score`` (RCP direction, 1-6), optional ``themes``
        (``";"``-joined theme ids, ``""`` = none, or a list).
    answers : pandas.DataFrame
        One row per round, reviewer and case: ``round_id``, ``reviewer_id``, ``case_id`` and
        the same score (and optional ``themes``) columns; optional ``round_date`` orders the
        rounds (else ``round_id`` sorted). Other columns are ignored.
    themes : sequence of str, optional
        The codebook's theme ids: the decisions compared (each case x theme given or not).
        Default: every theme either side used.
    alpha : float
        1 - confidence level.
    n_boot, seed
        Bootstrap replicates and seed of the group intervals of alpha and kappa.

    Returns
    -------
    CalibrationResults
        ``items``: ``round_id, reviewer_id, item, n, exact, within_one, exact_share,
        within_one_share, mean_difference, n_harsher, n_more_lenient, direction`` (``item`` =
        a phase or ``avoidability``; difference = reviewer minus panel; lower = harsher;
        ``direction`` one of harsher / more lenient than the panel, :data:`TOO_FEW`, "no
        consistent difference" or, where no answer differs, :data:`SAME_AS_PANEL`).
        ``reviewers``: per round and reviewer, the overall-score columns (``n_cases``,
        ``exact_share``, ``within_one_share``, ``mean_difference``, ``n_harsher``,
        ``n_more_lenient``, ``direction``), the second-stage trigger (overall care 1-2 or not:
        ``trigger_n``, ``trigger_agree``, ``trigger_share``, ``trigger_missed`` = panel 1-2 and
        reviewer not, ``trigger_extra`` = the reverse), avoidability 1-3 vs 4-6
        (``avoidability_n``, ``avoidability_agree``, ``avoidability_share``) and themes
        (``themes_n`` cases with themes on both sides, ``themes_found`` share of the panel's
        themes the reviewer gave, ``themes_extra`` themes the panel did not give,
        ``themes_share`` share of case x theme decisions that agree).
        ``group``: ``round_id, item, statistic, estimate, ci_lower, ci_upper, n_cases,
        n_reviewers, not_estimable`` for every item and ``trigger``: ``alpha_ordinal``
        (``alpha_nominal`` for the trigger) and ``gwet_ac2_linear`` (``gwet_ac1``) *among the
        reviewers*, and
        ``kappa_linear_vs_panel`` (``kappa_vs_panel``) of every reviewer's answers against the
        panel's; ``not_estimable`` says why an estimate is NaN where that is known (a kappa on
        fewer than two answers, or where the reviewers' or the panel's scores do not vary:
        :func:`kappa_not_estimable`), else ``None``. ``change``: ``reviewer_id, round_id,
        round_number, exact_share, within_one_share, trigger_share, change_exact`` (exact share
        minus the reviewer's previous round).

    Notes
    -----
    Alpha: :func:`~sjrlib.stats.agreement.krippendorff_alpha_interval` (reviewers x cases, the
    panel not included; bootstrap over cases). AC2: :func:`~sjrlib.stats.agreement.gwet_ac_raters`
    with linear weights (t interval, variance conditional on the reviewers). Kappa against the
    panel pools every reviewer's answers (Cohen's, linear weights on the scale); because all
    reviewers answer the same cases, its interval resamples cases (percentile bootstrap, every
    answer to a drawn case kept), not pairs. A round has about a dozen cases: intervals are wide
    and say so; do not publish one on fewer than 8 cases.
    """
    items = _check_frames(reference, answers)
    merged = _merged(reference, answers, items)
    item_frame = _item_rows(merged, items)
    reviewers = _reviewer_rows(merged, item_frame, themes)
    group = _group_rows(merged, items, alpha, int(n_boot), seed)
    return CalibrationResults(item_frame, reviewers, group, _change_rows(merged, reviewers))
