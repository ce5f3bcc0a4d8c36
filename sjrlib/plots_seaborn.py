"""Statistical graphics with seaborn, in the palette and style of :mod:`sjrlib.plots`.

For the analyses a researcher starts with on an extract, and for the agreement heatmap of the
national report: distributions of care scores by phase (small multiples), agreement of two
reviewers as a heatmap, and trends with their intervals. Like :mod:`sjrlib.plots`, every
function takes a tidy table from :mod:`sjrlib.stats` (it opens no database), returns a
:class:`matplotlib.figure.Figure` (no pyplot state), and follows the same rules:

- **No chart on fewer than 8 cases** (:data:`sjrlib.plots.MIN_CASES`): the figure holds a
  sentence instead (:func:`sjrlib.plots.chart_withheld` returns it); a phase or a period on
  fewer than 8 cases is left out, and a note says so.
- Care scores keep their colours (:data:`sjrlib.plots.CARE_SCORE_COLOURS`, colour-blind safe,
  with text labels); titles say what is shown and on how many cases; text is at least 10 pt.

:func:`set_theme` gives a notebook's own seaborn and pandas charts the same look.

Tables:

- :func:`phase_distributions`: ``sjrlib.stats.descriptive.care_score_distribution`` for one
  group (``phase``, ``score``, ``count``, ``n_applicable``, ``percent``).
- :func:`agreement_heatmap`: ``sjrlib.stats.agreement.rating_pairs`` (``rating_1``,
  ``rating_2``; one row per double-reviewed case).
- :func:`poor_care_trend`: ``sjrlib.stats.descriptive.poor_care`` by a period column (``n``,
  ``proportion``, ``ci_lower``, ``ci_upper``), optionally by one more column.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import PercentFormatter

from sjrlib import domain
from sjrlib.disclosure import DisclosureRule
from sjrlib.plots import CARE_SCORE_COLOURS, MIN_CASES, NHS_COLOURS, _withheld

__all__ = [
    "CARE_SCORE_PALETTE",
    "THEME_RC",
    "agreement_heatmap",
    "phase_distributions",
    "poor_care_trend",
    "set_theme",
    "theme",
]

_FONT = 11
THEME_RC: dict[str, object] = {
    "font.size": _FONT,
    "axes.titlesize": _FONT + 2,
    "axes.titlelocation": "left",
    "axes.labelsize": _FONT,
    "xtick.labelsize": _FONT - 1,
    "ytick.labelsize": _FONT - 1,
    "legend.fontsize": _FONT - 1,
    "axes.edgecolor": NHS_COLOURS["mid_grey"],
    "grid.color": NHS_COLOURS["pale_grey"],
    "text.color": NHS_COLOURS["black"],
    "axes.labelcolor": NHS_COLOURS["dark_grey"],
    "xtick.color": NHS_COLOURS["dark_grey"],
    "ytick.color": NHS_COLOURS["dark_grey"],
}
"""Matplotlib settings of the seaborn charts (the sizes and NHS greys of :mod:`sjrlib.plots`)."""

CARE_SCORE_PALETTE: dict[int, str] = dict(CARE_SCORE_COLOURS)
"""Care score 1-5 -> colour, as in :mod:`sjrlib.plots` (ColorBrewer PuOr, grey in the middle)."""

_SERIES_PALETTE = [NHS_COLOURS["blue"], NHS_COLOURS["orange"], NHS_COLOURS["dark_grey"],
                   "#542788", NHS_COLOURS["warm_yellow"], "#00A499"]
_AGREEMENT_CMAP = LinearSegmentedColormap.from_list(
    "sjr_agreement", ["#FFFFFF", CARE_SCORE_COLOURS[4], CARE_SCORE_COLOURS[5]])


def set_theme() -> None:
    """Use the SJR theme for every chart this session draws (seaborn ``whitegrid``, NHS
    colours, sizes of :mod:`sjrlib.plots`), and in a notebook show figures as PNG images.

    For notebooks; the functions here draw in the theme without it. The figures they return
    are not pyplot's, and JupyterLab shows such a figure as text (``<Figure size ...>``)
    unless the kernel was started with the inline backend: this registers the PNG format.
    """
    sns.set_theme(style="whitegrid", palette=_SERIES_PALETTE, rc=THEME_RC)
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # not in IPython: nothing to show figures in
        return
    if get_ipython() is not None:
        set_matplotlib_formats("png", bbox_inches="tight")


@contextmanager
def theme() -> Iterator[None]:
    """The SJR theme for the charts drawn inside the ``with`` block only."""
    with sns.axes_style("whitegrid", rc=THEME_RC), sns.plotting_context(rc=THEME_RC):
        yield


def _score_label(score: int) -> str:
    return f"{score} {domain.label('care_score', score).removesuffix(' care')}"


def _note(fig: Figure, lines: list[str]) -> None:
    if lines:
        fig.supxlabel("\n".join(lines), x=0.01, ha="left", fontsize=_FONT - 1,
                      color=NHS_COLOURS["dark_grey"])


# --- distributions by phase ------------------------------------------------------------------


def phase_distributions(table: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Care scores 1-5 of each phase of care as small multiples of bars (% of reviews scoring
    the phase), one panel per phase, coloured by score.

    Parameters
    ----------
    table
        ``sjrlib.stats.descriptive.care_score_distribution`` for one group: ``phase``,
        ``score``, ``count``, ``n_applicable``, ``percent``.
    title
        Replaces the default title.

    Returns
    -------
    matplotlib.figure.Figure
        Phases scored in fewer than 8 reviews are left out (a note says which); with no phase
        left, a sentence instead of a chart.
    """
    missing = [c for c in ("phase", "score", "n_applicable", "percent") if c not in table]
    if missing:
        raise ValueError(f"phase_distributions needs column(s) {missing}; got "
                         f"{list(table.columns)}")
    frame = table.assign(phase=table["phase"].astype(str),
                         score=pd.to_numeric(table["score"]).astype(int),
                         percent=pd.to_numeric(table["percent"], errors="coerce"),
                         n=pd.to_numeric(table["n_applicable"], errors="coerce"))
    phases = [p for p in domain.PHASES if p in set(frame["phase"])]
    n_of = frame.groupby("phase")["n"].max()
    shown = [p for p in phases if n_of.get(p, 0) >= MIN_CASES]
    left_out = [domain.label("phase", p) for p in phases if p not in shown]
    title = title or "Care scores by phase of care (% of reviews scoring the phase)"
    if not shown:
        return _withheld(f"Fewer than {MIN_CASES} reviews in every phase: chart not shown",
                         title)
    columns = min(3, len(shown))
    rows = -(-len(shown) // columns)
    with theme():
        fig = Figure(figsize=(3.6 * columns + 0.4, 2.9 * rows + 1.0), layout="constrained")
        axes = np.atleast_1d(fig.subplots(rows, columns, sharex=True, sharey=True,
                                          squeeze=False)).ravel()
        for ax, phase in zip(axes, shown):
            part = frame[frame["phase"] == phase].sort_values("score")
            part = part.assign(score_label=[_score_label(s) for s in part["score"]])
            order = [_score_label(s) for s in range(1, 6)]
            sns.barplot(data=part, x="score_label", y="percent", hue="score_label",
                        order=order, hue_order=order, legend=False, ax=ax, saturation=1,
                        palette={_score_label(s): c for s, c in CARE_SCORE_PALETTE.items()},
                        edgecolor=NHS_COLOURS["dark_grey"], linewidth=0.5)
            good = part.loc[part["score"] >= 4, "percent"].sum()
            ax.set_title(f"{domain.label('phase', phase)}\n"
                         f"n = {int(n_of[phase]):,}; {good:.0f}% good or excellent",
                         fontsize=_FONT, loc="left")
            ax.set_xlabel("")
            ax.set_ylabel("% of reviews")
            ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
            ax.tick_params(axis="x", rotation=45)
            for label in ax.get_xticklabels():
                label.set_horizontalalignment("right")
        for ax in axes[len(shown):]:
            ax.set_axis_off()
        fig.suptitle(title, x=0.01, ha="left", fontsize=_FONT + 2)
        notes = []
        if left_out:
            notes.append(f"Not shown (fewer than {MIN_CASES} reviews): {', '.join(left_out)}.")
        _note(fig, notes)
    return fig


# --- agreement of two reviewers --------------------------------------------------------------


def agreement_heatmap(
    pairs: pd.DataFrame,
    *,
    item: str = "overall care",
    rule: DisclosureRule | None = None,
    title: str | None = None,
) -> Figure:
    """Heatmap of the two independent first-stage reviewers' scores of double-reviewed cases.

    Cell (row *i*, column *j*) counts the cases the first reviewer scored *i* and the second
    *j*; the shade is the share of all pairs; the diagonal (exact agreement) is outlined.

    Parameters
    ----------
    pairs
        ``sjrlib.stats.agreement.rating_pairs``: columns ``rating_1`` and ``rating_2`` (care
        scores 1-5; pairs with a blank are left out).
    item
        What was scored, for the title and axis labels (e.g. ``"end-of-life care"``).
    rule
        Disclosure control of the cell counts (default: none, as for national figures):
        suppressed cells show the symbol and no shade; the total is rounded too.
    title
        Replaces the default title.

    Returns
    -------
    matplotlib.figure.Figure
        A sentence instead of a chart on fewer than 8 complete pairs.
    """
    missing = [c for c in ("rating_1", "rating_2") if c not in pairs]
    if missing:
        raise ValueError(f"agreement_heatmap needs column(s) {missing}; got "
                         f"{list(pairs.columns)}")
    a = pd.to_numeric(pairs["rating_1"], errors="coerce")
    b = pd.to_numeric(pairs["rating_2"], errors="coerce")
    complete = a.notna() & b.notna()
    a, b = a[complete].astype(int), b[complete].astype(int)
    n = len(a)
    title = title or f"Two reviewers' scores of {item}"
    if n < MIN_CASES:
        return _withheld(f"Fewer than {MIN_CASES} double-reviewed cases: chart not shown",
                         title)
    scores = list(range(1, 6))
    counts = pd.crosstab(a, b).reindex(index=scores, columns=scores, fill_value=0)
    rule = rule or DisclosureRule.off()
    shown = counts.astype(object)
    hidden = np.zeros(counts.shape, dtype=bool)
    for i in range(5):
        for j in range(5):
            value = int(counts.iat[i, j])
            if rule.is_small(value):
                shown.iat[i, j], hidden[i, j] = rule.symbol, True
            else:
                shown.iat[i, j] = rule.round(value)
    if hidden.any() and hidden.sum() == int((counts.to_numpy() > 0).sum()):
        return _withheld(f"Every count of two reviewers' scores is from 1 to {rule.threshold} "
                         "(disclosure control): chart not shown", title)
    share = counts / n
    exact = float(np.trace(counts.to_numpy())) / n
    within_one = float(sum(counts.iat[i, j] for i in range(5) for j in range(5)
                           if abs(i - j) <= 1)) / n
    n_text = f"{n:,}" if not rule.active else f"about {rule.round(n):,}"
    labels = [_score_label(s) for s in scores]
    with theme():
        fig = Figure(figsize=(7.2, 6.0), layout="constrained")
        ax = fig.add_subplot()
        if rule.active:  # shade by the protected counts, so the shade reveals no more
            share = pd.DataFrame(np.where(hidden, 0, shown.where(~hidden, 0)).astype(float),
                                 index=scores, columns=scores) / max(rule.round(n), 1)
        sns.heatmap(share.mask(hidden), ax=ax, cmap=_AGREEMENT_CMAP, vmin=0,
                    vmax=max(float(share.to_numpy().max()), 0.05), square=True,
                    linewidths=0.5, linecolor=NHS_COLOURS["pale_grey"],
                    annot=shown.astype(str).to_numpy(), fmt="", annot_kws={"fontsize": _FONT},
                    xticklabels=labels, yticklabels=labels,
                    cbar_kws={"label": "Share of pairs", "format": PercentFormatter(1, 0),
                              "shrink": 0.8})
        for i in range(5):
            if hidden[i, i]:
                continue
            ax.add_patch(Rectangle((i, i), 1, 1, fill=False, lw=2,
                                   edgecolor=NHS_COLOURS["black"]))
        ax.set_xlabel(f"Second reviewer's score of {item}")
        ax.set_ylabel(f"First reviewer's score of {item}")
        ax.tick_params(axis="x", rotation=30)
        ax.tick_params(axis="y", rotation=0)
        ax.grid(False)
        for i, j in zip(*np.nonzero(hidden)):
            ax.text(j + 0.5, i + 0.5, rule.symbol, ha="center", va="center", fontsize=_FONT)
        fig.suptitle(title, x=0.01, ha="left", fontsize=_FONT + 2)
        # Shares of exact counts would undo the rounding: with disclosure control, counts only.
        summary = ("" if rule.active else
                   f"\nexact agreement {exact:.0%}, within one point {within_one:.0%}")
        ax.set_title(f"{n_text} double-reviewed cases{summary}", loc="left", fontsize=_FONT)
        notes = ["Outlined: both reviewers gave the same score. Numbers are cases."]
        if hidden.any():
            notes.append(f"{rule.symbol}: a count from 1 to {rule.threshold} (disclosure "
                         "control), not shaded.")
        if rule.active and rule.rounding > 1:
            notes.append(f"Other counts rounded to the nearest {rule.rounding}.")
        _note(fig, notes)
    return fig


# --- trends ----------------------------------------------------------------------------------


MAX_PERIOD_LABELS = 16
"""At most this many period labels under a trend chart: five years of months labelled each
would overlap; every k-th period is labelled (a tick marks each)."""


def _period_ticks(ax, order: list[str]) -> None:
    """A tick at every period, a label at every k-th (the first included), so that at most
    :data:`MAX_PERIOD_LABELS` are printed."""
    step = -(-len(order) // MAX_PERIOD_LABELS)
    labelled = range(0, len(order), step)
    ax.set_xticks(list(labelled), [order[i] for i in labelled], rotation=45, ha="right")
    ax.set_xticks(range(len(order)), minor=True)


def poor_care_trend(
    table: pd.DataFrame,
    period: str = "death_month",
    *,
    by: str | None = None,
    title: str | None = None,
) -> Figure:
    """Percentage of first-stage reviews finding poor or very poor care by period, with its
    interval as a band; one line per value of ``by`` (colour and marker) if given.

    Parameters
    ----------
    table
        ``sjrlib.stats.descriptive.poor_care`` grouped by ``period`` (and ``by``): columns
        ``n``, ``proportion``, ``ci_lower``, ``ci_upper``.
    period
        The period column (e.g. ``death_month``, which an extract may hold as quarters).
    by
        A second grouping column, one line each (e.g. ``organisation_code``).
    title
        Replaces the default title.

    Returns
    -------
    matplotlib.figure.Figure
        Points on fewer than 8 reviews are not drawn (a note says how many); a sentence
        instead of a chart when none is left.
    """
    needed = [period, "n", "proportion", "ci_lower", "ci_upper", *([by] if by else [])]
    missing = [c for c in needed if c not in table]
    if missing:
        raise ValueError(f"poor_care_trend needs column(s) {missing}; got "
                         f"{list(table.columns)}")
    frame = table.assign(**{period: table[period].astype(str)})
    frame = frame.assign(n=pd.to_numeric(frame["n"], errors="coerce").fillna(0))
    few = frame["n"] < MIN_CASES
    drawn = frame[~few].copy()
    for column in ("proportion", "ci_lower", "ci_upper"):
        drawn[column] = 100 * pd.to_numeric(drawn[column], errors="coerce")
    title = title or "Poor or very poor overall care (% of first-stage reviews)"
    if drawn.empty:
        return _withheld(f"Fewer than {MIN_CASES} reviews in every period: chart not shown",
                         title)
    order = sorted(frame[period].unique())
    position = {p: i for i, p in enumerate(order)}
    drawn["x"] = drawn[period].map(position)
    with theme():
        fig = Figure(figsize=(9, 4.4), layout="constrained")
        ax = fig.add_subplot()
        groups = [(None, drawn)] if by is None else list(drawn.groupby(by, sort=True))
        palette = _SERIES_PALETTE * (len(groups) // len(_SERIES_PALETTE) + 1)
        markers = ["o", "s", "D", "^", "v", "P"] * (len(groups) // 6 + 1)
        for k, (name, part) in enumerate(groups):
            # every period of the chart, a gap (no review, or too few to draw) as NaN: the
            # line and its band break there rather than run across a point not drawn
            part = part.set_index("x").reindex(range(len(order)))
            colour = palette[k]
            ax.plot(part.index, part["proportion"], color=colour, marker=markers[k],
                    markersize=6, linewidth=1.5, label="_" if name is None else str(name))
            ax.fill_between(part.index, part["ci_lower"], part["ci_upper"], color=colour,
                            alpha=0.15, linewidth=0)
        _period_ticks(ax, order)
        ax.set_xlabel(period.replace("_", " ").capitalize())
        ax.set_ylabel("% poor or very poor")
        ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
        ax.set_ylim(bottom=0)
        total = int(frame["n"].sum())
        ax.set_title(f"{title}\n{total:,} reviews; bands: confidence intervals (Wilson)",
                     loc="left", fontsize=_FONT + 1)
        if by is not None:
            ax.legend(title=by.replace("_", " ").capitalize(), frameon=False,
                      loc="upper left", bbox_to_anchor=(1.0, 1.0))
        notes = []
        if few.any():
            notes.append(f"{int(few.sum())} point(s) on fewer than {MIN_CASES} reviews not "
                         "drawn.")
        _note(fig, notes)
    return fig
