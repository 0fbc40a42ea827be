"""The `relations` command's project management."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from service import migrate
from service.cli import cli
from service.registry import Registry
from tests.serving import PG_ENV, sa_url, scratch_pg_database

runner = CliRunner()


def _run(data_dir: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(cli, list(args), env={"RELATIONS_DATA_DIR": str(data_dir)})
    return result.exit_code, result.output


def test_project_create_and_list(tmp_path: Path) -> None:
    code, out = _run(tmp_path, "project", "create", "demo", "--public", "read")
    assert code == 0 and "created project demo" in out
    code, out = _run(tmp_path, "project", "list")
    assert code == 0
    assert out.splitlines() == ["_\tsqlite\tpublic=none", "demo\tsqlite\tpublic=read"]


def test_project_create_several_in_one_write(tmp_path: Path) -> None:
    names = [f"p{i}" for i in range(50)]
    code, _ = _run(tmp_path, "project", "create", *names)
    assert code == 0
    assert {p.name for p in Registry(tmp_path).all()} == {"_", *names}


def test_project_create_refuses_duplicates_and_bad_names(tmp_path: Path) -> None:
    assert _run(tmp_path, "project", "create", "a")[0] == 0
    code, out = _run(tmp_path, "project", "create", "a", "b")
    assert code == 1 and "project a already exists" in out
    assert {p.name for p in Registry(tmp_path).all()} == {"_", "a", "b"}
    for bad in ["..", "A", "x/y", "a" * 65, "-x", ""]:
        assert _run(tmp_path, "project", "create", bad)[0] == 2, bad
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["a.db", "b.db"]  # none for bad names


def test_project_create_makes_the_database_at_head(tmp_path: Path) -> None:
    code, out = _run(tmp_path, "project", "create", "made")
    assert code == 0 and "created project made" in out
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'made.db'}")
    try:
        with engine.connect() as conn:
            assert migrate.current(conn) == (migrate.head(),)
            assert conn.execute(sa.text("SELECT count(*) FROM directus_relations")).scalar() == 0
    finally:
        engine.dispose()


def test_registering_the_default_project_makes_its_database(tmp_path: Path) -> None:
    assert _run(tmp_path, "project", "create", "_", "--public", "read")[0] == 0
    engine = sa.create_engine(f"sqlite:///{tmp_path / '_.db'}")
    try:
        with engine.connect() as conn:
            assert migrate.current(conn) == (migrate.head(),)
    finally:
        engine.dispose()
    info = Registry(tmp_path).get("_")
    assert info is not None and info.public == "read"


def test_a_database_that_cannot_be_made_registers_nothing(tmp_path: Path) -> None:
    url = "postgresql://postgres@127.0.0.1:5432/no_such_database_here"
    code, out = _run(tmp_path, "project", "create", "pg", "--database-url", url)
    assert code == 1
    assert "pg\tpostgresql\tfailed:" in out and "nothing was registered" in out
    assert Registry(tmp_path).get("pg") is None
    assert url not in out  # the URL may carry a password


def test_project_with_database_url(tmp_path: Path) -> None:
    admin = os.environ.get(PG_ENV)
    if not admin:
        pytest.skip(f"PostgreSQL runs skipped: set {PG_ENV} to run them")
    with scratch_pg_database(admin) as url:
        assert _run(tmp_path, "project", "create", "pg", "--database-url", url)[0] == 0
        info = Registry(tmp_path).get("pg")
        assert info is not None and info.database_url == url
        assert "pg\tpostgresql" in _run(tmp_path, "project", "list")[1]
        engine = sa.create_engine(sa_url(url))
        try:
            with engine.connect() as conn:
                assert migrate.current(conn) == (migrate.head(),)
        finally:
            engine.dispose()
