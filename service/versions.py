"""Reading a project's data version (``relations_state.version``), cheaply and safely.

Every write transaction bumps the data version (``service.store.writing``), token changes
included; token changes also bump the token version. Whatever was derived at version V (a
rendered response from the data version, an authenticated principal from the token version)
is still right while that version is V, in any worker process.

On PostgreSQL a read is a round trip in a worker thread, so concurrent reads of the same
version are shared, without ever answering from a read that started before the request
arrived: a request that finds a read in flight waits for the *next* read, which starts when
that one ends and serves every request that arrived meanwhile (:class:`_SharedReads`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable

import anyio
from sqlalchemy import text

from models.state import DATA
from service.projects import Project

VERSION_SQL = "SELECT version FROM relations_state WHERE id = ?"
ENGINE_SQL = text("SELECT version FROM relations_state WHERE id = :row")


_Key = tuple[int, str, int]  # (event loop, project, version row)


class _SharedReads:
    """Reads of one value shared by the requests that wait for it, each answered by a read
    that started after it arrived. At most one read per key runs at a time."""

    def __init__(self, read: Callable[[Project, int], int | None]) -> None:
        self.read = read
        self.running: set[_Key] = set()
        self.next: dict[_Key, asyncio.Future[int | None]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        #: reads made (tests and operators can compare with requests served)
        self.reads = 0

    async def get(self, project: Project, row: int) -> int | None:
        loop = asyncio.get_running_loop()
        key = (id(loop), project.info.name, row)
        waiting = self.next.get(key)
        if waiting is None:
            waiting = self.next[key] = loop.create_future()
            if key not in self.running:
                self._start(key, project, row)
        return await asyncio.shield(waiting)

    def _start(self, key: _Key, project: Project, row: int) -> None:
        """Start the read the waiting requests of `key` get (they all arrived before it)."""
        future = self.next.pop(key)
        self.running.add(key)
        task = asyncio.get_running_loop().create_task(self._run(key, project, row, future))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, key: _Key, project: Project, row: int,
                   future: asyncio.Future[int | None]) -> None:
        self.reads += 1
        try:
            value = await anyio.to_thread.run_sync(self.read, project, row)
        except asyncio.CancelledError:  # its loop is going away: so are the waiters
            future.cancel()
            raise
        finally:
            self.running.discard(key)
        if not future.done():
            future.set_result(value)
        if key in self.next:  # requests came while this read ran: a fresh read for them
            self._start(key, project, row)


class VersionReader:
    """Reads a project's data version: inline on SQLite (a private read-only connection,
    microseconds), in a worker thread on PostgreSQL (a pooled connection)."""

    def __init__(self, max_connections: int) -> None:
        self._sqlite: OrderedDict[str, sqlite3.Connection] = OrderedDict()
        self._max = max_connections
        self._lock = threading.Lock()
        self.shared = _SharedReads(self._read_engine)

    async def read(self, project: Project, row: int = DATA) -> int | None:
        """Version `row` (:data:`models.state.DATA` or ``TOKENS``), None when unreadable."""
        if project.dialect == "sqlite":
            return self._read_sqlite(project, row)
        return await self.shared.get(project, row)

    def _read_sqlite(self, project: Project, row_id: int) -> int | None:
        conn = self._sqlite_connection(project)
        if conn is None:
            return None
        try:
            rows = conn.execute(VERSION_SQL, (row_id,)).fetchall()  # ends the read at once
        except sqlite3.Error:
            self._drop(project.info.name)
            return None
        return int(rows[0][0]) if rows else None

    def _sqlite_connection(self, project: Project) -> sqlite3.Connection | None:
        name = project.info.name
        conn = self._sqlite.get(name)
        if conn is not None:
            return conn
        path = project.engine.url.database
        if not path:
            return None
        try:
            conn = sqlite3.connect(  # never writes; autocommit: every read sees the latest
                path, timeout=0.05, check_same_thread=False, isolation_level=None
            )
        except sqlite3.Error:
            return None
        with self._lock:
            self._sqlite[name] = conn
            while len(self._sqlite) > self._max:
                _, old = self._sqlite.popitem(last=False)
                old.close()
        return conn

    def _drop(self, name: str) -> None:
        with self._lock:
            conn = self._sqlite.pop(name, None)
        if conn is not None:
            conn.close()

    @staticmethod
    def _read_engine(project: Project, row: int) -> int | None:
        try:
            with project.engine.connect() as conn:
                value = conn.execute(ENGINE_SQL, {"row": row}).scalar()
                conn.rollback()
        except Exception:  # any trouble: take the normal path, which reports it
            return None
        return None if value is None else int(value)

    def close(self) -> None:
        """Close every private connection."""
        with self._lock:
            for conn in self._sqlite.values():
                conn.close()
            self._sqlite.clear()
