"""Issue 17 checked again by hand on PostgreSQL (audit of 2026-12-07): a ``--db`` naming a
database the server does not have, and a restore pointed at a server that is not there, each
end in one sentence that names the fault and what to do.

Runs only when ``SJR_TEST_POSTGRES_URL`` is set. Nothing is created on the server: the database
named does not exist and the other server does not answer.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy.engine import make_url
from test_faults_audit_2026_12_07 import ORGANISATIONS, one_line, sjr

POSTGRES_URL = os.environ.get("SJR_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set")


@pytest.fixture()
def no_such_database() -> str:
    name = f"sjr_nosuch_{uuid.uuid4().hex[:10]}"
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def test_a_database_the_server_does_not_have_is_named(no_such_database, tmp_path):
    """Seen: "the database refused the request: connection failed: connection to server at
    ..., port 5432 failed: FATAL: database "x" does not exist", and from `sjr report all`
    "Cannot read the store: (psycopg.OperationalError) connection failed: ..."."""
    name = make_url(no_such_database).database
    for command in (["summary"], ["backup", str(tmp_path / "b.tar")]):
        one_line(sjr(*command, "--db", no_such_database),
                 f'The database "{name}"', "does not exist", "createdb")
    done = sjr("report", "all", "--db", no_such_database, "--out", str(tmp_path / "reports"),
               user="h-programme")
    line = one_line(done, f'The database "{name}"', "does not exist")
    assert "psycopg" not in line
    assert not (tmp_path / "b.tar").exists() and not (tmp_path / "reports").exists()


def test_a_restore_into_a_database_that_does_not_exist_says_create_it(no_such_database,
                                                                      tmp_path):
    """A restore writes into an existing empty database: the way on is `createdb`, not
    `sjr init-db` (which would make it non-empty)."""
    backup = tmp_path / "b.sjrbackup"
    backup.write_text(ORGANISATIONS, encoding="utf-8")  # never read: the target is checked first
    line = one_line(sjr("restore", str(backup), "--db", no_such_database), "cannot connect",
                    "does not exist", "create it first (createdb)")
    assert "init-db" not in line


def test_a_restore_into_a_server_that_is_not_there(tmp_path):
    """Seen: two lines ("... Connection refused" / "Is the server running on that host ...")
    ending in "create it first (createdb)", as if the database were missing."""
    backup = tmp_path / "b.sjrbackup"
    backup.write_text(ORGANISATIONS, encoding="utf-8")
    line = one_line(sjr("restore", str(backup), "--db",
                        "postgresql+psycopg://postgres@127.0.0.1:1/sjr_restored"),
                    "at 127.0.0.1:1 is not answering")
    assert "createdb" not in line
