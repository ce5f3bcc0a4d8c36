"""A command pointed at a SQLite store that does not exist says so, and creates nothing.

The README walkthrough found that `sjr` typed outside the project folder silently made an empty
`data/sjr.db` there and then refused with "'demo-admin' is not a registered user", which blamed
the identity for a missing store. Only the commands that make stores (init-db, demo-data,
restore) may create one.
"""

from __future__ import annotations

import pytest

from sjrlib.cli import CREATES_STORE, main, missing_store


def _run(argv: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as done:
        main(argv)
    return int(done.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["audit", "verify"], ["summary"], ["users", "list"], ["training", "round", "list"],
    ["report", "all", "--out", "reports"], ["export", "reviews", "out.csv"],
])
def test_the_default_store_missing_here_is_named_and_not_created(tmp_path, monkeypatch, capsys,
                                                                 argv):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SJR_DATABASE_URL", raising=False)
    monkeypatch.setenv("SJR_USER", "demo-admin")
    code, err = _run(argv, capsys)
    assert code == 2
    assert f"no store at {tmp_path / 'data' / 'sjr.db'}" in err
    assert "the default" in err and "sjr init-db" in err and "not a registered user" not in err
    assert list(tmp_path.iterdir()) == []  # no data/ folder, no file


def test_a_missing_store_named_by_db_or_the_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, err = _run(["summary", "--db", "stores/x.db"], capsys)
    assert code == 2 and f"no store at {tmp_path / 'stores' / 'x.db'} (--db)" in err
    monkeypatch.setenv("SJR_DATABASE_URL", f"sqlite:///{tmp_path / 'y.db'}")
    code, err = _run(["users", "list"], capsys)
    assert code == 2 and f"no store at {tmp_path / 'y.db'} (SJR_DATABASE_URL)" in err
    assert list(tmp_path.iterdir()) == []


def test_commands_that_make_stores_or_take_none_are_not_stopped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SJR_DATABASE_URL", raising=False)
    assert {names[0] for names in CREATES_STORE} == {"init-db", "demo-data", "restore"}
    for argv in (["init-db"], ["demo-data"], ["restore", "backup.sjrbak"], ["check-text", "x"],
                 ["disclosure", "check", "reports"], ["summary", "--help"],
                 ["summary", "--db", "postgresql://nobody@127.0.0.1/none"]):
        assert missing_store(argv) is None, argv
    code = None
    with pytest.raises(SystemExit) as done:
        main(["init-db"])
    code = done.value.code
    assert code in (0, None) and (tmp_path / "data" / "sjr.db").exists()
    assert missing_store(["summary"]) is None  # now it exists


def test_a_tilde_in_a_url_is_checked_as_sqlite_reads_it(tmp_path, monkeypatch):
    """SQLite does not expand ``~``: ``sqlite:///~/sjr.db`` is a folder named ``~`` in the
    folder sjr runs in, so a store in the home folder must not pass the check for it."""
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    (home / "data" / "sjr.db").write_bytes(b"")
    monkeypatch.setenv("HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    message = missing_store(["summary", "--db", "sqlite:///~/data/sjr.db"], cwd=str(work))
    assert message is not None and str(work / "~" / "data" / "sjr.db") in message


def test_an_empty_file_is_not_taken_for_a_store(tmp_path, monkeypatch, capsys):
    """SQLite opens a 0-byte file as a new database: `sjr summary` on a store emptied by
    mistake (a failed copy, `> sjr.db`) created every table in it and then refused with "not a
    registered user", blaming the person for an empty store. The file is left as it was."""
    from data_access.store import StoreError, existing_store_url

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SJR_DATABASE_URL", raising=False)
    monkeypatch.setenv("SJR_USER", "demo-admin")
    empty = tmp_path / "s.db"
    empty.write_bytes(b"")
    for argv in (["summary", "--db", "s.db"], ["audit", "verify", "--db", "s.db"]):
        code, err = _run(argv, capsys)
        assert code == 2, argv
        assert f"no store at {empty} (--db: the file is empty, 0 bytes)" in err, err
        assert "not a registered user" not in err
    with pytest.raises(StoreError, match=r"the file is empty, 0 bytes\); nothing was created"):
        existing_store_url("sqlite:///s.db")
    assert empty.stat().st_size == 0 and [p.name for p in tmp_path.iterdir()] == ["s.db"]
    with pytest.raises(SystemExit) as done:  # init-db makes it a store, as it should
        main(["init-db", "--db", "s.db"])
    assert done.value.code in (0, None) and empty.stat().st_size > 0
    code, err = _run(["summary", "--db", "s.db"], capsys)
    assert "no store at" not in err
