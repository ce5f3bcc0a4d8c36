"""`sjr actions import` and `sjr themes` name a file that is not there as `sjr import` does.

Before (2026-12-07): ``sjr actions: nothere.csv: no such file (nothere.csv)`` (the name twice,
not the folder it was read against), ``sjr themes: nothere.yaml: file not found``. Now the one
line of ``common.require_file``: the name as typed, where sjr looked (the folder the command
was typed in, not the store's), and what was not done. Hand-written expectations.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sjrlib.cli import app


def _cli(argv, user, folder):
    env = {"SJR_USER": user, "JUPYTERHUB_USER": None, "SJR_DATABASE_URL": None,
           "SJR_KEY_FILE": None, "SJR_CONFIG": str(folder / "no-identity-file"),
           "SJR_THEMES_MODEL": str(folder / "model-never-written")}
    return CliRunner().invoke(app, [str(a) for a in argv], env=env)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("missing-files-store")
    url = f"sqlite:///{folder / 'sjr.db'}"
    made = _cli(["demo-data", "--db", url, "--organisations", "2", "--years", "1",
                 "--seed", "8"], None, folder)
    assert made.exit_code == 0, made.output
    return url


@pytest.mark.parametrize(("argv", "user", "line"), [
    (["actions", "import", "nothere.csv", "--db", "{store}"], "demo-lead",
     "nothere.csv: no such file (looked for {folder}/nothere.csv); nothing was imported"),
    (["actions", "import", "in", "--db", "{store}"], "demo-lead",
     "in: a folder, not a register file (looked for {folder}/in); nothing was imported"),
    (["themes", "codebook", "check", "in/book.yaml"], "demo-programme",
     "in/book.yaml: no such file (looked for {folder}/in/book.yaml); nothing was checked"),
    (["themes", "codebook", "import", "book.csv", "--db", "{store}"], "demo-programme",
     "book.csv: no such file (looked for {folder}/book.csv); nothing was stored"),
    (["themes", "codebook", "list", "--file", "book.yaml"], "demo-programme",
     "book.yaml: no such file (looked for {folder}/book.yaml); nothing was read"),
    (["themes", "train", "--codes", "coded.csv"], "demo-programme",
     "coded.csv: no such file (looked for {folder}/coded.csv); no model was trained"),
    (["themes", "train", "--codebook", "in/book.yaml"], "demo-programme",
     "in/book.yaml: no such file (looked for {folder}/in/book.yaml); no model was trained"),
])
def test_a_file_not_there_is_one_line_naming_where_sjr_looked(store, tmp_path, monkeypatch,
                                                              argv, user, line):
    typed_in = tmp_path / "elsewhere"  # not the store's folder: names are read against this
    (typed_in / "in").mkdir(parents=True)
    monkeypatch.chdir(typed_in)
    result = _cli([a.format(store=store) for a in argv], user, typed_in)
    assert result.exit_code == 1, result.output
    lines = [text for text in result.output.splitlines() if text.strip()]
    assert lines == [line.format(folder=typed_in)]
    assert not (typed_in / "model-never-written").exists()


def test_the_line_is_the_one_sjr_import_prints(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    imported = _cli(["import", "reviews", "nothere.csv", "--db", store], "demo-admin", tmp_path)
    actions = _cli(["actions", "import", "nothere.csv", "--db", store], "demo-lead", tmp_path)
    assert imported.exit_code == actions.exit_code == 1
    assert imported.output == actions.output
