"""The administrators' commands that read review data are audited like every other read."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from data_access import audit, store
from data_access.session import bootstrap_administrator
from sjrlib.cli import app


def _entries(url):
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            return audit.entries(conn), audit.verify(conn)
    finally:
        engine.dispose()


def test_export_and_summary_write_audit_entries(populated_db_url, tmp_path, monkeypatch):
    bootstrap_administrator("admin-at-shell", populated_db_url)
    monkeypatch.setenv("SJR_USER", "admin-at-shell")
    runner = CliRunner()
    before, _ = _entries(populated_db_url)

    out = tmp_path / "reviews.csv"
    result = runner.invoke(app, ["export", "reviews", str(out), "--db", populated_db_url])
    assert result.exit_code == 0, result.output
    exported = len(pd.read_csv(out, dtype=str))
    result = runner.invoke(app, ["summary", "--db", populated_db_url])
    assert result.exit_code == 0, result.output

    after, verified = _entries(populated_db_url)
    new = after.iloc[len(before):]
    new = new[new["action"] != "session.open"]
    assert new["action"].tolist() == ["export.reviews", "summary"]
    assert set(new["username"]) == {"admin-at-shell"}
    assert set(new["role"]) == {"administrator"}
    assert set(new["tool"]) == {"sjr export reviews", "sjr summary"}
    assert int(new["rows"].iloc[0]) == exported > 0
    assert verified.ok


def test_audit_show_escapes_control_characters(populated_db_url, monkeypatch):
    """An insider audit (2026-12-06) wrote an entry whose action began with terminal escape
    sequences (a person's own role may write the action text on PostgreSQL): in the
    administrator's terminal it overwrote its own line to read as an administrator's
    ``users.disable``. The listing now shows the escapes as text."""
    bootstrap_administrator("admin-at-shell", populated_db_url)
    monkeypatch.setenv("SJR_USER", "admin-at-shell")
    engine = store.get_engine(populated_db_url)
    try:
        with engine.begin() as conn:
            audit.append(conn, username="someone", role="reviewer",
                         action="\x1b[1G\x1b[37G     demo-admin     administrator   users.disable",
                         tool="cli\x07")
    finally:
        engine.dispose()
    result = CliRunner().invoke(app, ["audit", "show", "--db", populated_db_url])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    line = next(x for x in result.output.splitlines() if "users.disable" in x)
    assert "someone" in line and "\\x1b[1G\\x1b[37G" in line and "cli\\x07" in line
