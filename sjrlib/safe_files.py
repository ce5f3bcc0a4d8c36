"""Output files that only their owner can read, written whole and never through a link.

Everything written from the store (exports, researchers' extracts and their manifests, reports)
holds review data, so it is written the same way:

* **mode 0600**: created readable by its owner only, whatever the umask; an existing file that
  is replaced gets the new file's mode (0600), so an older, wider mode is not kept;
* **never through a symbolic link**: a link at the target is refused with a clear message
  (:class:`UnsafePathError`), and the file is written to a new part file created with
  ``O_CREAT | O_EXCL | O_NOFOLLOW`` in the target's folder, then renamed over the target
  (relative to the folder's open descriptor). A rename replaces a directory entry and never
  writes through one, so a link planted between the check and the rename is replaced, its
  target untouched;
* **inside the chosen folder**: given ``root``, a path that resolves outside it (``..``, or a
  folder on the way that is a link leading elsewhere) is refused;
* **whole**: a reader never sees half a file; if writing fails the part file is removed and
  the target is left as it was.

Example
-------
>>> with open_private("out/reviews.csv", text=True) as fh:  # doctest: +SKIP
...     fh.write("review_id\\nR1\\n")
>>> write_private("reports/index.html", page, root="reports")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = [
    "FILE_MODE",
    "FOLDER_MODE",
    "UnsafePathError",
    "check_target",
    "make_private_folder",
    "open_private",
    "tighten",
    "write_private",
]

FILE_MODE = 0o600
FOLDER_MODE = 0o700
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class UnsafePathError(OSError):
    """A write refused because of where it would go (one line naming the path and why)."""

    def __str__(self) -> str:
        return self.args[0] if self.args else "unsafe path"


def check_target(path: str | Path, *, root: str | Path | None = None) -> Path:
    """The path to write, after refusing what would not be safe to write to.

    Parameters
    ----------
    path
        The file to write.
    root
        The folder the file must stay inside (after resolving links and ``..``); ``None``:
        the file's own folder, i.e. only the file itself must not be a link.

    Returns
    -------
    Path
        ``path`` as a :class:`~pathlib.Path`.

    Raises
    ------
    UnsafePathError
        The target is a symbolic link, or is not a regular file, its folder does not exist,
        or it resolves outside ``root``.
    """
    path = Path(path)
    if not path.name or path.name in (".", ".."):
        raise UnsafePathError(f"{path}: not a file name")
    try:
        info = path.lstat()
    except FileNotFoundError:
        info = None
    if info is not None and stat.S_ISLNK(info.st_mode):
        raise UnsafePathError(f"{path}: is a symbolic link; refusing to write through it "
                              f"(remove the link or choose another name)")
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise UnsafePathError(f"{path}: exists and is not a regular file")
    parent = path.parent
    if not parent.is_dir():
        raise UnsafePathError(f"{path}: folder {parent} does not exist")
    if root is not None:
        real_root = Path(root).resolve()
        real = parent.resolve() / path.name
        if real != real_root and real_root not in real.parents:
            raise UnsafePathError(f"{path}: resolves to {real}, outside the folder "
                                  f"{real_root} it must be written in")
    return path


@contextlib.contextmanager
def open_private(path: str | Path, *, root: str | Path | None = None, text: bool = False,
                 encoding: str = "utf-8", newline: str | None = "",
                 make_folders: bool = False) -> Iterator[IO]:
    """A file to write ``path`` through: mode 0600, never through a link, moved into place
    whole when the block ends without an error (and removed when it raises).

    Parameters
    ----------
    path
        The file to write (replaced if it exists and is a regular file).
    root
        The folder the file must stay inside (see :func:`check_target`).
    text
        Give a text handle (``encoding``, ``newline`` as :func:`open`; ``newline=""`` by
        default writes line ends as given, which the ``csv`` module and pandas expect).
        Otherwise a binary handle.
    make_folders
        Create missing parent folders (mode 0700) first.

    Raises
    ------
    UnsafePathError
        See :func:`check_target`.
    """
    path = Path(path)
    if make_folders:
        make_private_folder(path.parent)
    path = check_target(path, root=root)
    folder = os.open(path.parent, os.O_RDONLY | _DIRECTORY)
    part = f".{path.name}.{secrets.token_hex(6)}.part"
    try:
        fd = os.open(part, _FLAGS, FILE_MODE, dir_fd=folder)
        try:
            os.fchmod(fd, FILE_MODE)  # whatever the umask and the folder's default ACL
            handle = (os.fdopen(fd, "w", encoding=encoding, newline=newline) if text
                      else os.fdopen(fd, "wb"))
        except BaseException:
            os.close(fd)
            raise
        try:
            with handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            # Checked again just before the rename: a link planted meanwhile would be replaced
            # (never written through) by the rename; refusing keeps the message honest.
            check_target(path, root=root)
            os.replace(part, path.name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(part, dir_fd=folder)
            raise
    finally:
        os.close(folder)


def write_private(path: str | Path, data: str | bytes, *,
                  root: str | Path | None = None, make_folders: bool = False) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` with :func:`open_private`; return the path."""
    with open_private(path, root=root, make_folders=make_folders) as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)


def make_private_folder(folder: str | Path) -> Path:
    """Create ``folder`` (and missing parents) readable by its owner only (0700); a folder
    that already exists is left as it is (it may be shared on purpose)."""
    folder = Path(folder)
    if folder.is_dir():
        return folder
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise UnsafePathError(f"{folder}: exists and is not a folder")
    missing = []
    current = folder
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for step in reversed(missing):
        with contextlib.suppress(FileExistsError):
            step.mkdir(mode=FOLDER_MODE)
            os.chmod(step, FOLDER_MODE)  # mkdir's mode is masked by the umask
    return folder


def tighten(path: str | Path) -> bool:
    """Make an existing regular file ours-only (0600) if it is readable or writable by
    others; links and files of other owners are left alone. Returns whether it changed."""
    path = Path(path)
    try:
        info = path.lstat()
    except FileNotFoundError:
        return False
    if (not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid()
            or not info.st_mode & 0o077):
        return False
    os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700 | 0o600)
    return True
