"""Issue 17 checked again by hand (audit of 2026-12-07): database faults that still came out
as "the database refused the request: ..." or as more than one line, and an XLSX export on a
full disk that printed tracebacks under its message.

Each store is small and written here by hand (two fictional organisations, one administrator);
the faults are real files and real errors of SQLite, except where a disk would have to be
filled or a filesystem remounted (then the driver's error is raised and the disk's state is
what ``os.statvfs`` answers).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from data_access.faults import describe_fault

CHILD = "import sys\nfrom sjrlib.cli import main\nmain(sys.argv[1:])\n"

ORGANISATIONS = """organisation_code,name,nation,region
XH1,Hollin Vale Hospitals NHS Trust,england,North West
XH2,Marrowby General NHS Foundation Trust,england,London
"""

REVIEWS = (
    "review_id,case_id,organisation_code,review_stage,status,form_version,reviewer_id,"
    "review_date,review_reasons,age_at_death,sex,death_month,score_admission,"
    "comment_admission,score_overall,comment_overall,record_quality_score,any_problems,"
    "problem_treatment\n"
    "XH1-R1,XH1-C1,XH1,first,submitted,rcp2017,XH1-RV1,2025-05-10,learning_disability,81,"
    "female,2025-04,3,Seen promptly on arrival.,3,Care was adequate overall.,3,no,\n"
    "XH1-R2,XH1-C2,XH1,first,submitted,rcp2017,XH1-RV2,2025-05-12,learning_disability,74,"
    "male,2025-04,2,Senior review was late.,2,Delay in escalation noted.,2,yes,probably\n"
    "XH1-R3,XH1-C3,XH1,first,submitted,rcp2017,XH1-RV1,2025-05-20,learning_disability,90,"
    "female,2025-05,4,Good initial plan.,4,Well led care.,4,no,\n")


def sjr(*args: str, user: str = "h-admin", cwd: Path | None = None,
        env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "SJR_USER": user, **(env or {})}
    for name in ("SJR_DEBUG", "SJR_DATABASE_URL", "JUPYTERHUB_USER"):
        environment.pop(name, None)
    return subprocess.run([sys.executable, "-c", CHILD, *args], env=environment, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def one_line(done: subprocess.CompletedProcess, *words: str) -> str:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr and "refused the request" not in done.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def made_store(tmp_path_factory) -> Path:
    """A store of two organisations and one administrator, checkpointed into one file."""
    from data_access import open_session, store
    from data_access.approvals import ApprovalSpec
    from data_access.session import bootstrap_administrator

    folder = tmp_path_factory.mktemp("made")
    path = folder / "sjr.db"
    url = f"sqlite:///{path}"
    store.init_db(url)
    bootstrap_administrator("h-admin", url, tool="test")
    (folder / "orgs.csv").write_text(ORGANISATIONS, encoding="utf-8")
    session = open_session("h-admin", url, tool="test")
    try:
        session.import_file("organisations", folder / "orgs.csv")
        session.add_user("h-programme", "programme_team")
        session.add_user("h-lead", "organisation_lead", organisation_code="XH1")
        session.add_user("h-researcher", "researcher")
        (folder / "reviews.csv").write_text(REVIEWS, encoding="utf-8")
        session.import_file("reviews", folder / "reviews.csv")
        session.add_approval(ApprovalSpec(
            id="H-STUDY", applicants=("h-researcher",), purpose="Care scores by phase",
            organisations=("XH1",), period_start="2025-04", period_end="2025-06",
            fields=("score_overall",), k=2, start_date=dt.date(2026, 1, 1),
            end_date=dt.date(2030, 12, 31)))
    finally:
        session.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    return path


@pytest.fixture()
def store_copy(made_store, tmp_path) -> Path:
    path = tmp_path / "sjr.db"
    shutil.copyfile(made_store, path)
    keys = made_store.with_suffix(".keys")  # the approval keys (data_access.approval_keys)
    if keys.exists():
        shutil.copy2(keys, path.with_suffix(".keys"))
    return path


def test_a_file_that_is_not_a_sqlite_database_is_named(tmp_path):
    """--db naming a CSV file: the store is named as not a SQLite database, the file is
    untouched, and an export writes nothing."""
    wrong = tmp_path / "reviews.db"
    wrong.write_text("review_id,organisation_code\nXH1-R1,XH1\n", encoding="utf-8")
    before = wrong.read_bytes()
    url = f"sqlite:///{wrong}"
    for command in (["summary"], ["audit", "verify"]):
        one_line(sjr(*command, "--db", url), str(wrong), "is not a SQLite database",
                 "Check --db")
    one_line(sjr("export", "reviews", "out.csv", "--db", url, cwd=tmp_path),
             "is not a SQLite database")
    assert wrong.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reviews.db"]


def test_a_damaged_store_is_named(store_copy, tmp_path):
    """A store cut short (a copy interrupted, a disk that lost its tail) is damaged: said so,
    with the way on (restore the last backup); nothing is written beside it."""
    data = store_copy.read_bytes()
    store_copy.write_bytes(data[:8192])
    url = f"sqlite:///{store_copy}"
    for command in (["summary"], ["users", "list"]):
        one_line(sjr(*command, "--db", url), str(store_copy), "is damaged",
                 "restore the last backup")
    one_line(sjr("export", "organisations", "o.csv", "--db", url, cwd=tmp_path), "is damaged")
    assert not (tmp_path / "o.csv").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".o.csv")]


class _Folder:
    """What ``os.statvfs`` answers for a folder: blocks free and the mount's flags."""

    def __init__(self, free_blocks: int, flag: int = 0):
        self.f_bavail, self.f_frsize, self.f_flag = free_blocks, 4096, flag


def _sqlite_error(message: str, name: str) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorname = name
    return error


def test_a_full_disk_that_sqlite_calls_an_io_error_is_named_full(store_copy, monkeypatch):
    """A disk with no byte left: SQLite cannot even extend its shared-memory file and says
    "disk I/O error" (SQLITE_IOERR_*, seen on a full tmpfs); the store's folder shows the disk
    is full, so the sentence says that, not "failing or removed"."""
    url = make_url(f"sqlite:///{store_copy}")
    error = _sqlite_error("disk I/O error", "SQLITE_IOERR_SHMSIZE")
    monkeypatch.setattr(os, "statvfs", lambda path: _Folder(0))
    assert describe_fault(error, url).startswith(
        f"The disk holding the store is full ({store_copy})")
    monkeypatch.setattr(os, "statvfs", lambda path: _Folder(1_000_000))
    assert describe_fault(error, url).startswith("The store could not be written to disk")


def test_a_store_on_a_read_only_filesystem_is_named(store_copy, monkeypatch):
    """A store on a filesystem mounted read-only: SQLite's "unable to open database file",
    said as what it is."""
    url = make_url(f"sqlite:///{store_copy}")
    error = _sqlite_error("unable to open database file", "SQLITE_CANTOPEN")
    monkeypatch.setattr(os, "statvfs", lambda path: _Folder(1_000_000, os.ST_RDONLY))
    said = describe_fault(error, url)
    assert said.startswith(f"The store is on a read-only filesystem ({store_copy})"), said
    assert "copy the store" in said
    monkeypatch.setattr(os, "statvfs", lambda path: _Folder(1_000_000))
    assert describe_fault(error, url).startswith("The store cannot be opened")
    missing = make_url(f"sqlite:///{store_copy.parent / 'gone' / 'sjr.db'}")
    assert describe_fault(error, missing).startswith("The store cannot be opened")


def test_a_file_that_is_not_a_backup_is_refused_in_one_line(tmp_path):
    """`sjr restore` of a CSV (tarfile's refusal lists every compression it tried, one per
    line): one line, and no store made."""
    wrong = tmp_path / "organisations.csv"
    wrong.write_text(ORGANISATIONS, encoding="utf-8")
    target = tmp_path / "new.db"
    one_line(sjr("restore", str(wrong), "--db", f"sqlite:///{target}"),
             "not a readable sjr backup", "nothing was restored")
    assert not target.exists()
    cut = tmp_path / "cut.sjrbackup"
    with tarfile.open(cut, "w") as tar:
        tar.add(wrong, arcname="store.db")
    cut.write_bytes(cut.read_bytes()[:700])
    one_line(sjr("restore", str(cut), "--db", f"sqlite:///{target}"),
             "not a readable sjr backup")
    assert not target.exists()


class _FullDisk:
    """A part file on a disk that fills after ``room`` bytes."""

    def __init__(self, room: int):
        self.room, self.closed = room, False

    def write(self, data) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        if len(data) > self.room:
            raise OSError(28, "No space left on device")
        self.room -= len(data)
        return len(data)

    def tell(self) -> int:
        return 0

    def seek(self, *args) -> int:
        if self.closed:
            raise ValueError("seek of closed file")
        return 0

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def test_an_xlsx_export_on_a_full_disk_leaves_no_traceback_behind(monkeypatch, tmp_path):
    """Seen: `sjr export reviews full/r.xlsx` on a full tmpfs printed its one line, then two
    "Exception ignored ... seek of closed file" tracebacks when openpyxl's half-written archive
    and row stream were collected. Now the error still comes out, and nothing else does."""
    import contextlib

    import pandas as pd

    from sjrlib import io, safe_files

    disk = _FullDisk(room=3000)

    @contextlib.contextmanager
    def part_file(path, **_kw):
        try:
            yield disk
        finally:
            disk.close()

    monkeypatch.setattr(safe_files, "open_private", part_file)
    frame = pd.DataFrame({"organisation_code": [f"XH{i}" for i in range(400)],
                          "name": [f"Hospital number {i} NHS Trust" for i in range(400)],
                          "nation": "england", "region": "London"})
    ignored = []
    monkeypatch.setattr(sys, "unraisablehook", ignored.append)
    with pytest.raises(OSError, match="No space left"):
        io.write_organisations(frame, tmp_path / "o.xlsx")
    gc.collect()
    assert ignored == [], [str(u.exc_value) for u in ignored]


@pytest.fixture()
def full_folder(tmp_path):
    """A folder on a disk with no byte free: a 64 KiB tmpfs, filled (root only: a mount)."""
    folder = tmp_path / "full"
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        with contextlib.suppress(OSError), open(folder / "filler", "wb") as fh:
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


@pytest.mark.parametrize("command, user", [
    (["training", "trainers", "export", "trainers.csv"], "h-programme"),
    (["training", "records", "export", "records.csv"], "h-lead"),
    (["training", "cases", "export", "cases.yaml"], "h-lead"),
    (["actions", "export", "actions.csv"], "h-lead"),
    (["themes", "codebook", "export", "codebook.yaml"], "h-lead"),
])
def test_an_export_to_a_full_disk_leaves_nothing_behind(store_copy, full_folder, command,
                                                        user):
    """Seen on a full tmpfs: `sjr training trainers export full/t.csv` (and records, actions,
    codebook) said only "sjr: No space left on device" and left an empty t.csv (mode 0644)
    where the file should be: these wrote straight to the target, not as every other file
    from the store is written (sjrlib.safe_files: a part file, renamed when whole)."""
    *words, name = command
    done = sjr(*words, str(full_folder / name), "--db", f"sqlite:///{store_copy}", user=user)
    line = one_line(done, str(full_folder / name), "No space left on device",
                    "nothing was written")
    assert "(sjr --debug" not in line  # the command's own sentence, not the last resort
    assert sorted(p.name for p in full_folder.iterdir()) == ["filler"]


def test_a_restore_that_fails_midway_leaves_no_store_and_can_be_run_again(store_copy, tmp_path,
                                                                        monkeypatch):
    """Seen on a tmpfs with room for the store file but not for its audit queue: `sjr restore`
    said "The disk holding the store is full ...: nothing was half-saved. Free some space ...
    and try again", but left the restored file (unverified, its restore not audited) behind,
    and the run again was refused: "exists and is not empty; a restore writes a new store
    only". Now whatever the restore wrote is taken out again, and a second run restores."""
    from data_access import audit, backup, open_session

    source = open_session("h-admin", f"sqlite:///{store_copy}", tool="test")
    try:
        backup.backup(source, tmp_path / "b.sjrbackup")
    finally:
        source.close()
    target = tmp_path / "restored" / "sjr.db"
    target.parent.mkdir()
    start_queue = audit.start_queue

    def full_disk(engine):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(audit, "start_queue", full_disk)
    with pytest.raises(sqlite3.OperationalError):
        backup.restore(tmp_path / "b.sjrbackup", f"sqlite:///{target}", user="h-admin")
    assert sorted(p.name for p in target.parent.iterdir()) == []
    monkeypatch.setattr(audit, "start_queue", start_queue)
    result = backup.restore(tmp_path / "b.sjrbackup", f"sqlite:///{target}", user="h-admin")
    assert result.entries > 0 and target.exists()


def _damage_a_page(path: Path, of: str) -> None:
    """Overwrite the b-tree page of index ``of`` (one a backup never reads) with garbage, as a
    failing disk or a stray write would."""
    with sqlite3.connect(path) as conn:
        page = conn.execute("SELECT pageno FROM dbstat WHERE name = ?", (of,)).fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    with open(path, "r+b") as fh:
        fh.seek((page - 1) * size)
        fh.write(b"\xff" * size)


def test_a_damaged_store_is_not_backed_up_or_restored_as_sound(store_copy, made_store,
                                                               tmp_path):
    """Seen: a store with overwritten pages backed up ("backup written") and restored
    ("audit chain verified") without a word, and the restored store then failed with
    "database disk image is malformed". Now the backup is refused in one line (nothing
    written), and a backup holding a damaged store is not restored."""
    _damage_a_page(store_copy, "ix_training_records_organisation_code")
    out = tmp_path / "b.sjrbackup"
    one_line(sjr("backup", str(out), "--db", f"sqlite:///{store_copy}"), str(store_copy),
             "is damaged", "no backup was written")
    assert not out.exists() and not [p for p in tmp_path.iterdir() if ".part" in p.name]

    sound = tmp_path / "sound.db"
    shutil.copyfile(made_store, sound)
    good = tmp_path / "good.sjrbackup"
    assert sjr("backup", str(good), "--db", f"sqlite:///{sound}").returncode == 0
    unpacked = tmp_path / "unpacked"
    with tarfile.open(good) as tar:
        tar.extractall(unpacked, filter="data")
    _damage_a_page(unpacked / "store.db", "ix_training_records_organisation_code")
    forged = tmp_path / "damaged.sjrbackup"
    with tarfile.open(forged, "w") as tar:
        for name in ("store.db", "keys.json", "manifest.json"):
            tar.add(unpacked / name, arcname=name)
    target = tmp_path / "restored" / "sjr.db"
    target.parent.mkdir()
    one_line(sjr("restore", str(forged), "--db", f"sqlite:///{target}"),
             "the store in this backup is damaged", "nothing was restored")
    assert list(target.parent.iterdir()) == []


def test_an_extract_to_a_full_disk_is_named_and_leaves_nothing(store_copy, full_folder):
    """Seen: `sjr extract --approval ... --out full/ex.csv` on a full disk said only "sjr: No
    space left on device (sjr --debug shows the details)", naming no file."""
    out = full_folder / "extract.csv"
    done = sjr("extract", "--approval", "H-STUDY", "--out", str(out), "--db",
               f"sqlite:///{store_copy}", user="h-researcher")
    one_line(done, f"{out}: cannot write the extract (No space left on device)",
             "nothing was written")
    assert sorted(p.name for p in full_folder.iterdir()) == ["filler"]


def test_a_report_into_a_read_only_folder_says_what_to_do(store_copy, tmp_path):
    """Seen with --out on a read-only mount: "Cannot write the reports: [Errno 30] Read-only
    file system: '/tmp/h73/rorep/2025-26'" (Python's own wording, and no way on). Nothing is
    written, and the line says what to do."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a read-only bind mount needs root")
    folder = tmp_path / "reports"
    folder.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {mounted.stderr.strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
        done = sjr("report", "trust", "XH1", "--audience", "organisation", "--period",
                   "2025-26", "--quiet", "--out", str(folder), "--db",
                   f"sqlite:///{store_copy}", user="h-lead")
    finally:
        subprocess.run(["umount", str(folder)], check=False)
    one_line(done, "Cannot write the reports", str(folder), "Read-only file system",
             "Choose an --out folder you can write to")
    assert list(folder.iterdir()) == []
