"""Revision 0007_form_versions on a populated store, on SQLite and PostgreSQL.

A store is built at revision 0006 (the schema before form versions) and filled with the rows of
a synthetic store (every table's columns of that revision), plus a theme code; upgrading it to
head must lose nothing (every row of every table, column for column), give every old review
``form_version`` ``rcp2017`` and blank ext2026 answers, and leave the database refusing what
the new columns' answer lists do not allow. Downgrading back to 0006 keeps the 2017 content.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from alembic import command
from sqlalchemy import Engine, MetaData, insert, select, text
from sqlalchemy.exc import DataError, IntegrityError

from data_access import database, store

ORG = "(SELECT organisation_code FROM reviews WHERE review_id = :r)"
"""A child row's organisation: its review's (``:r``), which the key to it holds (revision
0035_children_scope)."""

BEFORE = "0006_themes"
THIS = "0007_form_versions"
OLD_TABLES = ("organisations", "reviewers", "reviews", "phase_assessments", "problems",
              "review_reasons", "deaths", "codebook_versions", "theme_codes")
"""Tables of revision 0006 holding review data, in an order foreign keys allow."""
EXT2026_COLUMNS = ("autism", "clinical_frailty_scale", "me_scrutiny", "me_concern",
                   "family_concern", "family_involved", "family_feedback", "escalation_plan",
                   "dying_recognised")
"""The columns the revision adds (spelt out: this test pins the migration, not the registry)."""


@contextmanager
def _engine(url: str) -> Iterator[Engine]:
    engine = store.get_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _migrate(url: str, revision: str, *, down: bool = False) -> None:
    with _engine(url) as engine, engine.begin() as conn:
        database._begin_write(conn)
        config = database._alembic_config()
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


def _dump(url: str, columns: dict[str, list[str]] | None = None) -> dict[str, list[tuple]]:
    """Every row of the old tables (only ``columns`` of each when given), in key order."""
    meta = MetaData()
    with _engine(url) as engine, engine.connect() as conn:
        meta.reflect(conn, only=list(OLD_TABLES))
        out = {}
        for name in OLD_TABLES:
            table = meta.tables[name]
            chosen = [table.c[c] for c in (columns or {}).get(name, table.c.keys())]
            # every column: on PostgreSQL since revision 0037 reviews, actions and theme
            # codes have no primary key to order by (their key is a unique index)
            out[name] = [tuple(r) for r in conn.execute(select(*chosen).order_by(*chosen))]
        return out


@pytest.fixture(scope="module")
def source(tmp_path_factory, small_data):
    """A synthetic store at head (where the rows are copied from)."""
    from dashboard_store import populate

    url = f"sqlite:///{tmp_path_factory.mktemp('source') / 'sjr.db'}"
    populate(url, small_data)
    return url


def _store_at_0006(source: str, url: str) -> tuple[dict[str, list[str]], dict]:
    """``url`` migrated to 0006 and filled with ``source``'s rows and one theme code; returns
    the columns of each table at 0006 and the whole content."""
    _migrate(url, BEFORE)
    old, src = MetaData(), MetaData()
    with _engine(url) as target, _engine(source) as origin, \
            target.begin() as out, origin.connect() as inp:
        old.reflect(out, only=list(OLD_TABLES))
        src.reflect(inp, only=list(OLD_TABLES))
        for name in OLD_TABLES[:7]:
            names = list(old.tables[name].c.keys())
            rows = [dict(r._mapping) for r in inp.execute(
                select(*(src.tables[name].c[c] for c in names)))]
            if name == "reviews":  # first-stage reviews before the ones citing them
                rows.sort(key=lambda r: r["second_review_of"] is not None)
            out.execute(insert(old.tables[name]), rows)
        review_id = out.execute(text("SELECT min(review_id) FROM reviews")).scalar_one()
        out.execute(insert(old.tables["theme_codes"]), [{
            "id": "a" * 32, "review_id": review_id, "theme": "communication",
            "phase": None, "codebook_version": "2026.1", "coded_by": "lead",
            "coded_at": dt.datetime(2026, 1, 5, tzinfo=dt.UTC), "from_suggestion": False}])
    columns = {t: list(old.tables[t].c.keys()) for t in OLD_TABLES}
    return columns, _dump(url)


def test_upgrading_a_populated_store_from_0006_loses_nothing(db_url, source):
    columns, before = _store_at_0006(source, db_url)
    assert "form_version" not in columns["reviews"]
    assert len(before["reviews"]) > 100 and before["phase_assessments"] and \
        before["theme_codes"]
    _migrate(db_url, "head")
    assert _dump(db_url, columns) == before  # every row of every table, column for column
    with _engine(db_url) as engine, engine.connect() as conn:
        versions = conn.execute(text(
            "SELECT form_version, count(*) FROM reviews GROUP BY form_version")).all()
        answered = conn.execute(text(
            "SELECT count(*) FROM reviews WHERE "
            + " OR ".join(f"{c} IS NOT NULL" for c in EXT2026_COLUMNS))).scalar_one()
        referrals = conn.execute(text("SELECT count(*) FROM referrals")).scalar_one()
        loaded = store.load_reviews(conn)
    assert versions == [("rcp2017", len(before["reviews"]))]
    assert answered == 0 and referrals == 0
    # and as the rest of the project reads them: every old review is an rcp2017 review
    assert len(loaded) == len(before["reviews"])
    assert (loaded["form_version"] == "rcp2017").all()
    for column in EXT2026_COLUMNS:
        assert loaded[column].isna().all(), column


def test_the_new_columns_refuse_what_their_answer_lists_do_not_allow(db_url, source):
    _store_at_0006(source, db_url)
    _migrate(db_url, "head")
    with _engine(db_url) as engine:
        with engine.connect() as conn:
            review_id = conn.execute(text("SELECT min(review_id) FROM reviews")).scalar_one()
        bad = [
            "UPDATE reviews SET form_version = NULL WHERE review_id = :r",
            "UPDATE reviews SET form_version = 'rcp2019' WHERE review_id = :r",
            "UPDATE reviews SET autism = 'maybe' WHERE review_id = :r",
            "UPDATE reviews SET clinical_frailty_scale = 10 WHERE review_id = :r",
            "UPDATE reviews SET clinical_frailty_scale = 0 WHERE review_id = :r",
            "UPDATE reviews SET me_scrutiny = 'dcrs' WHERE review_id = :r",
            "UPDATE reviews SET family_involved = 'unknown' WHERE review_id = :r",
            "UPDATE reviews SET family_feedback = 'no' WHERE review_id = :r",
            "UPDATE reviews SET dying_recognised = 'maybe' WHERE review_id = :r",
            "INSERT INTO referrals (organisation_code, review_id, referral_type, "
            f"referral_status) VALUES ({ORG}, :r, 'police', 'made')",
            "INSERT INTO referrals (organisation_code, review_id, referral_type, "
            f"referral_status) VALUES ({ORG}, :r, 'coroner', 'sent')",
            "INSERT INTO referrals (organisation_code, review_id, referral_type, "
            f"referral_status) VALUES ({ORG}, 'no-such-review', 'coroner', 'made')",
            "INSERT INTO referrals (organisation_code, review_id, referral_type, "
            f"referral_status, referral_reference) VALUES ({ORG}, :r, 'psii', 'made', '"
            + "x" * 41 + "')",
        ]
        for sql in bad:
            # (PostgreSQL refuses an over-long reference as a data error, before the check)
            with pytest.raises((IntegrityError, DataError)), engine.begin() as conn:
                conn.execute(text(sql), {"r": review_id})
        good = [
            "UPDATE reviews SET form_version = 'ext2026', autism = 'yes', "
            "clinical_frailty_scale = 9, me_scrutiny = 'not_applicable', "
            "family_involved = 'no_contact', family_feedback = 'not_yet', "
            "dying_recognised = 'not_applicable' WHERE review_id = :r",
            "INSERT INTO referrals (organisation_code, review_id, referral_type, "
            f"referral_status, referral_reference) VALUES ({ORG}, :r, 'psii', 'made', '"
            + "x" * 40 + "')",
        ]
        with engine.begin() as conn:
            for sql in good:
                conn.execute(text(sql), {"r": review_id})
        with engine.begin() as conn:  # a referral goes with its review
            conn.execute(text("DELETE FROM phase_assessments WHERE review_id = :r"),
                         {"r": review_id})
            conn.execute(text("DELETE FROM reviews WHERE second_review_of = :r"),
                         {"r": review_id})
            conn.execute(text("DELETE FROM reviews WHERE review_id = :r"), {"r": review_id})
            assert conn.execute(text("SELECT count(*) FROM referrals")).scalar_one() == 0


def test_a_review_inserted_without_a_version_is_rcp2017(db_url, source):
    _store_at_0006(source, db_url)
    _migrate(db_url, "head")
    with _engine(db_url) as engine, engine.begin() as conn:
        org = conn.execute(text("SELECT min(code) FROM organisations")).scalar_one()
        conn.execute(text("INSERT INTO reviews (review_id, organisation_code, review_stage, "
                          "status) VALUES ('R-NEW', :o, 'first', 'draft')"), {"o": org})
        version = conn.execute(text(
            "SELECT form_version FROM reviews WHERE review_id = 'R-NEW'")).scalar_one()
    assert version == "rcp2017"


def test_downgrading_to_0006_keeps_the_2017_content(db_url, source):
    columns, before = _store_at_0006(source, db_url)
    _migrate(db_url, "head")
    _migrate(db_url, BEFORE, down=True)
    assert _dump(db_url) == before
    _migrate(db_url, "head")  # and up again
    assert _dump(db_url, columns) == before
