"""Migrations: one linear history that matches models/, upgrades in place with rows intact,
adopts databases made before migrations existed, refuses a schema newer than the code, and is
safe when several processes open a new project at once.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel
from starlette.testclient import TestClient
from typer.testing import CliRunner

import models  # noqa: F401
from service import migrate
from service.app import create_app
from service.cli import cli
from service.projects import Projects
from service.registry import ProjectInfo, Registry
from service.settings import Settings
from tests.serving import PG_ENV, ROOT, admin_token, sa_url, scratch_pg_database

#: The table exactly as the first release's ``CREATE TABLE IF NOT EXISTS`` made it.
OLD_SCHEMA = {
    "sqlite": """
        CREATE TABLE directus_relations (
            id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
            collection_many VARCHAR(64) NOT NULL,
            field_many VARCHAR(45) NOT NULL,
            collection_one VARCHAR(64),
            field_one VARCHAR(64),
            junction_field VARCHAR(64)
        )""",
    "postgres": """
        CREATE TABLE directus_relations (
            id BIGSERIAL NOT NULL,
            collection_many VARCHAR(64) COLLATE "C" NOT NULL,
            field_many VARCHAR(45) COLLATE "C" NOT NULL,
            collection_one VARCHAR(64) COLLATE "C",
            field_one VARCHAR(64) COLLATE "C",
            junction_field VARCHAR(64) COLLATE "C",
            PRIMARY KEY (id)
        )""",
}
ROWS = [
    {"collection_many": f"c{i}", "field_many": f"f{i}", "collection_one": "one" if i % 2 else None,
     "field_one": None, "junction_field": "j" if i % 3 == 0 else None}
    for i in range(1, 51)
]
COLS = ("id", "collection_many", "field_many", "collection_one", "field_one", "junction_field")


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Settings, str]]:
    """Settings whose default project `_` is an empty database of the given backend."""
    settings = Settings(data_dir=tmp_path / "data", validate_responses=True)
    if request.param == "sqlite":
        yield settings, "sqlite"
        return
    admin = os.environ.get(PG_ENV)
    if not admin:
        pytest.skip(f"PostgreSQL runs skipped: set {PG_ENV} to run them")
    with scratch_pg_database(admin) as url:
        Registry(settings.data_dir).add(ProjectInfo("_", url), replace=True)
        yield settings, "postgres"


def _raw_engine(settings: Settings) -> sa.Engine:
    info = Registry(settings.data_dir).get("_")
    assert info is not None
    if info.database_url:
        return sa.create_engine(sa_url(info.database_url))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return sa.create_engine(f"sqlite:///{info.sqlite_path(settings.data_dir)}")


def _rows(engine: sa.Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.text(f"SELECT {', '.join(COLS)} FROM directus_relations ORDER BY id"))]


def _version(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))]


def _alembic(conn: sa.Connection, verb: str, target: str) -> None:
    """Run Alembic's `verb` ("upgrade"/"downgrade") to `target` on `conn`, as our code does."""
    from alembic import command

    cfg = migrate._config()
    cfg.attributes["connection"] = conn
    try:
        getattr(command, verb)(cfg, target)
    finally:
        cfg.attributes.pop("connection")


def _open_with_projects(settings: Settings) -> None:
    projects = Projects(settings)
    try:
        projects.get("_")
    finally:
        projects.dispose()


def test_history_is_linear_with_one_head() -> None:
    script = migrate._script()
    revisions = list(reversed(list(script.walk_revisions())))
    assert [r.revision for r in revisions] == [f"{i:04d}" for i in range(1, len(revisions) + 1)]
    assert script.get_heads() == [revisions[-1].revision] == [migrate.head()]
    for older, newer in itertools.pairwise(revisions):
        assert newer.down_revision == older.revision
    assert revisions[0].revision == migrate.ADOPTED_REVISION


def test_fresh_database_matches_the_models(database: tuple[Settings, str]) -> None:
    settings, _ = database
    _open_with_projects(settings)
    engine = _raw_engine(settings)
    try:
        assert _version(engine) == [migrate.head()]
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}),
                SQLModel.metadata,
            )
            names = {ix["name"] for ix in sa.inspect(conn).get_indexes("directus_relations")}
        assert diff == []
        assert {"ix_directus_relations_collection_many",
                "ix_directus_relations_collection_one"} <= names
    finally:
        engine.dispose()


def test_running_every_revision_builds_what_a_fresh_open_creates(
    database: tuple[Settings, str],
) -> None:
    """A fresh project is created from the models and stamped at head (fast); running every
    revision from nothing must give the very same schema and state rows."""
    settings, _ = database
    engine = _raw_engine(settings)
    try:
        with engine.begin() as conn:
            _alembic(conn, "upgrade", "head")
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}),
                SQLModel.metadata,
            )
            state = [tuple(r) for r in conn.execute(
                sa.text("SELECT id, version FROM relations_state ORDER BY id"))]
        assert diff == []
        assert state == [(1, 0), (2, 0)]
        assert _version(engine) == [migrate.head()]
    finally:
        engine.dispose()


def test_old_schema_is_adopted_and_upgraded_with_rows_intact(
    database: tuple[Settings, str],
) -> None:
    settings, backend = database
    engine = _raw_engine(settings)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(OLD_SCHEMA[backend])
            conn.execute(sa.text(
                "INSERT INTO directus_relations (collection_many, field_many, collection_one, "
                "field_one, junction_field) VALUES (:collection_many, :field_many, "
                ":collection_one, :field_one, :junction_field)"), ROWS)
            conn.execute(sa.text("DELETE FROM directus_relations WHERE id = 50"))
        before = _rows(engine)
        assert len(before) == 49
        token = admin_token(settings)  # the first use of the project migrates it
        assert _rows(engine) == before
        assert _version(engine) == [migrate.head()]
        app = create_app(settings)
        with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
            r = client.get("/_/relations?filter[collection_many][eq]=c7&meta=total_count")
            assert r.status_code == 200, r.text
            assert r.json()["meta"]["total_count"] == 49
            assert r.json()["data"][0]["field_many"] == "f7"
            created = client.post("/_/relations", json={"collection_many": "n", "field_many": "n"})
            assert created.status_code == 200, created.text
            assert created.json()["data"]["id"] == 51  # a deleted id is never handed out again
        app.projects.dispose()
    finally:
        engine.dispose()


def test_upgrade_from_the_previous_revision_keeps_rows(database: tuple[Settings, str]) -> None:
    settings, _ = database
    previous = migrate._script().get_revision(migrate.head()).down_revision
    assert isinstance(previous, str)
    projects = Projects(settings)
    engine = projects.engine_for(Registry(settings.data_dir).get("_"))  # type: ignore[arg-type]
    try:
        outcome = migrate.upgrade(engine, previous)
        assert (outcome.before, outcome.after) == (None, previous)
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO directus_relations (collection_many, field_many, collection_one, "
                "field_one, junction_field) VALUES (:collection_many, :field_many, "
                ":collection_one, :field_one, :junction_field)"), ROWS)
        before = _rows(engine)
        outcome = migrate.upgrade(engine)
        assert (outcome.before, outcome.after, outcome.changed) == (previous, migrate.head(), True)
        assert _rows(engine) == before
        assert migrate.upgrade(engine).changed is False
    finally:
        engine.dispose()
        projects.dispose()


def test_every_revision_downgrades_and_upgrades_again(database: tuple[Settings, str]) -> None:
    settings, _ = database
    _open_with_projects(settings)
    engine = _raw_engine(settings)
    try:
        with engine.begin() as conn:
            _alembic(conn, "downgrade", "base")
            assert not sa.inspect(conn).has_table("directus_relations")
        _open_with_projects(settings)
        assert _version(engine) == [migrate.head()]
    finally:
        engine.dispose()


def test_a_schema_newer_than_the_code_is_refused(database: tuple[Settings, str]) -> None:
    settings, _ = database
    token = admin_token(settings)
    engine = _raw_engine(settings)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = 'f00d'"))
        app = create_app(settings)
        with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
            r = client.get("/_/relations")
            assert r.status_code == 503
            assert r.json()["error"]["code"] == 908
            assert "newer than this server" in r.json()["error"]["message"]
            health = client.get("/server/health")
            assert health.status_code == 503 and health.json()["status"] == "unavailable"
        app.projects.dispose()
        runner = CliRunner()
        env = {"RELATIONS_DATA_DIR": str(settings.data_dir)}
        result = runner.invoke(cli, ["migrate"], env=env)
        assert result.exit_code == 1
        assert "refused" in result.output and "f00d" in result.output
        assert _version(engine) == ["f00d"]  # nothing was touched
    finally:
        engine.dispose()


def test_relations_migrate_command(tmp_path: Path) -> None:
    data = tmp_path / "data"
    registry = Registry(data)
    registry.add(ProjectInfo("one"))
    registry.add(ProjectInfo("two"))
    env = {"RELATIONS_DATA_DIR": str(data)}
    runner = CliRunner()
    first = runner.invoke(cli, ["migrate", "--all"], env=env)
    assert first.exit_code == 0, first.output
    head = migrate.head()
    for name in ("_", "one", "two"):
        assert f"{name}\tsqlite\tmigrated empty -> {head}" in first.output
    again = runner.invoke(cli, ["migrate", "--project", "one"], env=env)
    assert again.exit_code == 0 and f"one\tsqlite\tup to date at {head}" in again.output
    assert runner.invoke(cli, ["migrate", "--project", "nope"], env=env).exit_code == 2
    assert runner.invoke(cli, ["migrate", "--project", "one", "--all"], env=env).exit_code == 2


RACE = """
import sys, threading
from pathlib import Path
from service.projects import Projects
from service.settings import Settings
projects = Projects(Settings(data_dir=Path(sys.argv[1])))
names = sys.argv[2].split(",")
errors = []
def open_all():
    for name in names:
        try:
            projects.get(name)
        except Exception as exc:
            errors.append(repr(exc))
threads = [threading.Thread(target=open_all) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(len(errors))
for e in errors[:5]: print(e)
"""


@pytest.mark.slow  # the fast variant of this race is tests/test_workers.py
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_processes_opening_new_projects_at_once_all_succeed(
    backend: str, tmp_path: Path
) -> None:
    """4 processes x 4 threads open the same fresh projects at once: each is migrated once."""
    data = tmp_path / "data"
    registry = Registry(data)
    names = [f"p{i}" for i in range(6)]
    with contextlib.ExitStack() as stack:
        if backend == "postgres":
            admin = os.environ.get(PG_ENV)
            if not admin:
                pytest.skip(f"PostgreSQL runs skipped: set {PG_ENV} to run them")
            names = names[:3]
            for name in names:
                registry.add(ProjectInfo(name, stack.enter_context(scratch_pg_database(admin))))
        else:
            for name in names:
                registry.add(ProjectInfo(name))
        procs = [
            subprocess.Popen([sys.executable, "-c", RACE, str(data), ",".join(names)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
            for _ in range(4)
        ]
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            assert out.splitlines()[0] == "0", out
        for name in names:
            info = registry.get(name)
            assert info is not None
            engine = (sa.create_engine(sa_url(info.database_url)) if info.database_url
                      else sa.create_engine(f"sqlite:///{info.sqlite_path(data)}"))
            try:
                assert _version(engine) == [migrate.head()]
            finally:
                engine.dispose()

