"""The codebook of themes: what a judgement statement may be coded as, kept as data.

A codebook has a version (``2026.1``) and a list of themes, each with an id, a label, a
definition, a few typical statements (the examples) and whether it is retired. The starting
codebook ships as ``sjrlib/data/codebook-2026.1.yaml`` (from ``spec/learning.md``); the programme
team edits a copy, gives it a new version and imports it. A theme is retired, never deleted, so
reviews coded under an older version stay readable.

Two file formats, read and written alike:

* YAML: ``version`` and ``themes`` (a list of mappings with the fields above);
* CSV: one row per theme with columns ``id, label, definition, examples, version, retired``;
  ``examples`` separated by `` | ``, ``retired`` ``true``/``false``, the same version on every row.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from sjrlib.yaml_files import YAMLFileError, load_yaml, parse_yaml

__all__ = [
    "CSV_COLUMNS",
    "SHIPPED_VERSION",
    "Codebook",
    "CodebookError",
    "NoStoredCodebook",
    "Theme",
    "codebook_to_csv",
    "codebook_to_yaml",
    "export_codebook",
    "load_codebook",
    "parse_codebook",
    "shipped_codebook",
]

SHIPPED_VERSION = "2026.1"
CSV_COLUMNS = ("id", "label", "definition", "examples", "version", "retired")
EXAMPLE_SEPARATOR = " | "
_MAX_BYTES = 1 << 20
_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_VERSION = re.compile(r"^\d{4}\.\d{1,3}$")
_DATA = Path(__file__).resolve().parent.parent / "data"
_REPORTED = object()
"""A CSV cell whose column is missing or whose value was refused already (one problem each)."""
_THEME_FIELDS = ("id", "label", "definition", "examples", "retired")


class CodebookError(ValueError):
    """A codebook that cannot be used.

    ``problems`` holds every problem found, each naming the file (or stored version), where in
    it (a CSV file's row and column, a YAML file's theme and field), the value and the rule;
    ``str()`` is a line naming the file and the count, then the problems one a line
    (:meth:`listing`). A file that cannot be read at all is one problem, one line.
    """

    def __init__(self, message: str, problems: Sequence[str] = (), *,
                 name: str | None = None) -> None:
        self.problems = tuple(problems) or (message,)
        self.name = name
        super().__init__(message)

    def listing(self, outcome: str = "the codebook is not valid") -> str:
        """The problems under a head line ending with ``outcome`` (e.g. "nothing was
        stored")."""
        if self.name is None:
            return str(self)
        n = len(self.problems)
        return "\n".join([f"{self.name}: {n} problem{'s' * (n != 1)}; {outcome}",
                          *(f"  {p}" for p in self.problems)])


class NoStoredCodebook(ValueError):
    """The store holds no codebook (revision ``0006_themes`` stores the shipped one, so only a
    store whose rows were removed)."""


def _refuse(name: str, problems: Sequence[str]) -> NoReturn:
    error = CodebookError("", problems, name=name)
    error.args = (error.listing(),)
    raise error


@dataclass(frozen=True)
class Theme:
    """One theme of a codebook."""

    id: str
    label: str
    definition: str
    examples: tuple[str, ...]
    retired: bool = False


@dataclass(frozen=True)
class Codebook:
    """A version of the codebook: its themes in their order of display."""

    version: str
    themes: tuple[Theme, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        """Every theme id, retired ones included."""
        return tuple(t.id for t in self.themes)

    @property
    def active(self) -> tuple[Theme, ...]:
        """The themes a coder may choose now (not retired)."""
        return tuple(t for t in self.themes if not t.retired)

    def theme(self, theme_id: str) -> Theme:
        """The theme with this id (retired or not); ``KeyError`` naming the codebook if none."""
        for t in self.themes:
            if t.id == theme_id:
                return t
        raise KeyError(f"no theme {theme_id!r} in codebook {self.version}")

    def label(self, theme_id: str) -> str:
        """The label of a theme, for tables and reports."""
        return self.theme(theme_id).label


def shipped_codebook() -> Codebook:
    """The codebook that ships with the package (version ``2026.1``)."""
    return load_codebook(_DATA / f"codebook-{SHIPPED_VERSION}.yaml")


def load_codebook(path: str | Path) -> Codebook:
    """Read and validate a codebook file (``.yaml``/``.yml`` or ``.csv``).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    Codebook

    Raises
    ------
    CodebookError
        The file is missing, unreadable, of another kind, or breaks a rule (see
        :func:`parse_codebook`); the message names the file and where.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        try:
            data = load_yaml(path, what="codebook")
        except YAMLFileError as exc:
            raise CodebookError(str(exc)) from None
        return parse_codebook(data, path.name)
    if suffix == ".csv":
        return _read_csv(path)
    raise CodebookError(f"{path.name}: a codebook is a .yaml or .csv file")


def _read_csv(path: Path) -> Codebook:
    """Read a CSV codebook, every problem of every row listed (:func:`_parse`)."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(_MAX_BYTES + 1)
    except FileNotFoundError:
        raise CodebookError(f"{path.name}: file not found") from None
    except OSError as exc:
        raise CodebookError(f"{path.name}: cannot be read ({exc.strerror})") from None
    if len(raw) > _MAX_BYTES:
        raise CodebookError(f"{path.name}: larger than a codebook can be (1 MB)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CodebookError(f"{path.name}: not UTF-8 text") from None
    try:
        # csv.reader, not DictReader: a blank row is skipped and still counted, so every row
        # is named as a spreadsheet numbers it (header = row 1)
        table = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise CodebookError(f"{path.name}: not a readable CSV file ({exc})") from None
    name = path.name
    if not table or not any(c.strip() for c in table[0]):
        raise CodebookError(f"{name}: no header row; expected the columns "
                            f"{', '.join(CSV_COLUMNS)}")
    header = [c.strip() for c in table[0]]
    problems: list[tuple[int, str]] = []
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        problems.append((0, f"{name}: missing column(s) {', '.join(missing)}; expected "
                            f"{', '.join(CSV_COLUMNS)}"))
    extra = [c for c in header if c not in CSV_COLUMNS]
    if extra:
        problems.append((0, f"{name}: unknown column(s) {', '.join(extra)}; expected "
                            f"{', '.join(CSV_COLUMNS)}"))
    twice = sorted({c for c in header if c in CSV_COLUMNS and header.count(c) > 1})
    if twice:
        problems.append((0, f"{name}: column(s) {', '.join(twice)} appear more than once"))
    index = {c: header.index(c) for c in CSV_COLUMNS if c in header}
    themes: list[dict[str, Any]] = []
    versions: dict[str, list[int]] = {}
    for number, cells in enumerate(table[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            problems.append((number, f"{name}, row {number}: {len(cells)} cells but "
                                     f"{len(header)} columns"))

        def cell(column: str, cells: list[str] = cells) -> Any:
            if column not in index:
                return _REPORTED  # the missing column is one problem, not one per row
            return cells[index[column]] if index[column] < len(cells) else ""

        item: dict[str, Any] = {c: cell(c) for c in ("id", "label", "definition")}
        examples = cell("examples")
        item["examples"] = examples if examples is _REPORTED else \
            [e.strip() for e in examples.split("|") if e.strip()]
        retired = cell("retired")
        if retired is not _REPORTED:
            flag = retired.strip().lower()
            if flag not in ("true", "false", ""):
                ident = str(item["id"]).strip()
                place = f"row {number}" + (f" ({ident})" if _ID.match(ident) else "")
                problems.append((number, f"{name}, {place}, column retired: retired is "
                                         f"{retired!r}; write true or false"))
                retired = _REPORTED
            else:
                retired = flag == "true"
        item["retired"] = retired
        version = cell("version")
        if version is not _REPORTED:
            versions.setdefault(version.strip(), []).append(number)
        themes.append({**item, "_row": number})
    if "version" not in index:
        version = _REPORTED
    elif len(versions) > 1:
        found = ", ".join(f"{v or 'blank'} ({_rows_text(rows)})"
                          for v, rows in sorted(versions.items()))
        problems.append((0, f"{name}, column version: rows carry different versions "
                            f"({found}); a file holds one version"))
        version = _REPORTED
    else:
        version = next(iter(versions), "")
    return _parse({"version": version, "themes": themes}, name, problems, table=True)


def _rows_text(rows: list[int]) -> str:
    """``row 5`` or ``rows 2-4, 7``: row numbers in runs."""
    runs: list[list[int]] = []
    for r in rows:
        if runs and r == runs[-1][-1] + 1:
            runs[-1].append(r)
        else:
            runs.append([r])
    text = ", ".join(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs)
    return f"row{'s' * (len(rows) > 1)} {text}"


@functools.lru_cache(maxsize=32)
def stored_codebook(version: str, body: str) -> Codebook:
    """A codebook version as the store holds it (its YAML text), read once per process.

    The coding dashboard reads the latest codebook on every code it saves; parsing its YAML
    took about 50 ms of the 55 ms a save took (907 codes: 48 of 52 s). A :class:`Codebook`
    is frozen, so the same object can be handed to every caller; the key is the text itself,
    so a different body under the same version is read afresh.
    """
    name = f"codebook {version}"
    return parse_codebook(parse_yaml(body, name, what="codebook"), name)


def parse_codebook(data: Any, name: str = "<codebook>") -> Codebook:
    """Validate plain data (as read from YAML) into a :class:`Codebook`.

    Rules: ``version`` is ``YYYY.N``; at least one theme that is not retired; each theme has
    an id (lower case letters, digits and ``_``, at most 40, unique), a label (unique), a
    definition and a list of example statements; ``retired`` is true or false; nothing else.

    Raises
    ------
    CodebookError
        Listing every problem, each naming ``name``, the theme (by position and id) and the
        field.
    """
    return _parse(data, name, [], table=False)


def _parse(data: Any, name: str, problems: list[tuple[int, str]], *, table: bool) -> Codebook:
    """The codebook in ``data``, or :class:`CodebookError` listing every problem (those found
    before, ``problems``, and these) in the order of the file. ``table``: read from CSV (rows
    and columns) rather than YAML (themes and fields)."""
    if not isinstance(data, dict):
        _refuse(name, [f"{name}: expected a mapping with 'version' and 'themes'"])
    unknown = sorted(set(map(str, data)) - {"version", "themes"})
    if unknown:
        problems.append((0, f"{name}: unknown field(s) {', '.join(unknown)}; a codebook has "
                            "version and themes"))
    version = data.get("version")
    where = f"{name}, {'column' if table else 'field'} version"
    if version is _REPORTED:
        pass
    elif isinstance(version, bool | float | int):
        problems.append((0, f"{where}: version {version!r} must be quoted text, e.g. "
                            '"2026.1"'))
    elif not isinstance(version, str) or not _VERSION.match(version.strip()):
        problems.append((0, f"{where}: version {version!r} is not of the form YYYY.N "
                            "(e.g. 2026.1)"))
    items = data.get("themes")
    if not isinstance(items, list) or not items:
        problems.append((0, f"{name}: no theme rows" if table else
                            f"{name}, field themes: 'themes' must be a non-empty list"))
        _refuse(name, [p for _, p in sorted(problems, key=lambda p: p[0])])
    parsed = [_parse_theme(item, name, i, problems, table=table)
              for i, item in enumerate(items, start=1)]
    kind = "column" if table else "field"
    for field in ("id", "label"):
        first: dict[str, str] = {}
        for key, place, values in parsed:
            value = values.get(field)
            if not value:
                continue
            if value.lower() in first:
                problems.append((key, f"{name}, {place}, {kind} {field}: {field} {value!r} is "
                                      f"also the {field} of {first[value.lower()]}; each theme "
                                      f"has its own {field}"))
            else:
                first[value.lower()] = f"row {key}" if table else f"theme {key}"
    if parsed and all(values.get("retired") is True for _, _, values in parsed):
        problems.append((0, f"{name}: every theme is retired; a codebook needs one to code "
                            "with"))
    if problems:
        _refuse(name, [p for _, p in sorted(problems, key=lambda p: p[0])])
    return Codebook(version=version.strip(), themes=tuple(Theme(**values)
                                                          for _, _, values in parsed))


def _parse_theme(item: Any, name: str, position: int, problems: list[tuple[int, str]], *,
                 table: bool) -> tuple[int, str, dict[str, Any]]:
    """``(sort key, place, values)`` of one theme: ``values`` holds the fields that are
    right; a problem with any is added to ``problems``."""
    row = item.pop("_row", None) if isinstance(item, dict) else None
    key = row if row is not None else position
    place = f"row {row}" if row is not None else f"theme {position}"
    kind = "column" if table else "field"
    if not isinstance(item, dict):
        problems.append((key, f"{name}, {place}: expected a mapping with id, label, "
                              "definition, examples"))
        return key, place, {}
    values: dict[str, Any] = {}
    theme_id = item.get("id")
    if theme_id is _REPORTED:
        pass
    elif not isinstance(theme_id, str) or not theme_id.strip():
        problems.append((key, f"{name}, {place}, {kind} id: id is missing or empty"))
    elif not _ID.match(theme_id.strip()):
        problems.append((key, f"{name}, {place}, {kind} id: id {theme_id!r} must be lower-case "
                              "letters, digits and _ (at most 40, starting with a letter)"))
    else:
        values["id"] = theme_id.strip()
        place = f"{place} ({values['id']})"

    def problem(field: str, message: str) -> None:
        problems.append((key, f"{name}, {place}, {kind} {field}: {message}"))

    unknown = sorted(set(map(str, item)) - set(_THEME_FIELDS))
    if unknown:
        problems.append((key, f"{name}, {place}: unknown field(s) {', '.join(unknown)}; a "
                              f"theme has {', '.join(_THEME_FIELDS)}"))
    for field in ("label", "definition"):
        value = item.get(field)
        if value is _REPORTED:
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            problem(field, f"{field} is missing or empty")
        elif not isinstance(value, str):
            problem(field, f"{field} {value!r} must be text")
        else:
            values[field] = " ".join(value.split())
    examples = item.get("examples", [])
    if examples is _REPORTED:
        pass
    elif not isinstance(examples, list) or not all(isinstance(e, str) and e.strip()
                                                   for e in examples):
        problem("examples", "examples must be a list of statements")
    elif any("|" in e for e in examples):
        problem("examples", "an example may not contain '|' (it separates examples in CSV)")
    else:
        values["examples"] = tuple(" ".join(e.split()) for e in examples)
    retired = item.get("retired", False)
    if retired is _REPORTED:
        pass
    elif not isinstance(retired, bool):
        problem("retired", f"retired is {retired!r}; write true or false")
    else:
        values["retired"] = retired
    return key, place, values


def codebook_to_yaml(codebook: Codebook) -> str:
    """The codebook as YAML text, as :func:`load_codebook` reads it."""
    import yaml

    data = {"version": codebook.version, "themes": [
        {"id": t.id, "label": t.label, "definition": t.definition,
         "examples": list(t.examples), "retired": t.retired} for t in codebook.themes]}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def codebook_to_csv(codebook: Codebook) -> str:
    """The codebook as CSV text, one row per theme (columns :data:`CSV_COLUMNS`)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for t in codebook.themes:
        writer.writerow([t.id, t.label, t.definition, EXAMPLE_SEPARATOR.join(t.examples),
                         codebook.version, "true" if t.retired else "false"])
    return out.getvalue()


def export_codebook(codebook: Codebook, path: str | Path) -> Path:
    """Write the codebook to ``path`` (``.yaml``/``.yml`` or ``.csv``, by its suffix).

    Raises
    ------
    CodebookError
        Another suffix.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        text = codebook_to_yaml(codebook)
    elif suffix == ".csv":
        text = codebook_to_csv(codebook)
    else:
        raise CodebookError(f"{path.name}: a codebook is written as .yaml or .csv")
    from sjrlib.safe_files import write_private

    return write_private(path, text)  # whole: a full disk leaves no part of it
