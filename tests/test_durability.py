"""SQLite under pressure: concurrent writers, SIGKILL at random moments, disk full, read-only.

The first two run a real ``relations serve`` process on loopback; the last two inject the
fault into the app's own connections (``PRAGMA max_page_count`` / ``PRAGMA query_only``) and
lift it again without a restart. Each prints a ``FIGURES`` line (see with ``pytest -s``).
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from starlette.testclient import TestClient

from service.app import RelationsApp
from service.settings import Settings
from tests.serving import Server, admin_token
from tests.workload import COLS, Ledger, Writers, figures


def sqlite_rows(path: Path) -> tuple[list[dict[str, Any]], str]:
    """Every row of the file, and the verdict of ``PRAGMA integrity_check``."""
    conn = sqlite3.connect(path)
    try:
        conn.row_factory = sqlite3.Row
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        rows = [dict(r) for r in conn.execute(f"SELECT {', '.join(COLS)} FROM directus_relations")]
        return rows, str(check)
    finally:
        conn.close()


@pytest.mark.live
@pytest.mark.parametrize("seconds", [4, pytest.param(30, marks=pytest.mark.slow)])
def test_sixteen_concurrent_writers_on_one_sqlite_project(tmp_path: Path, seconds: int) -> None:
    """16 writers through 2 worker processes: zero errors, and the rows are the ledger's."""
    data = tmp_path / "data"
    token = admin_token(Settings(data_dir=data))
    ledger = Ledger()
    with Server(data, workers=2, env={"RELATIONS_LOG_REQUESTS": "false"}) as server:
        writers = Writers(server.url, token, ledger, n=16, tag="c").start()
        time.sleep(seconds)
        writers.stop()
    rows, integrity = sqlite_rows(data / "_.db")
    found = ledger.verify(rows)
    answers = sum(ledger.statuses.values())
    figures("contention", seconds=seconds, requests=answers,
            per_second=round(answers / seconds), acked_creates=ledger.creates,
            acked_deletes=ledger.deletes, rows=len(rows), statuses=dict(ledger.statuses),
            transport_errors=ledger.transport_errors, **found)
    assert answers > 100 * seconds / 4
    assert set(ledger.statuses) <= {200, 204}, ledger.statuses
    assert ledger.transport_errors == 0 and ledger.mismatched_answers == 0
    assert len(rows) == ledger.expected_count()
    assert found == {"lost": 0, "wrong": 0, "resurrected": 0, "partial_batches": 0,
                     "unexplained": 0}
    assert integrity == "ok"


@pytest.mark.live
@pytest.mark.parametrize(
    ("rounds", "synchronous"),
    [(10, "FULL"), pytest.param(30, "NORMAL", marks=pytest.mark.slow)],
)
def test_sigkill_at_random_moments_loses_no_acknowledged_write(
    tmp_path: Path, rounds: int, synchronous: str
) -> None:
    """A server receiving writes is SIGKILLed at a random moment, `rounds` times in a row."""
    data = tmp_path / "data"
    token = admin_token(Settings(data_dir=data))
    ledger = Ledger()
    rng = random.Random(20251204)
    env = {"RELATIONS_SQLITE_SYNCHRONOUS": synchronous, "RELATIONS_LOG_REQUESTS": "false"}
    startups = []
    for n in range(rounds):
        server = Server(data, env=env)
        startups.append(server.start())
        try:
            writers = Writers(server.url, token, ledger, n=4, tag=f"k{n}").start()
            time.sleep(rng.uniform(0.2, 1.2))
        finally:
            server.kill()
        writers.stop()
    rows, integrity = sqlite_rows(data / "_.db")
    found = ledger.verify(rows)
    with Server(data, env=env) as server, httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        served = client.get("/_/relations?limit=-1&meta=total_count").json()
    figures("crash", rounds=rounds, synchronous=synchronous, acked_writes=sum(
        ledger.statuses.values()), acked_rows=len(ledger.acked), rows=len(rows),
        in_flight_at_kill=ledger.transport_errors, statuses=dict(ledger.statuses),
        startup_s=round(max(startups), 2), integrity=integrity, **found)
    assert set(ledger.statuses) <= {200, 204}, ledger.statuses
    assert ledger.transport_errors >= 1  # the kills did land on requests in flight
    assert found == {"lost": 0, "wrong": 0, "resurrected": 0, "partial_batches": 0,
                     "unexplained": 0}
    assert integrity == "ok"
    assert served["meta"]["total_count"] == len(rows)


@pytest.fixture
def sqlite_app(app: RelationsApp) -> RelationsApp:
    """The app of the `app` fixture, on SQLite."""
    assert app.projects.get("_").dialect == "sqlite"
    return app


class Fault:
    """A pragma applied to every connection the app checks out, until lifted."""

    def __init__(self, app: RelationsApp, pragma: str, off: str) -> None:
        self.engine = app.projects.get("_").engine
        self.value: str | None = None
        self.pragma, self.off = pragma, off
        event.listen(self.engine, "checkout", self._apply)

    def _apply(self, dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        dbapi_conn.execute(f"PRAGMA {self.pragma}={self.value or self.off}")

    def set(self, value: str | None) -> None:
        """Inject (`value`) or lift (None) the fault for the next checkouts."""
        self.value = value

    def remove(self) -> None:
        """Detach from the engine."""
        event.remove(self.engine, "checkout", self._apply)


@pytest.fixture
def faults(sqlite_app: RelationsApp) -> Iterator[list[Fault]]:
    made: list[Fault] = []
    yield made
    for f in made:
        f.remove()


def _count(client: TestClient) -> int:
    r = client.get("/_/relations?limit=0&meta=total_count")
    assert r.status_code == 200, r.text
    return int(r.json()["meta"]["total_count"])


def _page_count(app: RelationsApp) -> int:
    with app.projects.get("_").engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())


BATCH = [{"collection_many": f"full{i}", "field_many": "x" * 45, "collection_one": "y" * 64,
          "field_one": "z" * 64} for i in range(2000)]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_disk_full_answers_507_keeps_reads_and_recovers(
    sqlite_app: RelationsApp, seeded: TestClient, faults: list[Fault]
) -> None:
    fault = Fault(sqlite_app, "max_page_count", "1073741823")
    faults.append(fault)
    before = seeded.get("/_/relations?limit=-1").json()["data"]
    fault.set(str(_page_count(sqlite_app)))  # not one page more
    r = seeded.post("/_/relations", json=BATCH)
    assert r.status_code == 507, r.text
    assert r.json() == {"error": {"code": 905, "message": "Storage full"}}
    assert seeded.get("/_/relations?limit=-1").json()["data"] == before  # nothing partial
    # single rows until the last page is full: each answer is 200 (kept) or 507 (not written)
    kept = []
    for i in range(400):
        r = seeded.post("/_/relations", json={"collection_many": f"one{i}", "field_many": "y" * 45})
        assert r.status_code in (200, 507), r.text
        if r.status_code == 507:
            break
        kept.append(r.json()["data"]["id"])
    assert r.status_code == 507
    assert seeded.patch("/_/relations/1", json={"junction_field": "j" * 64}).status_code in (
        200, 507)
    assert seeded.get("/_/relations/1").status_code == 200
    assert _count(seeded) == len(before) + len(kept)
    assert seeded.get("/server/health").status_code == 200  # reads work: still ready
    fault.set(None)  # space is back; no restart
    r = seeded.post("/_/relations", json=BATCH)
    assert r.status_code == 200, r.text
    assert _count(seeded) == len(before) + len(kept) + len(BATCH)
    figures("disk_full", rows_kept_while_full=len(kept), batch_rejected=len(BATCH),
            recovered_without_restart=True)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_read_only_database_answers_503_keeps_reads_and_recovers(
    sqlite_app: RelationsApp, seeded: TestClient, faults: list[Fault]
) -> None:
    fault = Fault(sqlite_app, "query_only", "0")
    faults.append(fault)
    before = seeded.get("/_/relations?limit=-1").json()["data"]
    fault.set("1")
    refused = [
        seeded.post("/_/relations", json=BATCH[:3]),
        seeded.post("/_/relations", json={"collection_many": "a", "field_many": "b"}),
        seeded.patch("/_/relations/1,2", json={"field_one": "changed"}),
        seeded.patch("/_/relations", json=[{"id": 3, "field_one": "changed"}]),
        seeded.delete("/_/relations/4,5"),
    ]
    for r in refused:
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == 909
    assert seeded.get("/_/relations?limit=-1").json()["data"] == before  # nothing partial
    assert seeded.get("/_/relations/1,2").status_code == 200
    assert seeded.get("/_/relations?filter[collection_many][eq]=directus_files").status_code == 200
    fault.set(None)  # writable again; no restart
    r = seeded.patch("/_/relations/1,2", json={"field_one": "changed"})
    assert r.status_code == 200, r.text
    assert seeded.delete("/_/relations/4,5").status_code == 204
    assert _count(seeded) == len(before) - 2
    figures("read_only", writes_refused=len(refused), codes={909}, recovered_without_restart=True)
