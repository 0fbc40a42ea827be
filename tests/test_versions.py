"""Shared version reads (PostgreSQL): concurrent requests share reads, and every request is
answered by a read that started after it arrived, so a write committed before a request is
always seen by it."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

import httpx

from service.app import RelationsApp
from service.versions import _SharedReads
from tests.conftest import bearer


class Reads:
    """A fake database read: read number i returns i, each blocked until released."""

    def __init__(self) -> None:
        self.started: list[threading.Event] = []
        self.release: list[threading.Event] = []
        self.lock = threading.Lock()

    def __call__(self, _project: Any, _row: int) -> int:
        with self.lock:
            i = len(self.started)
            self.started.append(threading.Event())
            self.release.append(threading.Event())
        self.started[i].set()
        self.release[i].wait(5)
        return i


PROJECT: Any = SimpleNamespace(info=SimpleNamespace(name="p"))


async def _until(event: threading.Event) -> None:
    for _ in range(500):
        if event.is_set():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the read never started")


def test_a_request_never_gets_a_read_that_started_before_it() -> None:
    reads = Reads()
    shared = _SharedReads(reads)

    async def main() -> tuple[Any, ...]:
        a = asyncio.ensure_future(shared.get(PROJECT, 1))
        while not reads.started:
            await asyncio.sleep(0.01)
        await _until(reads.started[0])  # read 0 is in flight (a write may commit now)
        b = asyncio.ensure_future(shared.get(PROJECT, 1))
        c = asyncio.ensure_future(shared.get(PROJECT, 1))
        await asyncio.sleep(0.05)
        assert len(reads.started) == 1  # b and c wait for a read of their own
        reads.release[0].set()
        assert await a == 0
        while len(reads.started) < 2:
            await asyncio.sleep(0.01)
        reads.release[1].set()
        return await a, await b, await c

    assert asyncio.run(main()) == (0, 1, 1)
    assert shared.reads == 2


def test_requests_arriving_together_share_reads() -> None:
    reads = Reads()
    shared = _SharedReads(reads)

    async def main() -> list[int | None]:
        tasks = [asyncio.ensure_future(shared.get(PROJECT, 1)) for _ in range(50)]
        await asyncio.sleep(0.05)
        for event in reads.release:
            event.set()
        while len(reads.started) < 2:
            await asyncio.sleep(0.01)
        for event in reads.release:
            event.set()
        return list(await asyncio.gather(*tasks))

    values = asyncio.run(main())
    assert shared.reads == len(reads.started) <= 2 and set(values) <= {0, 1}


def test_a_cancelled_request_does_not_cancel_the_shared_read() -> None:
    reads = Reads()
    shared = _SharedReads(reads)

    async def main() -> Any:
        a = asyncio.ensure_future(shared.get(PROJECT, 1))
        b = asyncio.ensure_future(shared.get(PROJECT, 1))
        await asyncio.sleep(0.02)
        a.cancel()
        for _ in range(100):
            for event in reads.release:
                event.set()
            if b.done():
                break
            await asyncio.sleep(0.01)
        return await b

    assert asyncio.run(main()) in (0, 1)


def test_cached_reads_on_postgres_share_version_reads(app: RelationsApp, admin_token: str) -> None:
    """Concurrent cached GETs make fewer version reads than requests (SQLite reads inline)."""
    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers=bearer(admin_token)) as client:
            created = await client.post("/_/relations", json={"collection_many": "a",
                                                               "field_many": "b"})
            assert created.status_code == 200
            await client.get("/_/relations")  # fills the cache
            before = app.versions.shared.reads
            answers = await asyncio.gather(*[client.get("/_/relations") for _ in range(30)])
            assert all(r.json()["data"][0]["collection_many"] == "a" for r in answers)
            if app.projects.get("_").dialect == "postgresql":
                assert app.versions.shared.reads - before < 30
            else:
                assert app.versions.shared.reads == before == 0
            # a write is seen by the very next read
            await client.patch("/_/relations/1", json={"collection_many": "z"})
            return [await client.get("/_/relations")]

    [after] = asyncio.run(main())
    assert after.json()["data"][0]["collection_many"] == "z"
