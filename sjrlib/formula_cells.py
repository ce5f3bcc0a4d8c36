"""Text cells a spreadsheet would run as a formula, neutralised in CSV files and restored on
reading them back.

A CSV cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) is taken by
Excel, LibreOffice and Google Sheets as a formula when the file is opened, so a free-text
comment such as ``=HYPERLINK("http://...")`` written by one person could run in another
person's spreadsheet ("CSV injection"). The OWASP convention is to put a single quote before
such a cell: spreadsheets then show it as text.

To keep a round trip lossless (export, then import, gives the same rows), the escaping must
be undone on reading, and only where it was done. The rule is unambiguous because quotes
already at the start of a cell are counted in:

* **neutralise**: a text cell that, after any leading quotes, starts with one of
  ``= + - @ TAB CR`` gets one more leading quote (``=1+1`` -> ``'=1+1``,
  ``'-3`` -> ``''-3``);
* **restore**: a cell of one or more quotes followed by one of those characters loses one
  quote; every other cell is left as it is (``'tis`` stays ``'tis``, ``''`` stays ``''``).

``restore(neutralise(s)) == s`` for every string ``s``. Only text cells are neutralised:
numbers (a negative count) are written as numbers. XLSX needs none of this: a string cell is
stored typed as text and never evaluated (:mod:`sjrlib.io` writes cells starting ``=`` typed
as strings, which openpyxl would otherwise store as formulas).

References
----------
OWASP, "CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection
"""

from __future__ import annotations

import re

import pandas as pd

from sjrlib.arrow_text import starts_with

__all__ = ["TRIGGERS", "neutralise", "neutralise_series", "restore", "restore_frame",
           "restore_series"]

TRIGGERS = "=+-@\t\r"
"""First characters that make a spreadsheet read a cell as a formula (OWASP)."""

_CLASS = "[=+\\-@\\t\\r]"
_NEEDS_QUOTE = re.compile(f"'*{_CLASS}")
_QUOTED = re.compile(f"'+{_CLASS}")


def neutralise(text: str) -> str:
    """``text`` as it is written to a CSV cell (see the module docstring)."""
    return "'" + text if _NEEDS_QUOTE.match(text) else text


def restore(text: str) -> str:
    """The text a CSV cell written by :func:`neutralise` held."""
    return text[1:] if _QUOTED.match(text) else text


def neutralise_series(values: pd.Series) -> pd.Series:
    """:func:`neutralise` applied to every cell of a text column (missing cells stay missing);
    the result has the ``string`` dtype."""
    text = values.astype("string")
    hit = text.str.match(_NEEDS_QUOTE.pattern).fillna(False).astype(bool)
    return text.mask(hit, "'" + text) if hit.any() else text


def restore_series(values: pd.Series) -> pd.Series:
    """:func:`restore` applied to every cell of a string column (missing cells stay missing)."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        starts = pd.Series(starts_with(values.array.__arrow_array__(), "'"),
                           index=values.index)  # one look at each value's first byte
    else:
        starts = values.str.startswith("'").fillna(False).astype(bool)
    if not starts.any():  # the usual case: one fast pass over the column
        return values
    hit = starts & values.str.match(_QUOTED.pattern).fillna(False).astype(bool)
    if not hit.any():
        return values
    return values.mask(hit, values.str.slice(1))


def restore_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`restore_series` on every column of an all-string frame with unique column
    names (e.g. raw CSV cells), in place; returns the frame."""
    for column in frame.columns:
        values = frame[column]
        restored = restore_series(values)
        if restored is not values:
            frame[column] = restored
    return frame
