"""Training and calibration in the store: checks where data enter, unscoped reads and writes.

The governed :class:`data_access.session.Session` is the only caller: it decides who may do what
and scopes every read; this module only validates and moves rows
(``shared/spec/training.md``; tables in :mod:`data_access.training_models`).

Calibration answers live in ``calibration_answers`` and are never written to ``reviews``: no
function here reads or writes the review tables, so nothing that counts reviews (every Learning
from Deaths figure and report) can count a training answer.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from sjrlib import domain
from sjrlib.form.registry import FORM_VERSIONS
from sjrlib.rules import uk_today

__all__ = [
    "ANSWER_STATUSES",
    "CARE_LEVELS",
    "CASE_SCORE_COLUMNS",
    "RECORD_COLUMNS",
    "REGIONS",
    "TRAINER_COLUMNS",
    "RoundSpec",
    "TrainingCase",
    "TrainingDataError",
    "check_records",
    "check_round",
    "check_trainers",
    "listed",
    "read_training_file",
    "ANSWER_COLUMNS",
    "ANSWER_RULES",
    "ROUND_COLUMNS",
    "SHIPPED_CASES",
    "calibration_frames",
    "cases_frame",
    "check_answer",
    "cases_to_yaml",
    "insert_round",
    "load_answers",
    "load_case_file",
    "load_cases",
    "load_members",
    "load_records",
    "load_rounds",
    "load_trainers",
    "parse_cases",
    "save_answer",
    "shipped_cases",
    "upsert_cases",
    "upsert_records",
    "upsert_trainers",
]

SHIPPED_CASES = Path(__file__).resolve().parents[1] / "sjrlib" / "data" / "training-cases-2026.yaml"
"""The starter set of fictional training cases written for this project."""

TRAINER_COLUMNS: tuple[str, ...] = ("trainer_id", "name", "contact", "organisation", "region",
                                    "trained_on", "active")
RECORD_COLUMNS: tuple[str, ...] = ("record_id", "organisation_code", "reviewer_id", "trainer_id",
                                   "trained_on", "session", "refresher_dates")
CASE_SCORE_COLUMNS: tuple[str, ...] = tuple(f"score_{p}" for p in domain.PHASES)
REGIONS: tuple[str, ...] = (*domain.NHS_ENGLAND_REGIONS, domain.SCOTLAND_REGION)
CARE_LEVELS: tuple[str, ...] = ("good", "adequate", "poor")
ANSWER_STATUSES: tuple[str, ...] = ("draft", "submitted")
_SEPARATOR = ";"


class TrainingDataError(ValueError):
    """A trainer, record, case or answer that cannot be stored: says where and what is right."""


# ------------------------------------------------------------------------------ helpers ----
def _blank(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)) \
        or (isinstance(value, str) and not value.strip())


def _text_value(value: Any) -> str | None:
    return None if _blank(value) else str(value).strip()


def _date(value: Any, where: str, today: dt.date | None = None) -> dt.date:
    """``value`` as a date; with ``today``, a date after it is refused as a review date in the
    future is (``review_date_not_in_future``): training has happened by the time it is
    recorded."""
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    else:
        try:
            day = dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise TrainingDataError(f"{where}: {value!r} is not a date written "
                                    "YYYY-MM-DD") from None
    if today is not None and day > today:
        raise TrainingDataError(f"{where}: {value!r} is in the future (today is "
                                f"{today.isoformat()}); a training date is one that has "
                                "passed")
    return day


def _flag(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in ("yes", "true", "1", "y"):
        return True
    if word in ("no", "false", "0", "n"):
        return False
    raise TrainingDataError(f"{where}: {value!r} is not yes or no")


def _nulls(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row's missing values as ``None`` (a frame turns ``None`` in a text column into NaN,
    which a database would store as a number)."""
    return {k: None if _blank(v) else v for k, v in row.items()}


def _comparable(value: Any) -> Any:
    """``value`` as the same thing whether read from a file or from either database: blanks
    None, dates (and ISO date text) as ISO text, lists as lists of text, the rest as text."""
    if isinstance(value, (list, tuple)):
        return [_comparable(v) for v in value]
    if _blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    return str(value).strip()


def _same(row: Mapping[str, Any], stored: Mapping[str, Any], columns: Sequence[str]) -> bool:
    """Whether ``row`` (checked, from a file) holds what ``stored`` holds in ``columns``."""
    return all(_comparable(row.get(c)) == _comparable(stored.get(c)) for c in columns)


def _frame(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame([dict(r) for r in rows], columns=list(columns))


def _params(values: Sequence[Any], prefix: str) -> tuple[str, dict[str, Any]]:
    names = {f"{prefix}{i}": v for i, v in enumerate(values)}
    return ", ".join(f":{k}" for k in names), names


def _scope(organisations: Sequence[str] | None, reviewer_id: str | None
           ) -> tuple[list[str], dict[str, Any]]:
    """WHERE conditions and parameters for rows of some organisations and of one reviewer."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if organisations is not None:
        names, bound = _params(list(organisations) or [""], "o")
        where.append(f"organisation_code IN ({names})")
        params.update(bound)
    if reviewer_id is not None:
        where.append("reviewer_id = :rid")
        params["rid"] = reviewer_id
    return where, params


# ----------------------------------------------------------------------------- trainers ----
def read_training_file(path: str | Path) -> tuple[pd.DataFrame, list[int]]:
    """The rows of a trainers or training records file (CSV, or the first sheet of an XLSX
    workbook) and each row's number as a spreadsheet counts it (header = row 1).

    Read as every other import is (:func:`sjrlib.io.read_raw`): cells as text (blank ``""``,
    a workbook's date cell ``YYYY-MM-DD``), blank rows and rows of spaces skipped with their
    numbers kept. Raises :class:`TrainingDataError` (one line naming the file) for a file
    that cannot be read or holds no rows."""
    from sjrlib.io import ImportFileError, read_raw

    try:
        raw, rows = read_raw(path)
    except ImportFileError as exc:
        raise TrainingDataError(str(exc)) from None
    return raw.astype(object).where(raw.notna(), ""), [int(r) for r in rows]


def _row_numbers(frame: pd.DataFrame, rows: Sequence[int] | None) -> list[int]:
    numbers = list(range(2, len(frame) + 2)) if rows is None else [int(r) for r in rows]
    if len(numbers) != len(frame):
        raise ValueError(f"{len(numbers)} row numbers for {len(frame)} rows")
    return numbers


def _screened(value: Any, where: str, column: str, advice: str, what: str = "column"
              ) -> str | None:
    """``value`` as text, refused when it holds what looks like an identifier (the kind is
    named, never the identifier: :func:`sjrlib.privacy.describe`)."""
    from sjrlib import privacy

    textual = _text_value(value)
    findings = privacy.find_identifiers(textual) if textual is not None else []
    if findings:
        raise TrainingDataError(f"{where}, {what} {column}: holds what looks like an "
                                f"identifier ({privacy.describe(findings)}); {advice}")
    return textual


def listed(source: str, problems: Sequence[str], done: str = "imported") -> str:
    """Every problem of a file (or an answer, a round), one a line, after a line naming
    ``source`` and saying how many and that nothing was stored (``done``: imported, saved,
    created)."""
    head = (f"{source}: {len(problems)} problem{'s' * (len(problems) != 1)}; nothing was "
            f"{done}")
    return "\n".join([head, *(f"  {p}" for p in problems)])


def _problems_of(where: str, problems: list[str]):
    """A context collecting one field's :class:`TrainingDataError` into ``problems``."""
    import contextlib

    @contextlib.contextmanager
    def field():
        try:
            yield
        except TrainingDataError as exc:
            problems.append(str(exc))

    return field


def _columns(frame: pd.DataFrame, expected: Sequence[str], source: str) -> list[str]:
    """The file's unknown columns as problems (row 1, the header), as the exchange format
    and the action register refuse them; a missing column is one line naming the file."""
    unknown = [str(c) for c in frame.columns if c not in expected]
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise TrainingDataError(f"{source}: missing column(s) {', '.join(missing)}"
                                + (f"; unknown column(s) {', '.join(unknown)}" if unknown
                                   else "") + f" (expected {', '.join(expected)})")
    return [f"{source}, row 1, column {c}: unknown column (the columns are "
            f"{', '.join(expected)})" for c in unknown]


def check_trainers(frame: pd.DataFrame, source: str = "trainers",
                   rows: Sequence[int] | None = None, *,
                   today: dt.date | None = None) -> pd.DataFrame:
    """Trainer rows checked: every column present, ids unique, names and organisations given,
    regions among the NHS England regions and Scotland, dates ISO and not after ``today``
    (default: the date today), ``active`` yes/no; no other column.

    ``rows``: each row's number as a spreadsheet counts it (header = row 1; default 2, 3, ...
    in order, as :func:`read_training_file` gives them for a file without blank rows).

    Raises
    ------
    TrainingDataError
        Naming the file, row and column of every problem found.
    """
    problems = _columns(frame, TRAINER_COLUMNS, source)
    today = today or uk_today()
    out, seen = [], set()
    for number, row in zip(_row_numbers(frame, rows), frame.to_dict("records"), strict=True):
        where = f"{source}, row {number}"
        field = _problems_of(where, problems)
        found = len(problems)
        values: dict[str, Any] = {}
        with field():
            trainer_id = _text_value(row["trainer_id"])
            if trainer_id is None:
                raise TrainingDataError(f"{where}, column trainer_id: trainer_id is empty")
            if trainer_id in seen:
                raise TrainingDataError(f"{where}, column trainer_id: trainer_id {trainer_id} "
                                        "appears twice")
            seen.add(trainer_id)
            values["trainer_id"] = trainer_id
        for name in ("name", "organisation"):
            with field():
                if _text_value(row[name]) is None:
                    raise TrainingDataError(f"{where}, column {name}: {name} is empty")
        with field():
            region = _text_value(row["region"])
            if region not in REGIONS:
                raise TrainingDataError(f"{where}, column region: region {region!r} is not "
                                        f"one of {', '.join(REGIONS)}")
            values["region"] = region
        with field():
            values["trained_on"] = None if _blank(row["trained_on"]) else _date(
                row["trained_on"], f"{where}, column trained_on", today)
        with field():
            values["active"] = True if _blank(row["active"]) else _flag(
                row["active"], f"{where}, column active")
        if len(problems) == found:
            out.append({"trainer_id": values["trainer_id"], "name": _text_value(row["name"]),
                        "contact": _text_value(row["contact"]),
                        "organisation": _text_value(row["organisation"]),
                        "region": values["region"], "trained_on": values["trained_on"],
                        "active": values["active"]})
    if problems:
        raise TrainingDataError(listed(source, problems))
    return _frame(out, TRAINER_COLUMNS)


def load_trainers(conn: Connection) -> pd.DataFrame:
    """Every trainer, by region, organisation and name."""
    rows = conn.execute(text(
        "SELECT trainer_id, name, contact, organisation, region, trained_on, active "
        "FROM trainers ORDER BY region, organisation, name, trainer_id")).mappings().all()
    frame = _frame(rows, TRAINER_COLUMNS)
    frame["active"] = frame["active"].astype(bool)
    frame["trained_on"] = [None if _blank(v) else _date(v, "trained_on")
                           for v in frame["trained_on"]]
    return frame


def upsert_trainers(conn: Connection, frame: pd.DataFrame, *, by: str) -> tuple[int, int]:
    """Insert new trainers and update known ones (by ``trainer_id``) whose values differ;
    returns (new, updated). A row equal to the stored one is left as it is (the rest of the
    frame's rows are unchanged)."""
    stored = {r["trainer_id"]: r for r in load_trainers(conn).to_dict("records")}
    inserted = updated = 0
    now = dt.datetime.now(dt.UTC)
    for row in frame.to_dict("records"):
        row = _nulls(row)
        values = {**row, "by": by, "at": now}
        if row["trainer_id"] in stored:
            if _same(row, stored[row["trainer_id"]], TRAINER_COLUMNS):
                continue  # unchanged: not rewritten, its updated_by/updated_at kept
            conn.execute(text(
                "UPDATE trainers SET name = :name, contact = :contact, "
                "organisation = :organisation, region = :region, trained_on = :trained_on, "
                "active = :active, updated_by = :by, updated_at = :at "
                "WHERE trainer_id = :trainer_id"), values)
            updated += 1
        else:
            conn.execute(text(
                "INSERT INTO trainers (trainer_id, name, contact, organisation, region, "
                "trained_on, active, updated_by, updated_at) VALUES (:trainer_id, :name, "
                ":contact, :organisation, :region, :trained_on, :active, :by, :at)"), values)
            inserted += 1
    return inserted, updated


# ---------------------------------------------------------------------- training records ----
def check_records(frame: pd.DataFrame, source: str = "training records", *,
                  trainers: Iterable[str] = (),
                  organisations: Iterable[str] = (),
                  rows: Sequence[int] | None = None,
                  today: dt.date | None = None) -> pd.DataFrame:
    """Training record rows checked. ``record_id`` may be blank (a new id is made);
    ``refresher_dates`` is a ``;``-separated list of dates on or after ``trained_on``; no
    date after ``today`` (default: the date today); no column but :data:`RECORD_COLUMNS`;
    ``reviewer_id`` (a pseudonymous reference) and ``session`` (free text) are screened for
    identifiers as a review's are (:mod:`sjrlib.privacy`). ``rows`` as for
    :func:`check_trainers`; every problem is named by file, row and column."""
    problems = _columns(frame, RECORD_COLUMNS, source)
    today = today or uk_today()
    trainers, organisations = set(trainers), set(organisations)
    out = []
    for number, row in zip(_row_numbers(frame, rows), frame.to_dict("records"), strict=True):
        where = f"{source}, row {number}"
        field = _problems_of(where, problems)
        found = len(problems)
        values: dict[str, Any] = {}
        values["record_id"] = _text_value(row["record_id"]) or uuid.uuid4().hex
        with field():
            org = _text_value(row["organisation_code"])
            if org not in organisations:
                raise TrainingDataError(f"{where}, column organisation_code: "
                                        f"organisation_code {org!r} is not a known "
                                        "organisation")
            values["organisation_code"] = org
        with field():
            reviewer = _screened(row["reviewer_id"], where, "reviewer_id",
                                 "use the reviewer's pseudonymous reference, as on their "
                                 "reviews, never a name or number that identifies them")
            if reviewer is None:
                raise TrainingDataError(f"{where}, column reviewer_id: reviewer_id is empty "
                                        "(the reviewer's pseudonymous reference, as on their "
                                        "reviews)")
            values["reviewer_id"] = reviewer
        with field():
            trainer = _text_value(row["trainer_id"])
            if trainer is not None and trainer not in trainers:
                raise TrainingDataError(f"{where}, column trainer_id: trainer_id {trainer} is "
                                        "not in the trainer directory (import the trainers "
                                        "first)")
            values["trainer_id"] = trainer
        with field():
            session = _screened(row["session"], where, "session",
                                "describe the session, never a patient or a person")
            if session is None:
                raise TrainingDataError(f"{where}, column session: session is empty")
            values["session"] = session
        trained = None
        with field():
            trained = _date(row["trained_on"], f"{where}, column trained_on", today)
        with field():
            raw = row["refresher_dates"]
            refreshers = [] if _blank(raw) else (
                list(raw) if isinstance(raw, list | tuple) else str(raw).split(_SEPARATOR))
            dates = sorted(_date(d, f"{where}, column refresher_dates", today)
                           for d in refreshers if not _blank(d))
            if dates and trained is not None and dates[0] < trained:
                raise TrainingDataError(f"{where}, column refresher_dates: a refresher "
                                        f"({dates[0]}) before the training ({trained})")
            values["refresher_dates"] = [d.isoformat() for d in dates]
        if len(problems) == found:
            out.append({**values, "trained_on": trained})
    if problems:
        raise TrainingDataError(listed(source, problems))
    return _frame(out, RECORD_COLUMNS)


def load_records(conn: Connection, *, organisations: Sequence[str] | None = None,
                 reviewer_id: str | None = None) -> pd.DataFrame:
    """Training records (``refresher_dates`` as a list of ISO dates), optionally of some
    organisations and of one reviewer."""
    where, params = _scope(organisations, reviewer_id)
    rows = conn.execute(text(
        "SELECT record_id, organisation_code, reviewer_id, trainer_id, trained_on, session, "
        "refresher_dates FROM training_records" + (" WHERE " + " AND ".join(where) if where
                                                   else "")
        + " ORDER BY organisation_code, reviewer_id, trained_on, record_id"), params).mappings()
    frame = _frame(rows, RECORD_COLUMNS)
    frame["trained_on"] = [_date(v, "trained_on") for v in frame["trained_on"]]
    frame["refresher_dates"] = [json.loads(v) for v in frame["refresher_dates"]]
    return frame


def upsert_records(conn: Connection, frame: pd.DataFrame, *, by: str) -> tuple[int, int]:
    """Insert training records, and update those (by ``record_id``) whose values differ;
    returns (new, updated). A row equal to the stored one is left as it is."""
    ids = list(frame["record_id"])
    stored: dict[str, dict] = {}
    if ids:
        names, bound = _params(ids, "r")
        stored = {r["record_id"]: {**r, "refresher_dates": json.loads(r["refresher_dates"])}
                  for r in conn.execute(text(
                      f"SELECT {', '.join(RECORD_COLUMNS)} FROM training_records WHERE "
                      f"record_id IN ({names})"), bound).mappings()}
    inserted = updated = 0
    now = dt.datetime.now(dt.UTC)
    for row in frame.to_dict("records"):
        row = _nulls(row)
        values = {**row, "refresher_dates": json.dumps(row["refresher_dates"] or []), "by": by,
                  "at": now}
        if row["record_id"] in stored:
            if _same(row, stored[row["record_id"]], RECORD_COLUMNS):
                continue  # unchanged: not rewritten, its recorded_by/recorded_at kept
            conn.execute(text(
                "UPDATE training_records SET organisation_code = :organisation_code, "
                "reviewer_id = :reviewer_id, trainer_id = :trainer_id, "
                "trained_on = :trained_on, session = :session, "
                "refresher_dates = :refresher_dates, recorded_by = :by, recorded_at = :at "
                "WHERE record_id = :record_id"), values)
            updated += 1
        else:
            conn.execute(text(
                "INSERT INTO training_records (record_id, organisation_code, reviewer_id, "
                "trainer_id, trained_on, session, refresher_dates, recorded_by, recorded_at) "
                "VALUES (:record_id, :organisation_code, :reviewer_id, :trainer_id, "
                ":trained_on, :session, :refresher_dates, :by, :at)"), values)
            inserted += 1
    return inserted, updated


# ------------------------------------------------------------------------ training cases ----
@dataclass(frozen=True)
class TrainingCase:
    """A fictional case summary and the reference answers its panel agreed.

    ``scores`` maps each phase that applies to its care score (1-5; ``overall`` always);
    ``problems`` maps each problem type present to its harm (``no``/``probably``/``yes``);
    ``avoidability`` is the RCP score 1-6 (``None``: not judged, as at first stage).
    """

    case_id: str
    title: str
    summary: str
    care: str
    scores: Mapping[str, int]
    problems: Mapping[str, str] = field(default_factory=dict)
    avoidability: int | None = None
    themes: tuple[str, ...] = ()
    panel: str = ""
    case_set: str = ""
    fictional: bool = True


def _case(item: Any, name: str, position: int, case_set: str, panel: str,
          codebook: Any, problems: list[str], twice: set[str]) -> TrainingCase | None:
    """One case of a case file, every problem of it appended to ``problems`` (each naming the
    file, the case and the field; a case whose id is in ``twice`` also by its place in the
    file); ``None`` when it had any. Its reference themes are active themes of
    ``codebook``."""
    found = len(problems)
    where = f"{name}: case {position}"
    if not isinstance(item, Mapping):
        problems.append(f"{where}: expected a mapping with id, title, summary, care and "
                        "reference")
        return None
    case_id = _text_value(item.get("id"))
    if case_id is None:
        problems.append(f"{where}, field id: id is empty")
    else:
        where = f"{name}: case {case_id}" + (f" (case {position} of the file)"
                                             if case_id in twice else "")

    def problem(field_name: str, message: str) -> None:
        problems.append(f"{where}, field {field_name}: {message}")

    unknown = sorted(map(str, set(item) - {"id", "title", "summary", "care", "fictional",
                                           "reference"}))
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(unknown)}")
    if item.get("fictional") is not True:
        problem("fictional", "a training case must say fictional: true (cases are written for "
                "training, never taken from a real patient)")
    title, summary = _text_value(item.get("title")), _text_value(item.get("summary"))
    for key, value in (("title", title), ("summary", summary)):
        if value is None:
            problem(key, f"{key} is required")
            continue
        try:
            _screened(value, where, key, "a training case is fictional and names no patient or "
                      "person, and holds no number, date of birth, address or contact of one",
                      "field")
        except TrainingDataError as exc:
            problems.append(str(exc))
    care = _text_value(item.get("care"))
    if care not in CARE_LEVELS:
        problem("care", f"care {care!r} is not one of {', '.join(CARE_LEVELS)}")
    reference = item.get("reference")
    if not isinstance(reference, Mapping):
        problem("reference", "reference (the panel's answers) is required")
        return None
    extra = sorted(map(str, set(reference) - {"scores", "problems", "avoidability", "themes"}))
    if extra:
        problems.append(f"{where}: unknown reference field(s) {', '.join(extra)}")
    scores = reference.get("scores") or {}
    if not isinstance(scores, Mapping):
        problem("reference.scores", "scores must map phases to care scores 1-5")
        scores = {}
    scores = dict(scores)
    for phase, score in scores.items():
        if phase not in domain.PHASES:
            problem(f"reference.scores.{phase}", f"phase {phase!r} is not one of "
                    f"{', '.join(domain.PHASES)}")
        elif score not in domain.CARE_SCORES:
            problem(f"reference.scores.{phase}", f"score of {phase} must be 1-5, not "
                    f"{score!r}")
    if "overall" not in scores:
        problem("reference.scores.overall", "the overall score is required")
    case_problems = reference.get("problems") or {}
    if not isinstance(case_problems, Mapping):
        problem("reference.problems", "problems must map problem types to their harm")
        case_problems = {}
    case_problems = dict(case_problems)
    for kind, harm in case_problems.items():
        if kind not in domain.PROBLEM_TYPES:
            problem(f"reference.problems.{kind}", f"problem type {kind!r} is not one of "
                    f"{', '.join(domain.PROBLEM_TYPES)}")
        elif harm not in domain.HARM_VALUES:
            problem(f"reference.problems.{kind}", f"harm of {kind} must be one of "
                    f"{', '.join(domain.HARM_VALUES)}, not {harm!r}")
    avoidability = reference.get("avoidability")
    if avoidability is not None and avoidability not in domain.AVOIDABILITY_SCORES:
        problem("reference.avoidability", f"avoidability must be 1-6 (RCP direction), not "
                f"{avoidability!r}")
    raw_themes = reference.get("themes") or ()
    if isinstance(raw_themes, str) or not isinstance(raw_themes, Sequence):
        problem("reference.themes", "themes must be a list of theme ids")
        raw_themes = ()
    themes = tuple(str(t) for t in raw_themes)
    # the themes an answer may name (check_answer): a reference naming another could never
    # be agreed with
    unknown = sorted(set(themes) - set(codebook.ids))
    retired = sorted(set(themes) & {t.id for t in codebook.themes if t.retired})
    if unknown:
        problem("reference.themes", f"theme(s) {', '.join(unknown)} not in codebook "
                f"{codebook.version}")
    if retired:
        problem("reference.themes", f"theme(s) {', '.join(retired)} retired in codebook "
                f"{codebook.version}")
    if len(problems) > found or case_id is None or care is None or title is None \
            or summary is None:
        return None
    return TrainingCase(case_id, title, summary, care, scores, case_problems, avoidability,
                        themes, panel, case_set)


def parse_cases(data: Any, name: str = "<cases>", *, codebook: Any) -> list[TrainingCase]:
    """Training cases from a parsed YAML document ``{case_set, panel, cases: [...]}``; the
    reference answers' themes are active themes of ``codebook``
    (:class:`sjrlib.themes.codebook.Codebook`: the store's latest, ``Session.codebook()``, as
    a calibration answer's are).

    Raises
    ------
    TrainingDataError
        Listing every problem of the file (each naming the case and the field) under a line
        saying how many: nothing is imported from a file with one.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("cases"), list):
        raise TrainingDataError(f"{name}: expected case_set, panel and a list of cases")
    problems: list[str] = []
    case_set, panel = _text_value(data.get("case_set")), _text_value(data.get("panel"))
    if case_set is None or panel is None:
        problems.append(f"{name}: case_set and panel (who agreed the reference answers) are "
                        "required")
    ids = [_text_value(item.get("id")) for item in data["cases"] if isinstance(item, Mapping)]
    twice = sorted({i for i in ids if i is not None and ids.count(i) > 1})
    cases = [_case(item, name, i, case_set or "", panel or "", codebook, problems,
                   set(twice)) for i, item in enumerate(data["cases"], start=1)]
    if twice:
        problems.append(f"{name}: case id(s) {', '.join(twice)} appear twice")
    if problems:
        raise TrainingDataError(listed(name, problems))
    return [c for c in cases if c is not None]


def load_case_file(path: str | Path, *, codebook: Any) -> list[TrainingCase]:
    """Training cases from a YAML file (the shape of ``sjrlib/data/training-cases-2026.yaml``),
    their reference themes checked against ``codebook`` (the store's latest:
    :func:`parse_cases`)."""
    from sjrlib.yaml_files import YAMLFileError, load_yaml

    path = Path(path)
    try:
        data = load_yaml(path, what="training cases")
    except YAMLFileError as exc:
        raise TrainingDataError(str(exc)) from None
    return parse_cases(data, path.name, codebook=codebook)


def shipped_cases() -> list[TrainingCase]:
    """The starter set of fictional training cases (written for the codebook shipped with
    sjr)."""
    from sjrlib.themes.codebook import shipped_codebook

    return load_case_file(SHIPPED_CASES, codebook=shipped_codebook())


def cases_to_yaml(cases: Sequence[TrainingCase]) -> str:
    """Cases as a YAML document :func:`parse_cases` reads back."""
    import yaml

    first = cases[0] if cases else None
    document = {
        "case_set": first.case_set if first else "",
        "panel": first.panel if first else "",
        "cases": [{"id": c.case_id, "title": c.title, "fictional": True, "care": c.care,
                   "summary": c.summary,
                   "reference": {"scores": dict(c.scores), "problems": dict(c.problems),
                                 "avoidability": c.avoidability, "themes": list(c.themes)}}
                  for c in cases],
    }
    return ("# Fictional training cases: no real patient. Reference answers agreed by the panel.\n"
            + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=96))


def upsert_cases(conn: Connection, cases: Sequence[TrainingCase], *, by: str) -> tuple[int, int]:
    """Insert or replace cases by id; returns (new, updated)."""
    known = {r[0] for r in conn.execute(text("SELECT case_id FROM training_cases"))}
    inserted = updated = 0
    now = dt.datetime.now(dt.UTC)
    columns = ("case_id", "title", "summary", "fictional", "care", *CASE_SCORE_COLUMNS,
               "avoidability_score", "problems", "themes", "panel", "case_set", "imported_by",
               "imported_at")
    for case in cases:
        values = {"case_id": case.case_id, "title": case.title, "summary": case.summary,
                  "fictional": True, "care": case.care,
                  **{f"score_{p}": case.scores.get(p) for p in domain.PHASES},
                  "avoidability_score": case.avoidability,
                  "problems": json.dumps(dict(case.problems), sort_keys=True),
                  "themes": json.dumps(list(case.themes)), "panel": case.panel,
                  "case_set": case.case_set, "imported_by": by, "imported_at": now}
        if case.case_id in known:
            conn.execute(text("UPDATE training_cases SET "
                              + ", ".join(f"{c} = :{c}" for c in columns[1:])
                              + " WHERE case_id = :case_id"), values)
            updated += 1
        else:
            conn.execute(text(f"INSERT INTO training_cases ({', '.join(columns)}) VALUES ("
                              + ", ".join(f":{c}" for c in columns) + ")"), values)
            inserted += 1
    return inserted, updated


def load_cases(conn: Connection, case_ids: Sequence[str] | None = None) -> list[TrainingCase]:
    """Stored cases (all, or those named, in the order named).

    On PostgreSQL through ``sjr_training_cases()`` (revision ``0013_direct_sql``): a person's
    role is not granted the reference columns, and the function gives them only where the
    caller may see them (a reviewer: the cases they have submitted an answer to); elsewhere
    the reference fields come back empty, as :meth:`Session.training_cases` shows them.
    """
    source = ("sjr_training_cases()" if conn.dialect.name == "postgresql"
              else "training_cases")
    rows = conn.execute(text(
        "SELECT case_id, title, summary, care, " + ", ".join(CASE_SCORE_COLUMNS)
        + f", avoidability_score, problems, themes, panel, case_set FROM {source} "
        "ORDER BY case_id")).mappings().all()
    cases = {r["case_id"]: TrainingCase(
        r["case_id"], r["title"], r["summary"], r["care"] or "",
        {p: int(r[f"score_{p}"]) for p in domain.PHASES if r[f"score_{p}"] is not None},
        json.loads(r["problems"] or "{}"), r["avoidability_score"],
        tuple(json.loads(r["themes"] or "[]")), r["panel"], r["case_set"]) for r in rows}
    if case_ids is None:
        return list(cases.values())
    unknown = [c for c in case_ids if c not in cases]
    if unknown:
        raise TrainingDataError(f"training case(s) {', '.join(unknown)} are not in the store "
                                "(sjr training cases import)")
    return [cases[c] for c in case_ids]


def cases_frame(cases: Sequence[TrainingCase], *, reference: bool) -> pd.DataFrame:
    """Cases as a frame; the reference answers only with ``reference``."""
    rows = []
    for c in cases:
        row = {"case_id": c.case_id, "title": c.title, "summary": c.summary,
               "case_set": c.case_set}
        if reference:
            row.update({"care": c.care, **{f"score_{p}": c.scores.get(p) for p in domain.PHASES},
                        "avoidability_score": c.avoidability,
                        "problems": _SEPARATOR.join(f"{k}:{v}" for k, v in c.problems.items()),
                        "themes": _SEPARATOR.join(c.themes), "panel": c.panel})
        rows.append(row)
    columns = ["case_id", "title", "summary", "case_set"]
    if reference:
        columns += ["care", *CASE_SCORE_COLUMNS, "avoidability_score", "problems", "themes",
                    "panel"]
    frame = pd.DataFrame(rows, columns=columns)
    for column in (*CASE_SCORE_COLUMNS, "avoidability_score"):
        if column in frame:
            frame[column] = frame[column].astype("Int64")
    return frame


# -------------------------------------------------------------------- calibration rounds ----
@dataclass(frozen=True)
class RoundSpec:
    """A calibration round: cases (in order), a group of reviewers, a window.

    Made as given; checked, every problem at once, when it is stored (:func:`insert_round`,
    :meth:`RoundSpec.problems`)."""

    round_id: str
    name: str
    case_ids: tuple[str, ...]
    opens_on: dt.date
    closes_on: dt.date
    members: tuple[tuple[str, str], ...]  # (organisation_code, reviewer_id)
    organisation_code: str | None = None  # an organisation's own round; None: national

    def problems(self) -> list[str]:
        """Everything wrong with the round as given, each naming its field: an id and a name,
        at least one case and none twice, a window that closes on or after it opens, a
        group. Checked with the store by :func:`check_round`."""
        out = []
        for name in ("round_id", "name"):
            if not str(getattr(self, name)).strip():
                out.append(f"{name}: a round needs an id and a name; {name} is empty")
        if not self.case_ids:
            out.append("case_ids: name at least one training case")
        twice = sorted({c for c in self.case_ids if self.case_ids.count(c) > 1})
        if twice:
            out.append(f"case_ids: case(s) {', '.join(twice)} named twice")
        if self.closes_on < self.opens_on:
            out.append(f"closes_on: the round closes ({self.closes_on}) before it opens "
                       f"({self.opens_on})")
        if not self.members:
            out.append("members: name the reviewers of the group")
        return out


def check_round(conn: Connection, spec: RoundSpec) -> list[str]:
    """Every problem of a new round (each naming its field): the spec's own
    (:meth:`RoundSpec.problems`), an id in use, cases not in the store (all of them)."""
    problems = spec.problems()
    taken = conn.execute(text("SELECT 1 FROM calibration_rounds WHERE round_id = :r"),
                         {"r": spec.round_id}).first()
    if taken is not None:
        problems.insert(0, f"round_id: round {spec.round_id} exists already; choose another "
                        "id")
    stored = {c.case_id for c in load_cases(conn)}
    unknown = [c for c in dict.fromkeys(spec.case_ids) if c not in stored]
    if unknown:
        problems.append(f"case_ids: training case(s) {', '.join(unknown)} are not in the store "
                        "(sjr training cases import)")
    return problems


def insert_round(conn: Connection, spec: RoundSpec, *, by: str) -> None:
    """Store a new round and its group; every problem of :func:`check_round` is listed first
    (:class:`TrainingDataError`) and nothing is stored."""
    problems = check_round(conn, spec)
    if problems:
        raise TrainingDataError(listed(f"round {spec.round_id}", problems, "created"))
    conn.execute(text(
        "INSERT INTO calibration_rounds (round_id, name, organisation_code, case_ids, opens_on, "
        "closes_on, created_by, created_at) VALUES (:r, :n, :o, :c, :a, :b, :by, :at)"),
        {"r": spec.round_id, "n": spec.name, "o": spec.organisation_code,
         "c": json.dumps(list(spec.case_ids)), "a": spec.opens_on, "b": spec.closes_on,
         "by": by, "at": dt.datetime.now(dt.UTC)})
    for org, reviewer in sorted(set(spec.members)):
        conn.execute(text("INSERT INTO calibration_round_members (round_id, organisation_code, "
                          "reviewer_id) VALUES (:r, :o, :v)"),
                     {"r": spec.round_id, "o": org, "v": reviewer})


ROUND_COLUMNS = ("round_id", "name", "organisation_code", "case_ids", "opens_on", "closes_on")


def load_rounds(conn: Connection, round_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Rounds (``case_ids`` as a list), newest window first."""
    rows = conn.execute(text(
        "SELECT round_id, name, organisation_code, case_ids, opens_on, closes_on "
        "FROM calibration_rounds ORDER BY opens_on DESC, round_id")).mappings().all()
    frame = _frame(rows, ROUND_COLUMNS)
    frame["case_ids"] = [json.loads(v) for v in frame["case_ids"]]
    for column in ("opens_on", "closes_on"):
        frame[column] = [_date(v, column) for v in frame[column]]
    if round_ids is not None:
        frame = frame[frame["round_id"].isin(list(round_ids))].reset_index(drop=True)
    return frame


def load_members(conn: Connection, *, organisations: Sequence[str] | None = None,
                 reviewer_id: str | None = None) -> pd.DataFrame:
    """Round members (round_id, organisation_code, reviewer_id), optionally scoped."""
    where, params = _scope(organisations, reviewer_id)
    rows = conn.execute(text(
        "SELECT round_id, organisation_code, reviewer_id FROM calibration_round_members"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY round_id, organisation_code, reviewer_id"), params).mappings()
    return _frame(rows, ("round_id", "organisation_code", "reviewer_id"))


# ------------------------------------------------------------------- calibration answers ----
ANSWER_COLUMNS: tuple[str, ...] = (
    "answer_id", "round_id", "case_id", "organisation_code", "reviewer_id", "status",
    "form_version", *CASE_SCORE_COLUMNS, "avoidability_score", "problems", "themes", "comments",
    "answered_by", "answered_at")


ANSWER_RULES = {
    "status": "code_list", "score": "care_score_range", "comment": "comment_required_when_scored",
    "overall": "required", "avoidability": "avoidability_score_range",
    "problem": "code_list", "phase": "unknown_field", "theme": "theme_active",
    "form_version": "code_list", "identifier": "no_identifiers"}
"""The rule each check of :func:`check_answer` is named by in its errors: the review rule of the
same check where a review has one (``sjrlib.rules``, the form registry), so an answer is refused
in a review's words."""


def _whole(value: Any) -> int | None:
    """A score as a whole number (``None``: blank); ``ValueError`` for anything else."""
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    number = float(value)
    if not number.is_integer():
        raise ValueError(value)
    return int(number)


def _theme_ids(value: Any) -> list[str]:
    if _blank(value):
        return []
    items = value.split(_SEPARATOR) if isinstance(value, str) else list(value)
    return sorted({str(t).strip() for t in items if str(t).strip()})


def check_answer(values: Mapping[str, Any], where: str, *, codebook: Any,
                 today: dt.date | None = None) -> dict[str, Any]:
    """One answer's values checked, every problem at once, each naming the field and the rule
    (:data:`ANSWER_RULES`), as a review's entry is checked.

    Scores 1-5, avoidability 1-6, known problem types with a harm of no/probably/yes, a known
    form version; comments only of the form's phases (:data:`sjrlib.domain.PHASES`), each
    screened for identifiers as a review's free text is (:func:`sjrlib.privacy.find_identifiers`,
    the one detector; the kind found is named and masked, never printed as written); themes
    only of the active (not retired) themes of ``codebook`` (the store's latest, as theme coding
    takes it: :class:`sjrlib.themes.codebook.Codebook`). A submitted answer has an overall
    score and a comment for every scored phase.

    Raises
    ------
    TrainingDataError
        Listing every problem: ``<where>, field comments.overall: ... [no_identifiers]``.
    """
    from sjrlib import privacy

    today = today or uk_today()
    problems: list[str] = []

    def refuse(name: str, rule: str, message: str) -> None:
        problems.append(f"{where}, field {name}: {message} [{ANSWER_RULES[rule]}]")

    out: dict[str, Any] = {}
    status = _text_value(values.get("status")) or "draft"
    if status not in ANSWER_STATUSES:
        refuse("status", "status", f"status {status!r} is not draft or submitted")
    out["status"] = status
    comments = values.get("comments") or {}
    if not isinstance(comments, Mapping):
        refuse("comments", "phase", "comments must map phases to their explicit judgements")
        comments = {}
    for phase in sorted(set(map(str, comments)) - set(domain.PHASES)):
        refuse(f"comments.{phase}", "phase", f"{phase!r} is not a phase of the form (the "
               f"phases are {', '.join(domain.PHASES)})")
    kept: dict[str, str] = {}
    for phase in domain.PHASES:
        comment = _text_value(comments.get(phase))
        found = privacy.find_identifiers(comment, today=today) if comment else []
        if found:
            refuse(f"comments.{phase}", "identifier", "holds what looks like an identifier "
                   f"({privacy.describe(found)}); free text must not identify the patient, "
                   "remove it")
        elif comment:
            kept[phase] = comment
        score = values.get(f"score_{phase}")
        try:
            score = _whole(score)
        except (TypeError, ValueError):
            refuse(f"score_{phase}", "score", f"score of {phase} must be a care score 1-5")
            score = None
        if score is not None and score not in domain.CARE_SCORES:
            refuse(f"score_{phase}", "score", f"score of {phase} must be a care score 1-5, "
                   f"not {score}")
        out[f"score_{phase}"] = score
        if status == "submitted" and score is not None and comment is None:
            refuse(f"comments.{phase}", "comment", f"{phase} is scored but has no comment: a "
                   "scored phase needs an explicit judgement comment")
    if status == "submitted" and _blank(values.get("score_overall")):
        refuse("score_overall", "overall", "the overall score is required")
    try:
        avoid = _whole(values.get("avoidability_score"))
    except (TypeError, ValueError):
        avoid = 0
    if avoid is not None and avoid not in domain.AVOIDABILITY_SCORES:
        refuse("avoidability_score", "avoidability", "avoidability must be 1-6 (RCP "
               "direction)")
    out["avoidability_score"] = avoid
    problems_in_care = values.get("problems") or {}
    if not isinstance(problems_in_care, Mapping):
        refuse("problems", "problem", "problems must map problem types to their harm")
        problems_in_care = {}
    for kind, harm in problems_in_care.items():
        if kind not in domain.PROBLEM_TYPES:
            refuse(f"problems.{kind}", "problem", f"{kind!r} is not a problem type (the types "
                   f"are {', '.join(domain.PROBLEM_TYPES)})")
        elif harm not in domain.HARM_VALUES:
            refuse(f"problems.{kind}", "problem", f"harm {harm!r} is not one of "
                   f"{', '.join(domain.HARM_VALUES)}")
    out["problems"] = json.dumps(dict(problems_in_care), sort_keys=True)
    themes = _theme_ids(values.get("themes"))
    active = {t.id for t in codebook.active}
    for theme in themes:
        if theme not in active:
            state = "retired in" if theme in codebook.ids else "not a theme of"
            refuse(f"themes.{theme}", "theme", f"{theme!r} is {state} codebook "
                   f"{codebook.version}")
    out["themes"] = json.dumps(themes)
    out["comments"] = json.dumps(kept, sort_keys=True)
    version = _text_value(values.get("form_version"))
    if version is not None and version not in FORM_VERSIONS:
        refuse("form_version", "form_version", f"form_version {version!r} is not one of "
               f"{', '.join(FORM_VERSIONS)} (blank: the 2017 form)")
    out["form_version"] = version
    if problems:
        raise TrainingDataError(listed(where, problems, "saved"))
    return out


def save_answer(conn: Connection, *, round_id: str, case_id: str, organisation_code: str,
                reviewer_id: str, values: Mapping[str, Any], by: str, codebook: Any) -> str:
    """Insert or replace one reviewer's answer to a case of a round; returns its id. The
    answer is checked first (:func:`check_answer`, with ``codebook`` the store's latest: the
    themes it may name). A submitted answer is final: saving over it is refused."""
    checked = check_answer(values, f"round {round_id} case {case_id}", codebook=codebook)
    key = {"r": round_id, "c": case_id, "o": organisation_code, "v": reviewer_id}
    stored = conn.execute(text(
        "SELECT answer_id, status FROM calibration_answers WHERE round_id = :r AND "
        "case_id = :c AND organisation_code = :o AND reviewer_id = :v"), key).first()
    row = {**checked, "round_id": round_id, "case_id": case_id,
           "organisation_code": organisation_code, "reviewer_id": reviewer_id,
           "answered_by": by, "answered_at": dt.datetime.now(dt.UTC)}
    if stored is not None:
        if stored[1] == "submitted":
            raise TrainingDataError(f"the answer to case {case_id} of round {round_id} is "
                                    "submitted already; a calibration answer is not changed "
                                    "after it is submitted")
        row["answer_id"] = stored[0]
        conn.execute(text("UPDATE calibration_answers SET "
                          + ", ".join(f"{c} = :{c}" for c in row if c != "answer_id")
                          + " WHERE answer_id = :answer_id"), row)
        return str(stored[0])
    row["answer_id"] = uuid.uuid4().hex
    conn.execute(text(f"INSERT INTO calibration_answers ({', '.join(row)}) VALUES ("
                      + ", ".join(f":{c}" for c in row) + ")"), row)
    return str(row["answer_id"])


def load_answers(conn: Connection, *, organisations: Sequence[str] | None = None,
                 reviewer_id: str | None = None, round_id: str | None = None) -> pd.DataFrame:
    """Calibration answers (problems, themes and comments decoded), optionally scoped."""
    where, params = _scope(organisations, reviewer_id)
    if round_id is not None:
        where.append("round_id = :round")
        params["round"] = round_id
    rows = conn.execute(text(
        f"SELECT {', '.join(ANSWER_COLUMNS)} FROM calibration_answers"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY round_id, organisation_code, reviewer_id, case_id"), params).mappings()
    frame = _frame(rows, ANSWER_COLUMNS)
    for column in ("problems", "comments"):
        frame[column] = [json.loads(v) for v in frame[column]]
    frame["themes"] = [tuple(json.loads(v)) for v in frame["themes"]]
    for column in (*CASE_SCORE_COLUMNS, "avoidability_score"):
        frame[column] = frame[column].astype("Int64")
    return frame


# ---------------------------------------------------------------- frames for statistics ----
def calibration_frames(cases: Sequence[TrainingCase], answers: pd.DataFrame,
                       rounds: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``reference`` and ``answers`` frames :func:`sjrlib.stats.calibration.
    calibration_results` takes: the cases whose reference answers were given, and the
    *submitted* answers to them (with ``organisation_code`` kept for the caller and
    ``round_date`` = the day the round opened)."""
    shown = [c for c in cases if "overall" in c.scores]
    reference = pd.DataFrame(
        [{"case_id": c.case_id, **{f"score_{p}": c.scores.get(p) for p in domain.PHASES},
          "avoidability_score": c.avoidability, "themes": list(c.themes)} for c in shown],
        columns=["case_id", *CASE_SCORE_COLUMNS, "avoidability_score", "themes"])
    for column in (*CASE_SCORE_COLUMNS, "avoidability_score"):
        reference[column] = reference[column].astype("Int64")
    submitted = answers[(answers["status"] == "submitted")
                        & answers["case_id"].isin(set(reference["case_id"]))].copy()
    opened = dict(zip(rounds["round_id"], rounds["opens_on"], strict=True))
    submitted["round_date"] = [pd.Timestamp(opened.get(r)) for r in submitted["round_id"]]
    submitted["themes"] = [list(t) for t in submitted["themes"]]
    keep = ["round_id", "organisation_code", "reviewer_id", "case_id", *CASE_SCORE_COLUMNS,
            "avoidability_score", "themes", "round_date"]
    return reference, submitted[keep].reset_index(drop=True)
