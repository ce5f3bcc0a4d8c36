"""``make lab``: the researcher's JupyterLab from the README starts, as root too, on the store by
its full path.

Before: step 5 of the README typed ``.venv/bin/jupyter lab notebooks/researcher_quickstart.ipynb``,
which as root (a container, a CI machine) stops at once: "Running as root is not recommended.
Use --allow-root to bypass." Found walking the README as root. ``make lab`` passes
``--allow-root`` only when run as root, gives the demo researcher's identity, and makes a
relative ``sqlite:///`` store absolute (the notebook runs in ``notebooks/``), and its kernels'
channels are encrypted with keys of their own. The test runs the real ``make lab`` on a small
demo store, waits for JupyterLab to answer, opens the notebook's contents through its API,
starts a kernel and runs a line in it through the websocket, as the browser does (its
connection file holds CurveZMQ keys), and reads the server process's environment.
"""

from __future__ import annotations

import json
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

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("make") is None, reason="no make")]

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TOKEN = "l" * 40


def _make(*args: str, **kwargs) -> list[str]:
    stamp = BIN.parent / ".installed"
    extra = [f"BIN={BIN}"] + ([f"STAMP={stamp}", "-o", str(stamp)] if stamp.exists() else [])
    return ["make", "--no-print-directory", "-C", str(ROOT), *extra, *args]


def _run_in_kernel(port: int, kernel: str, code: str) -> str:
    """``code`` run in ``kernel`` through JupyterLab's websocket, as the browser runs a cell;
    what it printed."""
    import asyncio
    import uuid

    from tornado.websocket import websocket_connect

    async def run() -> str:
        ws = await websocket_connect(
            f"ws://127.0.0.1:{port}/api/kernels/{kernel}/channels?token={TOKEN}")
        msg_id = uuid.uuid4().hex
        await ws.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                       "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False}}))
        printed = ""
        while True:
            message = json.loads(await ws.read_message())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if message["msg_type"] == "stream":
                printed += message["content"]["text"]
            # the kernel's outputs precede its idle status on IOPub; the execute_reply comes on
            # the shell channel and may arrive before them
            if message["msg_type"] == "status" \
                    and message["content"]["execution_state"] == "idle":
                ws.close()
                return printed

    # in a thread of its own: a worker that ran Playwright's sync API before has an event loop
    # running in this one
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(run(), 120)).result()


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _session_processes(sid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == sid:
                    found.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                continue
    return found


def test_the_dry_run_gives_the_store_by_its_full_path():
    """A relative store URL is made absolute against the repository; absolute ones and
    PostgreSQL URLs are passed as typed."""
    for db, expected in (("sqlite:///data/sjr.db", f"sqlite:///{ROOT}/data/sjr.db"),
                         ("sqlite:////srv/sjr/sjr.db", "sqlite:////srv/sjr/sjr.db"),
                         ("postgresql+psycopg://u@h/sjr", "postgresql+psycopg://u@h/sjr")):
        out = subprocess.run(_make("-n", "lab", f"DB={db}"), capture_output=True, text=True,
                             check=True).stdout
        assert f"SJR_DATABASE_URL='{expected}'" in out, out
        assert "researcher_quickstart.ipynb" in out and "demo-researcher" in out


def test_make_lab_starts_jupyterlab_on_the_researcher_notebook(tmp_path):
    store = tmp_path / "demo.db"
    env = {k: v for k, v in os.environ.items()
           if k not in ("JUPYTERHUB_USER", "SJR_DATABASE_URL", "SJR_USER")}
    subprocess.run([str(BIN / "sjr"), "demo-data", "--db", f"sqlite:///{store}",
                    "--organisations", "2", "--years", "1"], cwd=tmp_path, env=env,
                   capture_output=True, text=True, check=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = tmp_path / "home"
    env.update(JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), IPYTHONDIR=str(home / "ipython"))
    args = f"--no-browser --port={port} --IdentityProvider.token={TOKEN}"
    log = tmp_path / "lab.log"
    with log.open("w") as out:
        lab = subprocess.Popen(_make("lab", f"DB=sqlite:///{store}", f"LAB_ARGS={args}"),
                               env=env, stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 180  # waiting for start-up, not a timed assertion
            status = None
            while status is None:
                assert lab.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                try:
                    with urllib.request.urlopen(f"{base}/api/status?token={TOKEN}",
                                                timeout=5) as answer:
                        status = json.load(answer)
                except (urllib.error.URLError, ConnectionError):
                    time.sleep(0.5)
            # JupyterLab serves the folder of the notebook it was given: notebooks/
            with urllib.request.urlopen(
                    f"{base}/api/contents/researcher_quickstart.ipynb?content=0&token={TOKEN}",
                    timeout=10) as answer:
                assert json.load(answer)["type"] == "notebook"
            # a kernel starts, its channels encrypted with keys of its own (CurveZMQ: no
            # other account reads its IOPub port), and the server hears from it
            request = urllib.request.Request(f"{base}/api/kernels", data=b"{}", method="POST",
                                             headers={"Authorization": f"token {TOKEN}"})
            with urllib.request.urlopen(request, timeout=30) as answer:
                kernel = json.load(answer)["id"]
            assert _run_in_kernel(port, kernel, "print(6 * 7)") == "42\n"
            info = json.loads((home / "runtime" / f"kernel-{kernel}.json").read_text())
            assert info["curve_publickey"] and info["transport"] == "tcp"
            assert "running over TCP without encryption" not in log.read_text()
            servers = [pid for pid in _session_processes(lab.pid)
                       if b"jupyter-lab" in Path(f"/proc/{pid}/cmdline").read_bytes()
                       or b"jupyter lab" in Path(f"/proc/{pid}/cmdline").read_bytes()]
            assert servers, log.read_text()
            seen = _environ(servers[-1])
            assert seen["SJR_DATABASE_URL"] == f"sqlite:///{store}"
            assert seen["SJR_USER"] == "demo-researcher"
            if os.geteuid() == 0:
                assert "--allow-root" in Path(f"/proc/{servers[-1]}/cmdline").read_text()
        finally:
            os.killpg(lab.pid, signal.SIGINT)
            try:
                lab.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(lab.pid, signal.SIGKILL)
                lab.wait()
    assert "Running as root is not recommended" not in log.read_text()
