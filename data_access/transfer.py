"""Files in and out of the store, inside a governed session's transaction.

:class:`data_access.session.Session` calls these with the connection of its door (audit lock
taken, user and role checked), so an import, an export or a summary is scoped and audited like
every other call; ``sjr import``, ``sjr export``, ``sjr summary`` and ``sjr demo-data`` go through
them.

Scope: ``organisation`` is ``None`` for the administrator (every organisation) and the
organisation code of an organisation lead, who may import and export only their own
organisation's rows. A file holding a row of another organisation is refused whole; an
``--update`` may not rewrite a review stored under another organisation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, func, select, text

from data_access.roles import AccessDenied
from sjrlib import domain

__all__ = ["KINDS", "check_kind", "export_frame", "import_file", "summary"]

_IN_CHUNK = 900


KINDS = ("organisations", "deaths", "reviews")
"""What an exchange file may hold."""


def check_kind(kind: str) -> str:
    """``kind`` if it is one of :data:`KINDS`, else a ``ValueError`` saying which are."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    return kind


def _outside(codes: Iterable[str], organisation: str) -> list[str]:
    return sorted({str(c) for c in codes if c is not None and str(c) != organisation})


def _refuse_outside(path: Path, codes: Iterable[str], organisation: str | None) -> None:
    if organisation is None:
        return
    outside = _outside(codes, organisation)
    if outside:
        shown = ", ".join(outside[:5]) + (" ..." if len(outside) > 5 else "")
        raise AccessDenied(f"{path.name}: rows of organisation(s) {shown} are outside your "
                           f"organisation {organisation}; nothing was imported")


def _stored_elsewhere(conn: Connection, review_ids: Sequence[str], organisation: str) -> bool:
    """Whether any of these review ids is stored under another organisation."""
    ids = [str(i) for i in review_ids]
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start:start + _IN_CHUNK]
        names = ", ".join(f":i{n}" for n in range(len(chunk)))
        hit = conn.execute(
            text(f"SELECT 1 FROM reviews WHERE review_id IN ({names}) "
                 "AND organisation_code <> :org LIMIT 1"),
            {**{f"i{n}": v for n, v in enumerate(chunk)}, "org": organisation},
        ).first()
        if hit is not None:
            return True
    return False


def _block_check(path: Path, organisation: str | None
                 ) -> Callable[[Connection, pd.DataFrame], None] | None:
    """Refuse a block holding a row outside the lead's organisation, or a review id stored
    under another organisation (so ``--update`` cannot rewrite another organisation's review).
    Runs in the storing thread, on the import's own connection."""
    if organisation is None:
        return None

    def check(conn: Connection, block: pd.DataFrame) -> None:
        if not len(block):
            return
        _refuse_outside(path, block["organisation_code"].dropna().unique(), organisation)
        if _stored_elsewhere(conn, list(block["review_id"]), organisation):
            # One answer whatever the other row is: nothing about it is revealed.
            raise AccessDenied(f"{path.name}: a review id in this file is already used "
                               "outside your organisation; rename it; nothing was imported")

    return check


def import_file(conn: Connection, kind: str, path: Path, *, organisation: str | None,
                mapping: Path | None = None, update: bool = False,
                progress: Callable[[int], None] | None = None, saved_by: str | None = None):
    """Validate ``path`` completely and store it in ``conn``'s transaction (all or nothing).

    Returns the store's :class:`~data_access.store.ImportResult`. Raises
    :class:`sjrlib.io.ImportFileError`, :class:`sjrlib.schema.ValidationFailed`,
    :class:`data_access.store.StoreError` or :class:`AccessDenied`; the caller's transaction is
    then rolled back, so the store is unchanged.
    """
    from data_access import store
    from sjrlib import io

    try:
        if check_kind(kind) == "organisations":
            if organisation is not None:
                raise AccessDenied("the register of organisations is loaded by an administrator")
            frame = io.read_organisations(path, mapping=mapping)
            return store.import_organisations(conn, frame, update=update)
        known_organisations = store.known_organisations(conn)
        if kind == "deaths":
            frame = io.read_deaths(path, mapping=mapping,
                                   known_organisations=known_organisations)
            _refuse_outside(path, frame["organisation_code"].dropna().unique(), organisation)
            return store.import_deaths(conn, frame, update=update)
        known = store.known_review_frame(conn)  # a big store: Arrow, not a dict
        stream = io.stream_reviews(path, mapping=mapping,
                                   known_organisations=known_organisations, known_reviews=known)
        return store.import_review_blocks(conn, stream, update=update, progress=progress,
                                          saved_by=saved_by or f"import:{path.name}",
                                          check_block=_block_check(path, organisation))
    except store.ImportConflictError as conflict:
        conflict.rows = _rows_in_file(path, mapping, _KEYS[kind], conflict.keys)
        raise


_KEYS = {"organisations": ("organisation_code",), "deaths": ("organisation_code", "month"),
         "reviews": ("review_id",)}
"""The columns that key a row of each kind in the store, as a conflict names them."""


def _rows_in_file(path: Path, mapping: Path | None, key: Sequence[str],
                  wanted: Sequence[str]) -> dict[str, int]:
    """The file's row (as a spreadsheet counts it) of each key in ``wanted``: the file is read
    again, only on this error path, its columns and codes taken through ``mapping``. A key the
    file writes otherwise (a month the reader normalised) gets no row: the message still names
    it."""
    from sjrlib import io
    from sjrlib.mapping import load_mapping

    try:
        raw, rows = io.read_raw(path)
        loaded = load_mapping(mapping) if mapping is not None else None
        if loaded is not None:
            raw = raw.rename(columns=loaded.columns)
        if not set(key) <= set(raw.columns):
            return {}
        cells = raw[list(key)].astype("string").apply(lambda c: c.str.strip())
        if loaded is not None:
            for column in key:
                codes = loaded.values.get(column)
                if codes:
                    cells[column] = cells[column].map(lambda v, c=codes: c.get(v, v)
                                                      if isinstance(v, str) else v)
        texts = [" ".join("" if pd.isna(v) else str(v) for v in values)
                 for values in cells.itertuples(index=False, name=None)]
    except Exception:  # noqa: BLE001 - the conflict itself is what the user must see
        return {}
    want = set(wanted)
    found: dict[str, int] = {}
    for text_key, row in zip(texts, rows, strict=True):
        if text_key in want and text_key not in found:
            found[text_key] = int(row)
    return found


def export_frame(conn: Connection, kind: str, *, organisation: str | None) -> pd.DataFrame:
    """The stored rows of one kind, in the exchange format, within the scope.

    Reviews: the columns of every form version present (``shared/spec/form-versions.md``):
    an export of 2017 reviews only has no ext2026 column, one with ext2026 reviews has them
    all (blank on the rcp2017 rows), so a round trip keeps every answer of both versions.
    """
    from data_access import store
    from sjrlib.form.registry import BASE_VERSION, FORM_VERSION_COLUMN, registry

    orgs = None if organisation is None else [organisation]
    if check_kind(kind) == "reviews":
        frame = store.load_reviews(conn, organisation_codes=orgs)
        versions = (frame[FORM_VERSION_COLUMN].dropna().unique().tolist()
                    if FORM_VERSION_COLUMN in frame.columns else [BASE_VERSION])
        present = set(registry().columns_for_versions(versions))
        return frame[[c for c in domain.REVIEW_COLUMNS if c in present]]
    if kind == "deaths":
        return store.load_deaths(conn, organisation_codes=orgs)
    return store.load_organisations(conn, orgs)


def summary(conn: Connection, *, organisations: Sequence[str] | None) -> dict[str, pd.DataFrame]:
    """Counts of what is in the store (within ``organisations``; ``None`` = all).

    Returns frames ``organisations`` (nation, organisations), ``stages`` (stage, status,
    reviews), ``years`` (year, reviews) and ``totals`` (what, count, from, to). Counts only:
    no row of review data leaves.
    """
    from data_access.models import Death, Organisation
    from data_access.pg_security import unreadable

    def scoped(query, column):
        return query if organisations is None else query.where(column.in_(list(organisations)))

    # a researcher's or administrator's own role may not read the review data at all (revision
    # 0033_reader_group): none of it is counted, as its policies gave them no row before
    hidden = unreadable(conn, ("reviews", "deaths"))
    nations = conn.execute(scoped(select(Organisation.nation, func.count()), Organisation.code)
                           .group_by(Organisation.nation).order_by(Organisation.nation)).all()
    if "reviews" in hidden:
        stages, years, (first, last, reviews) = [], [], (None, None, 0)
    else:
        stages, years, (first, last, reviews) = _review_counts(conn, scoped)
    d_first, d_last, d_rows, d_total = (None, None, 0, 0) if "deaths" in hidden else conn.execute(
        scoped(select(func.min(Death.month), func.max(Death.month), func.count(),
                      func.coalesce(func.sum(Death.deaths_in_scope), 0)),
               Death.organisation_code)).one()
    return {
        "organisations": pd.DataFrame(
            [(domain.label("nation", n), int(c)) for n, c in nations],
            columns=["nation", "organisations"]),
        "stages": pd.DataFrame(
            [(domain.label("review_stage", s), domain.label("status", t), int(c))
             for s, t, c in stages], columns=["stage", "status", "reviews"]),
        "years": pd.DataFrame([(y or "unknown", int(c)) for y, c in years],
                              columns=["year", "reviews"]),
        "totals": pd.DataFrame([
            ("reviews", int(reviews), first or "-", last or "-"),
            ("deaths in scope", int(d_total), d_first or "-", d_last or "-"),
            ("organisation-months of deaths", int(d_rows), d_first or "-", d_last or "-"),
        ], columns=["what", "count", "from", "to"]),
    }


def _review_counts(conn: Connection, scoped: Callable) -> tuple[list, list, tuple]:
    """Reviews by stage and status, by year of death, and their months and total."""
    from data_access.models import Review

    stages = conn.execute(scoped(select(Review.review_stage, Review.status, func.count()),
                                 Review.organisation_code)
                          .group_by(Review.review_stage, Review.status)
                          .order_by(Review.review_stage, Review.status)).all()
    year = func.substr(Review.death_month, 1, 4)
    years = conn.execute(scoped(select(year, func.count()), Review.organisation_code)
                         .group_by(year).order_by(year)).all()
    totals = conn.execute(scoped(
        select(func.min(Review.death_month), func.max(Review.death_month), func.count()),
        Review.organisation_code)).one()
    return stages, years, tuple(totals)
