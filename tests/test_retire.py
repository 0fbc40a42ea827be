"""Engines leaving the cache, or the process, close every connection, busy ones included."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine
from starlette.testclient import TestClient

from service.app import RelationsApp
from service.projects import Projects
from service.registry import ProjectInfo, Registry
from service.retire import retired
from tests.conftest import bearer, bind_default_project, make_settings


def _raw(conn: Connection) -> Any:
    raw = conn.connection.dbapi_connection
    assert raw is not None
    return raw


def _closed(raw: Any) -> bool:
    """Whether a DBAPI connection (sqlite3 or psycopg) is closed."""
    if isinstance(raw, sqlite3.Connection):
        try:
            raw.execute("SELECT 1")
        except sqlite3.ProgrammingError:
            return True
        return False
    return bool(raw.closed)


@pytest.fixture
def projects(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    settings = make_settings(tmp_path, engine_cache_size=1)
    bind_default_project(settings, backend, request)
    Registry(settings.data_dir).add(ProjectInfo("other"))
    opened = Projects(settings)
    yield opened
    opened.dispose()


def _engine(projects: Projects) -> Engine:
    return projects.get("_").engine


def test_a_live_engine_keeps_returned_connections_pooled(projects: Projects) -> None:
    engine = _engine(projects)
    with engine.connect() as conn:
        first = _raw(conn)
    assert not _closed(first)
    with engine.connect() as conn:
        assert _raw(conn) is first  # reused, not reopened


def test_a_connection_busy_at_shutdown_closes_when_returned(projects: Projects) -> None:
    engine = _engine(projects)
    conn = engine.connect()
    raw = _raw(conn)
    projects.dispose()
    assert retired(engine) and not _closed(raw)  # its user still has it
    conn.close()
    assert _closed(raw)


def test_a_connection_busy_at_eviction_closes_when_returned(projects: Projects) -> None:
    engine = _engine(projects)
    conn = engine.connect()
    raw = _raw(conn)
    projects.get("other")  # the cache holds one engine: `_` leaves it
    assert projects.opened("_") is None and retired(engine)
    assert conn.exec_driver_sql("SELECT 1").scalar() == 1  # still usable meanwhile
    conn.close()
    assert _closed(raw)
    assert not retired(projects.get("_").engine)  # reopening makes a new engine


def test_a_connection_opened_after_retirement_closes_when_returned(projects: Projects) -> None:
    """A straggler (a readiness probe past its deadline) opens one after shutdown."""
    engine = _engine(projects)
    projects.dispose()
    with engine.connect() as conn:
        raw = _raw(conn)
    assert _closed(raw)


def test_the_app_closes_its_connections_at_shutdown(app: RelationsApp, admin_token: str) -> None:
    with TestClient(app) as client:
        assert client.get("/_/relations", headers=bearer(admin_token)).status_code == 200
        project = app.projects.opened("_")
        assert project is not None and not retired(project.engine)
        with project.engine.connect() as conn:
            raw = _raw(conn)
    assert retired(project.engine) and _closed(raw)
    assert app.projects.opened("_") is None
    with TestClient(app) as client:  # the next request opens the project again
        assert client.get("/_/relations", headers=bearer(admin_token)).status_code == 200
