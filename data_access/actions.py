"""The action register in the store (revision ``0008_actions``): check, write, read, exchange.

Called by :class:`data_access.session.Session` (``record_action``, ``update_action``,
``actions``) inside its audited door, never directly: these functions take the door's
connection and trust the session to have decided the scope.

What is checked before anything is written (``shared/spec/learning.md``):

- the description is short text with no identifier in it (:func:`sjrlib.privacy.find_identifiers`;
  the message says what kind was found and where, never the identifier itself);
- the owner is a role, not a person: it is screened the same way, and refused when it reads like
  a name;
- a status of :data:`ACTION_STATUSES`; dates in order; a completed action has its completion
  date; a measure is one of :func:`sjrlib.measures.allowed_measures` and comes with the month of
  the change, which is not in the future; a target (optional) is a percentage 0-100 of the
  measure, and only with a measure (revision ``0012_action_target``: the impact chart's
  assurance icon);
- linked themes are active themes of the latest codebook.

The exchange form (``sjr actions export``, :func:`write_actions_file`) is one row per action with
the columns :data:`EXPORT_COLUMNS`; themes and review ids are ``;``-separated links.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
from sqlalchemy import Connection, text

from data_access.governance_models import ACTION_STATUSES
from sjrlib import formula_cells, privacy, safe_files
from sjrlib.rules import uk_today

__all__ = [
    "ACTION_COLUMNS",
    "ACTION_FIELDS",
    "ACTION_STATUSES",
    "EXPORT_COLUMNS",
    "ActionError",
    "ImportedActions",
    "changed_fields",
    "check_action",
    "insert_action",
    "load_actions",
    "read_actions",
    "read_actions_file",
    "stored_action",
    "stored_values",
    "update_action",
    "write_actions_file",
]

ACTION_FIELDS: tuple[str, ...] = ("description", "owner_role", "status", "agreed_on", "due_on",
                                  "completed_on", "measure", "change_month", "target", "themes",
                                  "review_ids")
"""What a person sets on an action (the rest is the store's: id, organisation, who, when)."""

ACTION_COLUMNS: tuple[str, ...] = (
    "id", "organisation_code", "description", "owner_role", "status", "agreed_on", "due_on",
    "completed_on", "measure", "change_month", "target", "themes", "review_ids", "recorded_by",
    "recorded_at", "updated_by", "updated_at", "version",
)
"""Columns of :func:`load_actions` (``Session.actions``), in order."""

EXPORT_COLUMNS: tuple[str, ...] = (
    "id", "organisation_code", "description", "owner_role", "status", "agreed_on", "due_on",
    "completed_on", "measure", "change_month", "target", "themes", "review_ids", "version",
)
"""Columns of the exported register (CSV or XLSX)."""

class ImportedActions(NamedTuple):
    """What an import of a register file did (``Session.import_actions``)."""

    recorded: int  # new actions
    updated: int  # actions with a changed value: a new version each
    unchanged: int  # rows whose values are those stored: nothing written


class ActionError(ValueError):
    """Values of an action that cannot be stored: ``problems`` holds every ``(field,
    message)`` found; ``str()`` is the messages, one after another."""

    def __init__(self, problems: Sequence[tuple[str, str]]):
        self.problems = list(problems)
        super().__init__("; ".join(message for _, message in self.problems))


MAX_DESCRIPTION = 1000
MAX_OWNER = 120
_SEPARATOR = ";"


def _missing(value: Any) -> bool:
    """None, NaN, NaT, pd.NA or blank text (as a frame or a spreadsheet gives a blank)."""
    if isinstance(value, str):
        return not value.strip()
    return value is None or (not isinstance(value, list | tuple) and bool(pd.isna(value)))


def _date(value: Any, name: str) -> dt.date | None:
    if _missing(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"{name} must be a date written YYYY-MM-DD, not {value!r}") from None


def _month(value: Any) -> str | None:
    if _missing(value):
        return None
    value = str(value).strip()
    if len(value) != 7 or value[4] != "-" or not (value[:4] + value[5:]).isdigit() \
            or not 1 <= int(value[5:]) <= 12:
        raise ValueError(f"change_month must be a month written YYYY-MM, not {value!r}")
    return value


def _target(value: Any) -> float | None:
    """A target percentage 0-100 ("12", "12.5", "12%"), or None when blank."""
    if _missing(value):
        return None
    textual = str(value).strip().removesuffix("%").strip()
    try:
        number = float(textual)
    except ValueError:
        raise ValueError(f"target must be a percentage between 0 and 100, not {value!r}"
                         ) from None
    if not 0 <= number <= 100:  # also refuses NaN and infinities
        raise ValueError(f"target must be a percentage between 0 and 100, not {value!r}")
    return number


def _links(value: Any) -> list[str]:
    if _missing(value):
        return []
    items = value.split(_SEPARATOR) if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        item = str(item).strip()
        if item and item not in out:
            out.append(item)
    return out


def _screened(value: Any, name: str, limit: int) -> str:
    textual = "" if _missing(value) else str(value).strip()
    if not textual:
        raise ValueError(f"{name} is required")
    if len(textual) > limit:
        raise ValueError(f"{name} is {len(textual)} characters; at most {limit}")
    findings = privacy.find_identifiers(textual)
    if findings:
        raise ValueError(f"{name} contains what looks like an identifier: "
                         f"{privacy.describe(findings)}; describe the change, never a patient "
                         "or a person")
    return textual


def check_action(values: dict[str, Any], *, codebook: Any, today: dt.date | None = None
                 ) -> dict[str, Any]:
    """The checked, canonical values of an action (every key of :data:`ACTION_FIELDS`).

    Raises :class:`ActionError` (a ``ValueError``) naming every field that is wrong and what
    would be right.
    """
    from sjrlib.measures import parse_measure

    unknown = sorted(set(values) - set(ACTION_FIELDS))
    if unknown:
        raise ValueError(f"unknown action field(s) {', '.join(unknown)}; an action has "
                         f"{', '.join(ACTION_FIELDS)}")
    today = today or uk_today()
    problems: list[tuple[str, str]] = []

    def checked(field_: str, read: Any, *args: Any) -> Any:
        try:
            return read(*args)
        except ValueError as exc:
            problems.append((field_, str(exc)))
            return None

    out: dict[str, Any] = {
        "description": checked("description", _screened, values.get("description"),
                               "description", MAX_DESCRIPTION),
        "owner_role": checked("owner_role", _screened, values.get("owner_role"),
                              "owner_role", MAX_OWNER),
    }
    status = "open" if _missing(values.get("status")) else str(values["status"]).strip()
    if status not in ACTION_STATUSES:
        problems.append(("status", f"status must be one of {', '.join(ACTION_STATUSES)}, "
                                   f"not {status!r}"))
    out["status"] = status
    agreed = checked("agreed_on", _date, values.get("agreed_on"), "agreed_on")
    if agreed is None and not any(f == "agreed_on" for f, _ in problems):
        problems.append(("agreed_on", "agreed_on (the date the action was agreed) is "
                                      "required"))
    due = checked("due_on", _date, values.get("due_on"), "due_on")
    completed = checked("completed_on", _date, values.get("completed_on"), "completed_on")
    for name, day in (("due_on", due), ("completed_on", completed)):
        if day is not None and agreed is not None and day < agreed:
            problems.append((name, f"{name} {day} is before agreed_on {agreed}"))
    if completed is not None and completed > today:
        problems.append(("completed_on", f"completed_on {completed} is in the future"))
    if status == "completed" and completed is None \
            and not any(f == "completed_on" for f, _ in problems):
        problems.append(("completed_on", "a completed action needs completed_on (the date "
                                         "it was completed)"))
    if status in ACTION_STATUSES and status != "completed" and completed is not None:
        problems.append(("completed_on", f"completed_on is for completed actions; this one "
                                         f"is {status}"))
    out.update(agreed_on=agreed, due_on=due, completed_on=completed)
    measure = values.get("measure")
    measure = None if _missing(measure) else str(measure).strip()
    change = checked("change_month", _month, values.get("change_month"))
    change_given = change is not None or any(f == "change_month" for f, _ in problems)
    if measure is not None:
        measure = checked("measure", lambda m: parse_measure(m, codebook).id, measure)
        if measure is not None and not change_given:
            problems.append(("change_month", "a measure needs change_month (the month the "
                                             "change went in), where its SPC chart is "
                                             "rebased"))
        if change is not None and change > today.strftime("%Y-%m"):
            problems.append(("change_month", f"change_month {change} is in the future"))
    elif change is not None and not any(f == "measure" for f, _ in problems):
        problems.append(("change_month", "change_month goes with a measure; name the measure "
                                         "too"))
    target = checked("target", _target, values.get("target"))
    if target is not None and measure is None and _missing(values.get("measure")):
        problems.append(("target", "target goes with a measure (it is a percentage of the "
                                   "measure); name the measure too"))
    out.update(measure=measure, change_month=change, target=target)
    themes = _links(values.get("themes"))
    active = {t.id for t in codebook.active}
    wrong = [t for t in themes if t not in active]
    if wrong:
        problems.append(("themes", f"theme(s) {', '.join(wrong)} are not active themes of "
                                   f"codebook {codebook.version}"))
    out["themes"] = themes
    out["review_ids"] = _links(values.get("review_ids"))
    if problems:
        raise ActionError(problems)
    return out


def insert_action(conn: Connection, organisation_code: str, values: dict[str, Any], *,
                  user: str) -> str:
    """Write a checked action and its links; returns its new id."""
    action_id = uuid.uuid4().hex
    now = dt.datetime.now(dt.UTC)
    row = {k: values[k] for k in ACTION_FIELDS if k not in ("themes", "review_ids")}
    conn.execute(
        text("INSERT INTO actions (id, organisation_code, description, owner_role, status, "
             "agreed_on, due_on, completed_on, measure, change_month, target, recorded_by, "
             "recorded_at, updated_by, updated_at, version) VALUES (:id, :org, :description, "
             ":owner_role, :status, :agreed_on, :due_on, :completed_on, :measure, "
             ":change_month, :target, :u, :now, :u, :now, 1)"),
        {**row, "id": action_id, "org": organisation_code, "u": user, "now": now})
    _write_links(conn, action_id, values["themes"], values["review_ids"])
    return action_id


def _write_links(conn: Connection, action_id: str, themes: Sequence[str],
                 review_ids: Sequence[str]) -> None:
    # a link's organisation is its action's (and its review's: the keys to both hold it)
    org = conn.execute(text("SELECT organisation_code FROM actions WHERE id = :a"),
                       {"a": action_id}).scalar_one()
    key = {"o": org, "a": action_id}
    conn.execute(text("DELETE FROM action_themes WHERE organisation_code = :o AND "
                      "action_id = :a"), key)
    conn.execute(text("DELETE FROM action_reviews WHERE organisation_code = :o AND "
                      "action_id = :a"), key)
    if themes:
        conn.execute(text("INSERT INTO action_themes (organisation_code, action_id, theme) "
                          "VALUES (:o, :a, :t)"), [{**key, "t": t} for t in themes])
    if review_ids:
        conn.execute(text("INSERT INTO action_reviews (organisation_code, action_id, review_id) "
                          "VALUES (:o, :a, :r)"), [{**key, "r": r} for r in review_ids])


def update_action(conn: Connection, action_id: str, values: dict[str, Any], *,
                  expected_version: int, user: str) -> int:
    """Replace an action's values and links with checked ``values``; returns the new version.

    Raises ``ValueError`` when the stored version is not ``expected_version`` (someone changed
    it since it was read: read it again), and nothing is written.
    """
    row = {k: values[k] for k in ACTION_FIELDS if k not in ("themes", "review_ids")}
    done = conn.execute(
        text("UPDATE actions SET description = :description, owner_role = :owner_role, "
             "status = :status, agreed_on = :agreed_on, due_on = :due_on, "
             "completed_on = :completed_on, measure = :measure, change_month = :change_month, "
             "target = :target, updated_by = :u, updated_at = :now, version = version + 1 "
             "WHERE id = :id AND version = :v"),
        {**row, "id": action_id, "v": int(expected_version), "u": user,
         "now": dt.datetime.now(dt.UTC)})
    if done.rowcount != 1:
        raise ValueError(f"action {action_id} was changed since version {expected_version} was "
                         "read; read it again and repeat the change")
    _write_links(conn, action_id, values["themes"], values["review_ids"])
    return int(expected_version) + 1


def stored_values(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored action (:func:`stored_action`) as :func:`check_action` gives values: every key
    of :data:`ACTION_FIELDS`, links as lists."""
    values = {k: stored.get(k) for k in ACTION_FIELDS}
    for key in ("themes", "review_ids"):
        values[key] = _links(values[key])
    return values


def changed_fields(stored: dict[str, Any], checked: dict[str, Any]) -> list[str]:
    """The fields of ``checked`` (:func:`check_action`'s values) that differ from the stored
    action (:func:`stored_action`), in :data:`ACTION_FIELDS` order; empty when re-writing it
    would change nothing.

    Compared as the register file carries them: blank and missing are the same, dates by day
    (a date, a workbook's date time or ``YYYY-MM-DD`` text), a target by its value (``10``,
    ``10.0``), and the themes and reviews as sets of links (the store keeps no order for them:
    :func:`load_actions` lists them sorted).
    """
    def same(field: str, old: Any, new: Any) -> bool:
        if field in ("themes", "review_ids"):
            return set(_links(old)) == set(_links(new))
        if _missing(old) or _missing(new):
            return _missing(old) and _missing(new)
        if field in ("agreed_on", "due_on", "completed_on"):
            return _date(old, field) == _date(new, field)
        if field == "target":
            return round(float(old), 9) == round(float(new), 9)
        return str(old).strip() == str(new).strip()

    return [f for f in ACTION_FIELDS if not same(f, stored.get(f), checked.get(f))]


def stored_action(conn: Connection, action_id: str) -> dict[str, Any] | None:
    """One stored action (as :func:`load_actions` gives it), or None."""
    frame = load_actions(conn, None, action_id=action_id)
    if frame.empty:
        return None
    values = frame.iloc[0].to_dict()
    return {k: (None if v is pd.NA or v is pd.NaT or v is None else v) for k, v in values.items()}


def load_actions(conn: Connection, organisations: Sequence[str] | None, *,
                 statuses: Iterable[str] | None = None, action_id: str | None = None
                 ) -> pd.DataFrame:
    """Actions of ``organisations`` (None: all), as a frame of :data:`ACTION_COLUMNS`.

    ``themes`` and ``review_ids`` are ``;``-separated; dates are ``datetime.date``.
    """
    where, params = [], {}
    if organisations is not None:
        names = {f"o{i}": code for i, code in enumerate(organisations)}
        where.append("organisation_code IN (" + (", ".join(f":{k}" for k in names) or "NULL")
                     + ")")
        params.update(names)
    if statuses is not None:
        names = {f"s{i}": s for i, s in enumerate(statuses)}
        where.append("status IN (" + (", ".join(f":{k}" for k in names) or "NULL") + ")")
        params.update(names)
    if action_id is not None:
        where.append("id = :aid")
        params["aid"] = action_id
    columns = [c for c in ACTION_COLUMNS if c not in ("themes", "review_ids")]
    sql = (f"SELECT {', '.join(columns)} FROM actions"
           + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY organisation_code, agreed_on, recorded_at, id")
    frame = pd.DataFrame(conn.execute(text(sql), params).all(), columns=columns)
    links: dict[str, dict[str, list[str]]] = {}
    ids = list(frame["id"])
    for start in range(0, len(ids), 500):
        chunk = {f"a{i}": v for i, v in enumerate(ids[start:start + 500])}
        inside = ", ".join(f":{k}" for k in chunk)
        for table, column in (("action_themes", "theme"), ("action_reviews", "review_id")):
            rows = conn.execute(text(f"SELECT action_id, {column} FROM {table} WHERE action_id "
                                     f"IN ({inside}) ORDER BY action_id, {column}"), chunk)
            for action, value in rows:
                links.setdefault(str(action), {}).setdefault(column, []).append(str(value))
    frame["themes"] = [_SEPARATOR.join(links.get(i, {}).get("theme", [])) for i in ids]
    frame["review_ids"] = [_SEPARATOR.join(links.get(i, {}).get("review_id", [])) for i in ids]
    for column in ("agreed_on", "due_on", "completed_on"):
        frame[column] = [None if v is None else _date(v, column) for v in frame[column]]
    frame["version"] = frame["version"].astype(int)
    frame["target"] = pd.array([None if v is None else float(v) for v in frame["target"]],
                               dtype="Float64")
    strings = ("id", "organisation_code", "description", "owner_role", "status", "measure",
               "change_month", "themes", "review_ids", "recorded_by", "updated_by")
    frame = frame.astype({c: "string" for c in strings})
    return frame[list(ACTION_COLUMNS)].reset_index(drop=True)


def write_actions_file(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write the register (:data:`EXPORT_COLUMNS`) to ``path``: ``.csv`` or ``.xlsx``."""
    path = Path(path)
    out = frame[list(EXPORT_COLUMNS)].copy()
    for column in ("agreed_on", "due_on", "completed_on"):
        out[column] = [None if v is None or v is pd.NA else v.isoformat() for v in out[column]]
    suffix = path.suffix.lower()
    text = [c for c in EXPORT_COLUMNS if c not in ("version", "target")]
    if suffix == ".csv":
        # A text a spreadsheet would run as a formula gets the quote the import takes off
        # again (sjrlib.formula_cells), so the register round-trips and runs nothing.
        for column in text:
            out[column] = formula_cells.neutralise_series(out[column].astype("string"))
        with safe_files.open_private(path, text=True) as fh:  # 0600, whole, never a link
            out.to_csv(fh, index=False)
    elif suffix == ".xlsx":
        from sjrlib.io import _write_xlsx

        # Text cells typed as text: a description starting "=" is not written as a formula.
        with safe_files.open_private(path) as fh:
            _write_xlsx(out.astype(object).where(out.notna(), None), fh)
    else:
        raise ValueError(f"{path.name}: write the register to a .csv or .xlsx file")
    return path


def store_demo_learning(engine: Any, learning: Any) -> tuple[int, int]:
    """Store the synthetic theme codes and actions of a demo store
    (:func:`sjrlib.synthetic.themes.synthetic_learning`); returns ``(codes, actions)``.

    The operator's, like the demo import itself: refused on a store not marked synthetic, and
    written in one transaction with one audit entry (``demo.learning``, as ``demo-admin``).
    Each action is checked as :meth:`data_access.session.Session.record_action` checks it.
    """
    from data_access import audit
    from data_access.demo import is_synthetic
    from sjrlib.themes.codebook import SHIPPED_VERSION, shipped_codebook

    book = shipped_codebook()
    codes = learning.codes
    with engine.begin() as conn:
        audit.lock(conn)
        if not is_synthetic(conn):
            raise PermissionError("synthetic theme codes and actions go only into a store "
                                  "marked synthetic")
        stored = dict(conn.execute(text("SELECT review_id, organisation_code FROM reviews")
                                   ).all())
        codes = codes[codes["review_id"].isin(stored)]
        rows = [{"id": uuid.uuid4().hex, "o": stored[r], "r": r, "t": t, "p": p,
                 "v": SHIPPED_VERSION, "u": u, "at": at.to_pydatetime(), "s": bool(s)}
                for r, t, p, u, at, s in zip(codes["review_id"], codes["theme"], codes["phase"],
                                             codes["coded_by"], codes["coded_at"],
                                             codes["from_suggestion"], strict=True)]
        if rows:
            conn.execute(text("INSERT INTO theme_codes (id, organisation_code, review_id, theme, "
                              "phase, codebook_version, coded_by, coded_at, from_suggestion) "
                              "VALUES (:id, :o, :r, :t, :p, :v, :u, :at, :s)"), rows)
        actions = 0
        for action in learning.actions.itertuples():
            values = check_action({k: getattr(action, k, None) for k in (
                "description", "owner_role", "status", "agreed_on", "due_on", "completed_on",
                "measure", "change_month", "target", "themes")}, codebook=book)
            insert_action(conn, str(action.organisation_code), values,
                          user=f"lead-{str(action.organisation_code).lower()}")
            actions += 1
        audit.append(conn, username="demo-admin", role="administrator", action="demo.learning",
                     scope={"theme_codes": len(rows), "actions": actions, "synthetic": True},
                     rows=len(rows) + actions, tool="sjr demo-data")
    return len(rows), actions


def read_actions(path: str | Path) -> tuple[pd.DataFrame, list[int]]:
    """The rows of an action register file (``.csv`` or ``.xlsx``, as :func:`write_actions_file`
    writes it) and each row's number as a spreadsheet counts it (header = row 1): one action
    per row; ``id`` and ``version`` blank for a new action, given to change a stored one.

    Read as every other import is (:func:`sjrlib.io.read_raw`): all cells as text (a date cell
    of a workbook as ``YYYY-MM-DD``, blank cells ``""``), blank rows (and rows of spaces)
    skipped with their numbers kept. Raises ``ValueError`` (one line naming the file) for a
    file that is not CSV/XLSX, cannot be read, holds no rows, or has a column other than
    :data:`EXPORT_COLUMNS` or lacks a required one."""
    from sjrlib.io import read_raw

    path = Path(path)
    if path.suffix.lower() not in (".csv", ".xlsx"):
        raise ValueError(f"{path.name}: an action register is a .csv or .xlsx file")
    raw, rows = read_raw(path)  # ImportFileError is a ValueError naming the file
    frame = raw.astype(object).where(raw.notna(), "")
    unknown = [c for c in frame.columns if c not in EXPORT_COLUMNS]
    if unknown:
        raise ValueError(f"{path.name}: unknown column(s) {', '.join(unknown)}; the columns are "
                         f"{', '.join(EXPORT_COLUMNS)}")
    missing = [c for c in ("description", "owner_role", "agreed_on") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path.name}: needs the column(s) {', '.join(missing)}")
    return frame.reset_index(drop=True), [int(r) for r in rows]


def read_actions_file(path: str | Path) -> pd.DataFrame:
    """The rows of an action register file (:func:`read_actions`, without the row numbers)."""
    return read_actions(path)[0]
