"""Group commit (service/groupcommit.py): creates sent together share one transaction, each
is answered only with its own committed row, and a failed group stores nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from query.compile import TABLE
from service import store
from service.app import RelationsApp
from service.errors import ApiError, Code
from service.groupcommit import CREATES, GroupCommit
from service.projects import Project
from tests.conftest import bearer


def _rows(n: int, tag: str = "c") -> list[dict[str, Any]]:
    return [{"collection_many": f"{tag}{i}", "field_many": "f", "field_one": f"o{i}"}
            for i in range(n)]


async def _post_all(app: RelationsApp, token: str, bodies: list[Any]) -> list[httpx.Response]:
    """POST every body at once on one event loop, as concurrent clients would."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                 headers=bearer(token)) as client:
        return list(await asyncio.gather(*[client.post("/_/relations", json=b) for b in bodies]))


def _count(project: Project) -> int:
    with project.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(TABLE)).scalar_one())


def test_creates_sent_together_share_commits(app: RelationsApp, admin_token: str) -> None:
    groups, rows = CREATES.groups, CREATES.rows
    sent = _rows(40)
    answers = asyncio.run(_post_all(app, admin_token, sent))
    assert [a.status_code for a in answers] == [200] * 40
    data = [a.json()["data"] for a in answers]
    assert len({d["id"] for d in data}) == 40
    for body, got in zip(sent, data, strict=True):
        assert got == {"id": got["id"], "collection_one": None, "junction_field": None, **body}
    project = app.projects.get("_")
    with store.reading(project) as conn:
        stored = {r.id: dict(r._mapping) for r in conn.execute(select(TABLE))}
    assert stored == {d["id"]: d for d in data}  # each answer is its own committed row
    assert CREATES.rows - rows == 40
    assert 1 <= CREATES.groups - groups < 40  # they were written together


def test_explicit_ids_are_not_grouped_and_clash_alone(app: RelationsApp, admin_token: str) -> None:
    bodies = [*_rows(10), {"id": 500, **_rows(1, "x")[0]}, {"id": 500, **_rows(1, "y")[0]}]
    answers = asyncio.run(_post_all(app, admin_token, bodies))
    assert [a.status_code for a in answers[:10]] == [200] * 10
    assert sorted(a.status_code for a in answers[10:]) == [200, 409]
    assert _count(app.projects.get("_")) == 11


def _run(gc: GroupCommit, project: Project, rows: list[dict[str, Any]],
         cancel: int | None = None) -> list[Any]:
    async def main() -> list[Any]:
        tasks = [asyncio.ensure_future(gc.create(project, r)) for r in rows]
        await asyncio.sleep(0)  # every create has joined the group; none is written yet
        if cancel is not None:
            tasks[cancel].cancel()
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    return asyncio.run(main())


def test_a_failed_group_fails_every_create_and_stores_none(app: RelationsApp) -> None:
    project = app.projects.get("_")

    async def full_disk(proj: Project, rows: list[dict[str, Any]]) -> list[int]:
        with store.writing(proj) as conn:  # the rows are inserted, then the commit fails
            store.insert_rows(conn, proj, rows)
            raise ApiError(Code.STORAGE_FULL)

    gc = GroupCommit(full_disk)
    outcomes = _run(gc, project, _rows(5))
    assert all(isinstance(o, ApiError) and o.kind is Code.STORAGE_FULL for o in outcomes)
    assert _count(project) == 0 and gc.groups == 0


def test_groups_are_bounded(app: RelationsApp) -> None:
    project = app.projects.get("_")
    gc = GroupCommit(store.insert_together, max_group=3)
    ids = _run(gc, project, _rows(7))
    assert sorted(ids) == list(range(1, 8))
    assert (gc.groups, gc.rows) == (3, 7)
    assert _count(project) == 7


def test_a_create_cancelled_before_its_commit_is_not_written(app: RelationsApp) -> None:
    project = app.projects.get("_")
    gc = GroupCommit(store.insert_together)
    outcomes = _run(gc, project, _rows(3), cancel=1)
    assert isinstance(outcomes[1], asyncio.CancelledError)
    assert sorted(o for i, o in enumerate(outcomes) if i != 1) == [1, 2]
    assert _count(project) == 2


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_group_that_cannot_start_inline_runs_in_a_thread(app: RelationsApp) -> None:
    """Another writer holds this process's write lock: the group waits in a thread."""
    project = app.projects.get("_")
    gc = GroupCommit(store.insert_together)
    lock = store._process_write_lock(project.engine)

    async def main() -> list[int]:
        lock.acquire()
        tasks = [asyncio.ensure_future(gc.create(project, r)) for r in _rows(4)]
        await asyncio.sleep(0.2)
        assert not any(t.done() for t in tasks)  # waiting, and the loop is free
        lock.release()
        return list(await asyncio.gather(*tasks))

    assert sorted(asyncio.run(main())) == [1, 2, 3, 4]
    assert gc.groups == 1
