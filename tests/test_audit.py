"""The audit log: hash chain, tamper detection, append-only, same transaction as the data.

Tampering is done the way an insider with database rights would: first switching off the
append-only triggers, then editing, deleting, inserting or reordering rows. ``verify`` must
report each, naming the entry where the chain breaks.
"""

from __future__ import annotations

import re
import threading

import pytest
from access_setup import governed_fresh  # noqa: F401  (fixture)
from sqlalchemy import text
from typer.testing import CliRunner

from data_access import audit, store
from data_access.session import open_session


def _chain(url: str, n: int = 6):
    store.init_db(url)
    engine = store.get_engine(url)
    with engine.begin() as conn:
        audit.lock(conn)
        for i in range(1, n + 1):
            audit.append(conn, username=f"user{i}", role="programme_team", action="reviews",
                         scope={"organisations": ["XA1"], "i": i}, rows=10 * i, tool="test")
    return engine


def _untrigger(conn) -> None:
    """What an attacker with DDL rights does first: switch off the append-only triggers."""
    if conn.dialect.name == "sqlite":
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("DROP TRIGGER audit_log_no_delete"))
    else:
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))


def _kinds(result) -> set[tuple[int, str]]:
    return {(p.entry_id, p.kind) for p in result.problems}


@pytest.fixture
def chain(db_url):
    engine = _chain(db_url)
    yield engine
    engine.dispose()


def _verify(engine):
    with engine.connect() as conn:
        return audit.verify(conn)


def test_intact_chain_verifies(chain):
    result = _verify(chain)
    assert result.ok and result.entries == 6 and result.head_id == 6
    with chain.connect() as conn:
        rows = conn.execute(text("SELECT id, prev_hash, entry_hash FROM audit_log ORDER BY id"))
        rows = rows.all()
    assert rows[0].prev_hash == audit.GENESIS_HASH
    assert all(b.prev_hash == a.entry_hash for a, b in zip(rows, rows[1:], strict=False))


def test_the_log_is_append_only(chain):
    for statement in ("UPDATE audit_log SET rows = 0 WHERE id = 2",
                      "DELETE FROM audit_log WHERE id = 2"):
        with pytest.raises(Exception, match="append-only"):
            with chain.begin() as conn:
                conn.execute(text(statement))
    assert _verify(chain).ok


@pytest.mark.parametrize("column, value", [("username", "someone_else"), ("rows", 99999),
                                           ("action", "organisations"), ("approval_id", "X"),
                                           ("scope", '{"organisations":"all"}')])
def test_edited_entry_is_reported_at_its_id(chain, column, value):
    with chain.begin() as conn:
        _untrigger(conn)
        conn.execute(text(f"UPDATE audit_log SET {column} = :v WHERE id = 3"), {"v": value})
    result = _verify(chain)
    assert _kinds(result) == {(3, "edited")}
    assert "entry 3: edited" in str(result.problems[0])


def test_edited_entry_with_recomputed_hash_breaks_the_next_link(chain):
    with chain.begin() as conn:
        _untrigger(conn)
        row = dict(conn.execute(text("SELECT * FROM audit_log WHERE id = 3")).mappings().one())
        row["rows"] = 0
        forged = audit.entry_hash(row["prev_hash"], row)
        conn.execute(text("UPDATE audit_log SET rows = 0, entry_hash = :h WHERE id = 3"),
                     {"h": forged})
    assert _kinds(_verify(chain)) == {(4, "broken link")}


def test_deleted_entry_is_reported(chain):
    with chain.begin() as conn:
        _untrigger(conn)
        conn.execute(text("DELETE FROM audit_log WHERE id = 3"))
    assert _kinds(_verify(chain)) == {(4, "missing"), (4, "broken link")}


def test_deleted_last_entries_are_reported_by_the_head(chain):
    with chain.begin() as conn:
        _untrigger(conn)
        conn.execute(text("DELETE FROM audit_log WHERE id >= 5"))
    result = _verify(chain)
    assert _kinds(result) == {(6, "missing")}
    assert "ends at 4" in str(result.problems[0])


def test_inserted_entry_at_the_end_is_reported(chain):
    """A well-formed forged entry appended by hand, chain hash and all."""
    with chain.begin() as conn:
        last = conn.execute(text("SELECT entry_hash FROM audit_log WHERE id = 6")).scalar_one()
        entry = {"id": 7, "at": "2026-01-01T00:00:00+00:00", "username": "ghost",
                 "role": "administrator", "action": "users.add", "scope": "{}", "rows": 1,
                 "approval_id": None, "tool": "psql", "prev_hash": last}
        entry["entry_hash"] = audit.entry_hash(last, entry)
        conn.execute(text("INSERT INTO audit_log VALUES (:id, :at, :username, :role, :action, "
                          ":scope, :rows, :approval_id, :tool, :prev_hash, :entry_hash)"), entry)
    assert _kinds(_verify(chain)) == {(7, "inserted")}


def test_inserted_entry_in_the_middle_is_reported(chain):
    """Make room by renumbering, then insert a forged entry that links to its predecessor."""
    with chain.begin() as conn:
        _untrigger(conn)
        conn.execute(text("UPDATE audit_log SET id = id + 100 WHERE id >= 4"))
        conn.execute(text("UPDATE audit_log SET id = id - 99 WHERE id >= 100"))
        prev = conn.execute(text("SELECT entry_hash FROM audit_log WHERE id = 3")).scalar_one()
        entry = {"id": 4, "at": "2026-01-01T00:00:00+00:00", "username": "ghost",
                 "role": None, "action": "reviews", "scope": "{}", "rows": 1,
                 "approval_id": None, "tool": "psql", "prev_hash": prev}
        entry["entry_hash"] = audit.entry_hash(prev, entry)
        conn.execute(text("INSERT INTO audit_log VALUES (:id, :at, :username, :role, :action, "
                          ":scope, :rows, :approval_id, :tool, :prev_hash, :entry_hash)"), entry)
    kinds = _kinds(_verify(chain))
    # the forged entry itself is consistent; what follows it is not
    assert (5, "broken link") in kinds and (5, "edited") in kinds
    assert (7, "inserted") in kinds
    assert not any(entry_id < 5 for entry_id, _ in kinds)


def test_reordered_entries_are_reported(chain):
    with chain.begin() as conn:
        _untrigger(conn)
        conn.execute(text("UPDATE audit_log SET id = 100 WHERE id = 2"))
        conn.execute(text("UPDATE audit_log SET id = 2 WHERE id = 4"))
        conn.execute(text("UPDATE audit_log SET id = 4 WHERE id = 100"))
    kinds = _kinds(_verify(chain))
    assert {(2, "edited"), (2, "broken link"), (4, "edited"), (4, "broken link")} <= kinds
    assert all(entry_id in (2, 3, 4, 5) for entry_id, _ in kinds)


def test_concurrent_appends_keep_one_dense_chain(chain):
    url = chain.url.render_as_string(hide_password=False)
    errors: list[BaseException] = []

    def work(k: int) -> None:
        engine = store.get_engine(url)
        try:
            for i in range(8):
                with engine.begin() as conn:
                    audit.lock(conn)
                    audit.append(conn, username=f"w{k}", role=None, action="test",
                                 scope={"i": i}, tool="thread")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    result = _verify(chain)
    assert result.ok and result.entries == 6 + 32


def test_failed_write_leaves_neither_data_nor_entry(governed_fresh):  # noqa: F811
    """The entry and the change commit together: a refused audit append undoes the save."""
    gov = governed_fresh
    engine = store.get_engine(gov.owner_url)
    with engine.begin() as conn:
        review_id = conn.execute(text("SELECT min(review_id) FROM reviews WHERE "
                                      "organisation_code = :o AND status = 'submitted'"),
                                 {"o": gov.org_a}).scalar_one()
    session = open_session("lead_a", gov.app_url, tool="test")
    values = session.review(review_id)
    values["comment_overall"] = "Changed after discussion at the mortality meeting."
    with engine.begin() as conn:  # the audit log now refuses every new entry
        if conn.dialect.name == "sqlite":
            conn.execute(text("CREATE TRIGGER audit_full BEFORE INSERT ON audit_log BEGIN "
                              "SELECT RAISE(ABORT, 'audit store unavailable'); END"))
        else:
            conn.execute(text("CREATE FUNCTION audit_full() RETURNS trigger LANGUAGE plpgsql "
                              "AS $$ BEGIN RAISE EXCEPTION 'audit store unavailable'; END $$"))
            conn.execute(text("CREATE TRIGGER audit_full BEFORE INSERT ON audit_log "
                              "FOR EACH ROW EXECUTE FUNCTION audit_full()"))
        before = conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    with pytest.raises(Exception, match="audit store unavailable"):
        session.save_review(values, expected_version=int(values["version"]))
    with engine.begin() as conn:
        comment = conn.execute(text("SELECT comment FROM phase_assessments WHERE review_id = :r "
                                    "AND phase = 'overall'"), {"r": review_id}).scalar_one()
        version = conn.execute(text("SELECT version FROM reviews WHERE review_id = :r"),
                               {"r": review_id}).scalar_one()
        after = conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
        conn.execute(text("DROP TRIGGER audit_full" + ("" if conn.dialect.name == "sqlite"
                                                       else " ON audit_log")))
    assert comment != values["comment_overall"] and version == values["version"]
    assert after == before
    # with the audit log working again, the same save goes through and is logged
    assert session.save_review(values, expected_version=int(values["version"]))[1] == \
        values["version"] + 1
    session.close()
    with engine.connect() as conn:
        assert audit.entries(conn, action="save_review")["username"].tolist() == ["lead_a"]
        assert audit.verify(conn).ok
    engine.dispose()


def test_cli_verify_and_show(chain, monkeypatch):
    from sjrlib.cli import app

    url = chain.url.render_as_string(hide_password=False)
    monkeypatch.setenv("SJR_USER", "boss")
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    runner = CliRunner()
    assert runner.invoke(app, ["users", "add", "boss", "--role", "administrator", "--db", url]
                         ).exit_code == 0
    ok = runner.invoke(app, ["audit", "verify", "--db", url])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    shown = runner.invoke(app, ["audit", "show", "--user", "user3", "--db", url])
    assert shown.exit_code == 0 and "user3" in shown.output and "user4" not in shown.output
    # the title gives the count once ("Audit log (N)", as every table of the CLI does)
    assert re.search(r"^Audit log \(\d+\)$", shown.output, re.M), shown.output
    with chain.begin() as conn:
        _untrigger(conn)
        conn.execute(text("UPDATE audit_log SET rows = 1 WHERE id = 2"))
    bad = runner.invoke(app, ["audit", "verify", "--db", url])
    assert bad.exit_code == 1
    assert "entry 2: edited" in bad.output
    with chain.connect() as conn:
        frame = audit.entries(conn, action="audit")
    assert frame["action"].tolist() == ["audit.verify", "audit.show", "audit.verify"]
