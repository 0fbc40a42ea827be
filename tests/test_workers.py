"""``relations serve --workers 2`` on SQLite and on PostgreSQL: two processes open brand-new
projects at the same moment (each migrating them under the migration lock), then serve
concurrent writes to them; every answer is a success and every acknowledged row is there.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from service import migrate
from service.registry import ProjectInfo, Registry
from service.settings import Settings
from tests.serving import PG_ENV, Server, admin_token, sa_url, scratch_pg_database
from tests.workload import COLS, Ledger, Writers, figures


def _rows_and_version(info: ProjectInfo, data: Path) -> tuple[list[dict[str, object]], list[str]]:
    if info.database_url:
        engine = sa.create_engine(sa_url(info.database_url))
        try:
            with engine.connect() as conn:
                rows = [dict(r._mapping) for r in conn.execute(
                    sa.text(f"SELECT {', '.join(COLS)} FROM directus_relations"))]
                version = list(conn.execute(sa.text("SELECT version_num FROM alembic_version"))
                               .scalars())
        finally:
            engine.dispose()
        return rows, version
    lite = sqlite3.connect(info.sqlite_path(data))
    try:
        lite.row_factory = sqlite3.Row
        rows = [dict(r) for r in lite.execute(f"SELECT {', '.join(COLS)} FROM directus_relations")]
        version = [r[0] for r in lite.execute("SELECT version_num FROM alembic_version")]
    finally:
        lite.close()
    return rows, version


@pytest.mark.live
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_workers_open_new_projects_at_once_and_serve_writes(
    backend: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    registry = Registry(data)
    names = ["fresh0", "fresh1", "fresh2"]
    with contextlib.ExitStack() as stack:
        for name in names:
            url = None
            if backend == "postgres":
                admin = os.environ.get(PG_ENV)
                if not admin:
                    pytest.skip(f"PostgreSQL runs skipped: set {PG_ENV} to run them")
                url = stack.enter_context(scratch_pg_database(admin))
            registry.add(ProjectInfo(name, url, "read"))  # anonymous reads: no token yet
        with Server(data, workers=2, env={"RELATIONS_LOG_REQUESTS": "false"}) as server:
            assert len(server.worker_pids()) == 2
            statuses, ledgers, health = _exercise(server, data, names)
            assert len(server.worker_pids()) == 2  # no worker died on the way
        assert health.status_code == 200, health.text
        totals = {"answers": 0, "lost": 0, "wrong": 0}
        for name in names:
            info = registry.get(name)
            assert info is not None
            rows, version = _rows_and_version(info, data)
            ledger = ledgers[name]
            found = ledger.verify(rows)
            assert version == [migrate.head()]
            assert set(ledger.statuses) <= {200, 204}, (name, ledger.statuses)
            assert ledger.transport_errors == 0
            assert len(rows) == ledger.expected_count()
            assert found == {"lost": 0, "wrong": 0, "resurrected": 0, "partial_batches": 0,
                             "unexplained": 0}
            totals["answers"] += sum(ledger.statuses.values())
            totals["lost"] += found["lost"]
            totals["wrong"] += found["wrong"]
    figures(f"workers_{backend}", first_reads=len(statuses), **totals)


def _exercise(
    server: Server, data: Path, names: list[str]
) -> tuple[list[int], dict[str, Ledger], httpx.Response]:
    # 1. first use of every project by both workers at once (the migrations race)
    statuses: list[int] = []
    barrier = threading.Barrier(12)

    def first_reads() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            barrier.wait()
            for _ in range(5):
                for name in names:
                    statuses.append(client.get(f"/{name}/relations").status_code)

    threads = [threading.Thread(target=first_reads) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses == [200] * (12 * 5 * len(names))
    # 2. concurrent writers on every project, through both workers
    ledgers = {name: Ledger() for name in names}
    writers = [Writers(server.url, admin_token(Settings(data_dir=data), name), ledgers[name],
                       n=4, tag="m", project=name).start() for name in names]
    time.sleep(2.5)
    for w in writers:
        w.stop()
    return statuses, ledgers, httpx.get(f"{server.url}/server/health", timeout=10)
