"""Figures as a report shows them: one embedded PNG with alternative text, or a sentence.

:class:`Chart` wraps a matplotlib figure (from :mod:`sjrlib.plots`) and displays, through its
``_repr_html_``, as ``<figure><img alt=... src="data:image/png;base64,...">``: the page stays a
single self-contained file, a screen reader gets the chart's title, and the PNG is rendered the
same way in any kernel (no dependence on the inline backend's settings, no ``bbox_inches``
re-layout, no software-version metadata), so identical inputs give identical bytes. A chart that
``sjrlib.plots`` withheld (too few cases) displays as its sentence instead of a picture of it.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from matplotlib.figure import Figure

from sjrlib import plots

__all__ = ["Chart", "ChartWithData", "with_data"]


class Chart:
    """A figure ready for a report page."""

    def __init__(self, figure: Figure, alt: str | None = None, dpi: int = 100) -> None:
        self.figure = figure
        self.dpi = dpi
        titles = [ax.get_title(loc="left") or ax.get_title() for ax in figure.axes]
        title = next((t for t in titles if t), "") or (
            figure._suptitle.get_text() if figure._suptitle is not None else "")
        self.alt = alt or title or "Chart"

    @property
    def withheld(self) -> str | None:
        """The sentence shown instead of the chart, or None when it is drawn."""
        return plots.chart_withheld(self.figure)

    def png(self) -> bytes:
        """The figure as PNG bytes (deterministic for the same figure)."""
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=self.dpi, facecolor="white",
                            metadata={"Software": None})
        return buffer.getvalue()

    def _repr_html_(self) -> str:
        if self.withheld:
            return (f'<p class="sjr-note"><strong>{html.escape(self.alt)}</strong>: '
                    f"{html.escape(self.withheld)}.</p>")
        data = base64.b64encode(self.png()).decode("ascii")
        return (f'<figure class="sjr-figure"><img alt="{html.escape(self.alt)}" '
                f'src="data:image/png;base64,{data}"></figure>')

    def __repr__(self) -> str:
        return f"<Chart: {self.alt}>"


def with_data(picture: str, table: Any) -> str:
    """A chart's HTML with the table of the values it draws under it, folded (``<details>``):
    for a screen reader, and for ``sjr disclosure check``, which reads it as it reads every
    other table."""
    return (f"{picture}<details class=\"sjr-chart-data\"><summary>The chart's data"
            f"</summary>{table._repr_html_()}</details>")


class ChartWithData:
    """A :class:`Chart` and a table (``sjrlib.report.tables.ReportTable``) of what it draws."""

    def __init__(self, chart: Chart, table: Any) -> None:
        self.chart, self.table = chart, table

    @property
    def figure(self) -> Figure:
        return self.chart.figure

    @property
    def withheld(self) -> str | None:
        return self.chart.withheld

    def _repr_html_(self) -> str:
        picture = self.chart._repr_html_()
        return picture if self.withheld else with_data(picture, self.table)

    def __repr__(self) -> str:
        return f"<ChartWithData: {self.chart.alt}>"
