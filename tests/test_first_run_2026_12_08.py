"""The README's first run, as typed (walk-through of 2026-12-08 after a clean `make demo`).

A path a person types is read against the folder they typed it in; a folder that does not
exist there is a slip to put right, said in one line with the way out, not a "refusal"
(which reads like a permission matter). The README's command-line list names every command
`sjr --help` offers, and its backup block runs as written on the demo store.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sjrlib.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"


def _cli(argv, user, folder):
    env = {"SJR_USER": user, "JUPYTERHUB_USER": None, "SJR_DATABASE_URL": None,
           "SJR_KEY_FILE": None, "SJR_CONFIG": str(folder / "no-identity-file")}
    return CliRunner().invoke(app, [str(a) for a in argv], env=env)


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    """A folder holding a small demo store at data/sjr.db, as `make demo` leaves one."""
    folder = tmp_path_factory.mktemp("first-run")
    (folder / "data").mkdir(mode=0o700)
    result = _cli(["demo-data", "--db", f"sqlite:///{folder / 'data' / 'sjr.db'}",
                   "--organisations", "2", "--years", "1", "--seed", "5"], None, folder)
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture()
def in_demo_folder(demo_folder, monkeypatch):
    monkeypatch.chdir(demo_folder)
    return demo_folder


def _one_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def test_a_backup_into_a_folder_not_there_says_so_and_how(in_demo_folder):
    result = _cli(["backup", "nowhere/b.sjrbackup", "--db", "sqlite:///data/sjr.db"],
                  "demo-admin", in_demo_folder)
    assert result.exit_code == 1
    assert _one_line(result) == ("nowhere/b.sjrbackup: no such folder nowhere; create it first "
                                 "(mkdir -m 700 nowhere); nothing was written")
    assert not (in_demo_folder / "nowhere").exists()


def test_a_restore_into_a_folder_not_there_says_so_and_how(in_demo_folder, tmp_path):
    backup = tmp_path / "b.sjrbackup"
    made = _cli(["backup", backup, "--db", "sqlite:///data/sjr.db"], "demo-admin",
                in_demo_folder)
    assert made.exit_code == 0, made.output
    result = _cli(["restore", backup, "--db", "sqlite:///gone/sjr.db"], "demo-admin",
                  in_demo_folder)
    assert result.exit_code == 1
    assert _one_line(result) == ("gone/sjr.db: no such folder gone; create it first "
                                 "(mkdir -m 700 gone); nothing was restored")
    assert not (in_demo_folder / "gone").exists()


def test_an_export_into_a_folder_not_there_says_so_and_how(in_demo_folder):
    result = _cli(["export", "reviews", "nofolder/mine.csv"], "demo-lead", in_demo_folder)
    assert result.exit_code == 1
    assert _one_line(result) == ("nofolder/mine.csv: no such folder nofolder; create it first "
                                 "(mkdir -m 700 nofolder); nothing was written")


def test_a_symbolic_link_is_still_refused(in_demo_folder):
    link = in_demo_folder / "link.csv"
    link.symlink_to(in_demo_folder / "elsewhere.csv")
    try:
        result = _cli(["export", "reviews", "link.csv"], "demo-lead", in_demo_folder)
    finally:
        link.unlink()
    assert result.exit_code == 1
    assert _one_line(result).startswith("refused: link.csv: is a symbolic link")


def test_the_readme_backup_block_runs_as_written_on_the_demo_store(in_demo_folder):
    block = README.read_text(encoding="utf-8").split("## Backup and restore", 1)[1]
    block = block.split("```bash", 1)[1].split("# PostgreSQL", 1)[0]
    lines = [line.strip() for line in block.splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[0] == "mkdir -p -m 700 backups restored"
    for folder in ("backups", "restored"):
        (in_demo_folder / folder).mkdir(mode=0o700)
    for line in lines[1:]:
        # "SJR_USER=admin sjr backup ..." on the demo store: SJR_USER=demo-admin (the README)
        user, command = re.fullmatch(r"SJR_USER=(\S+) sjr (.*)", line).groups()
        assert user == "admin"
        result = _cli(command.split(), "demo-admin", in_demo_folder)
        assert result.exit_code == 0, (line, result.output)
    assert (in_demo_folder / "restored" / "sjr.db").is_file()
    verified = _cli(["audit", "verify", "--db", "sqlite:///restored/sjr.db"], "demo-admin",
                    in_demo_folder)
    assert verified.exit_code == 0 and "audit log intact" in verified.output


def test_the_readme_command_line_names_every_command():
    text = README.read_text(encoding="utf-8").split("## The command line", 1)[1]
    block = text.split("```sh", 1)[1].split("```", 1)[0]
    named = set(re.findall(r"(?:^|[;|] ?)sjr ([a-z-]+)", block, flags=re.M))
    named |= {word for line in re.findall(r"^sjr ([a-z|-]+)", block, flags=re.M)
              for word in line.split("|")}
    offered = {command.name for command in app.registered_commands}
    offered |= {group.name for group in app.registered_groups}
    assert offered - named == set()
    assert "`.venv/bin/sjr`" in text.split("```", 2)[2][:400]


@pytest.mark.parametrize(("argv", "line"), [
    (["import", "reviews", "nothere.csv"],
     "nothere.csv: no such file (looked for {folder}/nothere.csv); nothing was imported"),
    (["import", "reviews", "data"],
     "data: a folder, not a file to import (looked for {folder}/data); nothing was imported"),
    (["import", "reviews", "mine.csv", "--mapping", "map.yaml"],
     "map.yaml: no such file (looked for {folder}/map.yaml); nothing was imported"),
    (["restore", "backups/none.sjrbackup", "--db", "sqlite:///never/sjr.db"],
     "backups/none.sjrbackup: no such file (looked for {folder}/backups/none.sjrbackup); "
     "nothing was restored"),
])
def test_a_file_not_there_is_one_line_naming_where_sjr_looked(in_demo_folder, argv, line):
    """Before: Typer's usage box ('Invalid value for 'file': file 'nothere.csv' does not
    exist.', seven lines, exit 2), not saying which folder the name was read against."""
    (in_demo_folder / "mine.csv").write_text("review_id\n", encoding="utf-8")
    result = _cli(argv, "demo-admin", in_demo_folder)
    assert result.exit_code == 1
    assert _one_line(result) == line.format(folder=in_demo_folder)
    assert not (in_demo_folder / "never").exists()
