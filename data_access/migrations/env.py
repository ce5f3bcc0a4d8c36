"""Alembic environment of the SJR store.

Run through :func:`data_access.store.init_db` (which hands over a live connection in
``config.attributes["connection"]``), or from a shell with
``alembic -c data_access/migrations/alembic.ini upgrade head`` (URL from ``SJR_DATABASE_URL``,
else ``sqlite:///data/sjr.db``).
"""

from __future__ import annotations

from alembic import context

import data_access.models  # noqa: F401  (registers the store tables on Base.metadata)
from data_access.models import Base

try:  # governance tables live in their own module on the same Base
    import data_access.governance_models  # noqa: F401
except ModuleNotFoundError as exc:  # pragma: no cover - only before that module exists
    if exc.name != "data_access.governance_models":
        raise

target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # ALTER support on SQLite
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from data_access.store import database_url, get_engine

    url = context.config.get_main_option("sqlalchemy.url") or database_url()
    engine = get_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported for the SJR store")
run_migrations_online()
