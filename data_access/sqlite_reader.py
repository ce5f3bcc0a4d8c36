"""Big SQLite reads into Arrow in a process of their own, with ADBC's SQLite driver.

Python's ``sqlite3`` makes a Python object of every value it reads: at 200,000 reviews that
alone (1.8 s) takes longer than ADBC's whole read of the same rows (1.0 s). ADBC's driver
carries its own copy of the SQLite library, and two copies in one process must not open the
same file (closing one copy's file drops the POSIX locks the other holds,
sqlite.org/howtocorrupt.html 2.2.1; see :func:`data_access.loading._reader`). In a process of
its own it is one more reader of the file, as safe as any other: it opens the file read-only,
reads every statement in one transaction (one WAL snapshot), and its locks are its own.

The parent (:func:`read`) sends the file and the statements as JSON on the child's stdin;
the child (``python data_access/sqlite_reader.py FD``) writes one Arrow IPC stream per
statement into an anonymous memory file the parent made (``memfd_create``: no name in any
file system, gone with its last descriptor) and prints where each lies; the parent maps the
memory file and reads the tables from it without a copy. Starting the child costs about
0.4 s (Python and pyarrow), so :mod:`data_access.loading` uses it for big loads only, and
only where the child's snapshot is the parent's: see ``loading._in_own_process``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow as pa


def read(path: str, statements: list[tuple[str, list]]) -> list[pa.Table]:
    """Each of ``statements`` (SQL with ``?`` parameters, and their values) read from the
    SQLite file ``path`` by a child process, as Arrow tables (mapped, not copied)."""
    request = json.dumps({"path": path, "statements": statements}).encode()
    fd = os.memfd_create("sjr-sqlite-read", os.MFD_CLOEXEC)
    try:
        # the file itself, not ``-m data_access.sqlite_reader``: the package's imports
        # (pandas, SQLAlchemy) cost the child 0.7 s more
        done = subprocess.run([sys.executable, __file__, str(fd)],
                              input=request, capture_output=True, check=False, pass_fds=(fd,))
        if done.returncode != 0:
            raise RuntimeError("the SQLite reader process failed: "
                               + done.stderr.decode(errors="replace").strip()[-2000:])
        with pa.memory_map(f"/proc/self/fd/{fd}") as source:
            mapped = source.read_buffer()
    finally:
        os.close(fd)
    return [pa.ipc.open_stream(mapped.slice(at, size)).read_all()
            for at, size in json.loads(done.stdout)]


def _main(fd: int) -> None:
    import adbc_driver_sqlite.dbapi as adbc

    request = json.loads(sys.stdin.buffer.read())
    uri = "file:" + request["path"].replace("?", "%3f").replace("#", "%23") + "?mode=ro"
    places = []
    with (adbc.connect(uri) as conn, conn.cursor() as cursor,
          pa.OSFile(f"/proc/self/fd/{fd}", "wb") as sink):
        # one batch a result: the driver types each column from its first batch
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(1 << 30)})
        for sql, params in request["statements"]:
            cursor.execute(sql, params or None)
            table = cursor.fetch_arrow_table()
            at = sink.tell()
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
            places.append((at, sink.tell() - at))
        conn.rollback()  # a read-only transaction: nothing to keep
    print(json.dumps(places))


if __name__ == "__main__":
    _main(int(sys.argv[1]))
