"""Alembic environment of a project database.

The server and ``relations migrate`` hand over an open connection, already inside a
transaction that holds the migration lock, as ``config.attributes["connection"]``
(``service.migrate``); Alembic then runs every pending revision inside that transaction and
commits nothing itself. For authoring revisions, ``-x url=...`` names a database instead;
``--sql`` renders the SQL without connecting.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlmodel import SQLModel

import models  # noqa: F401  (registers every table on SQLModel.metadata, for autogenerate)

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("name the database: alembic -x url=sqlite:///data/_.db ...")
    return url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
        compare_type=True,
    )


def run_offline() -> None:
    """Render the SQL of the pending revisions (``--sql``)."""
    url = _url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the pending revisions on the handed-over connection, or on ``-x url=``."""
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():  # a no-op inside the caller's transaction
            context.run_migrations()
        return
    engine = create_engine(_url())
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
