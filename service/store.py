"""Running statements on a project's database, with storage failures mapped to the API.

Reads run in one (deferred) transaction so counts and rows agree; writes run in one
``BEGIN IMMEDIATE`` transaction (SQLite) so concurrent writers queue on the lock instead of
failing, and a batch is all or nothing. SQL comes from ``query.compile`` only.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from models.state import DATA, TOKENS
from query import compile as qc
from query.ast import Query
from query.shape import Counts
from service.dberrors import STORAGE_ERRORS, classify, storage_error
from service.errors import ApiError, Code, item_not_found
from service.projects import Project

log = logging.getLogger("relations.store")
T = TypeVar("T")


def _integrity_error(exc: IntegrityError) -> ApiError:
    text_ = str(exc.orig).lower()
    if "unique" in text_ or "duplicate" in text_:
        return ApiError(Code.DUPLICATE_KEY, 'Duplicate key for collection "directus_relations"')
    return ApiError(Code.UNPROCESSABLE, "The row violates a constraint of the table")


@contextlib.contextmanager
def _guard() -> Iterator[None]:
    """Map database failures to 503/507 envelopes (``service.dberrors``; never SQL text in
    a body). The transaction is rolled back first, so nothing partial is left behind."""
    try:
        yield
    except ApiError:
        raise
    except IntegrityError as exc:
        raise _integrity_error(exc) from exc
    except STORAGE_ERRORS as exc:
        err = storage_error(exc)
        orig = getattr(exc, "orig", None) or exc
        first_line = (str(orig).splitlines() or [""])[0][:200]
        log.warning("storage error %s (%s): %s", err.kind.code, type(orig).__name__, first_line)
        raise err from exc


@contextlib.contextmanager
def reading(project: Project) -> Iterator[Connection]:
    """A read transaction."""
    with _guard(), project.engine.connect() as conn, conn.begin():
        yield conn


_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_WRITE_LOCKS_GUARD = threading.Lock()
#: Longest a writer waits for its turn in this process before answering 503/904.
WRITE_QUEUE_TIMEOUT_S = 30.0
BUMP_DATA = text(f"UPDATE relations_state SET version = version + 1 WHERE id = {DATA}")
BUMP_ALL = text(f"UPDATE relations_state SET version = version + 1 WHERE id IN ({DATA}, {TOKENS})")


def _process_write_lock(engine: Engine) -> threading.Lock:
    lock = _WRITE_LOCKS.get(engine)
    if lock is None:
        with _WRITE_LOCKS_GUARD:
            lock = _WRITE_LOCKS.setdefault(engine, threading.Lock())
    return lock


class WouldBlock(Exception):
    """An inline write could not start at once: another writer holds a lock. Nothing was
    done; run it again in a worker thread, where it may wait (:func:`run_write`)."""


@contextlib.contextmanager
def _sqlite_turn(project: Project, wait: bool = True) -> Iterator[None]:
    """SQLite writers of this process queue on a lock of their own, in order, instead of
    all polling the database lock (SQLite's busy handler sleeps up to 100 ms per retry, which
    made p99 of concurrent creates seconds long). Other processes still queue on BEGIN
    IMMEDIATE with the busy timeout."""
    if project.dialect != "sqlite":
        yield
        return
    lock = _process_write_lock(project.engine)
    if not wait:
        if not lock.acquire(blocking=False):
            raise WouldBlock
    elif not lock.acquire(timeout=WRITE_QUEUE_TIMEOUT_S):
        raise ApiError(Code.STORAGE_UNAVAILABLE)
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def writing(
    project: Project, inline: bool = False, tokens: bool = False
) -> Iterator[Connection]:
    """A write transaction that takes the lock up front and bumps the data version (which
    invalidates every cached response of the project, in every worker); `tokens` also bumps
    the token version (which invalidates remembered token lookups).

    `inline` (SQLite, on the event loop): never wait for a lock; :class:`WouldBlock` instead.
    """
    with _guard(), _sqlite_turn(project, wait=not inline), project.engine.connect() as conn:
        mode = "IMMEDIATE NOWAIT" if inline else "IMMEDIATE"
        conn = conn.execution_options(sqlite_begin=mode)
        try:
            transaction = conn.begin()
        except OperationalError as exc:
            if inline and classify(exc) is Code.STORAGE_BUSY:
                raise WouldBlock from exc
            raise
        with transaction:
            conn.execute(BUMP_ALL if tokens else BUMP_DATA)
            yield conn


#: Writes at most this big run inline on the event loop (SQLite); bigger ones in a thread.
INLINE_ROWS = 50


async def run_write(project: Project, work: Callable[[bool], T], rows: int = 1) -> T:
    """Run `work(inline)` where it is cheapest: inline on the event loop for a small SQLite
    write that can start at once (no thread hop, no GIL hand-offs; the baseline's way),
    else in a worker thread, where it may wait for the lock."""
    if project.dialect == "sqlite" and rows <= INLINE_ROWS:
        try:
            return work(True)
        except WouldBlock:
            pass
    return await anyio.to_thread.run_sync(work, False)


async def insert_together(project: Project, rows: list[dict[str, Any]]) -> list[int]:
    """Insert `rows` in one write transaction, where cheapest; their ids in order."""

    def work(inline: bool) -> list[int]:
        with writing(project, inline) as conn:
            return insert_rows(conn, project, rows)

    return await run_write(project, work, len(rows))


def fetch(conn: Connection, query: Query) -> list[Sequence[Any]]:
    """The rows of a query, in `query.fields` order."""
    return list(conn.execute(qc.select_rows(query)).all())


def counts(conn: Connection, query: Query) -> Counts:
    """total_count and filter_count, computed only when the meta asks for them."""
    wanted = query.meta & {"total_count", "filter_count", "page"}
    if not wanted:
        return Counts()
    total = conn.execute(qc.count_rows(None)).scalar_one()
    filtered = conn.execute(qc.count_rows(query)).scalar_one() if query.filtered else total
    return Counts(total=total, filtered=filtered)


def existing_ids(conn: Connection, ids: Sequence[int]) -> set[int]:
    """Which of `ids` exist."""
    found: set[int] = set()
    for start in range(0, len(ids), 500):
        chunk = list(ids[start:start + 500])
        found.update(conn.execute(qc.select_ids(chunk)).scalars())
    return found


def insert_rows(conn: Connection, project: Project, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows in order and return their ids; 409/204 on a duplicate id."""
    explicit = [r["id"] for r in rows if r.get("id") is not None]
    seen: set[int] = set()
    for rid in explicit:
        if rid in seen:
            raise _duplicate(rid)
        seen.add(rid)
    if explicit:
        clash = existing_ids(conn, explicit)
        if clash:
            raise _duplicate(min(clash))
    ids: list[int] = []
    try:
        if not explicit and len(rows) > 1 and project.dialect == "sqlite":
            ids = _insert_sequential_sqlite(conn, rows)
        elif not explicit and len(rows) > 1:
            ids = _insert_many_returning(conn, rows)
        else:
            for row in rows:
                params = _every_column(row)
                if row.get("id") is not None:
                    params["id"] = row["id"]
                ids.append(int(conn.execute(qc.INSERT_ONE, params).scalar_one()))
    except IntegrityError as exc:
        raise _integrity_error(exc) from exc
    if explicit and project.dialect == "postgresql":
        _advance_pg_sequence(conn, max(explicit))
    return ids


def _every_column(row: dict[str, Any]) -> dict[str, Any]:
    """The row with every insertable column (absent ones NULL: the table has no defaults),
    so statements built once and executemany batches all see the same columns."""
    return {c: row.get(c) for c in qc.INSERT_COLUMNS}


def _insert_many_returning(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Multi-row INSERT ... RETURNING in batches (SQLAlchemy's "insertmanyvalues"), the ids
    in the rows' order: one round trip per batch instead of one per row (PostgreSQL)."""
    result = conn.execute(qc.INSERT_MANY, [_every_column(row) for row in rows])
    return [int(rid) for rid in result.scalars()]


def _insert_sequential_sqlite(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """executemany, then read back the contiguous ids (we hold the write lock).

    executemany takes its columns from the first row, so every row is given every column
    (absent optional keys are NULL): otherwise a key only later rows carry would be dropped.
    """
    conn.execute(qc.INSERT_PLAIN, [_every_column(row) for row in rows])
    last = int(conn.execute(text("SELECT last_insert_rowid()")).scalar_one())
    return list(range(last - len(rows) + 1, last + 1))


def _advance_pg_sequence(conn: Connection, highest: int) -> None:
    """Keep the id sequence ahead of explicit ids, so later inserts never collide."""
    conn.execute(
        text(
            "SELECT setval(pg_get_serial_sequence('directus_relations', 'id'), :v) "
            "WHERE :v > (SELECT last_value FROM directus_relations_id_seq)"
        ),
        {"v": highest},
    )


def _duplicate(rid: int) -> ApiError:
    return ApiError(
        Code.DUPLICATE_KEY, f'Duplicate key "{rid}" for collection "directus_relations"'
    )


def require_ids(conn: Connection, ids: Sequence[int], shown: Sequence[object]) -> None:
    """404/203 naming the first missing id."""
    found = existing_ids(conn, ids)
    for rid, label in zip(ids, shown, strict=True):
        if rid not in found:
            raise item_not_found(label)


def update_rows(conn: Connection, changes: Sequence[tuple[int, dict[str, Any]]]) -> None:
    """Apply each id's changes (the rows are known to exist)."""
    for rid, values in changes:
        if values:
            conn.execute(qc.update_row(rid, values))


def delete_ids(conn: Connection, ids: Sequence[int]) -> None:
    """Delete the rows (known to exist)."""
    for start in range(0, len(ids), 500):
        conn.execute(qc.delete_ids(ids[start:start + 500]))
