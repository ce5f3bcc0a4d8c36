"""A training file that is not there is said as ``sjr import`` says it (helper 78).

Before: ``sjr training: nothere.csv: no such file (nothere.csv)``, the name twice and not the
folder it was read against (``sjr training cases import``: ``nothere.yaml: file not found``).
Now one line from the same function as ``sjr import`` (``common.require_file``): the name, where
sjr looked (the folder it was typed in, not the store's), and that nothing was imported.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sjrlib.cli import app


def _cli(argv, user, folder):
    env = {"SJR_USER": user, "JUPYTERHUB_USER": None, "SJR_DATABASE_URL": None,
           "SJR_KEY_FILE": None, "SJR_CONFIG": str(folder / "no-identity-file")}
    return CliRunner().invoke(app, [str(a) for a in argv], env=env)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A small demo store in a folder of its own."""
    folder = tmp_path_factory.mktemp("h78-store")
    url = f"sqlite:///{folder / 'sjr.db'}"
    made = _cli(["demo-data", "--db", url, "--organisations", "2", "--years", "1",
                 "--seed", "5"], None, folder)
    assert made.exit_code == 0, made.output
    return url


@pytest.mark.parametrize(("argv", "user", "line"), [
    (["training", "trainers", "import", "nothere.csv"], "demo-programme",
     "nothere.csv: no such file (looked for {folder}/nothere.csv); nothing was imported"),
    (["training", "records", "import", "nothere.csv"], "demo-lead",
     "nothere.csv: no such file (looked for {folder}/nothere.csv); nothing was imported"),
    (["training", "cases", "import", "in/nothere.yaml"], "demo-programme",
     "in/nothere.yaml: no such file (looked for {folder}/in/nothere.yaml); "
     "nothing was imported"),
    (["training", "trainers", "import", "in"], "demo-programme",
     "in: a folder, not a file to import (looked for {folder}/in); nothing was imported"),
])
def test_a_training_file_not_there_is_the_line_sjr_import_prints(store, tmp_path, monkeypatch,
                                                                  argv, user, line):
    typed_in = tmp_path / "elsewhere"  # not the store's folder: the name is read against this
    (typed_in / "in").mkdir(parents=True)
    monkeypatch.chdir(typed_in)
    result = _cli([*argv, "--db", store], user, typed_in)
    assert result.exit_code == 1
    lines = [text for text in result.output.splitlines() if text.strip()]
    assert lines == [line.format(folder=typed_in)]


def test_it_is_the_very_line_of_sjr_import(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    imported = _cli(["import", "reviews", "nothere.csv", "--db", store], "demo-admin", tmp_path)
    training = _cli(["training", "trainers", "import", "nothere.csv", "--db", store],
                    "demo-programme", tmp_path)
    assert (imported.exit_code, imported.output) == (training.exit_code, training.output)
