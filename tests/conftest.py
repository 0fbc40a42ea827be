"""Shared fixtures: an app per test on SQLite and on PostgreSQL (when configured).

``RELATIONS_TEST_POSTGRES_URL`` (e.g. ``postgresql://postgres@127.0.0.1:5432/test``) names
an admin connection; the session creates its own database from it and drops it at the end,
so runs never see each other's rows. Without it the PostgreSQL variants are skipped with a
visible reason.
"""

from __future__ import annotations

import gc
import os
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

warnings.filterwarnings("ignore", message=".*httpx2.*")

from starlette.testclient import TestClient  # noqa: E402

from service import tokens  # noqa: E402
from service.app import RelationsApp, create_app  # noqa: E402
from service.registry import ProjectInfo, Registry  # noqa: E402
from service.settings import Settings  # noqa: E402

PG_ENV = "RELATIONS_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgres"]

#: The 14 default rows of a fresh Directus 7 install (behaviour §9), ids 1..14.
DEFAULT_ROWS: list[dict[str, Any]] = [
    {"collection_many": m, "field_many": f, "collection_one": o, "field_one": fo,
     "junction_field": j}
    for m, f, o, fo, j in [
        ("directus_activity", "action_by", "directus_users", None, None),
        ("directus_activity_seen", "user", "directus_users", None, None),
        ("directus_activity_seen", "activity", "directus_activity", None, None),
        ("directus_collections_presets", "user", "directus_users", None, None),
        ("directus_collections_presets", "group", "directus_groups", None, None),
        ("directus_files", "uploaded_by", "directus_users", None, None),
        ("directus_files", "folder", "directus_folders", None, None),
        ("directus_folders", "parent_folder", "directus_folders", None, None),
        ("directus_permissions", "group", "directus_groups", None, None),
        ("directus_revisions", "activity", "directus_activity", None, None),
        ("directus_user_roles", "user", "directus_users", "roles", "role"),
        ("directus_user_roles", "role", "directus_roles", "users", "user"),
        ("directus_users", "avatar", "directus_files", None, None),
        ("directus_fields", "collection", "directus_collections", "fields", None),
    ]
]


def _sqlalchemy_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database of this session's own (URL), dropped at the end."""
    admin_url = os.environ.get(PG_ENV)
    if not admin_url:
        pytest.skip(f"PostgreSQL runs skipped: set {PG_ENV} to run them")
    name = f"relations_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(_sqlalchemy_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    base = sa.engine.make_url(_sqlalchemy_url(admin_url))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Test settings: response validation on, logs on, data under tmp_path."""
    values: dict[str, Any] = {"data_dir": tmp_path / "data", "validate_responses": True}
    values.update(overrides)
    return Settings(**values)


def bind_default_project(settings: Settings, backend: str, request: pytest.FixtureRequest) -> None:
    """Point project `_` at a clean PostgreSQL schema (postgres) or leave SQLite."""
    if backend != "postgres":
        return
    url = request.getfixturevalue("pg_database")
    engine = sa.create_engine(_sqlalchemy_url(url))
    with engine.begin() as conn:  # every table, whatever later migrations add
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    Registry(settings.data_dir).add(ProjectInfo("_", url), replace=True)


@pytest.fixture(scope="module", autouse=True)
def collect_garbage_after_module() -> Iterator[None]:
    """A leaked resource (an unclosed connection) warns only when it is collected, and the
    warning fails whichever test is running then. Collecting after each module makes it fail
    the module that leaked instead of a bystander later on."""
    yield
    gc.collect()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend of the default project: sqlite or postgres."""
    return str(request.param)


@pytest.fixture
def app(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RelationsApp]:
    """A fresh app whose default project `_` is on `backend`."""
    settings = make_settings(tmp_path)
    bind_default_project(settings, backend, request)
    application = create_app(settings)
    yield application
    application.projects.dispose()


def issue_token(app: RelationsApp, role: str = "admin", project: str = "_") -> str:
    """A new token of `role` in `project` (also for test modules that build their own app)."""
    _, token = tokens.create(app.projects.get(project), role, label="tests")
    return token


def bearer(token: str) -> dict[str, str]:
    """The header that carries `token`."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin_token(app: RelationsApp) -> str:
    """An admin token of project `_`; the `client` fixture sends it."""
    return issue_token(app, "admin")


@pytest.fixture
def make_token(app: RelationsApp) -> Callable[..., str]:
    """A factory of tokens: ``make_token("read", project="other")``."""

    def make(role: str = "admin", project: str = "_") -> str:
        return issue_token(app, role, project)

    return make


@pytest.fixture
def client(app: RelationsApp, admin_token: str) -> Iterator[TestClient]:
    """An in-process HTTP client on the app, authenticated as admin of project `_`."""
    with TestClient(app, raise_server_exceptions=False, headers=bearer(admin_token)) as c:
        yield c


@pytest.fixture
def anon_client(app: RelationsApp) -> Iterator[TestClient]:
    """An in-process HTTP client that sends no credentials."""
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def seeded(client: TestClient) -> TestClient:
    """The client, with the 14 default Directus rows created (ids 1..14)."""
    r = client.post("/_/relations", json=DEFAULT_ROWS)
    assert r.status_code == 200, r.text
    assert [row["id"] for row in r.json()["data"]] == list(range(1, 15))
    return client
