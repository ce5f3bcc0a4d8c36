"""Reads do not wait for an import's lock, and are still audited (issue 17 part 2).

SQLite: while an import holds the store's write lock (longer than ``SJR_LOCK_WAIT_SECONDS``),
a lead's and a researcher's reads succeed with the store as it was before the import, their
audit entries wait in the audit queue (``<store>.audit-queue``) and reach the audit log, in
order and unchanged, at the next write or ``audit verify``; the queue's chain shows an edited
or deleted pending entry; a reader killed right after its read returned loses no entry; and a
save during the import still waits and fails with the busy sentence. PostgreSQL: the same reads
during an import succeed and are audited.

The import is a real ``Session.import_file`` of a synthetic reviews file; its progress callback
(called inside the import's transaction, after its first rows are written) waits for the test's
signal, so the import holds its locks as long as the test needs, whatever the machine's speed.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from access_setup import build, governed_fresh  # noqa: F401  (governed_fresh: fixture)
from sqlalchemy import text

from data_access import audit, open_session
from data_access.faults import describe_fault
from data_access.store import get_engine

HERE = Path(__file__).resolve().parent


@pytest.fixture
def sqlite_store(tmp_path):
    gov, cleanup = build("sqlite", tmp_path)
    yield gov
    cleanup()


@pytest.fixture(autouse=True)
def short_wait(monkeypatch):
    monkeypatch.setenv("SJR_LOCK_WAIT_SECONDS", "1")


def _reviews_file(gov, folder: Path) -> tuple[Path, int]:
    """A valid reviews file of new reviews at the store's organisations."""
    from sjrlib import io
    from sjrlib.synthetic import generate

    more = generate(n_organisations=3, years=1, seed=21, n_scottish=0).reviews
    codes = list(more["organisation_code"].drop_duplicates())
    more["organisation_code"] = more["organisation_code"].map(
        dict(zip(codes, [gov.org_a, gov.org_b, gov.org_c], strict=False)))
    for column in ("review_id", "case_id", "second_review_of"):
        more[column] = "IMP-" + more[column].astype("string")
    path = folder / "more-reviews.csv"
    io.write_reviews(more, path)
    return path, len(more)


@contextmanager
def _import_holding(gov, folder: Path) -> Iterator[dict]:
    """Run an administrator's import in a thread and hold it mid-way (rows written, not
    committed) until the block ends; yields the outcome dict (``import``: result or error)."""
    path, rows = _reviews_file(gov, folder)
    held, release = threading.Event(), threading.Event()
    outcome: dict = {"rows": rows}

    def progress(done: int) -> None:
        if done > 0 and not held.is_set():
            held.set()
            release.wait(120)

    def run() -> None:
        try:
            # as the store's owner: on PostgreSQL an import's COPY is refused under row-level
            # security (the ordinary application role), which is not what is tested here
            with open_session("admin", gov.owner_url, tool="import-test") as admin:
                outcome["import"] = admin.import_file("reviews", path, progress=progress)
        except Exception as exc:  # noqa: BLE001 - the test checks it
            outcome["import"] = exc
        finally:
            held.set()

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert held.wait(120), "the import never started writing"
        assert "import" not in outcome, outcome.get("import")
        yield outcome
    finally:
        release.set()
        worker.join(300)
    assert not isinstance(outcome.get("import"), Exception), outcome.get("import")
    assert outcome["import"].inserted == rows


def _log(url: str) -> pd.DataFrame:
    engine = get_engine(url)
    try:
        with engine.connect() as conn:
            return pd.DataFrame(conn.execute(text(
                "SELECT id, at, username, role, action, scope, rows, approval_id, tool "
                "FROM audit_log ORDER BY id")).mappings().all())
    finally:
        engine.dispose()


def _queue_file(gov) -> Path:
    return Path(gov.owner_url.removeprefix("sqlite:///") + audit.QUEUE_SUFFIX)


def _queue_rows(gov) -> list[dict]:
    if gov.engine_name == "sqlite":
        with sqlite3.connect(_queue_file(gov)) as queue:
            queue.row_factory = sqlite3.Row
            return [dict(r) for r in queue.execute("SELECT * FROM audit_queue ORDER BY seq")]
    engine = get_engine(gov.owner_url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(text(
                "SELECT * FROM audit_queue ORDER BY seq")).mappings()]
    finally:
        engine.dispose()


def _tamper(gov, statement: str) -> None:
    """Change the queue as someone with write access to its file or tables could."""
    if gov.engine_name == "sqlite":
        with sqlite3.connect(_queue_file(gov)) as queue:
            queue.execute(statement)
        return
    engine = get_engine(gov.owner_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def _pending(gov) -> int:
    engine = get_engine(gov.owner_url)
    try:
        with engine.connect() as conn:
            return audit.verify(conn).pending
    finally:
        engine.dispose()


def _reads(gov) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A lead's and a researcher's read, each in a session opened now."""
    with open_session("lead_a", gov.app_url, tool="queue-test") as lead:
        mine = lead.reviews()
    with open_session("res1", gov.app_url, tool="queue-test") as researcher:
        released = researcher.reviews(approval_id="DARG-2")
    return mine, released


# ------------------------------------------------------------------------ (a) SQLite ----
def test_reads_during_an_import_succeed_and_are_audited_after_it(sqlite_store, tmp_path):
    gov = sqlite_store
    before_lead, before_researcher = _reads(gov)
    entries_before = len(_log(gov.owner_url))
    with _import_holding(gov, tmp_path):
        during_lead, during_researcher = _reads(gov)
        # the store as it was before the import: its uncommitted rows are not seen
        pd.testing.assert_frame_equal(during_lead, before_lead)
        pd.testing.assert_frame_equal(during_researcher, before_researcher)
        # not in the log yet (the import holds it) but committed in the queue
        assert len(_log(gov.owner_url)) == entries_before + 1  # the import's session.open
        queued = _queue_rows(gov)
        assert [(q["username"], q["action"]) for q in queued] == [
            ("lead_a", "session.open"), ("lead_a", "reviews"),
            ("res1", "session.open"), ("res1", "reviews")]
        assert queued[3]["approval_id"] == "DARG-2"
        assert queued[1]["rows"] == len(before_lead)
        assert stat.S_IMODE(_queue_file(gov).stat().st_mode) == 0o600
        # an administrator's verify during the import checks the queue and counts it
        with open_session("admin", gov.app_url, tool="queue-test") as admin:
            during = admin.verify_audit()
        assert during.ok, during.problems
        assert during.pending == 5  # 4 above and the admin's session.open (the verify
        # entry itself is queued after the check)
    log = _log(gov.owner_url)
    # the import committed with its entry; the queue waits for the next holder of the lock
    assert log["action"].iloc[-1] == "import.reviews"
    with open_session("admin", gov.app_url, tool="queue-test") as admin:
        after = admin.verify_audit()
    assert after.ok, after.problems
    assert after.pending == 0
    log = _log(gov.owner_url)
    flushed = log.iloc[entries_before + 2:entries_before + 8]  # after import's open + entry
    assert list(zip(flushed["username"], flushed["action"], strict=True)) == [
        ("lead_a", "session.open"), ("lead_a", "reviews"), ("res1", "session.open"),
        ("res1", "reviews"), ("admin", "session.open"), ("admin", "audit.verify")]
    # each keeps its own time, user, role, scope, rows, approval and tool
    for entry, original in zip(flushed.to_dict("records"), queued, strict=False):
        for key in ("at", "username", "role", "action", "scope", "rows", "approval_id",
                    "tool"):
            assert (None if pd.isna(entry[key]) else entry[key]) == original[key], key
    assert flushed["at"].iloc[0] < log["at"].iloc[entries_before + 1]  # read before the import
    assert _queue_rows(gov) == []  # cleaned once the flush committed
    # every queued entry is in the log exactly once: the verify's own flush left the flushed
    # entries in the queue (cleaned only by a later transaction, once this one committed) and
    # the flushes after it did not copy them again
    with open_session("lead_a", gov.app_url, tool="queue-test") as lead:
        lead.organisations()
    log = _log(gov.owner_url)
    for original in queued:
        assert ((log["at"] == original["at"]) & (log["username"] == original["username"])
                & (log["action"] == original["action"])).sum() == 1
    # and after the import, the lead reads its rows
    with open_session("lead_a", gov.app_url, tool="queue-test") as lead:
        assert len(lead.reviews()) > len(before_lead)


# ------------------------------------------------------------- (b) tampered queue ----
def _held_lock(gov) -> tuple[threading.Event, threading.Thread]:
    """Hold the audit chain lock (what an import or a backup holds) in a thread."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        engine = get_engine(gov.owner_url)
        try:
            with engine.begin() as conn:
                audit.lock(conn)
                held.set()
                release.wait(120)
        finally:
            engine.dispose()

    worker = threading.Thread(target=hold)
    worker.start()
    assert held.wait(60)
    return release, worker


def _pending_reads(gov, count: int) -> None:
    release, worker = _held_lock(gov)
    try:
        with open_session("lead_a", gov.app_url, tool="queue-test") as lead:
            for _ in range(count):
                lead.organisations()
    finally:
        release.set()
        worker.join(60)


@pytest.mark.parametrize(("tamper", "seq", "kind", "flushed"), [
    ("UPDATE audit_queue SET rows = 999 WHERE seq = 2", 2, "edited", 0),
    ("UPDATE audit_queue SET username = 'someone_else' WHERE seq = 3", 3, "edited", 1),
    ("DELETE FROM audit_queue WHERE seq = 2", 3, "missing", 0),
    ("DELETE FROM audit_queue WHERE seq = 4", 4, "missing", 2),  # the last one
])
def test_a_tampered_pending_entry_is_found_and_never_flushed(
        governed_fresh, tamper, seq, kind, flushed):  # noqa: F811
    """Entries before the tampered one reach the log (``flushed`` of the three reads); it and
    those after it stay in the queue, reported at every check."""
    gov = governed_fresh
    _pending_reads(gov, 3)  # queue: session.open (1), organisations (2, 3, 4)
    assert [r["seq"] for r in _queue_rows(gov)] == [1, 2, 3, 4]
    _tamper(gov, tamper)
    with open_session("admin", gov.app_url, tool="queue-test") as admin:
        result = admin.verify_audit()
    assert not result.ok
    found = [p for p in result.problems if p.where == "queue"]
    assert any(p.entry_id == seq and p.kind == kind for p in found), found
    assert all(p.where == "queue" for p in result.problems)  # the log itself is intact
    assert f"audit queue entry {seq}: {kind}" in "\n".join(str(p) for p in result.problems)
    log = _log(gov.owner_url)
    # nothing from the tampered entry on reached the log: no laundering through a flush
    assert 999 not in set(log["rows"].dropna())
    assert "someone_else" not in set(log["username"])
    lead_reads = log[(log["username"] == "lead_a") & (log["action"] == "organisations")]
    assert len(lead_reads) == flushed
    # still reported on the next check: the problem stays evident
    engine = get_engine(gov.owner_url)
    try:
        with engine.begin() as conn:
            audit.lock(conn)
            again = audit.verify(conn)
    finally:
        engine.dispose()
    assert any(p.entry_id == seq and p.kind == kind for p in again.problems)


def test_a_replaced_or_deleted_queue_file_is_found(sqlite_store):
    gov = sqlite_store
    _pending_reads(gov, 1)
    with open_session("admin", gov.app_url, tool="queue-test") as admin:
        assert admin.verify_audit().ok  # flushed: the log now anchors the queue
    path = _queue_file(gov)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = get_engine(gov.owner_url)
    try:
        with engine.connect() as conn:
            result = audit.verify(conn)
    finally:
        engine.dispose()
    assert not result.ok
    assert "audit queue file" in str(result.problems[0]) and "missing" in str(result.problems[0])


# --------------------------------------------------------- (c) killed after the read ----
_READER = textwrap.dedent("""
    import sys, time
    from data_access import open_session
    with open_session("lead_a", sys.argv[1], tool="killed-reader") as lead:
        frame = lead.reviews()
    print("READ", len(frame), flush=True)
    time.sleep(600)
""")


def test_a_reader_killed_after_its_read_loses_no_entry(sqlite_store):
    gov = sqlite_store
    release, worker = _held_lock(gov)
    try:
        reader = subprocess.Popen(
            [sys.executable, "-c", _READER, gov.app_url], stdout=subprocess.PIPE, text=True,
            cwd=HERE.parent, env={**os.environ, "SJR_LOCK_WAIT_SECONDS": "1"})
        try:
            line = reader.stdout.readline()
            assert line.startswith("READ "), line
            reader.send_signal(signal.SIGKILL)
        finally:
            reader.wait(60)
            reader.stdout.close()
        assert reader.returncode == -signal.SIGKILL
    finally:
        release.set()
        worker.join(60)
    with open_session("admin", gov.app_url, tool="queue-test") as admin:
        result = admin.verify_audit()
    assert result.ok, result.problems
    log = _log(gov.owner_url)
    killed = log[log["tool"] == "killed-reader"]
    assert list(killed["action"]) == ["session.open", "reviews"]
    assert int(killed["rows"].iloc[1]) == int(line.split()[1])


# ------------------------------------------------------- (d) a save still waits ----
def test_a_save_during_an_import_waits_and_gives_up_in_words(governed_fresh, tmp_path):  # noqa: F811
    from dashboard_store import first_stage_values

    gov = governed_fresh
    reviewer = open_session("reviewer_a", gov.app_url, tool="queue-test")
    try:
        with _import_holding(gov, tmp_path), pytest.raises(Exception) as info:  # noqa: PT011
            reviewer.save_review(first_stage_values("HELD-1"))
    finally:
        reviewer.close()
    message = describe_fault(info.value)
    assert message is not None and "busy" in message and "Try again in a minute" in message
    log = _log(gov.owner_url)
    assert "save_review" not in set(log["action"])  # nothing half-saved, nothing audited
    engine = get_engine(gov.owner_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM reviews WHERE case_id = 'HELD-1'")
                                ).scalar_one() == 0
            assert audit.verify(conn).ok
    finally:
        engine.dispose()


# ------------------------------------------------------------ (e) PostgreSQL too ----
def test_reads_during_an_import_succeed_on_both_engines(governed_fresh, tmp_path):  # noqa: F811
    gov = governed_fresh
    before_lead, before_researcher = _reads(gov)
    with _import_holding(gov, tmp_path):
        during_lead, during_researcher = _reads(gov)
        assert _pending(gov) == 4  # each session's opening and read, queued, not waiting
        log = _log(gov.owner_url)
        assert list(log["action"].iloc[-2:]) == ["reviews", "session.open"]  # the import's
    pd.testing.assert_frame_equal(during_lead, before_lead)
    pd.testing.assert_frame_equal(during_researcher, before_researcher)
    with open_session("admin", gov.app_url, tool="queue-test") as admin:
        result = admin.verify_audit()
    assert result.ok, result.problems
    log = _log(gov.owner_url)
    reads = log[(log["tool"] == "queue-test") & (log["action"] == "reviews")]
    assert list(reads["username"]) == ["lead_a", "res1", "lead_a", "res1"]
    assert list(reads["rows"].astype(int)) == [len(before_lead), len(before_researcher)] * 2
    assert _pending(gov) == 0


# ------------------------------------------------------- backup and restore ----
def test_a_backup_carries_queued_reads_and_its_restores_verify(sqlite_store, tmp_path):
    """``sjr backup`` moves the queue into the log before its copy; a restore (a new SQLite
    file, and PostgreSQL when configured) starts its queue at the copied mark and verifies,
    and reads there queue and flush again."""
    from access_setup import (
        POSTGRES_URL,
        _create_pg_database,
        _drop_app_role_cluster,
        _drop_pg_database,
        person_roles,
    )

    from data_access.backup import backup, restore

    gov = sqlite_store
    _pending_reads(gov, 2)
    assert _pending(gov) == 3
    out = tmp_path / "queued.sjrbackup"
    with open_session("admin", gov.app_url, tool="queue-test") as admin:
        backup(admin, out)
    assert _pending(gov) == 0
    targets = [f"sqlite:///{tmp_path / 'restored.db'}"]
    if POSTGRES_URL:
        targets.append(_create_pg_database())
    try:
        for url in targets:
            assert restore(out, url, user="admin").entries > 0
            log = _log(url)
            reads = log[(log["username"] == "lead_a") & (log["action"] == "organisations")]
            assert len(reads) == 2, url
            assert _pending(url_gov := type(gov)(
                "postgresql" if url.startswith("postgresql") else "sqlite", url, url,
                *[getattr(gov, f) for f in ("org_a", "org_b", "org_c", "reviewer_id",
                                            "other_reviewer_id")])) == 0
            # the restored store queues and flushes like the source
            _pending_reads(url_gov, 1)
            assert _pending(url_gov) == 2
            with open_session("admin", url, tool="queue-test") as admin:
                result = admin.verify_audit()
            assert result.ok, (url, result.problems)
            assert _pending(url_gov) == 0
    finally:
        for url in targets[1:]:
            persons = person_roles(url)
            _drop_pg_database(url)
            for person in persons:
                _drop_app_role_cluster(person)


def test_sjr_audit_verify_reports_pending_and_tampered_queue_entries(sqlite_store, tmp_path):
    """The commands read during an import too (their schema check needs no write lock)."""
    from test_backup import _cli

    gov = sqlite_store
    release, worker = _held_lock(gov)
    try:
        with open_session("lead_a", gov.app_url, tool="queue-test") as lead:
            lead.reviews()
        summary = _cli(["summary", "--db", gov.app_url], "lead_a", tmp_path)
        exported = _cli(["export", "reviews", tmp_path / "mine.csv", "--db", gov.app_url],
                        "lead_a", tmp_path)
        during = _cli(["audit", "verify", "--db", gov.app_url], "admin", tmp_path)
    finally:
        release.set()
        worker.join(60)
    assert summary.exit_code == 0, summary.output
    assert exported.exit_code == 0, exported.output
    assert (tmp_path / "mine.csv").exists()
    assert during.exit_code == 0, during.output
    # the lead's opening and read, the summary's and export's openings and reads, and the
    # administrator's opening
    assert "7 entries pending in the audit queue" in during.output
    after = _cli(["audit", "verify", "--db", gov.app_url], "admin", tmp_path)
    assert after.exit_code == 0, after.output
    assert "audit log intact" in after.output and "pending" not in after.output
    _pending_reads(gov, 2)
    _tamper(gov, "UPDATE audit_queue SET scope = '{}' WHERE seq = (SELECT max(seq) - 1 "
                 "FROM audit_queue)")
    tampered = _cli(["audit", "verify", "--db", gov.app_url], "admin", tmp_path)
    assert tampered.exit_code == 1
    assert "audit queue entry" in tampered.output and "edited" in tampered.output
    assert "TAMPERED" in tampered.output


def test_stores_without_a_file_have_no_queue_and_reads_take_the_lock(tmp_path):
    """In-memory and ``file:`` URI SQLite stores keep the old behaviour: a read takes the
    lock (and so waits for a writer as a save does); nothing is written beside them."""
    from data_access.store import init_db

    uri = f"sqlite:///file:{tmp_path / 'uri.db'}?mode=rwc&uri=true"
    for url in ("sqlite://", "sqlite:///:memory:", uri):
        engine = get_engine(url)
        try:
            assert audit.queue_path(engine) is None, url
            init_db(engine)
            with engine.begin() as conn:
                assert audit.lock_for_read(conn) is True
                assert conn.connection.dbapi_connection.in_transaction
                audit.append(conn, username="u", role=None, action="x", tool="test")
            with engine.connect() as conn:
                assert audit.verify(conn).ok
        finally:
            engine.dispose()
    assert sorted(p.name for p in tmp_path.iterdir() if "audit-queue" in p.name) == []
