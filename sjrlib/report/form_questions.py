"""Report tables of the questions added in ``ext2026`` (``shared/spec/form-versions.md``).

The trust and national reports call these with their reviews (period, no drafts) and their
disclosure rule. Each table uses a question only on reviews whose form version asks it (the field
registry says which), says in its note on how many reviews it rests and that ``ext2026`` is this
project's extension of the RCP 2017 form, not an RCP publication; every count goes through
disclosure control (:func:`sjrlib.disclosure.protect_counts`, secondary suppression across the
table's margins) and every percentage and interval is computed from the printed counts
(:func:`sjrlib.disclosure.published_rate`). A period with no review asked returns a sentence
saying so instead of an empty table.

Every caption ends with :data:`CAPTION_MARK`; ``sjr disclosure check``
(:mod:`sjrlib.disclosure_check`) reads the tables by it and by their layout, which is one of:

* **poor-care breakdown**: groups of reviews (one row per answer, partitioning the reviews
  asked), columns ``Reviews``, ``Poor or very poor ... care``, ``% poor or very poor`` and the
  interval, and a total row;
* **counts**: one row per answer (or referral type), one count column per answer of another
  question (or status) and an ``All ...`` column adding them up, a total row adding the rows
  up; ``% ...`` columns (if any) are of the ``All`` column;
* **score breakdown**: one row per answer, the care scores ``1``-``5`` of one phase and
  ``All ...`` (the reviews scoring it), ``% poor or very poor`` (scores 1-2 of All), a total row.

Pooled tables (the national report's): each organisation's report prints the same table of
its own reviews, so a pooled count set against theirs could narrow what their control hid (a
pooled 15 against fifteen organisations' ``*`` says each is 1-3). Given ``by`` (the column naming
each review's organisation), a table withholds such cells too, with their secondary suppressions
(:func:`sjrlib.disclosure.differencing_withheld`), then whatever every organisation's table as
printed, read at once with their margins, still narrows (``pooled``), and says so in its note.

Counted reviews: questions about the death are counted once per death (the primary first-stage
review, as the care-score tables); referrals are counted on every review that records them
(first and second stage), since each review may refer on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sjrlib import domain
from sjrlib.disclosure import (
    DisclosureRule,
    PrintedElsewhere,
    count_range,
    differencing_withheld,
    interval_text,
    protect_counts,
    published_rate,
)
from sjrlib.disclosure_check import ASKED_ALL_SHOWN
from sjrlib.form.registry import FORM_VERSION_COLUMN, LATEST_VERSION, registry
from sjrlib.report import narrative
from sjrlib.report.tables import (
    ReportTable,
    _note,
    noting_differencing,
    protect_pooled,
    shown_sum,
)
from sjrlib.stats import clustered, descriptive
from sjrlib.stats._reviews import ReviewIndex

__all__ = [
    "CAPTION_MARK",
    "EXTENSION_NOTE",
    "FormQuestionSections",
    "asked",
    "autism_and_learning_disability",
    "escalation_plan_and_end_of_life_care",
    "family_concern_findings",
    "family_involvement",
    "frailty_and_care",
    "medical_examiner_findings",
    "referrals",
    "second_stage_psii",
]

CAPTION_MARK = "(ext2026 questions)"
"""The end of every caption of this module (``sjr disclosure check`` reads the tables by it)."""
EXTENSION_NOTE = (f"{LATEST_VERSION} is this project's extension of the RCP 2017 structured "
                  "judgement review form (questions added since 2017 for medical examiners, "
                  "PSIRF, families, autism and frailty), not an RCP publication.")
TOTAL = "All reviews asked"
"""The total row of a table of reviews."""
NOT_ANSWERED = "Not answered"

Table = ReportTable | narrative.Paragraph
_Grouping = Callable[[pd.DataFrame], tuple[pd.Series, dict[str, str]]]
"""Each review's group (a label per review, partitioning them) and the groups' labels."""


def asked(reviews: pd.DataFrame, question: str) -> pd.DataFrame:
    """The reviews whose form version asks ``question`` (a question or column id)."""
    reg = registry()
    found = (reg.question(question) if question in {q.id for q in reg.questions}
             else reg.column(question).question)
    if FORM_VERSION_COLUMN not in reviews.columns:
        return reviews.iloc[0:0]
    return reviews[reviews[FORM_VERSION_COLUMN].isin(list(found.versions)).fillna(False)]


def _primary_first(reviews: pd.DataFrame) -> pd.DataFrame:
    """One review per death: the primary first-stage review (``sjrlib.stats`` selection)."""
    if reviews.empty:
        return reviews
    rows = ReviewIndex(reviews).stage_rows("first")
    return reviews.iloc[np.sort(rows)]


def _none_asked(what: str) -> narrative.Paragraph:
    return narrative.Paragraph(
        f"No review of deaths in this period was entered on a version of the form that asks "
        f"{what}, so there is nothing to show. " + EXTENSION_NOTE)


def _rests_on(n: object, what: str, rule: DisclosureRule, exact: int | None = None) -> str:
    """The note's sentence on the reviews counted; ``n`` as printed. A total withheld though
    not small (``exact``: for differencing, or a secondary suppression) is not "fewer than"."""
    shown = n if isinstance(n, str) else f"{int(n):,}"  # type: ignore[call-overload]
    if shown == rule.symbol and exact is not None and not rule.is_small(exact):
        return (f"Rests on the {what} entered on the {LATEST_VERSION} form (their number "
                f"withheld, as the table's total is), the only version that asks these "
                f"questions; earlier reviews (rcp2017) are left out. {EXTENSION_NOTE}")
    if shown == rule.symbol:
        shown = f"fewer than {rule.threshold + 1}"
    return (f"Rests on {shown} {what} entered on the {LATEST_VERSION} form, the only version "
            f"that asks these questions; earlier reviews (rcp2017) are left out. "
            f"{EXTENSION_NOTE}")


def _labels(column: str) -> dict[str, str]:
    return registry().column(column).spec.answers.labels()


def _protect(raw: pd.DataFrame, rule: DisclosureRule,
             per_group: Mapping[str, pd.DataFrame] | None, **margins
             ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """``raw`` protected with its ``margins`` (:func:`sjrlib.disclosure.protect_counts`) and,
    when it pools the groups of ``per_group`` (each organisation's exact table, which its own
    report prints protected with the same margins), against them: first cell by cell
    (:func:`sjrlib.disclosure.differencing_withheld`), then against every organisation's table
    as printed at once (``pooled``). Returns the protected counts and the cells withheld beyond
    the rule (for the note; None when not pooled)."""
    if per_group is None or not rule.active:
        return protect_counts(raw.astype(object), rule, **margins), None
    # each organisation's table as its own report prints it: not with this table's figures
    # printed elsewhere (the national care table's), which are no organisation's
    own = {k: v for k, v in margins.items() if k not in ("elsewhere", "withheld", "known")}
    pooled = [protect_counts(table.astype(object), rule, **own)
              for table in per_group.values()]
    withheld = differencing_withheld(per_group, rule, rule, raw)
    before = margins.pop("withheld", None)
    if before is not None:
        withheld = withheld | before.reindex(index=withheld.index, columns=withheld.columns,
                                             fill_value=False).astype(bool)
    return protect_pooled(raw, rule, withheld=withheld, pooled=pooled, **margins)


def _within_care_table(reviews: pd.DataFrame, phase: str, poor_column: str,
                       rule: DisclosureRule, *, raw: pd.DataFrame | None = None,
                       care: pd.DataFrame | None = None) -> dict:
    """What the report's care-score table tells of a question's total row, as ``margins`` of
    :func:`sjrlib.disclosure.protect_counts`. ``reviews``: all the report's (the care table's);
    ``raw``: the question's exact table; ``care``: the care table as the report prints it
    (default: as a trust's prints it; a pooled table must give its own).

    * Every review the care table counts in ``phase`` was asked (the counts are equal, and the
      reviews asked are among those counted: the same reviews): the total row *is* the care
      row's reviews and its scores 1 and 2, so it prints them, added up as printed
      (``elsewhere``: :class:`sjrlib.disclosure.PrintedElsewhere`), and the table is protected
      knowing it, its rows withheld until they narrow none of the care row's cells. An audit
      of the demo's reports (2026-12-06) found XG4's total row, its exact 448 and 37 rounded
      (450 and 35), beside overall care 10, 30, 105, 190, 110 (450) pinning all five
      (8, 29, 107, 192, 112), and XD1's poor care 45 beside scores ``*`` and 45 leaving the
      ``*`` at 1-4. The note then says so (:data:`sjrlib.disclosure_check.ASKED_ALL_SHOWN`),
      and ``sjr disclosure check`` reads the equality.
    * Otherwise the reviews asked are among those scoring ``phase`` there, and their poor care
      among its scores 1 and 2, so neither is more than the most those printed cells allow
      (``known``: each cell a piece of 0 to that most). XI9's care table printed overall scores
      1 and 2 as 10 and 30 (at most 44) beside a question's 45 asked with poor care (at least
      43): its rows 40, 0 and two ``*`` left each ``*`` at 1-5."""
    from sjrlib.report import tables

    care_raw = tables.care_score_counts(descriptive.care_score_distribution(reviews))
    printed = (protect_counts(care_raw, rule, total_column=tables.CARE_TOTAL)
               if care is None else care)
    row = domain.label("phase", phase)
    if row not in printed.index or row not in care_raw.index:
        return {}
    scores = tables.CARE_SCORE_LABELS
    if raw is not None and (
            int(raw.at[TOTAL, "Reviews"]) == int(care_raw.at[row, tables.CARE_TOTAL])
            and int(raw.at[TOTAL, poor_column]) == sum(int(care_raw.at[row, c])
                                                       for c in scores[:2])):
        return {"elsewhere": PrintedElsewhere(
            cells={c: printed.at[row, c] for c in [*scores, tables.CARE_TOTAL]},
            sums=[(scores, tables.CARE_TOTAL)],
            equal={(TOTAL, "Reviews"): [tables.CARE_TOTAL], (TOTAL, poor_column): scores[:2]})}

    def most(cells: list[object]) -> int | None:
        highs = [count_range(c, rule)[1] if c is not None else None for c in cells]
        return None if any(h is None for h in highs) else sum(highs)

    out = {}
    for column, cells in (("Reviews", [printed.at[row, tables.CARE_TOTAL]]),
                          (poor_column, [printed.at[row, c] for c in scores[:2]])):
        bound = most(cells)
        if bound is not None:
            out[(TOTAL, column)] = [(0, bound)]
    return {"known": out} if out else {}


# ------------------------------------------------------------------ poor-care breakdowns ----
def _poor_care_raw(reviews: pd.DataFrame, groups: pd.Series, order: Mapping[str, str],
                   phase: str, poor_column: str) -> pd.DataFrame:
    """The exact counts of :func:`_poor_care_table`, total row included."""
    frame = reviews.assign(_group=groups.loc[reviews.index].astype("string"))
    poor = descriptive.poor_care(frame, by="_group", phase=phase)
    poor = poor.set_index(poor["_group"].astype(str))
    rows = {}
    for key, label in order.items():
        r = poor.loc[key] if key in poor.index else None
        rows[label] = {"Reviews": int(r["n"]) if r is not None else 0,
                       poor_column: int(r["poor"]) if r is not None else 0}
    raw = pd.DataFrame.from_dict(rows, orient="index")
    raw.loc[TOTAL] = raw.sum()
    return raw


def _poor_care_table(reviews: pd.DataFrame, groups: pd.Series, order: Mapping[str, str],
                     rule: DisclosureRule, *, phase: str, caption: str, index_name: str,
                     note: str, alpha: float, by: str | None = None,
                     among: pd.DataFrame | None = None,
                     care: pd.DataFrame | None = None,
                     shared: Mapping[tuple[str, str], tuple[int, int | None]] | None = None,
                     withheld: pd.DataFrame | None = None) -> ReportTable:
    """Reviews and poor or very poor care in ``phase`` per group (``groups``: a label per
    review, partitioning them), with a total row; protected down the columns (and, ``by``
    given, against each organisation's own table: :func:`_protect`). ``among``: all the
    reviews of the report, whose care-score table prints the reviews asked among its own, or
    as the same reviews when all were asked (:func:`_within_care_table`); ``care``: that table
    as the report prints it (needed to print the same reviews so in a pooled table).
    ``shared``: what the report's other tables of the same reviews print of this one's total
    row (``{(TOTAL, column): (low, high)}``, :func:`_same_reviews_protected`); ``withheld``:
    cells withheld already (kept withheld)."""
    phase_words = "overall" if phase == "overall" else domain.label("phase", phase).lower()
    poor_column = f"Poor or very poor {phase_words} care"

    def raw_of(part: pd.DataFrame) -> pd.DataFrame:
        return _poor_care_raw(part, groups, order, phase, poor_column)

    raw = raw_of(reviews)
    margins: dict = {"total_row": TOTAL}
    if among is not None and rule.active:
        margins.update(_within_care_table(among, phase, poor_column, rule, raw=raw, care=care)
                       if care is not None or by is None else
                       _within_care_table(among, phase, poor_column, rule))
    if shared and rule.active:
        known = {cell: list(pieces) for cell, pieces in margins.get("known", {}).items()}
        for cell, (low, high) in shared.items():
            # the care table's bound is one piece (0 to its most): both hold, so intersect
            known[cell] = [_both(*known.get(cell, [(0, None)]), (low, high))]
        margins["known"] = known
    if withheld is not None and rule.active:
        margins["withheld"] = withheld
    counts, withheld = _protect(raw, rule, _per_group(reviews, by, raw_of), **margins)
    fits = _clustered_fits(reviews, groups, order, phase, alpha)
    pct, ci = [], []
    for label, n, k in zip(raw.index, raw["Reviews"], raw[poor_column], strict=True):
        exact = 100 * k / n if n else None
        interval, fit = None, fits.get(label)
        if n >= descriptive.MIN_CASES_FOR_INTERVAL:
            if fit is not None:
                lower, upper = clustered.effective_wilson(k, n, fit.design_effect,
                                                          fit.n_clusters, alpha)
            else:
                lower, upper = descriptive.wilson_interval([k], [n], alpha)
            interval = (float(lower[0]), float(upper[0]))
        value, text = published_rate(
            counts.at[label, poor_column], counts.at[label, "Reviews"], rule, exact=exact,
            exact_interval=interval, alpha=alpha if interval is not None else None)
        if fit is not None and rule.active:  # the printed counts, with the design effect
            text = clustered_interval_text(counts.at[label, poor_column],
                                           counts.at[label, "Reviews"], n, fit, alpha)
        pct.append(value)
        ci.append(text)
    method = (clustered.METHOD_NOTE + (" The interval is computed from the counts shown and "
                                       "the design effect; none" if rule.active else " None")
              + " on fewer than 8 reviews. " if fits else
              "Intervals are Wilson intervals, not shown on fewer than 8 reviews. ")
    counts["% poor or very poor"] = pd.Series(pct, index=counts.index, dtype=object)
    counts[f"{1 - alpha:.0%} confidence interval"] = pd.Series(ci, index=counts.index,
                                                               dtype=object)
    return noting_differencing(ReportTable(
        counts, caption=f"{caption} {CAPTION_MARK}",
        note=_note(rule, f"{note} Poor or very poor care = a care score of 1 or 2 for "
                   f"{phase_words} care at first stage (one review per death). "
                   + (f"{ASKED_ALL_SHOWN}. " if "elsewhere" in margins else "")
                   + method
                   + _rests_on(counts.at[TOTAL, "Reviews"], "reviews", rule,
                               int(raw.at[TOTAL, "Reviews"]))),
        formats={"% poor or very poor": "percent"}, total_rows=[TOTAL], index_name=index_name),
        withheld)


def _clustered_fits(reviews: pd.DataFrame, groups: pd.Series, order: Mapping[str, str],
                    phase: str, alpha: float) -> dict[str, clustered.ClusteredProportion]:
    """Where ``reviews`` pool two or more organisations (the national report, a region), the
    cluster-robust fit of poor care in each row of :func:`_poor_care_table` (its label: each
    answer's, and the total's), so that its interval allows for clustering of reviews by
    organisation as the report's other pooled intervals do: an audit of the national report
    (2026-12-06) found "All reviews asked" at 15.7% with 15.4-16.1% beside the headline's
    15.7% of the same 44,505 reviews with 14.4-17.1%. Empty for one organisation."""
    if "organisation_code" not in reviews or reviews["organisation_code"].nunique() < 2:
        return {}
    outcomes = clustered.poor_care_outcomes(
        reviews.assign(_group=groups.loc[reviews.index].astype("string")),
        columns=["_group"], phase=phase)
    fits = {TOTAL: clustered.clustered_proportion(outcomes["poor"],
                                                  outcomes["organisation_code"], alpha)}
    for key, label in order.items():
        part = outcomes[outcomes["_group"] == key]
        fits[label] = clustered.clustered_proportion(part["poor"], part["organisation_code"],
                                                     alpha)
    return fits


def clustered_interval_text(count: object, base: object, n_exact: int,
                    fit: clustered.ClusteredProportion, alpha: float) -> str | None:
    """The interval of printed ``count`` of ``base`` with ``fit``'s design effect (the national
    report's care table prints its own through it, :func:`sjrlib.report.national.
    clustered_interval`): none on fewer than 8 reviews or where a count is withheld."""
    if n_exact < descriptive.MIN_CASES_FOR_INTERVAL:
        return None
    try:
        k, n = int(count), int(base)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    if n <= 0 or not 0 <= k <= n:
        return None
    lower, upper = clustered.effective_wilson(k, n, fit.design_effect, fit.n_clusters, alpha)
    return interval_text(lower[0], upper[0])


def _answer_groups(reviews: pd.DataFrame, column: str) -> tuple[pd.Series, dict[str, str]]:
    """Each review's answer (``"_none"`` when blank), and ``{answer: label}`` in form order.
    Every answer has its row, even at 0, so the trust and national tables line up."""
    groups = reviews[column].astype("string").fillna("_none")
    return groups, {**_labels(column), "_none": NOT_ANSWERED}


@dataclass(frozen=True)
class _OverallCareQuestion:
    """One ext2026 question whose table is reviews and poor or very poor overall care per
    answer group (:func:`_poor_care_table`): ``grouping`` gives each review's group and the
    groups' labels in table order; ``what`` completes "a version of the form that asks ..."."""

    question: str
    grouping: _Grouping
    what: str
    caption: str
    index_name: str
    note: str


def _autism_groups(first: pd.DataFrame) -> tuple[pd.Series, dict[str, str]]:
    ld = (first["learning_disability"] == "yes").fillna(False).to_numpy(bool)
    autistic = (first["autism"] == "yes").fillna(False).to_numpy(bool)
    groups = pd.Series(np.select([ld & ~autistic, autistic & ~ld, ld & autistic],
                                 ["ld", "autism", "both"], "neither"), index=first.index)
    return groups, {"ld": "Learning disability, not autistic",
                    "autism": "Autistic, no learning disability",
                    "both": "Learning disability and autistic",
                    "neither": "Neither (or not known)"}


def _examiner_groups(first: pd.DataFrame) -> tuple[pd.Series, dict[str, str]]:
    """Scrutinised with each concern answer, then each other scrutiny answer."""
    scrutiny, concern = first["me_scrutiny"].astype("string"), first["me_concern"]
    groups = scrutiny.where(scrutiny != "yes", "yes_" + concern.astype("string").fillna("none"))
    concern_labels = _labels("me_concern")
    order = {f"yes_{a}": f"Scrutinised; concern raised: {label}"
             for a, label in concern_labels.items()}
    order["yes_none"] = f"Scrutinised; concern: {NOT_ANSWERED.lower()}"
    order.update({a: f"Scrutinised: {label}" for a, label in _labels("me_scrutiny").items()
                  if a != "yes"})
    order["_none"] = f"Scrutiny: {NOT_ANSWERED.lower()}"
    return groups.fillna("_none"), order


def _family_concern_groups(first: pd.DataFrame) -> tuple[pd.Series, dict[str, str]]:
    groups, order = _answer_groups(first, "family_concern")
    return groups, {k: f"Family or carers raised a concern: {v}" for k, v in order.items()}


AUTISM = _OverallCareQuestion(
    "autism", _autism_groups, what="whether the patient was autistic", index_name="Patients",
    caption="Deaths of autistic patients beside patients with a learning disability: "
            "reviews and poor or very poor overall care",
    note="LeDeR covers both groups; the deaths feed counts learning disability only, so "
         "autistic patients are counted among reviewed deaths here.")
MEDICAL_EXAMINER = _OverallCareQuestion(
    "me_scrutiny", _examiner_groups, what="about medical examiner scrutiny",
    index_name="Medical examiner",
    caption="Medical examiner scrutiny and concerns, and poor or very poor overall care",
    note="Medical examiner scrutiny is statutory in England from 9 September 2024; "
         "Scottish health boards answer not applicable (Death Certification Review "
         "Service).")
FAMILY_CONCERN = _OverallCareQuestion(
    "family_concern", _family_concern_groups,
    what="whether the family raised a concern", index_name="Family concern",
    caption="Concerns raised by bereaved families or carers, and poor or very poor "
            "overall care",
    note="A family's concern is a reason for review (NQB 2017) and a source of learning.")
OVERALL_CARE_QUESTIONS = (AUTISM, MEDICAL_EXAMINER, FAMILY_CONCERN)
"""The ext2026 questions tabled as reviews and poor or very poor overall care per answer."""

_POOR_OVERALL = "Poor or very poor overall care"
_TOTAL_COLUMNS = ("Reviews", _POOR_OVERALL)


def overall_care_tables(reviews: pd.DataFrame, rule: DisclosureRule, *, alpha: float = 0.05,
                        by: str | None = None, care: pd.DataFrame | None = None,
                        ) -> dict[str, Table]:
    """The table of each of :data:`OVERALL_CARE_QUESTIONS` (by question), protected together.

    Questions asked of the same reviews (every ext2026 review is asked all three) have one
    total row between them, and each table's rows add up to it: a reader bounds that total
    by every table's rows as printed, and reads each table's ``*`` against the tightest
    bound. Each table is therefore protected knowing the bound the others' rows print
    (``shared`` of :func:`_poor_care_table`), cells once withheld stay withheld, and the
    round is repeated until no table withholds more. On the demo's S08999006 (2025-26) the
    medical examiner table's one row of every review (560 reviews, poor care 175) bounded
    the poor care to 173-177, which narrowed the autism table's two ``*`` to 1-5 when the
    autism table was protected alone. ``care``: the report's care-score table as printed
    (:func:`_poor_care_table`)."""
    firsts = {q.question: _primary_first(asked(reviews, q.question))
              for q in OVERALL_CARE_QUESTIONS}
    shared: dict[str, dict] = {q.question: {} for q in OVERALL_CARE_QUESTIONS}
    masks: dict[str, pd.DataFrame | None] = {q.question: None for q in OVERALL_CARE_QUESTIONS}
    tables: dict[str, Table] = {}
    for _ in range(_JOINT_ROUNDS):
        grew = False
        for q in OVERALL_CARE_QUESTIONS:
            first = firsts[q.question]
            if first.empty:
                tables[q.question] = _none_asked(q.what)
                continue
            groups, order = q.grouping(first)
            table = _poor_care_table(first, groups, order, rule, phase="overall",
                                     caption=q.caption, index_name=q.index_name, note=q.note,
                                     alpha=alpha, by=by, among=reviews, care=care,
                                     shared=shared[q.question], withheld=masks[q.question])
            tables[q.question] = table
            mask = table.frame[list(_TOTAL_COLUMNS)].apply(
                lambda column: column.map(lambda v: v == rule.symbol)).astype(bool)
            before = masks[q.question]
            grew = grew or before is None or bool((mask & ~before).to_numpy().any())
            masks[q.question] = mask
        bounds = _shared_totals(tables, firsts, rule)
        if not grew and bounds == shared:
            break
        shared = bounds
    return tables


_JOINT_ROUNDS = 12
"""At most this many rounds of :func:`overall_care_tables` (cells only ever get withheld, so
the rounds end; two or three do on the demo)."""


def _shared_totals(tables: Mapping[str, Table], firsts: Mapping[str, pd.DataFrame],
                   rule: DisclosureRule) -> dict[str, dict]:
    """For each question, what the other tables of the same reviews print of the total row:
    the range their rows allow as printed (and their own total row's, unless it prints the
    care table's figures), intersected over the tables."""
    printed = {name: table for name, table in tables.items()
               if isinstance(table, ReportTable) and rule.active}
    out: dict[str, dict] = {name: {} for name in tables}
    for name in printed:
        same = [other for other in printed if other != name
                and firsts[other].index.equals(firsts[name].index)]
        for column in _TOTAL_COLUMNS:
            bound: tuple[int, int | None] = (0, None)
            for other in same:
                frame = printed[other].frame
                ranges = [count_range(v, rule) for r, v in frame[column].items()
                          if r != TOTAL and v is not None]
                bound = _both(bound, (sum(r[0] for r in ranges),
                                      None if any(r[1] is None for r in ranges)
                                      else sum(r[1] for r in ranges)))
                if ASKED_ALL_SHOWN not in printed[other].note:
                    bound = _both(bound, count_range(frame.at[TOTAL, column], rule))
            if same:
                out[name][(TOTAL, column)] = bound
    return out


def _both(a: tuple[int, int | None], b: tuple[int, int | None]) -> tuple[int, int | None]:
    """What two ranges of one count allow together (``None``: no upper limit)."""
    highs = [h for h in (a[1], b[1]) if h is not None]
    return max(a[0], b[0]), min(highs) if highs else None


def autism_and_learning_disability(reviews: pd.DataFrame, rule: DisclosureRule, *,
                                   alpha: float = 0.05, by: str | None = None,
                                   care: pd.DataFrame | None = None) -> Table:
    """Deaths of autistic patients beside deaths of patients with a learning disability:
    reviews and poor or very poor overall care, the four combinations of the two answers
    (protected with the other tables of the same reviews: :func:`overall_care_tables`)."""
    return overall_care_tables(reviews, rule, alpha=alpha, by=by, care=care)[AUTISM.question]


def medical_examiner_findings(reviews: pd.DataFrame, rule: DisclosureRule, *,
                              alpha: float = 0.05, by: str | None = None,
                              care: pd.DataFrame | None = None) -> Table:
    """Medical examiner scrutiny and concerns, and the overall care the reviews found."""
    return overall_care_tables(reviews, rule, alpha=alpha, by=by,
                               care=care)[MEDICAL_EXAMINER.question]


def family_concern_findings(reviews: pd.DataFrame, rule: DisclosureRule, *,
                            alpha: float = 0.05, by: str | None = None,
                            care: pd.DataFrame | None = None) -> Table:
    """Concerns raised by the bereaved family or carers, and the overall care found."""
    return overall_care_tables(reviews, rule, alpha=alpha, by=by,
                               care=care)[FAMILY_CONCERN.question]


def escalation_plan_and_end_of_life_care(reviews: pd.DataFrame, rule: DisclosureRule, *,
                                         by: str | None = None) -> Table:
    """End-of-life care scores by whether a treatment escalation plan was documented."""
    first = _primary_first(asked(reviews, "escalation_plan"))
    if first.empty:
        return _none_asked("about treatment escalation plans")
    return _score_table(first, "escalation_plan", "end_of_life", rule,
                        caption="End-of-life care scores by treatment escalation plan (e.g. "
                                "ReSPECT) in place and documented",
                        index_name="Treatment escalation plan", by=by)


def frailty_and_care(reviews: pd.DataFrame, rule: DisclosureRule, *,
                     by: str | None = None) -> Table:
    """End-of-life care scores by Clinical Frailty Scale band (patients 65 and over)."""
    first = _primary_first(asked(reviews, "clinical_frailty_scale"))
    first = first[(first["age_at_death"] >= 65).fillna(False)]
    if first.empty:
        return _none_asked("the Clinical Frailty Scale")
    score = first["clinical_frailty_scale"]
    bands = {"fit": "1-3 Fit", "mild": "4-5 Very mild or mild frailty",
             "moderate": "6 Moderate frailty", "severe": "7-9 Severe frailty or terminally ill"}
    groups = pd.Series(np.select(
        [score.between(1, 3).fillna(False), score.between(4, 5).fillna(False),
         (score == 6).fillna(False), score.between(7, 9).fillna(False)],
        list(bands), "_none"), index=first.index)
    order = {**bands, "_none": "Not scored"}
    frame = first.assign(_band=groups)
    return _score_table(frame, "_band", "end_of_life", rule, order=order,
                        caption="End-of-life care scores by Clinical Frailty Scale on "
                                "admission (patients 65 and over)",
                        index_name="Clinical Frailty Scale",
                        extra="Rockwood Clinical Frailty Scale, scored only for patients 65 "
                              "and over.", by=by)


def _score_raw(first: pd.DataFrame, column: str, phase: str, order: Mapping[str, str],
               score_columns: list[str], all_column: str) -> pd.DataFrame:
    """The exact counts of :func:`_score_table`, margins included."""
    dist = descriptive.care_score_distribution(first, by=column, phases=[phase])
    dist = dist.assign(_key=dist[column].astype(str))
    rows = {}
    for key, label in order.items():
        part = dist[dist["_key"] == key].sort_values("score")
        counts = [int(c) for c in part["count"]] if len(part) else [0] * len(score_columns)
        rows[label] = dict(zip(score_columns, counts, strict=True))
        rows[label][all_column] = sum(counts)
    raw = pd.DataFrame.from_dict(rows, orient="index")
    raw.loc[TOTAL] = raw.sum()
    return raw


def _score_table(first: pd.DataFrame, column: str, phase: str, rule: DisclosureRule, *,
                 caption: str, index_name: str, order: Mapping[str, str] | None = None,
                 extra: str = "", by: str | None = None) -> ReportTable:
    """Care scores 1-5 of ``phase`` per answer of ``column`` (one review per death); ``by``:
    pooled over organisations (:func:`_protect`)."""
    if order is None:
        groups, order = _answer_groups(first, column)
        first = first.assign(**{column: groups})
    phase_label = domain.label("phase", phase).lower()
    score_columns = [f"{s} {domain.label('care_score', s)}" for s in domain.CARE_SCORES]
    all_column = f"All scoring {phase_label}"

    def raw_of(part: pd.DataFrame) -> pd.DataFrame:
        return _score_raw(part, column, phase, order, score_columns, all_column)

    raw = raw_of(first)
    protected, withheld = _protect(raw, rule, _per_group(first, by, raw_of), total_row=TOTAL,
                                   total_column=all_column, parts=score_columns)
    pct = []
    for label in raw.index:
        n = int(raw.at[label, all_column])
        poor = int(raw.loc[label, score_columns[:2]].sum())
        # As the care-score table: the poor count (scores 1 + 2) is not printed, but its
        # percentage gives it back with the base, so it is the cells' sum as shown
        shown_poor = shown_sum([protected.at[label, c] for c in score_columns[:2]], rule)
        value, _ = published_rate(shown_poor, protected.at[label, all_column], rule,
                                  exact=100 * poor / n if n else None)
        pct.append(value)
    protected["% poor or very poor"] = pd.Series(pct, index=protected.index, dtype=object)
    n_total = protected.at[TOTAL, all_column]
    return noting_differencing(ReportTable(
        protected, caption=f"{caption} {CAPTION_MARK}",
        note=_note(rule, f"{extra} First-stage reviews, one per death, scoring "
                   f"{phase_label} (a review not scoring it, e.g. a sudden death, is left "
                   "out). Poor or very poor = score 1 or 2. "
                   + _rests_on(n_total, f"reviews scoring {phase_label}", rule,
                               int(raw.at[TOTAL, all_column]))).strip(),
        formats={"% poor or very poor": "percent"}, total_rows=[TOTAL], index_name=index_name),
        withheld)


# ---------------------------------------------------------------------------- counts ----
def _margins(raw: pd.DataFrame, all_column: str, total_label: str | None) -> pd.DataFrame:
    """``raw`` with its ``All`` column (the row sums) and total row (unless None)."""
    raw = raw.copy()
    raw[all_column] = raw.sum(axis=1)
    if total_label is not None:
        raw.loc[total_label] = raw.sum()
    return raw


def _counts_table(raw: pd.DataFrame, rule: DisclosureRule, *, all_column: str,
                  caption: str, index_name: str, note: str, total_label: str | None = TOTAL,
                  percent_of: Mapping[str, str] | None = None,
                  per_group: Mapping[str, pd.DataFrame] | None = None,
                  elsewhere: PrintedElsewhere | None = None) -> ReportTable:
    """A count table with an ``All`` column (sum of the others) and a total row (unless
    ``total_label`` is None), protected together; ``percent_of``: ``{count column: name}`` of
    counts shown also as a % of the row's ``All`` (``name`` starts with ``%``). ``per_group``:
    each organisation's ``raw`` when ``raw`` pools theirs (:func:`_protect`); ``elsewhere``:
    what another table of the report prints of these cells
    (:class:`sjrlib.disclosure.PrintedElsewhere`)."""
    parts = list(raw.columns)
    raw = _margins(raw, all_column, total_label)
    margins: dict = {"elsewhere": elsewhere} if elsewhere is not None and rule.active else {}
    protected, withheld = _protect(
        raw, rule, None if per_group is None else
        {g: _margins(t, all_column, total_label) for g, t in per_group.items()},
        total_row=total_label, total_column=all_column, parts=parts, **margins)
    formats = {}
    for column, name in (percent_of or {}).items():
        values = []
        for label in raw.index:
            n, k = int(raw.at[label, all_column]), int(raw.at[label, column])
            value, _ = published_rate(protected.at[label, column],
                                      protected.at[label, all_column], rule,
                                      exact=100 * k / n if n else None)
            values.append(value)
        protected[name] = pd.Series(values, index=protected.index, dtype=object)
        formats[name] = "percent"
    return noting_differencing(ReportTable(protected, caption=f"{caption} {CAPTION_MARK}",
                               note=_note(rule, note), formats=formats,
                               total_rows=[total_label] if total_label else [],
                               index_name=index_name), withheld)


def _per_group(rows: pd.DataFrame, by: str | None,
               raw_of: Callable[[pd.DataFrame], pd.DataFrame]) -> dict | None:
    """``{group: raw_of(its rows)}`` for a pooled table (``by`` given), else None."""
    if by is None:
        return None
    return {code: raw_of(part) for code, part in rows.groupby(by, sort=True)}


def _family_raw(first: pd.DataFrame) -> pd.DataFrame:
    involved, rows = _answer_groups(first, "family_involved")
    feedback, columns = _answer_groups(first, "family_feedback")
    table = pd.crosstab(involved, feedback).reindex(index=list(rows), columns=list(columns),
                                                    fill_value=0)
    table.index = [rows[k] for k in table.index]
    table.columns = [f"Findings shared: {columns[k]}" for k in table.columns]
    return table


FAMILY_GUIDANCE_ENGLAND = (
    "NQB guidance (2018) expects bereaved families to be told of a review, invited to "
    "contribute and given its findings; a published audit found only 17% of Quality "
    "Accounts mentioned families. ")
"""The family table's note on English guidance (the National Quality Board's, and English
trusts' Quality Accounts): not on a Scottish health board's page."""


def family_involvement(reviews: pd.DataFrame, rule: DisclosureRule, *,
                       by: str | None = None, scottish: bool = False) -> Table:
    """Families told of the review and invited to contribute, by whether the findings were
    shared with them (one review per death). ``scottish``: a Scottish health board's page,
    whose note leaves out the English guidance (:data:`FAMILY_GUIDANCE_ENGLAND`)."""
    first = _primary_first(asked(reviews, "family_involved"))
    if first.empty:
        return _none_asked("about family involvement")
    table = _family_raw(first)
    out = _counts_table(
        table, rule, all_column="All reviews",
        percent_of={table.columns[0]: "% findings shared"},
        per_group=_per_group(first, by, _family_raw),
        caption="Family involvement in the review and feedback of its findings",
        index_name="Family told and invited to contribute",
        note=("" if scottish else FAMILY_GUIDANCE_ENGLAND)
        + "First-stage reviews, one per death.")
    out.note = (f"{out.note} "
                f"{_rests_on(out.frame.at[TOTAL, 'All reviews'], 'reviews', rule, len(first))}")
    return out


def _referrals_raw(rows_asked: pd.DataFrame) -> pd.DataFrame:
    types = registry().question("referral").types.labels()
    statuses = registry().question("referral").value.answers.labels()
    table = pd.DataFrame(0, index=list(types.values()), columns=[
        f"{label}" for label in statuses.values()], dtype=np.int64)
    for kind, label in types.items():
        counts = rows_asked[domain.referral_column(kind)].value_counts()
        for status, status_label in statuses.items():
            table.at[label, status_label] = int(counts.get(status, 0))
    return table


def referrals(reviews: pd.DataFrame, rule: DisclosureRule, *, by: str | None = None) -> Table:
    """Referrals on, by type and status (every review recording them, both stages)."""
    rows_asked = asked(reviews, "referral")
    if rows_asked.empty:
        return _none_asked("about referrals on")
    table = _referrals_raw(rows_asked)
    total = "All referrals"
    out = _counts_table(
        table, rule, all_column="All referrals of the type", total_label=total,
        per_group=_per_group(rows_asked, by, _referrals_raw),
        caption="Referrals on from reviews, by type and status",
        index_name="Referred to",
        note="A review may refer to several processes; each referral counts once per review "
             "recording it (first and second stage). Coroners are English, the Procurator "
             "Fiscal Scottish; LeDeR takes deaths of people with a learning disability and "
             "autistic people. ")
    n = len(rows_asked)
    shown = n if not rule.active else (rule.symbol if rule.is_small(n) else rule.round(n))
    # the number of reviews is a count each organisation's page prints too: withheld here
    # when, set against theirs, it would narrow one
    if by is not None and rule.active and differencing_withheld(
            {g: pd.DataFrame({"n": [len(part)]}) for g, part in rows_asked.groupby(by)},
            rule, rule, pd.DataFrame({"n": [n]})).at[0, "n"]:
        shown = rule.symbol
    out.note = f"{out.note} {_rests_on(shown, 'reviews (first and second stage)', rule, n)}"
    return out


_PSII_LED = "Led to a PSII (referral made or completed)"
_PSII_AMONG = {"PSII considered and not needed": ["considered_not_needed"],
               "PSII planned": ["planned"], _PSII_LED: ["made", "completed"]}
"""The PSII table's cells and the statuses of the referrals table's PSIRF row they are
among (:func:`_psii_among_referrals`)."""


def _psii_among_referrals(referrals_table: object, rule: DisclosureRule
                          ) -> PrintedElsewhere | None:
    """What the referrals table, as printed, tells of the second-stage PSII table: the same
    question (a review's PSII referral and its status), counted on every review recording
    referrals (first and second stage) there and on the second-stage ones here, so each of
    these cells is among that row's cells of its status (led to a PSII: among made and
    completed together). An audit of the demo's reports (2026-12-06, held out) found XI6's
    "Led to a PSII" 10 (8-12) beside its PSIRF row of 10 (8-12) with none planned, which
    left "Considered and not needed" ``*`` at most 12 - 8 = 4 (true 2), and XP9's at 1-6.
    As :class:`sjrlib.disclosure.PrintedElsewhere` (``within``): this table is protected
    until neither table has a ``*`` narrowed or a rounded count pinned."""
    frame = getattr(referrals_table, "frame", None)
    if frame is None or not rule.active:
        return None
    reg = registry().question("referral")
    psirf = reg.types.labels()["psii"]
    statuses = reg.value.answers.labels()
    whole = "All referrals of the type"
    if psirf not in frame.index or whole not in frame.columns:
        return None
    columns = [*statuses.values(), whole]
    cells = {("ref", r, c): frame.at[r, c] for r in frame.index for c in columns
             if c in frame.columns}
    cells = {k: (v if v == rule.symbol or isinstance(v, (int, np.integer)) else None)
             for k, v in cells.items()}
    body = [r for r in frame.index if r != "All referrals"]
    sums = [([("ref", r, c) for c in statuses.values()], ("ref", r, whole))
            for r in frame.index]
    if "All referrals" in frame.index:
        sums += [([("ref", r, c) for r in body], ("ref", "All referrals", c)) for c in columns]
    within = {("Second-stage reviews", column): [("ref", psirf, statuses[k]) for k in keys]
              for column, keys in _PSII_AMONG.items()}
    return PrintedElsewhere(cells=cells, equal={}, sums=sums, within=within)


def _psii_raw(second: pd.DataFrame) -> pd.DataFrame:
    status = second[domain.referral_column("psii")].astype("string").fillna("_none")
    order = {"No PSII referral": ["_none"], "PSII considered and not needed":
             ["considered_not_needed"], "PSII planned": ["planned"],
             _PSII_LED: ["made", "completed"]}
    return pd.DataFrame([[int(status.isin(keys).sum()) for keys in order.values()]],
                        index=["Second-stage reviews"], columns=list(order))


def second_stage_psii(reviews: pd.DataFrame, rule: DisclosureRule, *,
                      by: str | None = None, referrals_table: object = None) -> Table:
    """Second-stage reviews and the patient safety incident investigations they led to;
    ``referrals_table``: the report's referrals table as printed, whose PSIRF row counts
    these referrals among the first stage's (:func:`_psii_among_referrals`)."""
    second = asked(reviews, "referral")
    second = second[(second["review_stage"] == "second").fillna(False)]
    if second.empty:
        return _none_asked("about referrals on at second stage")
    led = _PSII_LED
    table = _psii_raw(second)
    out = _counts_table(
        table, rule, all_column="All second-stage reviews", total_label=None,
        caption="Second-stage reviews that led to a patient safety incident investigation "
                "(PSIRF)", index_name="", percent_of={led: "% led to a PSII"},
        per_group=_per_group(second, by, _psii_raw),
        elsewhere=_psii_among_referrals(referrals_table, rule),
        note="A second-stage review led to a patient safety incident investigation (PSII) "
             "when its PSII referral was made or completed; its referrals are among those "
             "of the referrals table's PSIRF row.")
    n = out.frame.at["Second-stage reviews", "All second-stage reviews"]
    out.note = f"{out.note} {_rests_on(n, 'second-stage reviews', rule, len(second))}"
    return out


class FormQuestionSections:
    """The report sections of the ext2026 questions, for a report class holding ``reviews``
    (the period's, no drafts), ``rule`` (its disclosure rule) and ``alpha``
    (:class:`sjrlib.report.trust.TrustReport`, :class:`sjrlib.report.national.NationalReport`).
    Each returns a table, or a sentence when no review of the period was asked."""

    reviews: pd.DataFrame
    rule: DisclosureRule
    alpha: float
    pooled_by: str | None = None
    """The column naming each review's organisation when the report pools organisations that
    publish the same tables of their own (the national report): see :func:`_protect`."""

    def _care_scores_as_printed(self) -> pd.DataFrame | None:
        """The report's care-score table as it prints it (the poor-care tables' total row is
        its overall row when every review was asked: :func:`_within_care_table`)."""
        care_scores = getattr(self, "care_scores", None)
        return care_scores().frame if care_scores is not None else None

    def _overall_care_tables(self) -> dict[str, Table]:
        """The three tables of :func:`overall_care_tables`, built once (together)."""
        cached = self.__dict__.get("_overall_care_cache")
        if cached is None:
            cached = overall_care_tables(self.reviews, self.rule, alpha=self.alpha,
                                         by=self.pooled_by, care=self._care_scores_as_printed())
            self.__dict__["_overall_care_cache"] = cached
        return cached

    def autism_beside_learning_disability(self) -> Table:
        return self._overall_care_tables()[AUTISM.question]

    def medical_examiner_concerns(self) -> Table:
        return self._overall_care_tables()[MEDICAL_EXAMINER.question]

    def family_concerns(self) -> Table:
        return self._overall_care_tables()[FAMILY_CONCERN.question]

    def family_involvement(self) -> Table:
        return family_involvement(self.reviews, self.rule, by=self.pooled_by,
                                  scottish=bool(getattr(self, "scottish", False)))

    def referrals_on(self) -> Table:
        return referrals(self.reviews, self.rule, by=self.pooled_by)

    def second_stage_psii(self) -> Table:
        return second_stage_psii(self.reviews, self.rule, by=self.pooled_by,
                                 referrals_table=self.referrals_on())

    def escalation_planning(self) -> Table:
        return escalation_plan_and_end_of_life_care(self.reviews, self.rule,
                                                    by=self.pooled_by)

    def frailty(self) -> Table:
        return frailty_and_care(self.reviews, self.rule, by=self.pooled_by)
