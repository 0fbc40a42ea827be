"""The storage-failure table (``service.dberrors``), one row per driver code, and readiness."""

from __future__ import annotations

import sqlite3

import psycopg.errors as pg
import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.testclient import TestClient

from service.dberrors import classify, storage_error
from service.errors import Code


def _sqlite(code: int, name: str) -> sqlite3.Error:
    err = sqlite3.OperationalError(name)
    err.sqlite_errorcode = code
    return err


@pytest.mark.parametrize(
    ("orig", "code", "retry"),
    [
        (_sqlite(13, "database or disk is full"), Code.STORAGE_FULL, False),
        (_sqlite(8, "attempt to write a readonly database"), Code.STORAGE_READ_ONLY, False),
        (_sqlite(8 | (3 << 8), "readonly: cannot lock"), Code.STORAGE_READ_ONLY, False),
        (_sqlite(9, "interrupted"), Code.STATEMENT_TIMEOUT, True),
        (_sqlite(5, "database is locked"), Code.STORAGE_BUSY, True),
        (_sqlite(6, "database table is locked"), Code.STORAGE_BUSY, True),
        (_sqlite(10, "disk I/O error"), Code.STORAGE_UNAVAILABLE, True),
        (_sqlite(14, "unable to open database file"), Code.STORAGE_UNAVAILABLE, True),
        (pg.DiskFull("no space"), Code.STORAGE_FULL, False),
        (pg.ReadOnlySqlTransaction("read-only"), Code.STORAGE_READ_ONLY, False),
        (pg.QueryCanceled("statement timeout"), Code.STATEMENT_TIMEOUT, True),
        (pg.LockNotAvailable("lock"), Code.STORAGE_BUSY, True),
        (pg.SerializationFailure("serialization"), Code.STORAGE_BUSY, True),
        (pg.DeadlockDetected("deadlock"), Code.STORAGE_BUSY, True),
        (pg.TooManyConnections("too many"), Code.STORAGE_BUSY, True),
        (pg.AdminShutdown("terminating connection"), Code.STORAGE_UNAVAILABLE, True),
        (pg.CannotConnectNow("starting up"), Code.STORAGE_UNAVAILABLE, True),
        (pg.OutOfMemory("out of memory"), Code.STORAGE_UNAVAILABLE, True),
        (pg.OperationalError("connection refused"), Code.STORAGE_UNAVAILABLE, True),
    ],
    ids=lambda v: getattr(v, "name", None) or type(v).__name__ if not isinstance(v, bool) else "",
)
def test_driver_errors_map_to_codes(orig: Exception, code: Code, retry: bool) -> None:
    wrapped = OperationalError("SELECT secret FROM t", {}, orig)
    assert classify(wrapped) is code
    assert classify(orig) is code
    err = storage_error(wrapped)
    assert err.kind is code and err.status in (503, 507)
    assert ("Retry-After" in err.headers) is retry
    assert "secret" not in err.message and "SELECT" not in err.message


def test_pool_timeout_is_busy() -> None:
    err = storage_error(PoolTimeoutError("QueuePool limit of size 5 overflow 5 reached"))
    assert (err.kind, err.status, err.headers) == (Code.STORAGE_BUSY, 503, {"Retry-After": "1"})


def test_health_is_open_and_names_no_database(anon_client: TestClient, backend: str) -> None:
    r = anon_client.get("/server/health")
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    kind = "postgresql" if backend == "postgres" else "sqlite"
    body = r.json()
    assert body["status"] == "ok"
    assert [(b["kind"], b["databases"], b["failed"]) for b in body["backends"]] == [(kind, 1, 0)]
    for leak in ("relations_test", "/", ".db", "postgres@", "127.0.0.1"):
        assert leak not in r.text
