"""Bring a project database to the code's schema with Alembic, safely and only when needed.

Called on the first use of a project in each process (``Projects``) and by
``relations migrate``. The steps:

1. Peek at ``alembic_version`` in a read transaction. At head: done (the common case, and
   the only step a read-only database needs). A revision this code does not know means the
   schema is *newer* than the code: :class:`SchemaTooNew`, nothing is touched.
2. Otherwise take the database's migration lock inside one write transaction: SQLite's
   write lock (``BEGIN IMMEDIATE``, waiting up to the busy timeout), or PostgreSQL's
   ``pg_advisory_xact_lock``. Threads and worker processes that arrive together queue on it.
3. Read the version again under the lock (someone else may have migrated meanwhile). A
   database made before migrations existed (the table, no ``alembic_version``) is adopted at
   revision ``0001``. Then every pending revision runs in that same transaction, so an
   upgrade is all or nothing on both backends (their DDL is transactional).

Alembic is configured in code from the installed ``migrations`` package: no ``alembic.ini``
is read, so this works from any directory. Alembic's ``op``/``context`` are process-wide
proxies, hence one process-wide lock around every run.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, insert, inspect, text
from sqlmodel import SQLModel

import migrations
from models.state import DATA, TOKENS, State

log = logging.getLogger("relations.migrate")

#: Baseline of databases created before migrations existed (same table, no version row).
ADOPTED_REVISION = "0001"
#: Key of the PostgreSQL advisory lock that serialises migrations of one database.
PG_LOCK_KEY = 0x72656C6D  # "relm"
_RUN_LOCK = threading.RLock()


class SchemaTooNew(Exception):
    """The database carries a revision this code does not know (a newer release wrote it)."""

    def __init__(self, revisions: tuple[str, ...]) -> None:
        self.revisions = revisions
        super().__init__(
            f"database schema revision {', '.join(revisions)} is newer than this code "
            f"(head {head()}); upgrade relations-api"
        )


@dataclass(frozen=True)
class Outcome:
    """What a run found and left: revisions before and after (None = no schema)."""

    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        """Whether revisions were applied."""
        return self.before != self.after


@functools.cache
def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).resolve().parent))
    return cfg


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The newest revision this code knows."""
    heads = _script().get_heads()
    if len(heads) != 1:  # guarded by tests/test_migrations.py
        raise RuntimeError(f"migrations must have one head, found {heads}")
    return heads[0]


def known(revision: str) -> bool:
    """Whether `revision` is one of this code's revisions."""
    return any(s.revision == revision for s in _script().walk_revisions())


def current(conn: Connection) -> tuple[str, ...]:
    """The revisions recorded in the database (empty: none)."""
    return tuple(MigrationContext.configure(conn).get_current_heads())


def _check(revisions: tuple[str, ...]) -> None:
    unknown = tuple(r for r in revisions if not known(r))
    if unknown:
        raise SchemaTooNew(unknown)


def _one(revisions: tuple[str, ...]) -> str | None:
    return revisions[0] if revisions else None


@contextlib.contextmanager
def _quiet_alembic() -> Iterator[None]:
    """Alembic's INFO lines ("Context impl SQLiteImpl.") say nothing to operators."""
    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        alembic_log.setLevel(level)


def _create_at_head(conn: Connection) -> None:
    SQLModel.metadata.create_all(conn)
    conn.execute(
        insert(State.__table__),  # type: ignore[attr-defined]
        [{"id": DATA, "version": 0}, {"id": TOKENS, "version": 0}],
    )
    MigrationContext.configure(conn).stamp(_script(), head())


def upgrade(engine: Engine, target: str | None = None) -> Outcome:
    """Apply every pending revision up to `target` (default: head); see the module docstring.

    Idempotent and safe to run from several threads and processes at once. Raises
    :class:`SchemaTooNew`, or the driver's error when the database fails (callers map it
    to 503). `engine` must come from ``Projects.engine_for`` (it relies on its SQLite
    ``BEGIN`` handling).
    """
    target = target or head()
    with engine.connect() as conn:
        with conn.begin():
            seen = current(conn)
        _check(seen)
        if seen == (target,):
            return Outcome(target, target)
    return _upgrade_locked(engine, target)


def _upgrade_locked(engine: Engine, target: str) -> Outcome:
    with _RUN_LOCK, engine.connect() as conn:
        dialect = conn.dialect.name
        if dialect == "sqlite":  # the write lock up front; no statement time limit
            conn = conn.execution_options(sqlite_begin="IMMEDIATE", statement_timeout_ms=0)
        with conn.begin():
            if dialect == "postgresql":
                # DDL on a big table may outlast the request statement timeout; waiters for
                # the lock wait as long as the migration takes.
                conn.execute(text("SET LOCAL statement_timeout = 0"))
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})
            seen = current(conn)
            _check(seen)
            before = _one(seen)
            if seen == (target,):
                return Outcome(before, target)
            fresh = not seen and not inspect(conn).has_table("directus_relations")
            if fresh and target == head():
                # A brand-new database: the models' tables at once, stamped at head. The same
                # schema as running every revision (tests/test_migrations.py compares them),
                # in a fraction of the time: the first request to a new project stays fast.
                with _quiet_alembic():
                    _create_at_head(conn)
                return Outcome(None, target)
            if not seen and not fresh:
                log.info("adopting a database made before migrations at %s", ADOPTED_REVISION)
                MigrationContext.configure(conn).stamp(_script(), ADOPTED_REVISION)
            cfg = _config()
            cfg.attributes["connection"] = conn
            try:
                with _quiet_alembic():
                    command.upgrade(cfg, target)
            finally:
                cfg.attributes.pop("connection", None)
            after = _one(current(conn))
        return Outcome(before, after)
