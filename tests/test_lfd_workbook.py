"""The Learning from Deaths workbook as a person uses it in Excel: cells they filter and type."""

from __future__ import annotations

import pandas as pd
from openpyxl import load_workbook

from sjrlib.disclosure import DisclosureRule
from sjrlib.report.lfd_excel import COLUMNS, write_lfd_workbook
from sjrlib.report.tables import plain_label, quarter_label

INVISIBLE = ("\u00a0", "\u2060")  # no-break space, word joiner


def test_workbook_cells_hold_ordinary_spaces(tmp_path):
    """The HTML report keeps a quarter on one line with no-break spaces and word joiners; in
    the workbook they made "Q1 Apr–Jun 2025" typed into Excel's filter or search find nothing
    (first-run walk-through). Every cell is read back as written."""
    quarters = [quarter_label(f"2025/26 Q{q}") for q in (1, 2, 3, 4)]
    total = "2025-26\u00a0total"  # as trust.py labels the total row
    assert any(c in quarters[0] for c in INVISIBLE)  # what the HTML table is given
    protected = pd.DataFrame(
        {column: [10, 15, 20, 25, 70] for column in COLUMNS},
        index=[*quarters, total],
    )
    path = write_lfd_workbook(
        tmp_path / "XA1-lfd.xlsx", protected, organisation="Fictional\u00a0Trust (XA1)",
        period="April\u00a02025 to March\u00a02026", total_label=total, rule=DisclosureRule(),
        synthetic=True,
    )
    book = load_workbook(path)
    texts = [cell.value for sheet in book for row in sheet.iter_rows() for cell in row
             if isinstance(cell.value, str)]
    assert not [t for t in texts if any(c in t for c in INVISIBLE)]
    labels = [row[0].value for row in book["Learning from Deaths"].iter_rows(min_row=6)]
    assert labels == ["Q1 Apr–Jun 2025", "Q2 Jul–Sep 2025", "Q3 Oct–Dec 2025",
                      "Q4 Jan–Mar 2026", "2025-26 total"]
    # the total row is still found (and set in bold) by its label
    assert book["Learning from Deaths"]["A10"].font.bold
    assert plain_label(quarters[0]) == "Q1 Apr–Jun 2025"
