"""Database failures -> API errors: one table per driver, never SQL text in a body.

Storage failures are classified by the driver's own error code, not by message text:

======================================  ==========  ===============================
condition                               SQLite      PostgreSQL (SQLSTATE)
======================================  ==========  ===============================
507/905 storage full                    FULL        53100 disk_full
503/909 read-only                       READONLY    25006 read_only_sql_transaction
503/906 statement timed out             INTERRUPT   57014 query_canceled
503/910 busy (retry soon)               BUSY,       55P03 lock_not_available, 40001,
                                        LOCKED      40P01, 53300 too_many_connections;
                                                    a pool-checkout timeout
503/904 unavailable (anything else)     IOERR, ...  08xxx, 57P0x, no SQLSTATE (refused)
======================================  ==========  ===============================

A 503 for a transient condition carries ``Retry-After``. Writes are transactions, so none of
these leaves part of a write behind.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from service.errors import ApiError, Code

RETRY_AFTER = {"Retry-After": "1"}

_SQLITE: dict[int, Code] = {
    sqlite3.SQLITE_FULL: Code.STORAGE_FULL,
    sqlite3.SQLITE_READONLY: Code.STORAGE_READ_ONLY,
    sqlite3.SQLITE_INTERRUPT: Code.STATEMENT_TIMEOUT,
    sqlite3.SQLITE_BUSY: Code.STORAGE_BUSY,
    sqlite3.SQLITE_LOCKED: Code.STORAGE_BUSY,
}

_SQLSTATE: dict[str, Code] = {
    "53100": Code.STORAGE_FULL,
    "25006": Code.STORAGE_READ_ONLY,
    "57014": Code.STATEMENT_TIMEOUT,
    "55P03": Code.STORAGE_BUSY,
    "40001": Code.STORAGE_BUSY,
    "40P01": Code.STORAGE_BUSY,
    "53300": Code.STORAGE_BUSY,
}


def classify(exc: BaseException) -> Code:
    """The API error code of a storage failure."""
    if isinstance(exc, PoolTimeoutError):
        return Code.STORAGE_BUSY
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, sqlite3.Error):
        primary = (getattr(orig, "sqlite_errorcode", None) or 0) & 0xFF
        return _SQLITE.get(primary, Code.STORAGE_UNAVAILABLE)
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return _SQLSTATE.get(sqlstate, Code.STORAGE_UNAVAILABLE)
    return Code.STORAGE_UNAVAILABLE


def storage_error(exc: BaseException) -> ApiError:
    """The envelope for a storage failure (with ``Retry-After`` when retrying may help)."""
    code = classify(exc)
    transient = code in (Code.STORAGE_UNAVAILABLE, Code.STORAGE_BUSY, Code.STATEMENT_TIMEOUT)
    return ApiError(code, headers=dict(RETRY_AFTER) if transient else None)


#: What the storage layer may raise for a failing database (integrity errors aside).
STORAGE_ERRORS: tuple[type[BaseException], ...] = (DBAPIError, PoolTimeoutError, sqlite3.Error)
