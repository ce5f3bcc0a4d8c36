"""Run a server so that it, and every process it starts, stops with the command (``sjr serve``).

Voila starts kernels in sessions of their own (``jupyter_client`` launches each with
``start_new_session``), so signalling a process group does not reach them, and a Voila killed
outright leaves them running. :func:`run_supervised` therefore:

- makes this process a *child subreaper* (Linux ``PR_SET_CHILD_SUBREAPER``): a kernel whose Voila
  has gone is re-parented to this process, not to init, so it can still be found and stopped;
- starts the server in its own session, with ``PR_SET_PDEATHSIG`` so that it gets SIGTERM if this
  process is killed outright (SIGKILL cannot be caught; the server then stops its kernels);
- on SIGTERM, SIGINT or SIGHUP (or when the server exits by itself) asks the server to stop
  (SIGTERM: Voila stops its loop and shuts every kernel down), waits, kills it if it does not,
  then terminates and reaps whatever it started that is still running.

On systems without ``prctl`` the last step works from a snapshot of the server's descendants
taken just before it is asked to stop.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence

import psutil

__all__ = ["KILL_SECONDS", "STOP_SECONDS", "run_supervised", "stop_process_tree"]

STOP_SECONDS = 30
"""How long the server gets to stop its kernels after SIGTERM before it is killed."""
KILL_SECONDS = 10
"""How long a left-over process gets after SIGTERM before SIGKILL."""

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:  # pragma: no cover - every Linux has a C library
        return None


class _Stop(Exception):
    """A stop signal arrived while waiting for the server."""


def _raise_stop(signum, frame):
    raise _Stop(signum)


def _die_with(parent: int, libc):
    """``preexec_fn`` for the server: SIGTERM when ``parent`` dies (even by SIGKILL)."""

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return preexec


def stop_process_tree(process: subprocess.Popen, *, others: Sequence[psutil.Process] = (),
                      stop_seconds: float = STOP_SECONDS,
                      kill_seconds: float = KILL_SECONDS) -> None:
    """Ask ``process`` to stop (SIGTERM), kill it after ``stop_seconds``, then terminate (and
    after ``kill_seconds`` kill) every descendant of it still running, and ``others``."""
    left: list[psutil.Process] = []
    if process.poll() is None:  # alive (not reaped), so its pid is still its own
        with contextlib.suppress(psutil.NoSuchProcess):
            left = psutil.Process(process.pid).children(recursive=True)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(stop_seconds)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.kill()
            process.wait()
    seen = {p.pid for p in left}
    left += [p for p in others if p.pid not in seen]
    for proc in left:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(left, timeout=kill_seconds)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=kill_seconds)


def run_supervised(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                   cwd: str | None = None) -> int:
    """Run ``argv`` in the foreground until it exits or this process gets SIGTERM, SIGINT or
    SIGHUP; then stop it and everything it started (see the module docstring).

    Returns
    -------
    int
        The server's exit code, or 0 when it was stopped by a signal.
    """
    libc = _libc()
    me = psutil.Process()
    if libc is not None:
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1)
    before = {p.pid for p in me.children(recursive=True)}
    main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, _raise_stop) for s in _STOP_SIGNALS} if main else {}
    process = None
    code = 0
    try:
        process = subprocess.Popen(
            list(argv), env=None if env is None else dict(env), cwd=cwd,
            start_new_session=True,
            preexec_fn=None if libc is None else _die_with(os.getpid(), libc),
        )
        code = process.wait()
    except _Stop:
        code = 0
    finally:
        for s in previous:  # a second Ctrl-C must not interrupt the clean-up
            signal.signal(s, signal.SIG_IGN)
        try:
            if process is not None:
                # orphans re-parented to this subreaper while the server ran or stopped
                orphans = [p for p in me.children(recursive=True)
                           if p.pid not in before and p.pid != process.pid]
                stop_process_tree(process, others=orphans)
                late = [p for p in me.children(recursive=True) if p.pid not in before]
                if late:  # re-parented here while the server was stopping
                    stop_process_tree(process, others=late)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    return code
