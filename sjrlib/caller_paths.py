"""Paths are the caller's: resolve what a person typed against the folder they typed it in.

Commands hand paths to other processes that run elsewhere: report kernels start in a private
working folder, Voila kernels in the notebooks folder. A relative ``--out reports`` or
``sqlite:///data/sjr.db`` must therefore be made absolute in the command's own process, against
the working folder it was started from, before any child sees it.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

__all__ = ["absolute_database_url", "absolute_path"]


def absolute_path(path: str | os.PathLike[str]) -> Path:
    """``path`` (``~`` expanded) made absolute against the current working folder.

    Symbolic links are not followed (``os.path.abspath``): the path names what the caller
    named.
    """
    return Path(os.path.abspath(Path(path).expanduser()))


def absolute_database_url(db: str | None = None) -> str:
    """The database URL (``db``, else ``SJR_DATABASE_URL``, else the local default) with a
    relative SQLite path made absolute against the current working folder."""
    from data_access.store import database_url

    url = make_url(database_url(db))
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
            and not url.database.startswith("file:"):
        url = url.set(database=str(absolute_path(url.database)))
    return url.render_as_string(hide_password=False)
