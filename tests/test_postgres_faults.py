"""PostgreSQL failures: an outage under load, an exhausted pool, a slow statement, a refused
connection and a read-only database, each answered with a 503 envelope and healed without a
restart.

The machine's PostgreSQL cluster is shared with other test runs, so it is never restarted:
each test works on a scratch database of its own and takes *that* database away
(``ALLOW_CONNECTIONS false`` plus ``pg_terminate_backend`` on its sessions), which is what
the app sees when the server restarts: every pooled connection dies and new ones are refused
until it is back.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from service.app import create_app
from service.registry import ProjectInfo, Registry
from service.settings import Settings
from tests.serving import PG_ENV, Server, admin_token, free_port, sa_url, scratch_pg_database
from tests.workload import COLS, Ledger, Writers, figures

pytestmark = pytest.mark.postgres


@pytest.fixture
def admin_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL runs skipped: set {PG_ENV} to run them")
    return url


@pytest.fixture
def admin(admin_url: str) -> Iterator[sa.Engine]:
    """An AUTOCOMMIT engine on the admin database (never on the scratch one)."""
    engine = sa.create_engine(sa_url(admin_url), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture
def scratch(admin_url: str, tmp_path: Path) -> Iterator[tuple[Settings, str, str]]:
    """(settings, database URL, database name) with project `_` on a scratch database."""
    with scratch_pg_database(admin_url) as url:
        settings = Settings(data_dir=tmp_path / "data", validate_responses=True)
        Registry(settings.data_dir).add(ProjectInfo("_", url), replace=True)
        yield settings, url, sa.engine.make_url(url).database or ""


def terminate(admin: sa.Engine, database: str) -> int:
    """End every session on `database`; how many there were."""
    with admin.connect() as conn:
        return len(conn.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": database}).all())


def allow_connections(admin: sa.Engine, database: str, allow: bool) -> None:
    with admin.connect() as conn:
        conn.exec_driver_sql(
            f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS {str(allow).lower()}')


def db_rows(url: str) -> list[dict[str, object]]:
    engine = sa.create_engine(sa_url(url))
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(
                sa.text(f"SELECT {', '.join(COLS)} FROM directus_relations"))]
    finally:
        engine.dispose()


@pytest.mark.live
@pytest.mark.parametrize("outages", [1, pytest.param(5, marks=pytest.mark.slow)])
def test_database_outage_under_load_heals_by_itself(
    admin: sa.Engine, scratch: tuple[Settings, str, str], outages: int
) -> None:
    """8 writers on 2 workers; the database goes away for 2 s and comes back."""
    settings, url, name = scratch
    token = admin_token(settings)
    ledger = Ledger()
    env = {"RELATIONS_LOG_REQUESTS": "false", "RELATIONS_POOL_TIMEOUT_S": "1",
           "RELATIONS_CONNECT_TIMEOUT_S": "2"}
    windows: list[tuple[float, float]] = []
    recoveries: list[float] = []
    first_success: list[float] = []
    with Server(settings.data_dir, workers=2, env=env) as server:
        writers = Writers(server.url, token, ledger, n=8, tag="o",
                          stop_on_transport_error=False).start()
        try:
            time.sleep(1.5)
            for _ in range(outages):
                start = time.monotonic()
                allow_connections(admin, name, False)
                killed = 0
                while time.monotonic() - start < 2.0:
                    killed += terminate(admin, name)
                    time.sleep(0.1)
                allow_connections(admin, name, True)
                back = time.monotonic()
                windows.append((start, back))
                assert killed >= 1  # the app's sessions were there, and were cut
                # wait for the first error-free second, at most 12 s
                while time.monotonic() - back < 12.0:
                    time.sleep(0.25)
                    with ledger.lock:
                        last_error = max((t for t, s in ledger.events if s >= 300), default=0.0)
                    if time.monotonic() - max(last_error, back) >= 1.5:
                        break
                recoveries.append(max(0.0, last_error - back))
                with ledger.lock:
                    first_success.append(min((t for t, s in ledger.events
                                              if s < 300 and t >= back), default=99.0) - back)
            time.sleep(1.0)
        finally:
            writers.stop()
    found = ledger.verify(db_rows(url))
    errors = [(t, s) for t, s in ledger.events if s >= 300]
    outside = [(t, s) for t, s in errors if not any(a <= t <= b + 10.0 for a, b in windows)]
    figures("pg_outage", outages=outages, answers=sum(ledger.statuses.values()),
            statuses=dict(ledger.statuses), error_codes=dict(ledger.error_codes),
            transport_errors=ledger.transport_errors,
            errors_after_back_s=[round(r, 2) for r in recoveries],
            first_success_after_back_s=[round(r, 3) for r in first_success], **found)
    assert errors, "the outage was not noticed"
    assert {s for _, s in errors} == {503}, ledger.statuses
    assert {c for (_, c) in ledger.error_codes} <= {904, 906, 910}, ledger.error_codes
    assert outside == []  # errors only during an outage (and its 10 s grace)
    assert max(recoveries) < 10.0 and max(first_success) < 10.0
    assert ledger.transport_errors == 0
    assert found == {"lost": 0, "wrong": 0, "resurrected": 0, "partial_batches": 0,
                     "unexplained": 0}


@contextlib.contextmanager
def _client(settings: Settings, token: str | None) -> Iterator[TestClient]:
    """An in-process client on a new app; its engines are closed afterwards."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    app = create_app(settings)
    try:
        with TestClient(app, raise_server_exceptions=False, headers=headers) as client:
            yield client
    finally:
        app.projects.dispose()


def test_exhausted_pool_answers_503_quickly(scratch: tuple[Settings, str, str]) -> None:
    base, _, _ = scratch
    settings = base.model_copy(update={"pool_size": 1, "pool_timeout_s": 0.3})
    token = admin_token(settings)
    with _client(settings, token) as client:
        assert client.get("/_/relations").status_code == 200
        engine = client.app.projects.get("_").engine  # type: ignore[attr-defined]
        held = [engine.connect(), engine.connect()]  # pool_size 1 + overflow 1
        try:
            started = time.monotonic()
            r = client.get("/_/relations")
            waited = time.monotonic() - started
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == 910
            assert r.headers["Retry-After"] == "1"
            assert waited < 1.5
        finally:
            for conn in held:
                conn.close()
        assert client.get("/_/relations").status_code == 200
    figures("pg_pool_timeout", waited_s=round(waited, 2), status=503, code=910)


def test_slow_statement_answers_503(scratch: tuple[Settings, str, str]) -> None:
    base, url, _ = scratch
    settings = base.model_copy(update={"statement_timeout_ms": 300})
    token = admin_token(settings)
    locker = sa.create_engine(sa_url(url))
    with _client(settings, token) as client:
        assert client.get("/_/relations").status_code == 200
        with locker.connect() as conn, conn.begin():
            conn.exec_driver_sql("LOCK TABLE directus_relations IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            r = client.get("/_/relations")
            waited = time.monotonic() - started
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == 906
        assert 0.25 < waited < 3.0
        assert client.get("/_/relations").status_code == 200
    locker.dispose()
    figures("pg_statement_timeout", waited_s=round(waited, 2), status=503, code=906)


def test_refused_connection_answers_503_and_health_tells(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", validate_responses=True)
    port = free_port()
    url = f"postgresql://relations:secret@127.0.0.1:{port}/nowhere"
    Registry(settings.data_dir).add(ProjectInfo("_", url, "read"), replace=True)
    with _client(settings, None) as client:
        started = time.monotonic()
        r = client.get("/_/relations")
        waited = time.monotonic() - started
        assert r.status_code == 503, r.text
        assert r.json() == {"error": {"code": 904, "message": "Storage unavailable, retry later"}}
        assert waited < 2.0
        health = client.get("/server/health")
        assert health.status_code == 503
        body = health.json()
        assert body["status"] == "unavailable" and body["error"]["code"] == 904
        assert body["backends"] == [{"kind": "postgresql", "databases": 1, "failed": 1,
                                     "ms": 0.0}]
        for secret in (str(port), "secret", "relations:", "nowhere", "127.0.0.1"):
            assert secret not in health.text
    figures("pg_refused", waited_s=round(waited, 3), status=503, code=904)


def test_read_only_database_refuses_writes_keeps_reads(
    admin: sa.Engine, scratch: tuple[Settings, str, str]
) -> None:
    settings, _, name = scratch
    token = admin_token(settings)
    with _client(settings, token) as client:
        assert client.post("/_/relations", json={"collection_many": "a",
                                                  "field_many": "b"}).status_code == 200
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        try:
            terminate(admin, name)  # new sessions are read-only
            r = client.post("/_/relations", json={"collection_many": "c", "field_many": "d"})
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == 909
            assert client.delete("/_/relations/1").status_code == 503
            listed = client.get("/_/relations")
            assert listed.status_code == 200 and len(listed.json()["data"]) == 1
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
            terminate(admin, name)
        assert client.post("/_/relations", json={"collection_many": "c",
                                                  "field_many": "d"}).status_code == 200


def test_health_checks_every_open_database(
    scratch: tuple[Settings, str, str], admin_url: str
) -> None:
    settings, _, _ = scratch
    Registry(settings.data_dir).add(ProjectInfo("lite"))
    token = admin_token(settings)
    lite = admin_token(settings, "lite")
    with _client(settings, token) as client:
        r = client.get("/lite/relations", headers={"Authorization": f"Bearer {lite}"})
        assert r.status_code == 200
        r = client.get("/server/health")
        assert r.status_code == 200, r.text
        assert r.headers["Cache-Control"] == "no-store"
        assert r.json()["status"] == "ok"
        assert [(b["kind"], b["databases"], b["failed"]) for b in r.json()["backends"]] == [
            ("postgresql", 1, 0), ("sqlite", 1, 0)]
        assert "error" not in r.json()


def test_health_is_bounded_in_time(scratch: tuple[Settings, str, str]) -> None:
    """A database that does not answer makes readiness fail within its deadline."""
    base, _, _ = scratch
    settings = base.model_copy(update={"health_timeout_s": 0.5})
    token = admin_token(settings)
    with _client(settings, token) as client:
        engine = client.app.projects.get("_").engine  # type: ignore[attr-defined]
        held = [engine.connect() for _ in range(2 * settings.pool_size)]  # the pool is empty
        try:
            started = time.monotonic()
            r = client.get("/server/health")
            waited = time.monotonic() - started
        finally:
            for conn in held:
                conn.close()
        assert r.status_code == 503 and r.json()["backends"][0]["failed"] == 1
        assert waited < 1.0
        # the late probe still runs in the background: let it return its connection
        deadline = time.monotonic() + 5
        while engine.pool.checkedout() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert client.get("/server/health").status_code == 200

