"""A chart's footnote on its ``*`` does not say "fewer than 8 cases".

A ``*`` stands for a count from 1 to the table's rule's threshold (7 by default; 4 under the
older practice of suppressing under 5, which the spec allows), or for a count withheld beside
one. The chart does not get the rule, so the footnote said ``*: fewer than 8 cases`` whatever
the rule (the chart module's own minimum for showing a chart): false under a threshold of 4,
where a ``*`` is 1 to 4. Found by helper 78 (2026-12-07). The numbers are in the table's note.
"""

from __future__ import annotations

from strategies import make_reviews

from sjrlib import plots
from sjrlib.disclosure import DisclosureRule, protect_counts
from sjrlib.stats import descriptive

OLDER_PRACTICE = DisclosureRule(threshold=4, rounding=1)  # suppress under 5, no rounding


def _footnotes(fig) -> list[str]:
    return [t.get_text() for t in fig.texts if "suppressed value" in t.get_text()]


def test_care_scores_footnote_under_a_threshold_of_4():
    # 30 reviews of overall care: 3 very poor (1-4: *), 12 adequate, 15 good
    table = descriptive.care_score_distribution(
        make_reviews([{"score_overall": s} for s in [1] * 3 + [3] * 12 + [4] * 15]),
        phases=["overall"])
    protected = protect_counts(table, OLDER_PRACTICE, columns=["count"])
    assert protected["count"].tolist()[:3] == ["*", 0, 12]
    [note] = _footnotes(plots.care_scores_by_phase(protected))
    assert "fewer than 8" not in note
    assert note.startswith("1 suppressed value (*: a small count, or one withheld with it by "
                           "disclosure control; see the table's note)")


def test_avoidability_footnote_says_the_same():
    rows = [{"score_overall": 2, "avoidability_score": a}
            for a in [2] * 3 + [5] * 20]
    table = descriptive.avoidability_distribution(make_reviews(rows))
    protected = protect_counts(table, OLDER_PRACTICE, columns=["count"])
    assert "*" in protected["count"].tolist()
    [note] = _footnotes(plots.avoidability(protected))
    assert "fewer than 8" not in note and "a small count" in note
    assert note.endswith("shown as * with no bar.")
