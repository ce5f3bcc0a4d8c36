"""An SPC chart's legend names only the limit lines it draws.

Before: a chart of 12 months or fewer (one short group: trial limits, dotted) listed both
"Process limits" (dashed) and "Trial limits (12 points or fewer)", though no dashed line was
drawn: the exploration dashboard's SPC tab for one financial year showed it (README's
organisation lead, make serve, explore.ipynb, Apr 2025 to Mar 2026).
"""

from __future__ import annotations

import pandas as pd

from sjrlib import plots, spc


def _legend(fig) -> list[str]:
    labels = []
    for ax in fig.axes:
        if ax.get_legend() is not None:
            labels += [t.get_text() for t in ax.get_legend().get_texts()]
    for legend in fig.legends:
        labels += [t.get_text() for t in legend.get_texts()]
    return labels


def _p_chart(months: int):
    index = pd.period_range("2025-04", periods=months, freq="M").astype(str)
    reviews = pd.Series([40] * months, index=index)
    poor = pd.Series([4, 5, 3, 6] * (months // 4), index=index)
    return plots.spc_chart(spc.p_chart(poor, reviews, improvement="decrease"),
                           title="Poor care, by month", y_label="Poor or very poor care")


def test_a_year_of_months_has_trial_limits_only_in_its_legend():
    labels = _legend(_p_chart(12))
    assert any(label.startswith("Trial limits") for label in labels), labels
    assert "Process limits" not in labels


def test_three_years_of_months_name_process_limits():
    """A control: a long group draws dashed process limits and says so."""
    labels = _legend(_p_chart(36))
    assert "Process limits" in labels
    assert not any(label.startswith("Trial limits") for label in labels)
