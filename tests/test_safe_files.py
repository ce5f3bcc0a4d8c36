"""Output files are private (0600), whole, and never written through a symbolic link or out
of their folder: the helper itself, exports, researchers' extracts and the SQLite store."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

import pytest
from access_setup import governed  # noqa: F401  (fixture)
from test_import_cli import dump, sjr

from data_access import open_session, store
from sjrlib import io, safe_files
from sjrlib.safe_files import UnsafePathError, check_target, open_private, write_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@contextlib.contextmanager
def umask(value: int):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


# --- the helper --------------------------------------------------------------------------

def test_a_new_file_is_private_whatever_the_umask(tmp_path):
    with umask(0):
        path = write_private(tmp_path / "out.csv", "a,b\n1,2\n")
    assert path.read_text() == "a,b\n1,2\n"
    assert mode(path) == 0o600


def test_an_existing_readable_file_is_replaced_by_a_private_one(tmp_path):
    path = tmp_path / "old.csv"
    path.write_text("old")
    path.chmod(0o644)
    write_private(path, "new")
    assert path.read_text() == "new" and mode(path) == 0o600


def test_a_symlink_at_the_target_is_refused_and_its_target_untouched(tmp_path):
    secret = tmp_path / "elsewhere" / "precious.txt"
    secret.parent.mkdir()
    secret.write_text("precious")
    link = tmp_path / "out" / "reviews.csv"
    link.parent.mkdir()
    link.symlink_to(secret)
    with pytest.raises(UnsafePathError, match="is a symbolic link; refusing to write through"):
        write_private(link, "overwritten?")
    assert secret.read_text() == "precious"
    assert link.is_symlink()
    dangling = tmp_path / "out" / "dangling.csv"
    dangling.symlink_to(tmp_path / "elsewhere" / "created_through_link.csv")
    with pytest.raises(UnsafePathError):
        write_private(dangling, "x")
    assert not (tmp_path / "elsewhere" / "created_through_link.csv").exists()


def test_a_link_planted_while_writing_is_replaced_never_written_through(tmp_path):
    secret = tmp_path / "precious.txt"
    secret.write_text("precious")
    target = tmp_path / "out.csv"
    with pytest.raises(UnsafePathError), open_private(target) as fh:
        fh.write(b"data")
        target.symlink_to(secret)  # an attacker's race: after the check, before the rename
    assert secret.read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_paths_leaving_the_chosen_folder_are_refused(tmp_path):
    root = tmp_path / "reports"
    (root / "2024").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    with pytest.raises(UnsafePathError, match="outside the folder"):
        write_private(root / ".." / "outside" / "x.html", "x", root=root)
    with pytest.raises(UnsafePathError, match="outside the folder"):
        write_private(root / "escape" / "x.html", "x", root=root)
    assert list(outside.iterdir()) == []
    assert write_private(root / "2024" / "ok.html", "ok", root=root).read_text() == "ok"


def test_a_failed_write_leaves_the_old_file_and_no_part_file(tmp_path):
    path = tmp_path / "keep.csv"
    path.write_text("old")
    with pytest.raises(RuntimeError), open_private(path, text=True) as fh:
        fh.write("half a fi")
        raise RuntimeError("disk full")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.csv"]


def test_missing_folder_refused_unless_asked_to_make_it_private(tmp_path):
    with pytest.raises(UnsafePathError, match="does not exist"):
        check_target(tmp_path / "no" / "such" / "file.csv")
    with umask(0o022):
        path = write_private(tmp_path / "new" / "deep" / "f.txt", "x", make_folders=True)
    assert mode(tmp_path / "new") == mode(tmp_path / "new" / "deep") == 0o700
    assert mode(path) == 0o600


def test_tighten_only_our_regular_files(tmp_path):
    path = tmp_path / "store.db"
    path.write_text("x")
    path.chmod(0o664)
    assert safe_files.tighten(path) and mode(path) == 0o600
    assert not safe_files.tighten(path)  # already private
    link = tmp_path / "link.db"
    other = tmp_path / "other.db"
    other.write_text("y")
    other.chmod(0o644)
    link.symlink_to(other)
    assert not safe_files.tighten(link) and mode(other) == 0o644


# --- the exchange files, exports and extracts --------------------------------------------

def test_exchange_files_are_written_private(small_data, tmp_path):
    with umask(0o022):
        for suffix in (".csv", ".xlsx"):
            path = tmp_path / f"organisations{suffix}"
            io.write_organisations(small_data.organisations, path)
            assert mode(path) == 0o600


def test_sjr_export_is_private_and_refuses_a_symlink(populated_db_url, tmp_path):
    with umask(0o022):
        result = sjr("export", "reviews", tmp_path / "all.csv", "--db", populated_db_url)
    assert result.exit_code == 0, result.output
    assert mode(tmp_path / "all.csv") == 0o600

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "export.csv"
    link.symlink_to(victim)
    before = dump(populated_db_url)
    result = sjr("export", "reviews", link, "--db", populated_db_url)
    assert result.exit_code == 1
    assert result.output.strip() == (f"refused: {link}: is a symbolic link; refusing to write "
                                     f"through it (remove the link or choose another name)")
    assert "Traceback" not in result.output
    assert victim.read_text() == "keep me"
    assert dump(populated_db_url) == before


def test_an_extract_is_private_and_never_written_through_a_link(governed, tmp_path):  # noqa: F811
    victim = tmp_path / "victim.csv"
    victim.write_text("keep me")
    (tmp_path / "linked.csv").symlink_to(victim)
    with umask(0o022), open_session("res2", governed.app_url, tool="test") as s:
        result = s.extract("DARG-2", tmp_path / "ex.csv")
        with pytest.raises(UnsafePathError, match="symbolic link"):
            s.extract("DARG-2", tmp_path / "linked.csv")
    assert mode(result.path) == mode(result.manifest) == 0o600
    assert victim.read_text() == "keep me"
    assert not (tmp_path / "linked.csv.manifest.json").exists()


# --- the SQLite store ---------------------------------------------------------------------

def test_a_new_sqlite_store_and_its_side_files_are_private(tmp_path, small_data):
    url = f"sqlite:///{tmp_path / 'sjr.db'}"
    with umask(0o022):
        store.init_db(url)
        io.write_organisations(small_data.organisations, tmp_path / "o.csv")
        result = sjr("import", "organisations", tmp_path / "o.csv", "--db", url)
        assert result.exit_code == 0, result.output
        engine = store.get_engine(url)
        with engine.connect() as conn:  # an open connection keeps -wal and -shm
            conn.exec_driver_sql("select count(*) from organisations")
            files = sorted(p for p in tmp_path.iterdir() if p.name.startswith("sjr.db"))
            assert {p.name for p in files} >= {"sjr.db", "sjr.db-wal", "sjr.db-shm"}
            assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
        engine.dispose()


def test_an_existing_world_readable_store_is_tightened(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store.init_db(url)
    for suffix in ("", "-wal", "-shm"):
        path = tmp_path / f"old.db{suffix}"
        if path.exists():
            path.chmod(0o644)
    store.get_engine(url).dispose()
    assert {p.name: mode(p) for p in tmp_path.iterdir()} == {
        p.name: 0o600 for p in tmp_path.iterdir()}


def test_the_default_data_folder_is_private(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SJR_DATABASE_URL", raising=False)
    with umask(0o022):
        url = store.database_url(None)
        store.init_db(url)
    assert mode(tmp_path / "data") == 0o700
    assert mode(tmp_path / "data" / "sjr.db") == 0o600
