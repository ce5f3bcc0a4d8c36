"""Column mappings: bring a trust's own export into the exchange format without editing it.

A mapping is a small YAML file. Every key is optional::

    # Our review export, as produced by the trust's incident system.
    columns:                     # their header -> our column
      Review ref: review_id
      Patient ref: case_id
      Trust: organisation_code
      Overall score: score_overall
    values:                      # our column -> {their code: our code}
      sex: {M: male, F: female, U: unknown}
      review_reasons: {RS: random_sample, FAM: family_concern}   # mapped per ;-separated id
      score_overall: {"6": 5}    # a legacy scale must be mapped explicitly, never guessed
    ignore:                      # their headers to drop (otherwise unknown columns are an error)
      - Notes for admin
    avoidability_scale: prism    # the scale of avoidability_score where the file leaves it blank

Value mapping replaces whole cells (after trimming spaces) and leaves other cells as they are, to
be validated like any other; ``review_reasons`` is mapped id by id. The file is read with
:func:`sjrlib.yaml_files.load_yaml` (safe, with limits on size, nesting and aliases). YAML
reads unquoted ``yes``/``no``/``true``/``false`` as booleans: they are taken as ``yes``/``no``;
numbers are taken as their text (``6`` -> ``"6"``). See ``tests/data/trust_export_mapping.yaml``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sjrlib import domain
from sjrlib.yaml_files import YAMLFileError, load_yaml

__all__ = ["ColumnMapping", "MappingError", "apply_mapping", "load_mapping"]

_KEYS = ("columns", "values", "ignore", "avoidability_scale")


class MappingError(ValueError):
    """The mapping file itself is wrong (one line saying what and where)."""


@dataclass(frozen=True)
class ColumnMapping:
    """A parsed column mapping (see the module docstring for the YAML form)."""

    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()
    avoidability_scale: str | None = None
    source: str = "<mapping>"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def load_mapping(mapping: str | Path | Mapping[str, Any] | ColumnMapping) -> ColumnMapping:
    """Read a mapping from a YAML file (or take a dict / :class:`ColumnMapping` as it is).

    Raises
    ------
    MappingError
        Unreadable YAML, an unknown key, or a section of the wrong shape.
    """
    if isinstance(mapping, ColumnMapping):
        return mapping
    if isinstance(mapping, Mapping):
        data, source = dict(mapping), "<mapping>"
    else:
        path = Path(mapping)
        source = path.name
        try:
            data = load_yaml(path, what="mapping")  # safe, with limits on size, nesting and aliases
        except YAMLFileError as exc:
            raise MappingError(str(exc)) from None
        data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise MappingError(f"{source}: a mapping file must be a YAML mapping with keys "
                           f"{', '.join(_KEYS)}")
    unknown = [str(k) for k in data if k not in _KEYS]
    if unknown:
        raise MappingError(f"{source}: unknown key(s) {', '.join(unknown)}; allowed: "
                           f"{', '.join(_KEYS)}")

    columns = data.get("columns") or {}
    values = data.get("values") or {}
    ignore = data.get("ignore") or []
    scale = data.get("avoidability_scale")
    if not isinstance(columns, Mapping):
        raise MappingError(f"{source}: columns must map their header to our column name")
    if not isinstance(values, Mapping) or not all(isinstance(v, Mapping)
                                                  for v in values.values()):
        raise MappingError(f"{source}: values must map our column to {{their code: our code}}")
    if isinstance(ignore, str) or not isinstance(ignore, list):
        raise MappingError(f"{source}: ignore must be a list of headers")
    if scale is not None and _text(scale) not in domain.AVOIDABILITY_SCALES:
        raise MappingError(f"{source}: avoidability_scale must be one of "
                           f"{', '.join(domain.AVOIDABILITY_SCALES)}, not {scale!r}")
    return ColumnMapping(
        columns={_text(k): _text(v) for k, v in columns.items()},
        values={_text(c): {_text(k): _text(v) for k, v in codes.items()}
                for c, codes in values.items()},
        ignore=tuple(_text(h) for h in ignore),
        avoidability_scale=None if scale is None else _text(scale),
        source=source,
    )


def apply_mapping(frame: pd.DataFrame, mapping: ColumnMapping,
                  our_columns: Collection[str]) -> pd.DataFrame:
    """Rename, drop and recode the columns of a raw (all-string) frame.

    Raises :class:`MappingError` when the mapping names a column that is not one of
    ``our_columns`` or two headers end up as the same column.
    """
    wrong = sorted({c for c in mapping.columns.values() if c not in our_columns}
                   | {c for c in mapping.values if c not in our_columns})
    if wrong:
        raise MappingError(f"{mapping.source}: maps to unknown column(s) {', '.join(wrong)}")
    frame = frame.drop(columns=[c for c in mapping.ignore if c in frame.columns])
    frame = frame.rename(columns=mapping.columns)
    seen: dict[str, int] = {}
    for c in frame.columns:
        seen[c] = seen.get(c, 0) + 1
    twice = [c for c, k in seen.items() if k > 1]
    if twice:
        raise MappingError(f"{mapping.source}: more than one header becomes column(s) "
                           f"{', '.join(twice)}")
    for column, codes in mapping.values.items():
        if column in frame.columns and codes:
            frame[column] = _recode(frame[column], codes, per_id=column == "review_reasons")
    if (mapping.avoidability_scale is not None and "avoidability_score" in frame.columns
            and "avoidability_scale" in our_columns):
        scale = (frame["avoidability_scale"] if "avoidability_scale" in frame.columns
                 else pd.Series(pd.NA, index=frame.index, dtype="string"))
        blank = scale.isna() | (scale.str.strip() == "")
        scored = frame["avoidability_score"].notna() & (frame["avoidability_score"].str.strip()
                                                        != "")
        frame["avoidability_scale"] = scale.mask(blank & scored, mapping.avoidability_scale)
    return frame


def _recode(column: pd.Series, codes: dict[str, str], *, per_id: bool) -> pd.Series:
    text = column.astype("string")
    if per_id:
        def one(cell: str) -> str:
            parts = [p.strip() for p in cell.split(domain.REASON_SEPARATOR)]
            return domain.REASON_SEPARATOR.join(codes.get(p, p) for p in parts)

        uniques = text.dropna().unique()
        return text.map({u: one(u) for u in uniques}).astype("string").where(text.notna(),
                                                                              pd.NA)
    stripped = text.str.strip()
    hit = stripped.isin(list(codes)).fillna(False)
    return text.mask(hit, stripped.map(codes).astype("string"))
