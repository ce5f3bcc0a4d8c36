"""Read the published tables of report pages and workbooks back, as a reader would see them.

Used by :mod:`sjrlib.disclosure_check` (the attacker): every ``<table>`` of a rendered report
page becomes a :class:`PublishedTable` (caption, header, row labels, cell texts, total rows, the
note under it), and the Learning from Deaths workbook's sheet becomes one too. Nothing here
knows how the figures were computed: only what is printed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

__all__ = ["PublishedTable", "read_page", "read_workbook"]


@dataclass
class PublishedTable:
    """One table as published.

    Attributes
    ----------
    source
        The file it came from.
    caption
        Its caption (workbooks: the sheet title).
    columns
        Column headers after the row-label column.
    rows
        ``[(label, [cell text, ...]), ...]``.
    totals
        Labels of rows marked as totals.
    note
        The sentence(s) printed under the table (disclosure rule, method).
    values
        Workbooks only: ``{(row label, column): stored value}`` (what a spreadsheet holds,
        which may be more precise than what it displays).
    """

    source: Path
    caption: str
    columns: list[str]
    rows: list[tuple[str, list[str]]]
    totals: list[str] = field(default_factory=list)
    note: str = ""
    values: dict[tuple[str, str], object] = field(default_factory=dict)

    def cell(self, row: str, column: str) -> str | None:
        """The text of one cell, or None when the table has no such row or column."""
        if column not in self.columns:
            return None
        j = self.columns.index(column)
        for label, cells in self.rows:
            if label == row and j < len(cells):
                return cells[j]
        return None


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[dict] = []
        self.page_text: list[str] = []
        self._table: dict | None = None
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._row_class = ""
        self._in_caption = False
        self._in_head = False
        self._in_note = False
        self._note: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = {"caption": "", "head": [], "rows": [], "totals": [], "note": ""}
        elif self._table is not None:
            if tag == "caption":
                self._in_caption = True
            elif tag == "thead":
                self._in_head = True
            elif tag == "tr":
                self._row = []
                self._row_class = attrs.get("class") or ""
            elif tag in ("td", "th"):
                self._cell = []
        elif tag == "p" and "sjr-note" in (attrs.get("class") or "") and self.tables:
            self._in_note = True
            self._note = []

    def handle_endtag(self, tag):
        if self._table is not None:
            if tag == "caption":
                self._in_caption = False
            elif tag == "thead":
                self._in_head = False
            elif tag in ("td", "th") and self._cell is not None and self._row is not None:
                self._row.append(" ".join("".join(self._cell).split()))
                self._cell = None
            elif tag == "tr" and self._row is not None:
                if self._in_head:
                    self._table["head"] = self._row
                elif self._row:
                    self._table["rows"].append(self._row)
                    if "total" in self._row_class.split():
                        self._table["totals"].append(self._row[0])
                self._row = None
            elif tag == "table":
                self.tables.append(self._table)
                self._table = None
        elif tag == "p" and self._in_note:
            self._in_note = False
            if self.tables and not self.tables[-1]["note"]:
                self.tables[-1]["note"] = " ".join("".join(self._note).split())

    def handle_data(self, data):
        if self._table is not None:
            if self._in_caption:
                self._table["caption"] += data
            elif self._cell is not None:
                self._cell.append(data)
        elif self._in_note:
            self._note.append(data)
        self.page_text.append(data)


def read_page(path: str | Path) -> tuple[list[PublishedTable], str]:
    """Every table of an HTML report page, and the page's text (for its disclosure rule).

    Raises
    ------
    OSError
        The file cannot be read.
    """
    path = Path(path)
    parser = _Tables()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    out = []
    for t in parser.tables:
        head = t["head"]
        out.append(PublishedTable(
            source=path, caption=" ".join(t["caption"].split()), columns=head[1:],
            rows=[(r[0], r[1:]) for r in t["rows"]], totals=t["totals"], note=t["note"],
        ))
    return out, " ".join(" ".join(parser.page_text).split())


_PERCENT = re.compile(r"percent|%")


def read_workbook(path: str | Path) -> tuple[list[PublishedTable], str]:
    """The Learning from Deaths sheet of a workbook as a table (cell texts as a spreadsheet
    would display them, and the stored values), and the text of its notes.

    Raises
    ------
    OSError, ValueError
        The file cannot be read or is not a workbook.
    """
    from openpyxl import load_workbook

    path = Path(path)
    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        text = []
        tables = []
        for ws in wb.worksheets:
            grid = [list(r) for r in ws.iter_rows(values_only=True)]
            text += [str(v) for row in grid for v in row if v is not None]
            header_at = next((i for i, r in enumerate(grid)
                              if r and str(r[0] or "") == "Quarter"), None)
            if header_at is None:
                continue
            columns = [str(c) for c in grid[header_at][1:] if c is not None]
            rows, values, totals = [], {}, []
            for r in grid[header_at + 1:]:
                if not r or r[0] is None:
                    continue
                label = str(r[0])
                cells = []
                for column, v in zip(columns, r[1:], strict=False):
                    values[(label, column)] = v
                    if v is None:
                        cells.append("–")
                    elif isinstance(v, str):
                        cells.append(v)
                    elif _PERCENT.search(column):
                        cells.append(f"{100 * float(v):.1f}%")
                    else:
                        cells.append(f"{int(v):,}")
                rows.append((label, cells))
                if label.endswith("total"):
                    totals.append(label)
            tables.append(PublishedTable(path, str(ws.title), columns, rows, totals,
                                         values=values))
    finally:
        wb.close()
    return tables, " ".join(text)
