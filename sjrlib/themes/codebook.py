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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sjrlib.yaml_files import YAMLFileError, load_yaml, parse_yaml

__all__ = [
    "CSV_COLUMNS",
    "SHIPPED_VERSION",
    "Codebook",
    "CodebookError",
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


class CodebookError(ValueError):
    """A codebook file that cannot be used; the message names the file, theme and field."""


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
        return parse_codebook(_read_csv(path), path.name)
    raise CodebookError(f"{path.name}: a codebook is a .yaml or .csv file")


def _read_csv(path: Path) -> dict[str, Any]:
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
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise CodebookError(f"{path.name}: missing column(s) {', '.join(missing)}; "
                            f"expected {', '.join(CSV_COLUMNS)}")
    extra = [c for c in header if c not in CSV_COLUMNS]
    if extra:
        raise CodebookError(f"{path.name}: unknown column(s) {', '.join(extra)}")
    themes: list[dict[str, Any]] = []
    versions: set[str] = set()
    for line, row in enumerate(reader, start=2):
        if None in row:
            raise CodebookError(f"{path.name}: row {line}: more cells than columns")
        versions.add((row["version"] or "").strip())
        retired = (row["retired"] or "").strip().lower()
        if retired not in ("true", "false", ""):
            raise CodebookError(f"{path.name}: row {line}: retired is {row['retired']!r}; "
                                "write true or false")
        themes.append({
            "id": row["id"], "label": row["label"], "definition": row["definition"],
            "examples": [e.strip() for e in (row["examples"] or "").split("|") if e.strip()],
            "retired": retired == "true", "_row": line,
        })
    if len(versions) > 1:
        raise CodebookError(f"{path.name}: rows carry different versions "
                            f"({', '.join(sorted(versions))}); a file holds one version")
    return {"version": versions.pop() if versions else "", "themes": themes}


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
        Naming ``name``, the theme (by id or position) and the field.
    """
    if not isinstance(data, dict):
        raise CodebookError(f"{name}: expected a mapping with 'version' and 'themes'")
    unknown = sorted(set(data) - {"version", "themes"})
    if unknown:
        raise CodebookError(f"{name}: unknown field(s) {', '.join(map(str, unknown))}")
    version = data.get("version")
    if isinstance(version, float | int):
        raise CodebookError(f"{name}: version {version!r} must be quoted text, e.g. \"2026.1\"")
    if not isinstance(version, str) or not _VERSION.match(version.strip()):
        raise CodebookError(f"{name}: version {version!r} is not of the form YYYY.N (e.g. 2026.1)")
    items = data.get("themes")
    if not isinstance(items, list) or not items:
        raise CodebookError(f"{name}: 'themes' must be a non-empty list")
    themes = [_parse_theme(item, name, i) for i, item in enumerate(items, start=1)]
    for field in ("id", "label"):
        seen: set[str] = set()
        for t in themes:
            value = getattr(t, field)
            if value.lower() in seen:
                raise CodebookError(f"{name}: theme {t.id}: {field} {value!r} appears twice")
            seen.add(value.lower())
    if all(t.retired for t in themes):
        raise CodebookError(f"{name}: every theme is retired; a codebook needs one to code with")
    return Codebook(version=version.strip(), themes=tuple(themes))


def _parse_theme(item: Any, name: str, position: int) -> Theme:
    where = f"{name}: theme {position}"
    if not isinstance(item, dict):
        raise CodebookError(f"{where}: expected a mapping with id, label, definition, examples")
    row = item.pop("_row", None) if isinstance(item, dict) else None
    if row is not None:
        where = f"{name}: row {row}"
    unknown = sorted(set(map(str, item)) - {"id", "label", "definition", "examples", "retired"})
    if unknown:
        raise CodebookError(f"{where}: unknown field(s) {', '.join(unknown)}")
    theme_id = item.get("id")
    if not isinstance(theme_id, str) or not _ID.match(theme_id.strip()):
        raise CodebookError(f"{where}: id {theme_id!r} must be lower-case letters, digits and _ "
                            "(at most 40, starting with a letter)")
    theme_id = theme_id.strip()
    where = f"{where} ({theme_id})"
    texts = {}
    for field in ("label", "definition"):
        value = item.get(field)
        if not isinstance(value, str) or not value.strip():
            raise CodebookError(f"{where}: {field} is missing or empty")
        texts[field] = " ".join(value.split())
    examples = item.get("examples", [])
    if not isinstance(examples, list) or not all(isinstance(e, str) and e.strip()
                                                 for e in examples):
        raise CodebookError(f"{where}: examples must be a list of statements")
    if any("|" in e for e in examples):
        raise CodebookError(f"{where}: an example may not contain '|' (it separates examples "
                            "in CSV)")
    retired = item.get("retired", False)
    if not isinstance(retired, bool):
        raise CodebookError(f"{where}: retired is {retired!r}; write true or false")
    return Theme(id=theme_id, label=texts["label"], definition=texts["definition"],
                 examples=tuple(" ".join(e.split()) for e in examples), retired=retired)


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
    path.write_text(text, encoding="utf-8")
    return path
