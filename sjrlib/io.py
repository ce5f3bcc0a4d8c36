"""Read and write reviews, deaths and organisations as CSV or XLSX files (the exchange format).

Reading is: file -> raw all-string frame (blank cells missing, leading zeros kept) -> optional
column mapping (:mod:`sjrlib.mapping`) -> header checks -> :mod:`sjrlib.schema` validation with
the shared rules -> typed frame. All or nothing:

* a problem with the whole file raises :class:`ImportFileError` with one clear line: not CSV/XLSX,
  not UTF-8, empty, missing required column(s), unknown column(s), duplicate header, rows with
  more cells than the header (every one listed), an unreadable mapping;
* problems in rows raise :class:`sjrlib.schema.ValidationFailed` naming file, row (as a
  spreadsheet counts: header = row 1), column, value and rule for *every* bad row.

Blank rows, and rows of only spaces, are skipped (their numbers are not reused, so row numbers
stay right). CSV is UTF-8, with or without a byte-order mark; XLSX is read from its first sheet,
and when another sheet also holds data an :class:`sjrlib.import_notices.ImportNotice` says it
was not read. Through a column mapping, row errors name the file's own header with the column
it became, and the cell as the file holds it (:func:`_in_file_terms`).

A file past the :class:`Limits` (columns, rows, characters in a cell, file size, an XLSX
package's unpacked size) is refused with one line naming the file (and the row and column) as
soon as the reader meets it, before it can fill the memory. An XLSX sheet is streamed
(openpyxl's read-only mode) and its real size counted while reading: the size the sheet
declares (its ``<dimension>``) is ignored, so a sheet declaring a million rows costs nothing
and rows beyond a declared size that is too small are read like any other.

Writing (:func:`write_reviews` etc.) produces exactly the exchange format, chosen by suffix, so
``read_reviews(write_reviews(frame, p)) == frame`` for a validated frame. A review file holds
the columns of every form version present (``form_version``; see
``shared/spec/form-versions.md``); reading takes a file of any version, and a file without
``form_version`` (made before versions) as ``rcp2017``. Files are written
with :func:`sjrlib.safe_files.open_private` (mode 0600, whole, never through a symbolic link).
CSV text cells a spreadsheet would run as a formula (``= + - @``) are neutralised and restored
on reading (:mod:`sjrlib.formula_cells`).

Example
-------
>>> frame = read_reviews("reviews.csv", known_organisations={"RXX"})  # doctest: +SKIP
>>> frame = read_reviews("their_export.xlsx", mapping="their_export.yaml")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import io as _io
import itertools
import os
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sjrlib import domain, formula_cells, privacy, rules, safe_files, schema
from sjrlib.form.registry import BASE_VERSION, FORM_VERSION_COLUMN, FORM_VERSIONS, registry
from sjrlib.mapping import ColumnMapping, MappingError, apply_mapping, load_mapping

__all__ = [
    "ImportFileError",
    "Limits",
    "export_columns",
    "limits",
    "read_deaths",
    "read_organisations",
    "read_raw",
    "read_reviews",
    "read_reviews_blocks",
    "stream_reviews",
    "RESTART",
    "ReviewBlocks",
    "write_deaths",
    "write_organisations",
    "write_reviews",
]

SUFFIXES = (".csv", ".xlsx")
MappingLike = str | Path | Mapping[str, Any] | ColumnMapping | None


class ImportFileError(ValueError):
    """Something is wrong with a whole file; the message is one line naming the file."""


@dataclass(frozen=True)
class Limits:
    """What an input file may hold; past any of these it is refused with a clear message.

    Attributes
    ----------
    max_columns
        Columns (header cells, or cells with data in any row). The exchange format has about
        40; a file with thousands is a mistake or an attack, and a 10 MB CSV with a million
        columns would otherwise take gigabytes to parse.
    max_rows
        Data rows (``$SJR_IMPORT_MAX_ROWS``). The default leaves room for several million
        reviews, i.e. every review in England for many years.
    max_cell_chars
        Characters in one cell: Excel's own limit (32,767), so any cell a spreadsheet can
        hold is accepted.
    max_file_bytes
        Size of a CSV file, or of an XLSX file as stored (``$SJR_IMPORT_MAX_FILE_BYTES``).
    max_unpacked_bytes
        Size of an XLSX package's parts once unzipped (a small workbook can unpack to
        gigabytes: a "zip bomb").
    """

    max_columns: int = 200
    max_rows: int = 5_000_000
    max_cell_chars: int = 32_767
    max_file_bytes: int = 8 << 30
    max_unpacked_bytes: int = 4 << 30


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip().replace("_", "")
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImportFileError(f"${name}: not a whole number ({value!r})") from None
    if number < 1:
        raise ImportFileError(f"${name}: must be at least 1 ({number})")
    return number


def limits() -> Limits:
    """The limits in force: :class:`Limits`' defaults, with ``$SJR_IMPORT_MAX_ROWS`` and
    ``$SJR_IMPORT_MAX_FILE_BYTES`` when set."""
    default = Limits()
    return Limits(max_rows=_env_int("SJR_IMPORT_MAX_ROWS", default.max_rows),
                  max_file_bytes=_env_int("SJR_IMPORT_MAX_FILE_BYTES",
                                          default.max_file_bytes))


def _check_file(path: Path, limit: Limits) -> None:
    """Refuse a missing file or one past the size limit (before anything is read)."""
    if not path.is_file():
        raise ImportFileError(f"{path.name}: no such file ({path})")
    if not os.access(path, os.R_OK):
        raise ImportFileError(f"{path.name}: cannot be read (permission denied)")
    size = path.stat().st_size
    if size > limit.max_file_bytes:
        raise ImportFileError(f"{path.name}: the file is {size:,} bytes; at most "
                              f"{limit.max_file_bytes:,} are read (split it, or set "
                              f"$SJR_IMPORT_MAX_FILE_BYTES)")


def _too_many_rows(name: str, limit: Limits) -> ImportFileError:
    return ImportFileError(f"{name}: more than {limit.max_rows:,} data rows; split the file "
                           f"(or set $SJR_IMPORT_MAX_ROWS)")


def _check_header_width(name: str, head: bytes, limit: Limits) -> None:
    """Refuse a CSV header with too many cells, or too long to be a header, from the file's
    first bytes: before a parser allocates a column for each of a million cells."""
    if head.startswith(b"PK\x03\x04"):
        return  # a workbook: named as such by the careful read
    end = head.find(b"\n")
    line = head if end < 0 else head[:end]
    try:
        cells = next(csv.reader([line.decode("utf-8-sig", errors="replace").rstrip("\r")]),
                     [])
    except csv.Error:
        cells = line.split(b",")
    if len(cells) > limit.max_columns:
        more = "more than " if end < 0 else ""
        raise ImportFileError(f"{name}: the header has {more}{len(cells):,} columns; at most "
                              f"{limit.max_columns} are read (the exchange format has about "
                              f"{len(domain.REVIEW_COLUMNS)})")
    if end < 0 and len(head) >= _HEAD_BYTES:
        raise ImportFileError(f"{name}: the first line is longer than {_HEAD_BYTES:,} bytes: "
                              f"not a header row of column names")


def _check_cell_sizes(name: str, body: pd.DataFrame, rows: np.ndarray, header: Sequence[str],
                      limit: Limits) -> None:
    """Refuse a cell longer than ``limit.max_cell_chars``, naming its row and column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for i in range(body.shape[1]):
        column = body.iloc[:, i]
        if not len(column):
            continue
        text = pa.array(column, type=pa.large_string(), from_pandas=True)
        # A character is at least one byte: a column within the limit in bytes is within it
        # in characters, and bytes are counted without decoding.
        longest = pc.max(pc.binary_length(text)).as_py()
        if longest is None or longest <= limit.max_cell_chars:
            continue
        lengths = pc.utf8_length(text)
        longest = pc.max(lengths).as_py()
        if longest is None or longest <= limit.max_cell_chars:
            continue
        at = int(np.argmax(lengths.to_numpy(zero_copy_only=False) > limit.max_cell_chars))
        label = header[i] if i < len(header) and header[i] else f"column {i + 1}"
        raise ImportFileError(f"{name}, row {rows[at]}, column {label}: a cell of "
                              f"{lengths[at].as_py():,} characters; at most "
                              f"{limit.max_cell_chars:,} "
                              f"are read (as in Excel)")


# --- reading raw cells ----------------------------------------------------------------------

def _check_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ImportFileError(f"{path.name}: not a CSV or XLSX file (the name must end in .csv "
                              f"or .xlsx)")
    return suffix


def _has_blank_line(data: bytes) -> bool:
    body = data.removeprefix(b"\xef\xbb\xbf")
    return (body.startswith((b"\n", b"\r\n")) or b"\n\n" in body or b"\n\r\n" in body)

_STRING = pd.StringDtype("pyarrow")


_HEAD_BYTES = 1 << 16

_OTHER_SEPARATORS = ((";", "semicolons", "';'"), ("\t", "tabs", "tabs"))


def _check_separator(name: str, head: bytes) -> None:
    """Refuse a file whose header is one cell holding ``;`` or a tab: it was saved with
    another separator (a spreadsheet's regional CSV), and its rows would otherwise be read as
    one cell each, or as "more cells than the header" wherever a value holds a comma."""
    if head.startswith(b"PK\x03\x04"):
        return
    first = head.split(b"\n", 1)[0]
    try:
        header = next(csv.reader([first.decode("utf-8-sig").rstrip("\r")]))
    except (StopIteration, csv.Error, UnicodeDecodeError):
        return
    if len(header) != 1:
        return
    for separator, plural, shown in _OTHER_SEPARATORS:
        if separator in header[0]:
            raise ImportFileError(
                f"{name}: the header is separated by {plural}: the file seems to use "
                f"{shown} as separator; the exchange format separates columns with commas "
                "(save it as CSV with commas, e.g. 'CSV UTF-8 (Comma delimited)')")


def _parse_csv_fast(source: bytes | Path, first_line: bytes) -> pd.DataFrame | None:
    """All cells as strings ("" -> <NA>), header as the first row, parsed by Arrow's C++ CSV
    reader (about 4x pandas' C parser) straight from the file: neither the file's bytes nor a
    decoded copy are held, and Arrow checks the UTF-8. ``None`` when it cannot say exactly
    what is wrong (bad UTF-8, a ragged row, a blank line, which Arrow would otherwise skip and
    so shift the row numbers): the caller then reads the bytes and parses with pandas for a
    precise message."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    try:
        width = len(next(csv.reader([first_line.decode("utf-8-sig")])))
    except (StopIteration, csv.Error, UnicodeDecodeError):
        return None
    if not width:
        return None
    names = [f"c{i}" for i in range(width)]
    if isinstance(source, bytes):
        source = _io.BytesIO(source)
    try:
        table = pcsv.read_csv(
            source,
            read_options=pcsv.ReadOptions(column_names=names),
            parse_options=pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(
                # large_string: what pandas' pyarrow strings hold (no conversion copy).
                column_types={n: pa.large_string() for n in names}, strings_can_be_null=True,
                quoted_strings_can_be_null=True, null_values=[""],
            ),
        )
    except pa.ArrowInvalid:
        return None
    frame = table.to_pandas(types_mapper=lambda t: _STRING if pa.types.is_large_string(t)
                            else None)
    del table
    frame.columns = range(width)
    return frame


def _parse_csv_exact(data: bytes, path: Path) -> pd.DataFrame:
    try:
        cells = pd.read_csv(
            _io.BytesIO(data), header=None, dtype=str, encoding="utf-8-sig",
            keep_default_na=False, na_values=[""], skip_blank_lines=False,
        )
    except pd.errors.ParserError as exc:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if match:
            expected, line, saw = match.groups()
            raise ImportFileError(
                _ragged_rows(data, path.name)
                or f"{path.name}: line {line} has {saw} cells but the header has {expected} "
                f"(a comma in an unquoted cell?)"
            ) from None
        raise ImportFileError(f"{path.name}: not readable as CSV ({_first_line(exc)})"
                              ) from None
    except pd.errors.EmptyDataError:
        raise ImportFileError(f"{path.name}: the file is empty") from None
    return cells.astype(_STRING)


_MAX_RAGGED_LISTED = 50


def _ragged_rows(data: bytes, name: str) -> str | None:
    """Every row with more cells than the header, as one message (rows counted as a
    spreadsheet counts them, header = row 1); ``None`` when Python's reader finds none. Only
    read once a file is known to be ragged."""
    try:
        records = csv.reader(_io.StringIO(data.decode("utf-8-sig"), newline=""))
        width = len(next(records))
        ragged = [(number, len(cells)) for number, cells in enumerate(records, start=2)
                  if len(cells) > width]
    except (csv.Error, StopIteration, UnicodeDecodeError):
        return None
    if not ragged:
        return None
    listed = "; ".join(f"row {number} has {cells}" for number, cells
                       in ragged[:_MAX_RAGGED_LISTED])
    more = (f"; and {len(ragged) - _MAX_RAGGED_LISTED} more"
            if len(ragged) > _MAX_RAGGED_LISTED else "")
    rows = "a row has" if len(ragged) == 1 else f"{len(ragged)} rows have"
    return (f"{name}: {rows} more cells than the header's {width} (a comma in an unquoted "
            f"cell?): {listed}{more}")


def _read_csv(path: Path, limit: Limits) -> tuple[list[str], pd.DataFrame]:
    with path.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
    _check_header_width(path.name, head, limit)
    _check_separator(path.name, head)
    cells = None
    if (not head.startswith(b"PK\x03\x04") and head.lstrip(b"\xef\xbb\xbf").strip()
            and b"\n" in head):
        cells = _parse_csv_fast(path, head[: head.index(b"\n")])
    if cells is None:
        cells = _read_csv_bytes(path)
    header = [str(h).strip() if isinstance(h, str) else "" for h in cells.iloc[0]]
    if len(header) == 1:
        for separator, name in ((";", "semicolons"), ("\t", "tabs")):
            if separator in header[0]:
                raise ImportFileError(f"{path.name}: the header is separated by {name}; the "
                                      f"exchange format separates columns with commas")
    return header, cells.iloc[1:]


def _read_csv_bytes(path: Path) -> pd.DataFrame:
    """The careful path: the whole file's bytes, each problem named precisely."""
    data = path.read_bytes()
    if data.startswith(b"PK\x03\x04"):
        raise ImportFileError(f"{path.name}: this is a workbook (XLSX/ZIP), not CSV text; name "
                              f"it .xlsx or save it as CSV UTF-8")
    if not data.lstrip(b"\xef\xbb\xbf").strip():
        raise ImportFileError(f"{path.name}: the file is empty")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1  # the row, unless a cell spans lines
        raise ImportFileError(
            f"{path.name}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}, at "
            f"position {exc.start}); save it as 'CSV UTF-8' and import it again"
        ) from None
    first_line = data[: data.find(b"\n") if b"\n" in data else len(data)]
    cells = None if _has_blank_line(data) else _parse_csv_fast(data, first_line)
    return _parse_csv_exact(data, path) if cells is None else cells


# OOXML stores characters XML cannot carry (e.g. carriage return) as _xHHHH_, and a literal
# "_xHHHH_" as "_x005F_xHHHH_" (ECMA-376 ST_Xstring); Excel does the same.
_XSTRING_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_XML_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]")


def _xlsx_escape(text: str) -> str:
    text = _XSTRING_ESCAPE.sub(lambda m: "_x005F" + m.group(0), text)
    return _XML_UNSAFE.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


def _xlsx_unescape(text: str) -> str:
    if "_x" not in text:
        return text
    return _XSTRING_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def _xlsx_cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return _xlsx_unescape(value) if value else None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, _dt.datetime):
        return value.date().isoformat() if value.time() == _dt.time(0) else value.isoformat()
    if isinstance(value, _dt.date | _dt.time):
        return value.isoformat()
    return str(value)


def _check_xlsx_package(path: Path, limit: Limits) -> None:
    """Refuse a workbook whose parts would unpack past ``limit.max_unpacked_bytes``.

    The sizes are the ones the ZIP directory declares; Python's ``zipfile`` never inflates a
    part beyond its declared size, so they bound what reading can cost."""
    try:
        with zipfile.ZipFile(path) as package:
            unpacked = sum(info.file_size for info in package.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # not a ZIP: load_workbook names the problem
    if unpacked > limit.max_unpacked_bytes:
        raise ImportFileError(f"{path.name}: the workbook unpacks to {unpacked:,} bytes; at "
                              f"most {limit.max_unpacked_bytes:,} are read")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_XLSX_MAX_ROWS = 1_048_576  # the format's own limits (ECMA-376; Excel)


def _has_formulas(path: Path) -> bool:
    """Whether any worksheet of the package holds a formula (an ``<f>`` element): a byte
    search, so a workbook of values is read once."""
    try:
        with zipfile.ZipFile(path) as package:
            return any(b"<f>" in package.read(info) or b"<f " in package.read(info)
                       for info in package.infolist()
                       if info.filename.startswith("xl/worksheets/")
                       and info.filename.endswith(".xml"))
    except (zipfile.BadZipFile, OSError, ValueError, KeyError):
        return False


def _formula_rows(path: Path) -> Iterator[tuple]:
    """The first sheet's rows as written (``=...`` for a formula), to read beside its values;
    closes its workbook when closed."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()
        yield from sheet.iter_rows(values_only=True)
    finally:
        book.close()


def _refuse_unsaved_formulas(name: str, number: int, values: tuple, formulas: tuple,
                             header: tuple) -> None:
    """A formula cell with no saved result reads as blank (a workbook written by a script,
    never opened and saved in a spreadsheet program): refuse it rather than lose its value."""
    from openpyxl.utils import get_column_letter

    for i, formula in enumerate(formulas):
        if isinstance(formula, str) and formula.startswith("=") \
                and (i >= len(values) or values[i] is None):
            label = header[i] if i < len(header) and header[i] else get_column_letter(i + 1)
            raise ImportFileError(
                f"{name}, row {number}, column {label}: a formula ({formula[:40]}) with no "
                "saved value; open the workbook in a spreadsheet program and save it, or "
                "paste the values in place of the formulas")


def _sheet_has_data(sheet: Any) -> bool:
    """Whether a worksheet holds any cell with a value (read until the first one)."""
    sheet.reset_dimensions()  # its declared size may be wrong
    for values in sheet.iter_rows(values_only=True):
        if any(v is not None and v != "" for v in values):
            return True
    return False


def _read_xlsx(path: Path, limit: Limits) -> tuple[list[str], pd.DataFrame, np.ndarray]:
    """Header, body cells and the body's sheet row numbers of the first sheet, streamed.

    The sheet's declared ``<dimension>`` is ignored (``reset_dimensions``): openpyxl would
    otherwise stop at the declared last row, dropping rows below it without a word, and pad
    every row to the declared width and the sheet to the declared height. Blank rows are not
    kept (their numbers are); rows, columns and cells are counted against ``limit`` as they
    are read.
    """
    import openpyxl
    from openpyxl.utils import get_column_letter
    from openpyxl.utils.exceptions import InvalidFileException

    name = path.name
    _check_xlsx_package(path, limit)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError,
            SyntaxError) as exc:  # (SyntaxError: xml.etree's ParseError)
        if path.stat().st_size == 0:
            raise ImportFileError(f"{name}: the file is empty") from None
        raise ImportFileError(f"{name}: not a readable XLSX workbook "
                              f"({_first_line(exc)})") from None
    header_cells: tuple = ()
    kept: list[tuple] = []
    numbers: list[int] = []
    max_rows = min(limit.max_rows, _XLSX_MAX_ROWS - 1) + 1
    formulas = _formula_rows(path) if _has_formulas(path) else None
    try:
        sheet = book.worksheets[0]
        if sheet.sheet_state != "visible":
            raise ImportFileError(
                f"{name}: the first sheet, {sheet.title!r}, is hidden; the first sheet is the "
                "one imported, so unhide it, or move the sheet you mean to import first")
        sheet.reset_dimensions()
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if formulas is not None:
                _refuse_unsaved_formulas(name, number, values, next(formulas, ()),
                                         header_cells)
            if number > max_rows:
                if number > _XLSX_MAX_ROWS:
                    raise ImportFileError(f"{name}: row {number:,} is past the last row an "
                                          f"XLSX sheet can have ({_XLSX_MAX_ROWS:,})")
                raise _too_many_rows(name, limit)
            end = len(values)  # cells styled but empty pad a row far to the right
            while end and (values[end - 1] is None or values[end - 1] == ""):
                end -= 1
            cells = [_xlsx_cell(v) for v in values[:end]]
            if end > limit.max_columns:
                raise ImportFileError(
                    f"{name}, row {number}, column {get_column_letter(end)}: data in column "
                    f"{end:,}; at most {limit.max_columns} columns are read (the exchange "
                    f"format has about {len(domain.REVIEW_COLUMNS)})")
            for i in range(end):
                cell = cells[i]
                if cell is not None and len(cell) > limit.max_cell_chars:
                    label = (header_cells[i] if i < len(header_cells) and header_cells[i]
                             else get_column_letter(i + 1))
                    raise ImportFileError(
                        f"{name}, row {number}, column {label}: a cell of {len(cell):,} "
                        f"characters; at most {limit.max_cell_chars:,} are read (as in Excel)")
            if number == 1:
                header_cells = tuple(cells[:end])
            elif end:
                kept.append(tuple(cells[:end]))
                numbers.append(number)
        others = [other.title for other in book.worksheets[1:] if _sheet_has_data(other)]
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, SyntaxError) as exc:
        # (SyntaxError: xml.etree's ParseError, a sheet that is not well-formed XML)
        if isinstance(exc, ImportFileError):
            raise
        raise ImportFileError(f"{name}: not a readable XLSX workbook "
                              f"({_first_line(exc)})") from None
    finally:
        book.close()
        if formulas is not None:
            formulas.close()
    if not header_cells and not kept:
        raise ImportFileError(f"{name}: the first sheet is empty")
    if others:
        import warnings

        from sjrlib.import_notices import ImportNotice

        listed = ", ".join(repr(t) for t in others)
        also = (f"sheet {listed} also holds data and was" if len(others) == 1
                else f"sheets {listed} also hold data and were")
        warnings.warn(ImportNotice(
            f"{name}: only the first sheet, {sheet.title!r}, was read; {also} not imported "
            "(an import reads a workbook's first sheet: put those rows on it, or import them "
            "as a file of their own)"), stacklevel=3)
    width = max([len(header_cells), *(len(r) for r in kept)])
    header = ["" if h is None else str(h).strip() for h in header_cells]
    header += [""] * (width - len(header))
    body = pd.DataFrame([r + (None,) * (width - len(r)) for r in kept], columns=range(width),
                        dtype=object).astype(_STRING)
    return header, body, np.array(numbers, dtype=np.int64)


def read_raw(path: str | Path) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a CSV/XLSX file as all-string cells.

    Returns the frame (header names as columns, blank cells ``<NA>``, entirely blank rows
    dropped, a fresh ``RangeIndex``) and the spreadsheet row number of each row (header = 1).

    Raises
    ------
    ImportFileError
        Not CSV/XLSX, not UTF-8, empty, no data rows, duplicate header, a blank header above
        data, a row longer than the header, past a :class:`Limits` limit.
    """
    path = Path(path)
    suffix = _check_suffix(path)
    limit = limits()
    _check_file(path, limit)
    if suffix == ".csv":
        header, body = _read_csv(path, limit)
        if len(body) > limit.max_rows:
            raise _too_many_rows(path.name, limit)
        rows = np.arange(2, len(body) + 2)
    else:
        header, body, rows = _read_xlsx(path, limit)
    body, rows = _tidy(path, header, body, rows, limit)
    if body.empty:
        raise ImportFileError(f"{path.name}: the file has a header but no data rows")
    if suffix == ".csv":
        formula_cells.restore_frame(body)
    return body, rows


def _tidy(path: Path, header: list[str], body: pd.DataFrame, rows: np.ndarray, limit: Limits,
          ) -> tuple[pd.DataFrame, np.ndarray]:
    """Header names on the cells, entirely blank rows dropped (their numbers kept in ``rows``),
    columns without a header dropped when empty; whole-file problems raised."""
    if body.shape[1] > limit.max_columns:
        raise ImportFileError(f"{path.name}: {body.shape[1]:,} columns; at most "
                              f"{limit.max_columns} are read")
    _check_cell_sizes(path.name, body, rows, header, limit)
    # A row is blank when every cell is missing or only spaces (tabs, no-break spaces): a
    # column decides only the rows no column before it has kept, so a file whose first column
    # is filled in costs one pass over that column.
    keep = np.zeros(len(body), dtype=bool)
    for i in range(body.shape[1]):
        if keep.all():
            break
        column = body.iloc[:, i] if not keep.any() else body.iloc[:, i][~keep]
        filled = column.notna().to_numpy(dtype=bool, copy=True)
        if filled.any():
            spaces = column[filled].str.isspace().to_numpy(dtype=bool, na_value=False)
            filled[np.flatnonzero(filled)[spaces]] = False
        if keep.any():
            keep[~keep] = filled
        else:
            keep = filled
    if not keep.all():  # (a filter copies every column: only when there is a blank row)
        body, rows = body[keep], rows[keep]
    # Columns without a header: harmless when empty (a trailing comma), an error with data.
    unnamed = [i for i, h in enumerate(header) if not h]
    for i in unnamed:
        if body.iloc[:, i].notna().any():
            raise ImportFileError(f"{path.name}: column {i + 1} has data but no header")
    named = [i for i, h in enumerate(header) if h]
    if len(named) < len(header):
        header = [header[i] for i in named]
        body = body.iloc[:, named]
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise ImportFileError(f"{path.name}: duplicate header {', '.join(duplicates)} (each "
                              f"column name may appear once)")
    if not header:
        raise ImportFileError(f"{path.name}: the file has no header row")
    body.columns = header
    return body.reset_index(drop=True), rows


def _read(path: str | Path, kind: str, specs: Mapping[str, rules.ColumnSpec],
          mapping: MappingLike) -> tuple[pd.DataFrame, np.ndarray, str]:
    path = Path(path)
    name = path.name
    raw, rows = read_raw(path)
    loaded = _load_mapping(name, mapping)
    return _checked_columns(raw, name, kind, specs, loaded), rows, name


def _load_mapping(name: str, mapping: MappingLike) -> ColumnMapping | None:
    if mapping is None:
        return None
    try:
        return load_mapping(mapping)
    except MappingError as exc:
        raise ImportFileError(f"{name}: column mapping: {exc}") from None


def _checked_columns(raw: pd.DataFrame, name: str, kind: str,
                     specs: Mapping[str, rules.ColumnSpec],
                     mapping: ColumnMapping | None) -> pd.DataFrame:
    """The mapping applied, then unknown and missing columns refused."""
    if mapping is not None:
        try:
            raw = apply_mapping(raw, mapping, specs)
        except MappingError as exc:
            raise ImportFileError(f"{name}: column mapping: {exc}") from None
    unknown = [c for c in raw.columns if c not in specs]
    if unknown:
        hint = "" if mapping is not None else " (use a column mapping to rename or ignore them)"
        listed = ", ".join(f"{c} (did you mean {n}?)" if n else str(c) for c, n in
                           zip(unknown, rules.near_misses(unknown, specs), strict=True))
        raise ImportFileError(f"{name}: unknown column(s) {listed} for {kind}{hint}")
    missing = [c for c in rules.required_columns(specs) if c not in raw.columns]
    if missing:
        raise ImportFileError(f"{name}: missing required column(s) {', '.join(missing)}")
    return raw


def _in_file_terms(exc: schema.ValidationFailed, path: Path,
                   mapping: MappingLike) -> schema.ValidationFailed:
    """The errors of a file read through a column mapping, in the file's own terms: each
    column named by the file's header with the column it became (``'Gender' (sex)``), and
    each value as the file holds it (before its codes were mapped). Only on the error path:
    the file's cells of the rows in error are read again, a block at a time for a CSV file."""
    loaded = _load_mapping(path.name, mapping)
    if loaded is None:
        return exc
    theirs = {ours: their for their, ours in loaded.columns.items()}
    wanted: dict[int, set[str]] = {}
    for error in exc.errors:
        if error.row is not None:
            wanted.setdefault(int(error.row), set()).add(theirs.get(error.column,
                                                                    error.column))
    cells = _file_cells(path, wanted) if wanted else {}
    errors = []
    for error in exc.errors:
        their = theirs.get(error.column, error.column)
        if their not in cells.get(error.row, {}):
            errors.append(error)  # a column the file does not have (filled in by the mapping)
            continue
        value = privacy.redact_values([cells[error.row][their]])[0]
        column = error.column if their == error.column else f"'{their}' ({error.column})"
        errors.append(error._replace(column=column, value=value))
    return schema.ValidationFailed(errors)


def _file_cells(path: Path, wanted: Mapping[int, set[str]]) -> dict[int, dict[str, Any]]:
    """``{row: {header: cell}}`` of the file's own cells (blank: ``None``) in the rows and
    under the headers ``wanted``."""
    rows_wanted = np.array(sorted(wanted), dtype=np.int64)
    found: dict[int, dict[str, Any]] = {}

    def take(body: pd.DataFrame, rows: np.ndarray) -> None:
        hit = np.flatnonzero(np.isin(rows, rows_wanted))
        for i in hit:
            row = int(rows[i])
            found[row] = {h: (None if pd.isna(body.iat[i, body.columns.get_loc(h)])
                              else formula_cells.restore(str(body.iat[i,
                                                                     body.columns.get_loc(h)]))
                              if path.suffix.lower() == ".csv"
                              else str(body.iat[i, body.columns.get_loc(h)]))
                          for h in wanted[row] if h in body.columns}

    limit = limits()
    if path.suffix.lower() == ".csv":
        try:
            next_row = 2
            for header, cells in _csv_blocks(path, BLOCK_BYTES, limit):
                rows = np.arange(next_row, next_row + len(cells))
                next_row += len(cells)
                body, rows = _tidy(path, header, cells, rows, limit)
                take(body, rows)
            return found
        except _StreamFailed:
            found.clear()
    body, rows = read_raw(path)
    take(body, rows)
    return found


def read_reviews(
    path: str | Path,
    *,
    mapping: MappingLike = None,
    known_organisations: Iterable[str] | pd.DataFrame | None = None,
    known_reviews: Mapping[str, tuple[str, str]] | pd.DataFrame | None = None,
    today: _dt.date | None = None,
) -> pd.DataFrame:
    """Read and validate a reviews file; return the review frame (see
    :func:`sjrlib.schema.validate_reviews` for the parameters and the frame).

    Raises :class:`ImportFileError` (whole file) or :class:`sjrlib.schema.ValidationFailed`
    (rows).
    """
    raw, rows, name = _read(path, "reviews", rules.REVIEW_SPECS, mapping)
    try:
        return schema.validate_reviews(raw, source=name, rows=rows,
                                       known_organisations=known_organisations,
                                       known_reviews=known_reviews, today=today)
    except schema.ValidationFailed as exc:
        raise _in_file_terms(exc, Path(path), mapping) from None


BLOCK_BYTES = 1 << 25
"""About how much of a CSV file :func:`read_reviews_blocks` reads and validates at a time
(32 MB: some 40,000 reviews with comments)."""


_ARROW_BLOCK_BYTES = 1 << 20


class _StreamFailed(Exception):
    """The streamed CSV read met something only the careful whole-file read can name."""


def _csv_blocks(path: Path, block_bytes: int, limit: Limits,
                ) -> Iterator[tuple[list[str], pd.DataFrame]]:
    """(header, block of cells) pairs of a CSV file, read by Arrow a block at a time; the
    first block's first row is the header. Raises :class:`_StreamFailed` where
    :func:`_read_csv` would fall back to its careful path."""

    with path.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
    _check_header_width(path.name, head, limit)
    if (head.startswith(b"PK\x03\x04") or not head.lstrip(b"\xef\xbb\xbf").strip()
            or b"\n" not in head):
        raise _StreamFailed
    try:
        width = len(next(csv.reader([head[: head.index(b"\n")].decode("utf-8-sig")])))
    except (StopIteration, csv.Error, UnicodeDecodeError):
        raise _StreamFailed from None
    if not width:
        raise _StreamFailed
    names = [f"c{i}" for i in range(width)]
    # A Python file object and no threads: Arrow then reads and parses a block when asked for
    # it. Given the path, its reader reads ahead (hundreds of MB on a large file), and a file
    # validated slower than it is parsed would end up in memory whole.
    with path.open("rb") as source:
        yield from _arrow_csv_blocks(source, names, block_bytes)


def _arrow_csv_blocks(source, names: list[str], block_bytes: int,
                      ) -> Iterator[tuple[list[str], pd.DataFrame]]:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    width = len(names)
    to_pandas = {"types_mapper": lambda t: _STRING if pa.types.is_large_string(t) else None}
    try:
        reader = pcsv.open_csv(
            source,
            # Arrow reads some two dozen blocks ahead of the one asked for: small blocks keep
            # that small; they are gathered into blocks of ``block_bytes`` below.
            read_options=pcsv.ReadOptions(column_names=names, block_size=_ARROW_BLOCK_BYTES,
                                          use_threads=False),
            parse_options=pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(
                column_types={n: pa.large_string() for n in names}, strings_can_be_null=True,
                quoted_strings_can_be_null=True, null_values=[""],
            ),
        )
        header: list[str] | None = None
        gathered: list = []
        size = 0
        for batch in itertools.chain(reader, [None]):  # None: the end, yield the rest
            if batch is not None:
                gathered.append(batch)
                size += batch.nbytes
                if size < block_bytes:
                    continue
            if not gathered:
                break
            # One chunk a column (a copy of the block): every later pass over a column pays
            # its per-chunk cost once a block, not once for each of Arrow's 1 MB reads.
            cells = pa.Table.from_batches(gathered).combine_chunks().to_pandas(**to_pandas)
            gathered, size = [], 0
            cells.columns = range(width)
            if header is None:
                header = [str(h).strip() if isinstance(h, str) else "" for h in cells.iloc[0]]
                cells = cells.iloc[1:]
            yield header, cells
    except pa.ArrowInvalid:
        raise _StreamFailed from None


def _raw_blocks(path: Path, kind: str, specs: Mapping[str, rules.ColumnSpec],
                mapping: MappingLike, block_bytes: int,
                ) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Checked raw blocks (as :func:`_read` gives the whole file) with their row numbers."""
    name = path.name
    loaded = _load_mapping(name, mapping)
    limit = limits()
    next_row, data_rows = 2, 0
    for header, cells in _csv_blocks(path, block_bytes, limit):
        if next_row == 2 and len(header) == 1:
            for separator, what in ((";", "semicolons"), ("\t", "tabs")):
                if separator in header[0]:
                    raise ImportFileError(f"{name}: the header is separated by {what}; the "
                                          f"exchange format separates columns with commas")
        rows = np.arange(next_row, next_row + len(cells))
        next_row += len(cells)
        if next_row - 2 > limit.max_rows:
            raise _too_many_rows(name, limit)
        body, rows = _tidy(path, header, cells, rows, limit)
        if body.empty:
            continue
        data_rows += len(body)
        formula_cells.restore_frame(body)
        yield _checked_columns(body, name, kind, specs, loaded), rows
    if not data_rows:
        raise ImportFileError(f"{name}: the file has a header but no data rows")


def _whole_file_blocks(path: Path, kind: str, specs: Mapping[str, rules.ColumnSpec],
                       mapping: MappingLike, block_rows: int = 50_000,
                       ) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    raw, rows, _ = _read(path, kind, specs, mapping)
    for start in range(0, len(raw), block_rows):
        yield (raw.iloc[start:start + block_rows].reset_index(drop=True),
               rows[start:start + block_rows])


class ReviewBlocks:
    """Validated reviews of one file, kept block by block in a temporary Arrow IPC file.

    Iterating gives each block's review frame (``domain.REVIEW_COLUMNS`` /
    ``domain.REVIEW_DTYPES``, a fresh ``RangeIndex``), read back one at a time, so storing a
    million reviews never holds them all in memory. ``len()`` is the number of reviews. Use it
    as a context manager (or call :meth:`close`) to delete the temporary file.
    """

    def __init__(self, directory: Path, rows: int):
        self._directory = directory
        self._file = directory / "reviews.arrow"
        self.rows = rows

    def __len__(self) -> int:
        return self.rows

    def __iter__(self) -> Iterator[pd.DataFrame]:
        import pyarrow as pa
        import pyarrow.ipc as ipc

        if self.rows == 0:
            return
        with pa.OSFile(str(self._file), "rb") as source:  # read, not mapped: block by block
            reader = ipc.open_file(source)
            for i in range(reader.num_record_batches):
                yield _review_block_frame(reader.get_batch(i))

    def close(self) -> None:
        import shutil

        shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> ReviewBlocks:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


def _review_arrow_schema():
    import pyarrow as pa

    kinds = {"string": pa.large_string(), "Int64": pa.int64(),
             "datetime64[ns]": pa.timestamp("ns")}
    return pa.schema([(c, kinds[domain.REVIEW_DTYPES[c]]) for c in domain.REVIEW_COLUMNS])


def _review_block_frame(batch) -> pd.DataFrame:
    import pyarrow as pa

    mapper = {pa.large_string(): _STRING, pa.int64(): pd.Int64Dtype()}.get
    frame = batch.to_pandas(types_mapper=mapper)
    wrong = {c: t for c, t in domain.REVIEW_DTYPES.items() if str(frame[c].dtype) != t}
    return frame.astype(wrong) if wrong else frame


class _Restart:
    def __repr__(self) -> str:
        return "sjrlib.io.RESTART"


RESTART = _Restart()
"""Yielded by :func:`stream_reviews` when the streamed read of a CSV file, after it had yielded
blocks, met something only the careful whole-file read handles (a blank line, a ragged row,
text that is not UTF-8): every block yielded before it is void, and the blocks that follow
start again from the file's first row."""


def stream_reviews(
    path: str | Path,
    *,
    mapping: MappingLike = None,
    known_organisations: Iterable[str] | pd.DataFrame | None = None,
    known_reviews: Mapping[str, tuple[str, str]] | pd.DataFrame | None = None,
    today: _dt.date | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[pd.DataFrame | _Restart]:
    """Read and validate a reviews file a block at a time, yielding each block's review frame
    as soon as its rows pass: the rules and errors of :func:`read_reviews`, for a file too large
    to hold whole.

    The cross-row rules run when the last block is read, and only then is
    :class:`sjrlib.schema.ValidationFailed` raised, listing every error of the whole file
    (no block is yielded after the first bad one). So a consumer may write the blocks into an
    open transaction as they come, but must roll it back if the generator raises, and must
    commit only after it is exhausted: ``data_access.store.import_review_blocks`` does that.
    A consumer must also handle :data:`RESTART`.

    CSV files are streamed; an XLSX file, or a CSV file that needs the careful read, is read
    whole and then validated in blocks.
    """
    path = Path(path)
    suffix = _check_suffix(path)
    _check_file(path, limits())
    context = {"source": path.name, "known_organisations": known_organisations,
               "known_reviews": known_reviews, "today": today or rules.uk_today()}
    try:
        if suffix == ".csv":
            yielded = False
            try:
                raw = _raw_blocks(path, "reviews", rules.REVIEW_SPECS, mapping, block_bytes)
                for frame in schema.validate_reviews_in_blocks(raw, **context):
                    yielded = True
                    yield frame
                return
            except _StreamFailed:
                if yielded:
                    yield RESTART
        raw = _whole_file_blocks(path, "reviews", rules.REVIEW_SPECS, mapping)
        yield from schema.validate_reviews_in_blocks(raw, **context)
    except schema.ValidationFailed as exc:
        if mapping is None:
            raise
        raise _in_file_terms(exc, path, mapping) from None


def read_reviews_blocks(
    path: str | Path,
    *,
    mapping: MappingLike = None,
    known_organisations: Iterable[str] | pd.DataFrame | None = None,
    known_reviews: Mapping[str, tuple[str, str]] | pd.DataFrame | None = None,
    today: _dt.date | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> ReviewBlocks:
    """Read and validate a whole reviews file like :func:`read_reviews`, holding only a block
    of it in memory at a time: for files too large to hold as one frame.

    The whole file is validated first (:func:`stream_reviews`: same rules, same errors, every
    bad row of the file reported before anything is returned); the validated blocks are kept
    in a temporary file and given back one at a time by the returned :class:`ReviewBlocks`.
    """
    import tempfile

    import pyarrow as pa
    import pyarrow.ipc as ipc

    schema_ = _review_arrow_schema()
    blocks = ReviewBlocks(Path(tempfile.mkdtemp(prefix="sjr-import-")), 0)
    sink = writer = None
    try:
        try:
            for frame in stream_reviews(path, mapping=mapping,
                                        known_organisations=known_organisations,
                                        known_reviews=known_reviews, today=today,
                                        block_bytes=block_bytes):
                if writer is None or frame is RESTART:
                    if writer is not None:
                        writer.close()
                        sink.close()
                    sink = pa.OSFile(str(blocks._file), "wb")
                    writer = ipc.new_file(sink, schema_)
                    blocks.rows = 0
                    if frame is RESTART:
                        continue
                # One record batch per block (``from_pandas`` gives a chunk per column chunk,
                # and a reader pays a fixed cost per batch).
                table = pa.Table.from_pandas(frame, schema=schema_,
                                             preserve_index=False).combine_chunks()
                writer.write_table(table, max_chunksize=max(len(frame), 1))
                blocks.rows += len(frame)
        finally:
            if writer is not None:
                writer.close()
                sink.close()
    except BaseException:
        blocks.close()
        raise
    return blocks


def read_deaths(
    path: str | Path,
    *,
    mapping: MappingLike = None,
    known_organisations: Iterable[str] | pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Read and validate the monthly deaths feed (see :func:`sjrlib.schema.validate_deaths`)."""
    raw, rows, name = _read(path, "deaths", rules.DEATH_SPECS, mapping)
    try:
        return schema.validate_deaths(raw, source=name, rows=rows,
                                      known_organisations=known_organisations)
    except schema.ValidationFailed as exc:
        raise _in_file_terms(exc, Path(path), mapping) from None


def read_organisations(path: str | Path, *, mapping: MappingLike = None) -> pd.DataFrame:
    """Read and validate organisations (see :func:`sjrlib.schema.validate_organisations`)."""
    raw, rows, name = _read(path, "organisations", rules.ORGANISATION_SPECS, mapping)
    try:
        return schema.validate_organisations(raw, source=name, rows=rows)
    except schema.ValidationFailed as exc:
        raise _in_file_terms(exc, Path(path), mapping) from None


# --- writing ----------------------------------------------------------------------------------

def _cells(frame: pd.DataFrame, columns: Sequence[str], *, neutralise: bool = False,
           ) -> pd.DataFrame:
    """The frame's exchange columns as text cells (``None`` for blank); ints stay ints. With
    ``neutralise``, text cells a spreadsheet would run as formulas get a leading quote
    (:mod:`sjrlib.formula_cells`); dates and numbers are never text cells."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"cannot write: the frame lacks column(s) {', '.join(missing)}")
    out = {}
    for c in columns:
        s = frame[c]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            s = s.dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_float_dtype(s.dtype) or pd.api.types.is_integer_dtype(s.dtype):
            s = s.astype("Int64")
        elif neutralise and not pd.api.types.is_bool_dtype(s.dtype):
            s = formula_cells.neutralise_series(s)
        out[c] = s.astype(object).where(s.notna(), None)
    return pd.DataFrame(out, index=frame.index)


def _write(frame: pd.DataFrame, path: str | Path, columns: Sequence[str]) -> None:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"{path.name}: can only write .csv or .xlsx")
    if suffix == ".xlsx":
        _check_xlsx_cells(frame, columns, path.name)
    cells = _cells(frame, columns, neutralise=suffix == ".csv")
    with safe_files.open_private(path) as fh:
        if suffix == ".csv":
            cells.to_csv(fh, index=False, encoding="utf-8", lineterminator="\n", na_rep="")
        else:
            _write_xlsx(cells, fh)


_XLSX_CELL_CHARS = 32_767


def _check_xlsx_cells(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """Refuse a text longer than an XLSX cell holds (openpyxl would cut it short without a
    word). Escaping (``_xHHHH_``) at most multiplies a text's length by 7."""
    for c in columns:
        values = frame[c]
        if not (pd.api.types.is_string_dtype(values.dtype)
                or pd.api.types.is_object_dtype(values.dtype)):
            continue
        text = values.dropna().astype("string")
        for value in text[text.str.len() > _XLSX_CELL_CHARS // 7]:
            size = len(_xlsx_escape(value))
            if size > _XLSX_CELL_CHARS:
                raise ValueError(f"{name}: column {c} holds a text of {size:,} characters, "
                                 f"more than an XLSX cell can hold ({_XLSX_CELL_CHARS:,}); "
                                 f"write it as .csv instead")


def _write_xlsx(cells: pd.DataFrame, path) -> None:
    import openpyxl
    from openpyxl.cell import WriteOnlyCell

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("data")
    sheet.append(list(cells.columns))
    for record in cells.itertuples(index=False, name=None):
        row: list[Any] = []
        for value in record:
            if isinstance(value, np.integer):
                value = int(value)
            if isinstance(value, str):
                value = _xlsx_escape(value)
                if value.startswith("="):
                    # Text, not a formula: keep it as written.
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.data_type = "s"
                    value = cell
            row.append(value)
        sheet.append(row)
    _save_xlsx(book, path)


def _save_xlsx(book, fh) -> None:
    """``book.save(fh)``, and on a failure (a full disk) the half-written archive and the
    sheet's row stream let go of at once and quietly: openpyxl leaves both open, and when they
    are collected after ``fh`` is closed each prints an "Exception ignored ... closed file"
    traceback under the command's one-line message."""
    from openpyxl.writer.excel import ExcelWriter

    archive = zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
    try:  # openpyxl's save_workbook, which lets the archive go on an error
        book.properties.modified = _dt.datetime.now(tz=_dt.UTC).replace(tzinfo=None)
        ExcelWriter(book, archive).save()
    except BaseException:
        for sheet in book.worksheets:
            rows = getattr(sheet, "_rows", None)
            if rows is not None:
                with contextlib.suppress(Exception):
                    rows.close()
                sheet._rows = None
            writer = getattr(sheet, "_writer", None)
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.close()
                with contextlib.suppress(Exception):
                    writer.cleanup()  # its temporary file
        with contextlib.suppress(Exception):
            archive.close()  # its end record cannot be written either; fp is let go
        raise


def export_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    """The exchange-format columns a file of these reviews holds: those of every form version
    present (``form_version``; a frame without it, or a blank, is ``rcp2017``), in review-frame
    order. ``form_version`` itself is written when the frame has it."""
    versions: set[str] = {BASE_VERSION}
    if FORM_VERSION_COLUMN in frame.columns:
        versions |= {str(v) for v in frame[FORM_VERSION_COLUMN].dropna().unique()}
    unknown = sorted(versions - set(FORM_VERSIONS))
    if unknown:
        raise ValueError(f"form_version {', '.join(unknown)} is not a form version "
                         f"({', '.join(FORM_VERSIONS)})")
    columns = registry().columns_for_versions(versions)
    if FORM_VERSION_COLUMN not in frame.columns:
        columns = tuple(c for c in columns if c != FORM_VERSION_COLUMN)
    return columns


def write_reviews(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a review frame in the exchange format (``.csv`` UTF-8 or ``.xlsx`` by suffix):
    the columns of every form version present (:func:`export_columns`), so a file of
    ``rcp2017`` reviews holds no column of a later question."""
    _write(frame, path, export_columns(frame))


def write_deaths(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a deaths frame in the exchange format (``.csv`` or ``.xlsx``)."""
    _write(frame, path, domain.DEATH_COLUMNS)


def write_organisations(frame: pd.DataFrame, path: str | Path) -> None:
    """Write an organisations frame in the exchange format (``.csv`` or ``.xlsx``)."""
    _write(frame, path, domain.ORGANISATION_COLUMNS)
