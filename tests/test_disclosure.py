"""Disclosure control: the HES rule (suppress 1-7, round to 5, secondary suppression)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sjrlib.disclosure import (
    DisclosureRule,
    differencing_withheld,
    protect_count,
    protect_counts,
    protect_rate,
    protect_rates,
    suppression_mask,
)

RULE = DisclosureRule()


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, 0), (1, "*"), (7, "*"), (8, 10), (12, 10), (13, 15), (17, 15), (18, 20), (1000, 1000),
     (None, None)],
)
def test_single_counts_follow_the_hes_rule(count, expected):
    assert protect_count(count, RULE) == expected


def test_configurable_threshold_and_no_rounding():
    old_hqip = DisclosureRule(threshold=4, rounding=1)
    assert [protect_count(n, old_hqip) for n in (0, 4, 5, 7, 13)] == [0, "*", 5, 7, 13]
    off = DisclosureRule.off()
    assert not off.active
    assert [protect_count(n, off) for n in (0, 1, 7, 13)] == [0, 1, 7, 13]


def test_bad_rule_is_a_clear_error():
    with pytest.raises(ValueError, match="rounding base"):
        DisclosureRule(rounding=0)
    with pytest.raises(ValueError, match="threshold"):
        DisclosureRule(threshold=-1)


def test_secondary_suppression_in_a_row_with_a_total():
    table = pd.DataFrame(
        {"a": [3, 40], "b": [20, 50], "c": [30, 60], "total": [53, 150]}, index=["q1", "q2"]
    )
    mask = suppression_mask(table, RULE, total_column="total")
    # q1: a is small; the smallest other non-zero cell (b=20) goes too
    assert mask.loc["q1"].tolist() == [True, True, False, False]
    assert not mask.loc["q2"].any()
    out = protect_counts(table, RULE, total_column="total")
    assert out.loc["q1"].tolist() == ["*", "*", 30, 55]
    assert out.loc["q2"].tolist() == [40, 50, 60, 150]


def test_secondary_suppression_propagates_across_rows_and_columns():
    table = pd.DataFrame(
        {"x": [5, 30, 35], "y": [40, 50, 90]}, index=["q1", "q2", "Total"]
    )
    mask = suppression_mask(table, RULE, total_row="Total")
    # column x: q1 suppressed, so q2 (30) must go; column y is untouched
    assert mask["x"].tolist() == [True, True, False]
    assert not mask["y"].any()


def test_zero_cells_are_never_needed_as_complements():
    table = pd.DataFrame({"a": [4], "b": [0], "total": [4]}, index=["r"])
    mask = suppression_mask(table, RULE, total_column="total")
    assert mask.loc["r"].tolist() == [True, False, True]


def test_rates_on_small_bases_or_withheld_numerators_are_withheld():
    assert protect_rate(50.0, 4, RULE) is None
    assert protect_rate(12.5, 40, RULE) == 12.5
    assert protect_rate(12.5, 40, RULE, numerator_withheld=True) is None
    assert protect_rate(float("nan"), 40, RULE) is None
    out = protect_rates([10.0, 20.0, 30.0], [3, 0, 30], RULE, numerator_withheld=[False] * 3)
    assert out.isna().tolist() == [True, True, False]


def test_missing_and_unique_index_required():
    table = pd.DataFrame({"a": [1, 2]}, index=["r", "r"])
    with pytest.raises(ValueError, match="unique row labels"):
        suppression_mask(table, RULE)


def test_describe_names_the_rule():
    text = RULE.describe()
    assert "1 to 7" in text and "nearest 5" in text
    assert DisclosureRule.off().describe() == "Counts are shown unrounded."


_counts = st.one_of(st.integers(0, 10), st.integers(0, 300))


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda ncols: st.lists(st.lists(_counts, min_size=ncols, max_size=ncols), min_size=1,
                               max_size=5)
    ),
    st.integers(0, 9),
    st.sampled_from([1, 5, 10]),
)
def test_protected_tables_never_reveal_a_small_count(rows, threshold, rounding):
    rule = DisclosureRule(threshold=threshold, rounding=rounding)
    body = pd.DataFrame(rows, columns=[f"c{i}" for i in range(len(rows[0]))],
                        index=[f"r{i}" for i in range(len(rows))])
    body["Total"] = body.sum(axis=1)
    table = pd.concat([body, body.sum().to_frame("Total").T])
    mask = suppression_mask(table, rule, total_row="Total", total_column="Total")
    out = protect_counts(table, rule, total_row="Total", total_column="Total")
    for r in table.index:
        for c in table.columns:
            value = out.at[r, c]
            if mask.at[r, c]:
                assert value == rule.symbol
                continue
            assert not 1 <= table.at[r, c] <= threshold
            assert value % rounding == 0
    # no additive relation (a row or a column with its total) has exactly one withheld member,
    # unless every other member is zero (then the withheld one is zero too: impossible)
    for r in table.index:
        assert mask.loc[r].sum() != 1
    for c in table.columns:
        assert mask[c].sum() != 1


def test_only_declared_parts_add_up_to_the_total_column():
    table = pd.DataFrame(
        {"deaths": [300, 5], "a": [3, 20], "b": [40, 30], "reviewed": [43, 50]},
        index=["q1", "q2"],
    )
    mask = suppression_mask(table, RULE, total_column="reviewed", parts=["a", "b"])
    # q1: a small -> b withheld too (not deaths, which is not part of the sum)
    assert mask.loc["q1"].tolist() == [False, True, True, False]
    # q2: deaths small, but it is in no relation: nothing else goes
    assert mask.loc["q2"].tolist() == [True, False, False, False]


# ---------------------------------------------------- differencing against group reports ----
def test_differencing_risk_finds_the_national_minus_organisations_attack():
    """The insider audit's case: a national 15 "definitely avoidable" against fifteen trusts'
    ``*`` and 119 trusts' ``0`` says each ``*`` is 1-3. Hand-written counts, not generated."""
    from sjrlib.disclosure import DisclosureRule, differencing_risk

    rule = DisclosureRule()
    audit = pd.DataFrame({"1 Definitely avoidable": [1] * 14 + [2] + [0] * 119,  # 16 -> 15
                          # two more: 18 -> 20, 18-22, and fifteen *s of 1+ leave 1-7 each
                          "two more": [1] * 13 + [2, 3] + [0] * 119})
    assert differencing_risk(audit, rule, rule).to_dict() == {"1 Definitely avoidable": True,
                                                              "two more": False}
    cases = {
        # every * at the top of its range: a pooled 105 says each is 5-7
        "all sevens": [7] * 15,
        # hidden cells beside large rounded ones: the rounding slack covers them
        "mixed": [3, 50, 60, 40],
        # one organisation only: the pooled figure is its own, rounded the same way
        "alone": [0, 0, 0, 23],
        # exact zeros and rounded counts only, nothing hidden and no rounding range narrowed
        "large": [0, 100, 200, 300],
        # two rounded counts whose pooled total (rounded) pins each nearer than +-2
        "pinned": [8, 8, 0, 0],
    }
    found = {name: bool(differencing_risk(pd.DataFrame({name: counts}), rule, rule)[name])
             for name, counts in cases.items()}
    assert found == {"all sevens": True, "mixed": False, "alone": False, "large": False,
                     "pinned": True}
    # a suppressed pooled total (1-7) is withheld anyway: no further risk to report
    assert not differencing_risk(pd.DataFrame({"few": [1, 2, 0]}), rule, rule)["few"]


def test_a_pooled_table_is_protected_against_every_groups_printed_table():
    """Four organisations print their problem row (reviews recording it, and the harm answers
    yes / probably / no) under the rule; the national row pools them. Checked cell by cell
    (``differencing_withheld``) nothing is at risk, yet the national 85, 40, 30 and 15 set
    against the four printed rows (20, 15, *, * / 20, 15, *, * / 20, *, 10, * / 25, 10, 10, 0)
    leave the third organisation's "yes" (4) at 1-5. With the groups' printed tables beside it
    (``pooled``) the national row withholds more, and no organisation's * is narrowed."""
    from sjrlib.disclosure import _declare_groups, _relations, differencing_withheld
    from sjrlib.disclosure_check import Problem, count_range

    rule = DisclosureRule()
    columns = ["T", "yes", "probably", "no"]
    rows = [[21, 13, 6, 2], [21, 13, 3, 5], [18, 4, 8, 6], [23, 12, 11, 0]]
    raws = [pd.DataFrame([r], columns=columns, index=["resuscitation"]).astype(object)
            for r in rows]
    groups = [protect_counts(t, rule, total_column="T") for t in raws]
    assert [g.iloc[0].tolist() for g in groups] == [
        [20, 15, "*", "*"], [20, 15, "*", "*"], [20, "*", 10, "*"], [25, 10, 10, 0]]
    national = sum(t.astype(int) for t in raws).astype(object)
    relations = _relations(national, columns, None, "T")

    def narrowed(printed: pd.DataFrame) -> list:
        problem = Problem()
        for c in columns:
            text = str(printed.at["resuscitation", c])
            lo, hi, controlled = count_range(text, rule.threshold, rule.rounding)
            problem.declare(("resuscitation", c), lo, hi, controlled=controlled,
                            small=rule.threshold if text == "*" else 0)
        for cells, total in relations:
            problem.add_sum(list(cells), total, "margins")
        _declare_groups(problem, groups, rule, relations)
        return [(f.key, f.value, f.high) for f in problem.solve() + problem.narrowed()
                if f.key[0] == "group"]

    withheld = differencing_withheld(dict(enumerate(raws)), rule, rule, national)
    assert not withheld.to_numpy().any()
    plain = protect_counts(national, rule, total_column="T", withheld=withheld)
    assert plain.iloc[0].tolist() == [85, 40, 30, 15]
    assert narrowed(plain) == [(("group", 2, "resuscitation", "yes"), 1, 5)]
    pooled = protect_counts(national, rule, total_column="T", withheld=withheld, pooled=groups)
    assert narrowed(pooled) == []
    assert ((pooled == "*") | (plain != "*")).to_numpy().all()  # only ever more withheld
    assert pooled.iloc[0].tolist() == [85, "*", 30, "*"]


def test_a_leak_through_another_column_of_a_groups_own_row_is_defended():
    """Three organisations' score tables (answers x scores 1-5, an "All" column and a total
    row), pooled. The second prints Yes: 0, 0, *, *, 0 of 10 (8-12) and its total row *, 15
    for scores 3 and 4; the third prints 10 (8-12) for score 3 in all, the first 0. A pooled
    score-3 total of 20 (18-22) puts the second's score 3 at 6 or more, so its Yes score 4,
    a *, is at most 12 - 6 = 6: 1-6, not 1-7. Nothing beside that * (its row, its column) is
    left to withhold: the leak runs through the other column, whose total is withheld now,
    and only it (the rest of the total row stays)."""
    scores = [f"s{i}" for i in range(1, 6)]

    def table(yes, no):
        t = pd.DataFrame([yes, no], index=["Yes", "No"], columns=scores)
        t["All"] = t.sum(axis=1)
        t.loc["Total"] = t.sum()
        return t

    per = [table([0, 0, 0, 0, 9], [0, 12, 0, 9, 2]), table([0, 0, 10, 2, 0], [0, 12, 0, 12, 0]),
           table([0, 2, 0, 9, 0], [1, 0, 10, 0, 2])]
    margins = dict(total_row="Total", total_column="All", parts=scores)
    rule = DisclosureRule()
    printed = [protect_counts(t.astype(object), rule, **margins) for t in per]
    assert printed[1].loc["Yes"].tolist() == [0, 0, "*", "*", 0, 10]
    assert printed[1].loc["Total", ["s3", "s4"]].tolist() == ["*", 15]
    assert printed[2].at["Total", "s3"] == 10 and printed[0].at["Total", "s3"] == 0
    raw = sum(per)
    assert raw.at["Total", "s3"] == 20
    withheld = differencing_withheld(dict(enumerate(per)), rule, rule, raw)
    shown = protect_counts(raw.astype(object), rule, withheld=withheld, pooled=printed,
                           **margins)
    assert shown.at["Total", "s3"] == "*"
    assert shown.loc["Total", ["s2", "s5", "All"]].tolist() == [25, 15, 90]
