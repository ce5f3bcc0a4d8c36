"""``sjr serve --notebooks FOLDER`` with the folder typed relative to where sjr runs.

Before: the check that the dashboards exist read ``nbs`` against the folder sjr ran in, but
Voila was then started inside that folder and given ``nbs`` again, so it looked for
``nbs/nbs``: the server never started, and the person got Voila's traceback ("ValueError:
argument is neither a file nor a directory: 'nbs'") and nothing else. Found walking through
the README from a folder other than the repository's. A real ``sjr serve`` (no pre-heating),
started in a scratch folder, must listen and answer; then Ctrl-C stops it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sjrlib.dashboards.serve import DASHBOARDS, default_notebooks_dir

pytestmark = pytest.mark.slow


def test_a_notebooks_folder_typed_relative_to_the_working_folder_is_served(tmp_path,
                                                                           small_data):
    from dashboard_store import populate

    folder = tmp_path / "nbs"
    folder.mkdir()
    for name in DASHBOARDS:
        shutil.copyfile(default_notebooks_dir() / name, folder / name)
    populate(f"sqlite:///{tmp_path / 'sjr.db'}", small_data)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items()
           if k not in ("JUPYTERHUB_USER", "SJR_DATABASE_URL")}
    home = tmp_path / "home"
    env.update(SJR_USER="someone", SJR_SERVE_TOKEN="r" * 40, MPLBACKEND="Agg",
               JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), IPYTHONDIR=str(home / "ipython"))
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("sjr")), "serve", "--port", str(port),
             "--db", "sqlite:///sjr.db", "--notebooks", "nbs", "--no-preheat"],
            env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
        try:
            deadline = time.monotonic() + 180  # waiting for start-up, not a timed assertion
            answered = None
            while answered is None:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/?token={'r' * 40}",
                                                timeout=5) as reply:
                        answered = reply.read().decode()
                except urllib.error.HTTPError as exc:
                    answered = f"HTTP {exc.code}"
                except OSError:
                    time.sleep(0.5)
            assert all(name in answered for name in DASHBOARDS), answered[:2000]
            os.killpg(server.pid, signal.SIGINT)
            assert server.wait(timeout=60) == 0, log.read_text()
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=30)
    assert "Traceback" not in log.read_text()
