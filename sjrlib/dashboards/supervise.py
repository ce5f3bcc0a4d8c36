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

With ``quiet_stop`` the server's output (and its kernels', which inherit it) passes through this
process, and what they write once the server has been asked to stop is dropped: a Ctrl-C
otherwise ends in tracebacks from kernels shut down in the middle of a request (ipykernel's
``ZMQError: Socket operation on non-socket``) and from Voila refilling a pool with a kernel
already gone, noise about a stop that went as asked.
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


def _pump(pipe: int, target, quiet: threading.Event) -> None:
    """Copy what the server writes to ``pipe`` to ``target`` until every writer has closed it;
    once ``quiet`` is set, read and drop it (a writer must never block on a full pipe)."""
    out = getattr(target, "buffer", None)
    with os.fdopen(pipe, "rb", buffering=0) as source:
        while chunk := source.read(65536):
            if quiet.is_set():
                continue
            try:
                if out is not None:
                    out.write(chunk)
                else:  # a text stream without bytes (a test's capture)
                    target.write(chunk.decode(errors="replace"))
                target.flush()
            except (OSError, ValueError):  # our terminal has gone: keep draining
                continue


def _close(ends: dict[str, int]) -> None:
    while ends:
        with contextlib.suppress(OSError):
            os.close(ends.popitem()[1])


def run_supervised(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                   cwd: str | None = None, quiet_stop: bool = False) -> int:
    """Run ``argv`` in the foreground until it exits or this process gets SIGTERM, SIGINT or
    SIGHUP; then stop it and everything it started (see the module docstring). With
    ``quiet_stop``, what the server and its kernels write after it was asked to stop is not
    shown (their output passes through this process).

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
    quiet = threading.Event()
    pumps: list[threading.Thread] = []
    ends: dict[str, int] = {}  # this process's write ends of the server's output pipes
    try:
        if quiet_stop:
            for name, target in (("stdout", sys.stdout), ("stderr", sys.stderr)):
                read, ends[name] = os.pipe()
                pumps.append(threading.Thread(target=_pump, args=(read, target, quiet),
                                              daemon=True))
                pumps[-1].start()
        process = subprocess.Popen(
            list(argv), env=None if env is None else dict(env), cwd=cwd,
            start_new_session=True,
            preexec_fn=None if libc is None else _die_with(os.getpid(), libc),
            stdout=ends.get("stdout"), stderr=ends.get("stderr"),
        )
        _close(ends)  # the server holds them now: the pumps end when it and its kernels do
        code = process.wait()
    except _Stop:
        quiet.set()
        code = 0
    finally:
        _close(ends)
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
    for pump in pumps:  # the server's last words (an error it exited with) before ours
        pump.join(timeout=KILL_SECONDS)
    return code
