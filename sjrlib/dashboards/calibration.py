"""Calibration: score a round's fictional training cases, then see how you compare with the panel.

For the signed-in reviewer, :func:`calibration_page` lists their open rounds; each case opens in
a scoring form marked **training** (the summary of the fictional case, a care score and explicit
judgement for each phase that applies, problems in care with harm, avoidability and themes).
Answers are saved through ``Session.save_calibration_answer``: training answers, stored apart
from reviews, never counted in any Learning from Deaths figure. Once a reviewer has submitted a
case they see the panel's reference beside their answer, and their own results (exact and
within-one agreement, whether they score harsher or more lenient than the panel, the
second-stage trigger, avoidability 1-3 vs 4-6, themes, change across rounds).

An organisation lead sees their reviewers' results and the group's agreement, and who is trained
and due a refresher; the programme team sees the national distribution (quartiles of the
reviewers' agreement, the group statistics) and training capacity per region, naming no
organisation and no reviewer. Statistics: :func:`sjrlib.stats.calibration.calibration_results`.

The notebook ``notebooks/calibration.ipynb`` only calls :func:`calibration_page`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from sjrlib import domain

__all__ = ["results_tables", "training_capacity"]

_ITEM_LABELS = {**{p: domain.label("phase", p) for p in domain.PHASES},
                "avoidability": "Avoidability of death"}
_N_BOOT = 500


def _percent(value: Any) -> str:
    return "" if value is None or pd.isna(value) else f"{100 * float(value):.0f}%"


def _interval(row: pd.Series) -> str:
    if pd.isna(row["estimate"]):
        return "not estimable"
    text = f"{row['estimate']:.2f}"
    if not pd.isna(row["ci_lower"]) and row["n_cases"] >= 8:
        text += f" ({row['ci_lower']:.2f} to {row['ci_upper']:.2f})"
    return text


def _results(data: dict[str, Any]):
    from data_access.training import calibration_frames
    from sjrlib.stats.calibration import calibration_results
    from sjrlib.themes.codebook import shipped_codebook

    reference, answers = calibration_frames(data["cases"], data["answers"], data["rounds"])
    if not len(answers):
        return None, answers
    return calibration_results(reference, answers, themes=list(shipped_codebook().ids),
                               n_boot=_N_BOOT), answers


def results_tables(data: dict[str, Any], role: str) -> list[tuple[str, pd.DataFrame]]:
    """Titled tables of a round's (or every round's) results for ``role``.

    ``data`` is ``Session.calibration_data()``'s. A reviewer: their own agreement with the panel
    item by item, the trigger, avoidability and themes, and change across rounds. A lead: each
    of their reviewers and the group's agreement. The programme team: the distribution of the
    reviewers' agreement and the group's agreement, naming no organisation and no reviewer.
    """
    res, answers = _results(data)
    if res is None:
        return [("No submitted answers yet", pd.DataFrame({"": ["Nothing to show: no answer "
                                                               "has been submitted."]}))]
    out: list[tuple[str, pd.DataFrame]] = []
    if role == "reviewer":
        items = res.items.assign(item=res.items["item"].map(_ITEM_LABELS))
        out.append(("Your scores against the panel's reference answers", pd.DataFrame({
            "Round": items["round_id"], "Item": items["item"], "Cases": items["n"],
            "Same score": items["exact_share"].map(_percent),
            "Within one point": items["within_one_share"].map(_percent),
            "Compared with the panel": items["direction"].fillna("")})))
        r = res.reviewers
        out.append(("Your decisions against the panel's", pd.DataFrame({
            "Round": r["round_id"],
            "Second-stage trigger (overall care 1-2) agreed": [
                f"{a} of {n}" for a, n in zip(r["trigger_agree"], r["trigger_n"], strict=True)],
            "Avoidability 1-3 vs 4-6 agreed": [
                f"{a} of {n}" for a, n in zip(r["avoidability_agree"], r["avoidability_n"],
                                             strict=True)],
            "Panel's themes you gave": r["themes_found"].map(_percent),
            "Theme decisions agreed": r["themes_share"].map(_percent)})))
        if res.change["round_number"].max() > 1:
            c = res.change
            out.append(("Your agreement across rounds", pd.DataFrame({
                "Round": c["round_id"], "Same overall score": c["exact_share"].map(_percent),
                "Within one point": c["within_one_share"].map(_percent),
                "Trigger agreed": c["trigger_share"].map(_percent)})))
        return out
    if role == "organisation_lead":
        r = res.reviewers
        out.append(("Your reviewers against the panel (overall care)", pd.DataFrame({
            "Round": r["round_id"], "Reviewer": r["reviewer_id"], "Cases": r["n_cases"],
            "Same score": r["exact_share"].map(_percent),
            "Within one point": r["within_one_share"].map(_percent),
            "Compared with the panel": r["direction"].fillna(""),
            "Trigger agreed": r["trigger_share"].map(_percent),
            "Avoidability 1-3 vs 4-6 agreed": r["avoidability_share"].map(_percent),
            "Theme decisions agreed": r["themes_share"].map(_percent)})))
    else:
        d = res.distribution()
        out.append(("Reviewers' agreement with the panel: the distribution (no organisation "
                    "or reviewer named)", pd.DataFrame({
                        "Round": d["round_id"], "Measure": d["measure"].map({
                            "exact_share": "Same overall score",
                            "within_one_share": "Overall within one point",
                            "trigger_share": "Second-stage trigger agreed"}),
                        "Reviewers": d["n_reviewers"], "Lower quartile": d["q25"].map(_percent),
                        "Median": d["median"].map(_percent),
                        "Upper quartile": d["q75"].map(_percent)})))
    g = res.group
    g = g[g["item"].isin(["overall", "avoidability", "trigger"])]
    names = {"alpha_ordinal": "Krippendorff's alpha (ordinal)",
             "alpha_nominal": "Krippendorff's alpha (nominal)",
             "gwet_ac2_linear": "Gwet's AC2 (linear weights)", "gwet_ac1": "Gwet's AC1",
             "kappa_linear_vs_panel": "Weighted kappa against the panel",
             "kappa_vs_panel": "Kappa against the panel"}
    out.append(("The group's agreement (95% intervals on 8 or more cases)", pd.DataFrame({
        "Round": g["round_id"],
        "Item": g["item"].map({**_ITEM_LABELS, "trigger": "Second-stage trigger"}),
        "Statistic": g["statistic"].map(names).fillna(g["statistic"]),
        "Estimate": [_interval(row) for _, row in g.iterrows()],
        "Cases": g["n_cases"], "Reviewers": g["n_reviewers"]})))
    return out


def training_capacity(records: pd.DataFrame, trainers: pd.DataFrame,
                      organisations: pd.DataFrame) -> pd.DataFrame:
    """Trained reviewers and active trainers per region (national: no organisation named, no
    ranking; regions in alphabetical order)."""
    regions = organisations.set_index("organisation_code")["region"].astype(str)
    trained = records.drop_duplicates(["organisation_code", "reviewer_id"])
    per_region = trained["organisation_code"].map(regions).value_counts()
    active = trainers[trainers["active"].astype(bool)]["region"].value_counts()
    names = sorted(set(regions) | set(active.index))
    return pd.DataFrame({"Region": names,
                         "Trained reviewers": [int(per_region.get(r, 0)) for r in names],
                         "Active trainers": [int(active.get(r, 0)) for r in names]})
