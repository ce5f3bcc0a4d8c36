"""Two ``sjr demo-data`` runs in one folder do not write ``data/synthetic`` over each other.

Both write the exchange files to ``data/synthetic/`` of the folder they run in and import them,
then store the themes and actions of the data they generated (kept in memory). A second run
in the same folder (two terminals, or the test suite's parallel workers, which all run in the
checkout) had written its files between the first's writing and reading them: the first
imported the other's reviews and failed at its own actions' links to its reviews (a foreign
key), found in a full test run on 2026-12-07. The run now holds ``data/synthetic/.lock``
while it writes and imports.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import text

from data_access import store
from sjrlib.commands.data import _folder_lock
from sjrlib.synthetic import generate

SJR = [sys.executable, "-m", "sjrlib.cli"]


def _review_ids(url: str) -> set[str]:
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(text("SELECT review_id FROM reviews")).scalars())
    finally:
        engine.dispose()


def test_two_runs_in_one_folder_each_store_their_own_data(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("SJR_USER", "JUPYTERHUB_USER", "SJR_DATABASE_URL", "SJR_KEY_FILE")}
    env["SJR_CONFIG"] = str(tmp_path / "no-identity-file")
    runs = {}
    for seed in (5, 6):  # started together, in the same working folder
        url = f"sqlite:///{tmp_path / f'store{seed}.db'}"
        runs[seed] = (url, subprocess.Popen(
            [*SJR, "demo-data", "--db", url, "--organisations", "2", "--years", "1",
             "--seed", str(seed)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True))
    for seed, (url, run) in runs.items():
        out, _ = run.communicate(timeout=600)
        assert run.returncode == 0, out
        expected = set(generate(n_organisations=2, years=1, seed=seed).reviews["review_id"])
        assert _review_ids(url) == expected, seed
    assert sorted(p.name for p in (tmp_path / "data" / "synthetic").iterdir()) == [
        ".lock", "deaths.csv", "organisations.csv", "reviews.csv"]


def test_the_folder_lock_is_held_until_released(tmp_path):
    inside = threading.Event()
    release = threading.Event()
    second_in = threading.Event()

    def first():
        with _folder_lock(tmp_path):
            inside.set()
            release.wait(60)

    def second():
        inside.wait(60)
        with _folder_lock(tmp_path):
            second_in.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    assert inside.wait(60)
    assert not second_in.wait(0.5)  # the first still holds it
    release.set()
    assert second_in.wait(60)  # and the second gets it once released
    for t in threads:
        t.join(60)
    assert Path(tmp_path / ".lock").exists()
