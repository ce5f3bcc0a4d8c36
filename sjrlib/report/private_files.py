"""How report outputs are written: readable by their owner only, never through a link, whole.

A report page or workbook is written to a new file beside its target (created with ``O_EXCL``
and ``O_NOFOLLOW``, mode 0600), then renamed over the target. A symbolic link planted at the
target is replaced, never written through; a reader never sees half a file; another local user
cannot read an organisation's figures before they are published (an ``organisation``-audience
report holds exact counts). Sharing a report is a deliberate step (copy it, or ``chmod``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["open_private", "write_private"]

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


@contextlib.contextmanager
def open_private(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through: mode 0600, moved into place when the block ends
    without an error (and deleted when it raises). Parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    part.unlink(missing_ok=True)
    try:
        handle = os.fdopen(os.open(part, _FLAGS, 0o600), "wb")
    except OSError as exc:
        raise _naming(exc, path, part) from exc
    try:
        with handle:
            yield handle
        os.replace(part, path)
    except BaseException as exc:
        part.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _naming(exc, path, part) from exc
        raise


def _naming(exc: OSError, path: Path, part: Path) -> OSError:
    """``exc`` naming the file being written (``path``), not its hidden part file or no file at
    all (a write on a full disk names none): the message a person reads names their file."""
    if exc.errno is None or exc.filename not in (None, str(part), part):
        return exc
    return type(exc)(exc.errno, exc.strerror, str(path))


def write_private(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` with :func:`open_private`; return the path."""
    with open_private(path) as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)
