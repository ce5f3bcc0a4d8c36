"""A papermill engine that executes notebooks in a pre-warmed, reused kernel.

Papermill starts a fresh kernel for every notebook, and the kernel's own imports (pandas,
seaborn, matplotlib, sjrlib) cost more than the report itself (``shared/STACK-NOTES.md``). A
batch worker therefore starts one kernel, imports everything once (:data:`WARMUP`), and runs its
share of the notebooks in it, one after another, resetting the user namespace between them
(``%reset -f``, figures closed). Modules stay imported, which is the point; module-level caches in
``sjrlib`` must therefore never hold per-report state.

Safe start-up: each kernel talks over IPC sockets in its worker's private directory, so parallel
workers never race for TCP ports (papermill#239), and the kernel is started with its own ``cwd``
instead of ``os.chdir`` in the worker (papermill#578).

Use::

    with WarmKernel(workdir) as kernel:
        activate(kernel)
        papermill.execute_notebook(path, None, parameters=..., engine_name=ENGINE_NAME)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import Engine, NBClientEngine, papermill_engines
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

__all__ = ["ENGINE_NAME", "WARMUP", "KernelError", "WarmKernel", "WarmKernelEngine", "activate"]

ENGINE_NAME = "sjr-warm"

WARMUP = """
import pandas, numpy, matplotlib, seaborn
import sjrlib.report.trust, sjrlib.report.national
"""
"""Imports paid once per worker instead of once per report."""

RESET = """
%reset -f
import sys as _sys
if "matplotlib.pyplot" in _sys.modules:
    _sys.modules["matplotlib.pyplot"].close("all")
del _sys
"""
"""Run between two notebooks: a clean namespace, no figure left over."""

_ACTIVE: WarmKernel | None = None


class KernelError(RuntimeError):
    """The warm kernel failed to start, to warm up, or to reset."""


class WarmKernel:
    """One long-lived IPython kernel, warmed up with the report imports.

    Parameters
    ----------
    workdir
        A directory private to this worker: the kernel's cwd and its IPC socket files.
    warmup
        Code run once after start-up.
    env
        Extra environment variables for the kernel.
    startup_timeout
        Seconds to wait for the kernel to answer.
    """

    def __init__(
        self,
        workdir: str | Path,
        *,
        warmup: str = WARMUP,
        env: dict[str, str] | None = None,
        startup_timeout: float = 60,
    ) -> None:
        self.workdir = Path(workdir)
        self.warmup = warmup
        self.env = env or {}
        self.startup_timeout = startup_timeout
        self.km: AsyncKernelManager | None = None
        self.kc: Any = None
        self.notebooks_run = 0

    def start(self) -> WarmKernel:
        """Start the kernel and run the warm-up code."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        run_sync(self._start)()
        self.run(self.warmup, what="warm-up")
        return self

    async def _start(self) -> None:
        # IPC transport: socket files under the private workdir, no TCP port to race for
        self.km = AsyncKernelManager(
            kernel_name="python3",
            transport="ipc",
            ip=str(self.workdir / "kernel"),
            connection_file=str(self.workdir / "kernel.json"),
        )
        env = {**os.environ, **self.env}
        await self.km.start_kernel(cwd=str(self.workdir), env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            await self.kc.wait_for_ready(timeout=self.startup_timeout)
        except RuntimeError as exc:
            await self._stop()
            raise KernelError(f"report kernel did not start: {exc}") from exc
        self.kc.allow_stdin = False

    def run(self, code: str, *, what: str = "code") -> None:
        """Run ``code`` silently in the kernel; raise :class:`KernelError` if it fails."""
        reply = run_sync(self._run)(code)
        content = reply["content"]
        if content.get("status") != "ok":
            detail = f"{content.get('ename', '')}: {content.get('evalue', '')}".strip(": ")
            raise KernelError(f"report kernel {what} failed: {detail}")

    async def _run(self, code: str) -> dict:
        return await self.kc.execute_interactive(
            code, silent=False, store_history=False, timeout=120,
            output_hook=lambda msg: None,
        )

    def reset(self) -> None:
        """Clear the user namespace and close figures before the next notebook."""
        self.run(RESET, what="reset")

    def alive(self) -> bool:
        return self.km is not None and bool(run_sync(self._alive)())

    async def _alive(self) -> bool:
        return await self.km.is_alive()

    def stop(self) -> None:
        """Shut the kernel down (idempotent)."""
        if self.km is not None:
            run_sync(self._stop)()

    async def _stop(self) -> None:
        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None
        if self.km is not None:
            if await self.km.is_alive():
                await self.km.shutdown_kernel(now=True)
            await self.km.cleanup_resources()
            self.km = None

    def __enter__(self) -> WarmKernel:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def activate(kernel: WarmKernel | None) -> None:
    """Make ``kernel`` the one :class:`WarmKernelEngine` uses in this process (None: none)."""
    global _ACTIVE
    _ACTIVE = kernel


class WarmKernelEngine(Engine):
    """Papermill engine running the notebook in this process's active :class:`WarmKernel`.

    Without an active kernel it behaves exactly like papermill's default engine (a fresh kernel).
    """

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man,
        kernel_name,
        log_output=False,
        stdout_file=None,
        stderr_file=None,
        start_timeout=60,
        execution_timeout=None,
        **kwargs,
    ):
        kernel = _ACTIVE
        if kernel is None:
            return NBClientEngine.execute_managed_notebook(
                nb_man, kernel_name, log_output=log_output, stdout_file=stdout_file,
                stderr_file=stderr_file, start_timeout=start_timeout,
                execution_timeout=execution_timeout, **kwargs,
            )
        if kernel.notebooks_run:
            kernel.reset()
        kernel.notebooks_run += 1
        kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(
            kwargs,
            timeout=execution_timeout,
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=logger,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        # km given and kc set: nbclient neither starts nor shuts down the kernel
        client = PapermillNotebookClient(nb_man, km=kernel.km, **final_kwargs)
        client.kc = kernel.kc
        return client.execute()


papermill_engines.register(ENGINE_NAME, WarmKernelEngine)
