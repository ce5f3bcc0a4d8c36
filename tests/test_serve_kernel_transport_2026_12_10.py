"""The dashboards' kernels listen on no TCP port: another account on the machine cannot read
their outputs.

Before: Voila started each kernel on TCP ports of 127.0.0.1, and the kernel warned so ("Kernel
is running over TCP without encryption"). A kernel's IOPub port is a ZeroMQ PUB socket: any
process on the machine that subscribes gets every message the kernel sends, the dashboard's
outputs included, and the HMAC signature does not stop it from reading (tried 2026-12-10: a
subscriber given only the port received 183 messages of the exploration dashboard, its widget
outputs among them). ``sjr serve`` now starts kernels on Unix sockets beside their connection
files, in Voila's own folder (mode 0700). A real ``sjr serve`` pre-heats the dashboards'
kernels; a ZeroMQ subscriber then connects to every TCP port those kernels listen on (what a
port scan finds), the exploration page is rendered, and the subscriber must receive nothing
(on the old transport it received the page's outputs). The kernels' connection files say
``ipc``, and (as root) a process of another account can neither connect to an IOPub socket
nor list the folder, where the server's own account can. (ipykernel still listens on one TCP
port of 127.0.0.1: a PULL socket for output of forked subprocesses, which sends nothing and
takes only messages carrying a random key.)
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

TOKEN = "k" * 40
NOBODY = 65534


def _socket_inodes(pid: int) -> set[str]:
    """The sockets ``pid`` holds open; none once it has exited (a process found by its command
    line may end before its descriptors are read: seen once in CI, ``/proc/<pid>/fd`` gone)."""
    found = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except FileNotFoundError:
        return found
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        match = re.fullmatch(r"socket:\[(\d+)\]", target)
        if match:
            found.add(match.group(1))
    return found


def _kernel_pids(connection_file: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(connection_file).encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _connect_as(uid: int, path: str) -> str:
    """Connect to the Unix socket ``path`` from a child process running as ``uid``; returns
    "connected" or the error's name."""
    code = (
        "import os, socket, sys\n"
        f"os.setgroups([]); os.setgid({uid}); os.setuid({uid})\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        "    s.connect(sys.argv[1]); print('connected')\n"
        "except OSError as e:\n"
        "    print(type(e).__name__)\n"
        "try:\n"
        "    os.listdir(os.path.dirname(sys.argv[1])); print('listed')\n"
        "except OSError as e:\n"
        "    print(type(e).__name__)\n")
    return subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True,
                          check=True).stdout.split()


def _kernel_tcp_ports(pids: list[int]) -> list[int]:
    listening: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                listening[fields[9]] = int(fields[1].rsplit(":", 1)[1], 16)
    return sorted({listening[i] for pid in pids for i in _socket_inodes(pid) if i in listening})


def test_the_dashboards_kernels_use_unix_sockets_only_their_account_reaches(tmp_path,
                                                                             small_data):
    import zmq
    from dashboard_store import populate

    populate(f"sqlite:///{tmp_path / 'sjr.db'}", small_data)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items()
           if k not in ("JUPYTERHUB_USER", "SJR_DATABASE_URL")}
    env.update(SJR_USER="someone", SJR_SERVE_TOKEN=TOKEN, MPLBACKEND="Agg",
               JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), IPYTHONDIR=str(home / "ipython"))
    log = tmp_path / "serve.log"
    context = zmq.Context()
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("sjr")), "serve", "--port", str(port),
             "--db", f"sqlite:///{tmp_path / 'sjr.db'}"],
            env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
        try:
            deadline = time.monotonic() + 240  # waiting for start-up, not a timed assertion
            while "Kernel pool of explore.ipynb is filled" not in log.read_text():
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
            where = re.search(r"Storing connection files in (\S+?)\.?$", log.read_text(), re.M)
            assert where, log.read_text()
            folder = Path(where.group(1))
            assert folder.stat().st_mode & 0o077 == 0, oct(folder.stat().st_mode)
            files = sorted(folder.glob("kernel-*.json"))
            assert files, list(folder.iterdir())
            pids = [pid for f in files for pid in _kernel_pids(f)]
            assert pids, "no kernel process found"
            # what any account on the machine can do: subscribe to every port they listen on
            subscribers = []
            for tcp_port in _kernel_tcp_ports(pids):
                sub = context.socket(zmq.SUB)
                sub.setsockopt(zmq.SUBSCRIBE, b"")
                sub.setsockopt(zmq.LINGER, 0)
                sub.connect(f"tcp://127.0.0.1:{tcp_port}")
                subscribers.append(sub)
            time.sleep(1)  # the subscriptions reach the publishers
            page = f"http://127.0.0.1:{port}/voila/render/explore.ipynb?token={TOKEN}"
            with urllib.request.urlopen(page, timeout=120) as answer:
                assert answer.status == 200
            received = 0
            poller = zmq.Poller()
            for sub in subscribers:
                poller.register(sub, zmq.POLLIN)
            until = time.monotonic() + 5
            while time.monotonic() < until:
                for sub, _ in poller.poll(200):
                    sub.recv_multipart()
                    received += 1
            assert received == 0, f"{received} messages read from the kernels' TCP ports"
            assert "running over TCP without encryption" not in log.read_text()
            for file in files:
                info = json.loads(file.read_text())
                assert info["transport"] == "ipc", info
            info = json.loads(files[0].read_text())
            iopub = f"{info['ip']}-{info['iopub_port']}"
            assert Path(iopub).is_socket() and Path(iopub).parent == folder
            assert _connect_as(os.geteuid(), iopub) == ["connected", "listed"]
            if os.geteuid() == 0:
                assert _connect_as(NOBODY, iopub) == ["PermissionError", "PermissionError"]
        finally:
            context.destroy(linger=0)
            os.killpg(server.pid, signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
