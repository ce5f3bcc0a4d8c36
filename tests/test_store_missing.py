"""Code that reads a store (a session, a report's data) never creates one.

A researcher's notebook runs in ``notebooks/``; with the default ``data/sjr.db`` it used to open
(and so create) an empty ``notebooks/data/sjr.db`` and fail on "no such table: audit_head". It is
now refused with the full path, and nothing is made.
"""

from __future__ import annotations

import pytest

from data_access import open_session, store
from data_access.store import StoreError, existing_store_url


def test_the_default_store_missing_here_is_named_and_nothing_is_created(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SJR_DATABASE_URL", raising=False)
    with pytest.raises(StoreError) as caught:
        existing_store_url()
    assert f"no store at {tmp_path / 'data' / 'sjr.db'} (the default" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_a_session_on_a_missing_store_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SJR_USER", "demo-researcher")
    monkeypatch.setenv("SJR_DATABASE_URL", f"sqlite:///{tmp_path}/elsewhere.db")
    with pytest.raises(StoreError, match="SJR_DATABASE_URL"):
        open_session()
    assert list(tmp_path.iterdir()) == []


def test_an_existing_store_and_a_server_url_pass(tmp_path, monkeypatch):
    monkeypatch.delenv("SJR_DATABASE_URL", raising=False)
    path = tmp_path / "sjr.db"
    store.init_db(f"sqlite:///{path}")
    assert existing_store_url(str(path)) == f"sqlite:///{path}"
    assert existing_store_url("postgresql://someone@db.example/sjr") == (
        "postgresql+psycopg://someone@db.example/sjr")
    with pytest.raises(StoreError, match=r"--db / db="):
        existing_store_url(str(tmp_path / "typo.db"))
