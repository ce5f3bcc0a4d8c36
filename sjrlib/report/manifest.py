"""What each report in an output folder was made from, so a refresh renders only what changed.

``sjr report`` keeps ``manifest.json`` in the period's output folder (``<out>/<period>/``). For
every report it wrote there it records a *key*, the SHA-256 of everything the page and its
workbook are a function of:

- the data snapshot: the SHA-256 of the rows the report reads (the same value its stamp prints,
  :func:`sjrlib.report.data.snapshot_hash`: an organisation's reviews and deaths for its own
  report, all of them for the national report, the members' for a collaborative one), and the
  organisation rows it may name;
- its parameters (all but the batch's temporary data file and the name of the person who ran
  it, which change no figure), its title and banner, and where its files go;
- the code: the notebook file, the package version, the commit and a digest of the source, and
  the versions of the libraries that compute and draw (:func:`sjrlib.report.stamp.code_version`);

and the SHA-256 of each file it wrote (the page, the Learning from Deaths workbook), or that
a file was not written. A report is kept when its key is unchanged and every one of its files is
still there, unaltered, as a regular file; otherwise it is rendered again, page and workbook
together. ``--force`` renders everything.

It also keeps the organisations the folder's ``index.html`` lists (code, name, nation, region:
what the index prints), so that a run of one report (``sjr report trust CODE``, perhaps by an
organisation's lead, who reads only their own organisation) rebuilds the index of the whole
folder rather than one of its own organisations alone.

The manifest names reports and holds hashes, and the index's organisation rows: no figure, no
review or death row. It is written like a page
(:mod:`sjrlib.report.private_files`: whole, mode 0600, never through a link). One that cannot be
read is set aside with a note and everything is rendered.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "MANIFEST_NAME",
    "Manifest",
    "file_digest",
    "data_snapshots",
    "organisation_rows",
    "report_key",
]

MANIFEST_NAME = "manifest.json"
_FORMAT = 1
_MAX_BYTES = 16 * 1024 * 1024
"""A manifest is a few hundred bytes per report; anything far larger is not ours."""
_NOT_REGULAR = "not a regular file"
INDEX_COLUMNS = ("organisation_code", "name", "nation", "region")
"""What the index prints of an organisation, and so what the manifest keeps of it."""


def _header(frame: pd.DataFrame) -> bytes:
    return ("|".join(map(str, frame.columns)) + "\n").encode()


def _row_hashes(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Row hashes sorted by (organisation, hash), each row's organisation id, the organisations."""
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    ids, uniques = pd.factorize(frame["organisation_code"].astype(str), use_na_sentinel=True)
    ids = np.asarray(ids)
    order = np.lexsort((hashes, ids))
    return hashes[order], ids[order], [str(u) for u in uniques]


def data_snapshots(frames: Sequence[pd.DataFrame], codes: Iterable[str]
                   ) -> tuple[dict[str, str], str]:
    """The data snapshot of each organisation's own report and of the whole, from the batch's
    frames (reviews, deaths, and any other frame the slices carry, in the slices' order).

    Each is :func:`sjrlib.report.data.snapshot_hash` of what the report reads: an
    organisation's rows of every frame as :func:`sjrlib.report.data.write_slices` cuts them
    (the hash its stamp prints), and the whole frames for the national report. Computed from one
    pass of row hashes per frame instead of one per organisation (a row's hash does not depend
    on the other rows), so checking 135 organisations costs about one hash of the data.
    """
    codes = list(codes)
    digests = {code: hashlib.sha256() for code in codes}
    whole = hashlib.sha256()
    for frame in frames:
        head = _header(frame)
        hashes, ids, uniques = _row_hashes(frame)
        whole.update(head)
        whole.update(np.sort(hashes).tobytes())
        where = {code: i for i, code in enumerate(uniques)}
        for code in codes:
            digests[code].update(head)
            i = where.get(code)
            if i is not None:
                a, b = np.searchsorted(ids, [i, i + 1], side="left")
                digests[code].update(hashes[a:b].tobytes())
    return {code: d.hexdigest() for code, d in digests.items()}, whole.hexdigest()


def organisation_rows(organisations: pd.DataFrame) -> dict[str, str]:
    """Organisation code -> a hash of its row (name, nation, region...): what a report may say
    about the organisation besides its figures."""
    hashes = pd.util.hash_pandas_object(organisations, index=False).to_numpy()
    head = _header(organisations).hex()
    return {str(code): f"{head}:{value:016x}"
            for code, value in zip(organisations["organisation_code"], hashes, strict=True)}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def report_key(**parts: Any) -> str:
    """SHA-256 of ``parts`` (plain data: parameters, snapshot, code version ...), independent of
    the order they are given in."""
    return hashlib.sha256(_canonical(parts).encode()).hexdigest()


def file_digest(path: Path) -> str | None:
    """SHA-256 of a regular file's content; ``None`` when there is no file; a marker that can
    never equal a digest when the path is a link, a folder or anything else."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return _NOT_REGULAR
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class _Entry:
    key: str
    snapshot: str
    outputs: dict[str, str | None]


class Manifest:
    """The manifest of one output folder: which reports are there, made from what.

    Parameters
    ----------
    folder
        The period's output folder.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.entries: dict[str, _Entry] = {}
        self.index_rows: dict[str, dict[str, str]] = {}
        """Organisation code -> its row in the folder's index (``INDEX_COLUMNS``)."""
        self.problem: str | None = None
        """Why an existing manifest was set aside (every report is then rendered), or None."""

    @property
    def path(self) -> Path:
        return self.folder / MANIFEST_NAME

    @classmethod
    def load(cls, folder: str | Path) -> Manifest:
        """The folder's manifest; an empty one when there is none or it cannot be used (then
        :attr:`problem` says why)."""
        manifest = cls(folder)
        try:
            raw = manifest._read()
        except FileNotFoundError:
            return manifest
        except (OSError, ValueError) as exc:
            manifest.problem = f"{manifest.path} set aside ({exc}): every report is rendered"
            return manifest
        manifest.entries, manifest.index_rows = raw
        return manifest

    def _read(self) -> tuple[dict[str, _Entry], dict[str, dict[str, str]]]:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, flags)
        except OSError as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise ValueError("not a file that can be read") from None
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise ValueError("not a regular file")
            text = fh.read(_MAX_BYTES + 1)
        if len(text) > _MAX_BYTES:
            raise ValueError("too large")
        try:
            data = json.loads(text)
            if data.get("format") != _FORMAT:
                raise ValueError(f"format {data.get('format')!r}, not {_FORMAT}")
            entries = {
                str(name): _Entry(str(e["key"]), str(e["snapshot"]),
                                  {str(k): (None if v is None else str(v))
                                   for k, v in dict(e["outputs"]).items()})
                for name, e in dict(data["reports"]).items()
            }
            index = {str(code): {c: str(dict(row)[c]) for c in INDEX_COLUMNS}
                     for code, row in dict(data.get("index") or {}).items()}
            return entries, index
        except (KeyError, TypeError, AttributeError, ValueError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a manifest: {type(exc).__name__}") from None

    def _relative(self, path: Path) -> str:
        return Path(os.path.relpath(path, self.folder)).as_posix()

    def is_current(self, name: str, key: str, outputs: Sequence[Path]) -> bool:
        """Whether report ``name`` was made with ``key`` and its files are all as written."""
        entry = self.entries.get(name)
        if entry is None or entry.key != key:
            return False
        if set(entry.outputs) != {self._relative(p) for p in outputs}:
            return False
        return all(file_digest(p) == entry.outputs[self._relative(p)] for p in outputs)

    def record(self, name: str, key: str, snapshot: str, outputs: Sequence[Path]) -> None:
        """Note that report ``name`` was just written from ``key`` (its files hashed now)."""
        self.entries[name] = _Entry(key, snapshot,
                                    {self._relative(p): file_digest(p) for p in outputs})

    def forget(self, name: str) -> None:
        """Report ``name`` is not (or no longer) what its entry says: render it next time."""
        self.entries.pop(name, None)

    def snapshot(self, name: str) -> str | None:
        entry = self.entries.get(name)
        return None if entry is None else entry.snapshot

    def index_organisations(self, organisations: pd.DataFrame, *, replace: bool
                            ) -> pd.DataFrame:
        """The organisations the folder's index lists: ``organisations`` (the batch's), with
        ``replace`` the whole list (a batch of every organisation), else added to those an
        earlier batch listed (its rows updated). Remembered for the next run."""
        rows = {} if replace else dict(self.index_rows)
        for row in organisations[list(INDEX_COLUMNS)].itertuples(index=False):
            values = {c: ("" if pd.isna(v) else str(v))
                      for c, v in zip(INDEX_COLUMNS, row, strict=True)}
            rows[values["organisation_code"]] = values
        self.index_rows = rows
        return pd.DataFrame([rows[c] for c in sorted(rows)], columns=list(INDEX_COLUMNS))

    def to_dict(self, code: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return {"format": _FORMAT, "code": dict(code or {}),
                "reports": {name: {"key": e.key, "snapshot": e.snapshot, "outputs": e.outputs}
                            for name, e in sorted(self.entries.items())},
                "index": {c: self.index_rows[c] for c in sorted(self.index_rows)}}

    def save(self, code: Mapping[str, Any] | None = None) -> Path:
        """Write the manifest (whole, mode 0600, never through a link)."""
        from sjrlib.report.private_files import write_private

        text = json.dumps(self.to_dict(code), indent=1, sort_keys=True) + "\n"
        return write_private(self.path, text)
