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
