"""Projects -> database engines: created lazily, reused, bounded by an LRU cache.

Every project has its own database: an SQLite file under ``RELATIONS_DATA_DIR`` or the
database URL it was registered with (PostgreSQL through psycopg 3). A project is opened
once per process, under a lock of its own (opening a slow database never holds up the
others): its engine is created and its schema brought to the code's revision by
``service.migrate``, which is safe when several threads and worker processes open a project
at once. A failed open is not cached: the next request tries again, so an outage heals by
itself.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from service import migrate
from service.dberrors import STORAGE_ERRORS, storage_error
from service.deadline import install_sqlite_deadline
from service.errors import ApiError, Code
from service.registry import DEFAULT_PROJECT, ProjectInfo, Registry, valid_name
from service.retire import close_when_retired, retire
from service.settings import Settings

log = logging.getLogger("relations.projects")


@dataclass(frozen=True)
class Project:
    """An open project: its registry entry and its engine."""

    info: ProjectInfo
    engine: Engine

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name


class Projects:
    """The registry plus a bounded cache of open engines."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registry = Registry(settings.data_dir)
        self._engines: OrderedDict[str, Project] = OrderedDict()
        self._lock = threading.Lock()  # guards _engines and _opening
        self._opening: dict[str, threading.Lock] = {}

    def get(self, name: str) -> Project:
        """The open project `name`; 404/24 when it is not registered, 503 when it cannot
        be opened (storage down: 904/910; schema newer than the code: 908)."""
        project = self._engines.get(name)
        if project is not None:
            with self._lock:
                if name in self._engines:
                    self._engines.move_to_end(name)
            return project
        info = self.registry.get(name) if valid_name(name) else None
        if info is None:
            raise ApiError(Code.UNKNOWN_PROJECT, f"Unknown project: {name[:64]}")
        with self._lock:
            opening = self._opening.setdefault(name, threading.Lock())
        with opening:
            project = self._engines.get(name)
            if project is None:
                project = Project(info, self._open(info))
                with self._lock:
                    self._engines[name] = project
                    self._evict()
        return project

    def open_projects(self) -> list[Project]:
        """The projects open in this process (a snapshot)."""
        with self._lock:
            return list(self._engines.values())

    def exists(self, name: str) -> bool:
        """Whether `name` is a registered project (cheap: no engine is opened)."""
        return name in self._engines or (
            valid_name(name) and self.registry.get(name) is not None
        )

    def opened(self, name: str) -> Project | None:
        """The project if this process has it open already (no I/O, never opens one)."""
        return self._engines.get(name)

    def dispose(self) -> None:
        """Retire every engine (on shutdown): connections still in use close when returned."""
        with self._lock:
            for project in self._engines.values():
                retire(project.engine)
            self._engines.clear()

    def _evict(self) -> None:
        while len(self._engines) > self.settings.engine_cache_size:
            _, old = self._engines.popitem(last=False)
            retire(old.engine)

    def _open(self, info: ProjectInfo) -> Engine:
        """A new engine on a database at the code's schema revision (migrated if behind)."""
        engine = self.engine_for(info)
        try:
            outcome = migrate.upgrade(engine)
        except migrate.SchemaTooNew as exc:
            engine.dispose()
            log.error("project %s: %s", info.name, exc)
            raise ApiError(Code.SCHEMA_TOO_NEW) from exc
        except STORAGE_ERRORS as exc:
            engine.dispose()
            log.warning("project %s: cannot open: %s", info.name, type(exc).__name__)
            raise storage_error(exc) from exc
        if outcome.changed:
            log.info("project %s: schema %s -> %s", info.name, outcome.before or "empty",
                     outcome.after)
        return engine

    def engine_for(self, info: ProjectInfo) -> Engine:
        """A configured engine for the project's database (no schema work; cheap)."""
        try:
            if info.database_url:
                return close_when_retired(self._postgres_engine(info.database_url))
            return close_when_retired(self._sqlite_engine(info))
        except STORAGE_ERRORS as exc:
            log.warning("project %s: cannot open: %s", info.name, type(exc).__name__)
            raise storage_error(exc) from exc

    def _sqlite_engine(self, info: ProjectInfo) -> Engine:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        path = info.sqlite_path(s.data_dir)
        engine = create_engine(
            f"sqlite:///{path}",
            connect_args={"timeout": s.busy_timeout_ms / 1000, "check_same_thread": False},
            pool_size=8,
            max_overflow=32,
            pool_timeout=s.pool_timeout_s,
        )
        install_sqlite_hooks(engine, s)
        install_sqlite_deadline(engine, s.statement_timeout_ms)
        try:
            _enable_wal(engine)
        except BaseException:
            engine.dispose()
            raise
        return engine

    def _postgres_engine(self, url: str) -> Engine:
        s = self.settings
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return create_engine(
            url,
            pool_size=s.pool_size,
            max_overflow=s.pool_size,
            pool_timeout=s.pool_timeout_s,
            pool_pre_ping=True,
            connect_args={
                "connect_timeout": s.connect_timeout_s,
                "options": f"-c statement_timeout={s.statement_timeout_ms}",
            },
        )


def install_sqlite_hooks(engine: Engine, settings: Settings) -> None:
    """Per-connection pragmas, and BEGIN IMMEDIATE for transactions that will write."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(settings.busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA synchronous={settings.sqlite_synchronous}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode != "IMMEDIATE NOWAIT":
            conn.exec_driver_sql(f"BEGIN {mode}")
            return
        # on the event loop: fail at once (SQLITE_BUSY) rather than wait for another process
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute("PRAGMA busy_timeout=0")
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        finally:
            raw.execute(f"PRAGMA busy_timeout={int(settings.busy_timeout_ms)}")


def _enable_wal(engine: Engine, attempts: int = 20) -> None:
    """Switch the file to WAL once; another process may hold the lock, so retry briefly.

    A read-only file that is not in WAL mode yet stays as it is: reads keep working.
    """
    for attempt in range(attempts):
        try:
            raw = engine.raw_connection()
            try:
                cur = raw.cursor()
                mode = cur.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    cur.execute("PRAGMA journal_mode=WAL")
                cur.close()
            finally:
                raw.close()
            return
        except (OperationalError, sqlite3.OperationalError) as exc:
            orig = getattr(exc, "orig", exc)
            if getattr(orig, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_READONLY:
                log.warning("database is read-only; journal mode left unchanged")
                return
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


__all__ = ["DEFAULT_PROJECT", "Project", "Projects"]
