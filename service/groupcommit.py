"""Group commit: single creates that arrive together share one transaction.

A create's cost is mostly its commit (with ``synchronous=FULL`` an fsync of ~0.2 ms, and
PostgreSQL's WAL flush likewise), so creates waiting on the same event loop for the same
project are gathered for one loop turn and written in one transaction: one commit for all.
Each caller still gets its answer only after the commit that holds its row, so an
acknowledged create is as durable as before; a failure (storage full, unavailable) fails
every create of the group and leaves none of their rows, exactly as if each had failed alone.

Only creates that cannot fail one by one are grouped: one object without an explicit ``id``
(an explicit id may clash with a stored one and must fail alone). The flush runs in a task
of its own, so a caller that goes away never strands the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import Engine

from service import store
from service.projects import Project

#: Most creates written by one group commit (it then stays small enough to run inline).
MAX_GROUP = 50
#: Inserts rows in one transaction; their new ids, in order.
Insert = Callable[[Project, list[dict[str, Any]]], Awaitable[list[int]]]

_Group = list[tuple[dict[str, Any], "asyncio.Future[int]"]]


class GroupCommit:
    """Gathers single creates per (event loop, project) and writes each group at once."""

    def __init__(self, insert: Insert, max_group: int = MAX_GROUP) -> None:
        self.insert = insert
        self.max_group = max_group
        self._gathering: dict[tuple[int, Engine], _Group] = {}
        self._flushing: set[asyncio.Task[None]] = set()
        #: transactions written and rows they held (operators and tests can tell)
        self.groups = 0
        self.rows = 0

    async def create(self, project: Project, row: dict[str, Any]) -> int:
        """Insert `row` with the other creates gathered this loop turn; its new id."""
        loop = asyncio.get_running_loop()
        key = (id(loop), project.engine)
        future: asyncio.Future[int] = loop.create_future()
        group = self._gathering.get(key)
        if group is None:
            group = self._gathering[key] = []
            loop.call_soon(self._start, key, project, group)
        group.append((row, future))
        if len(group) >= self.max_group:
            self._gathering.pop(key, None)  # full: the next create starts another group
        return await future

    def _start(self, key: tuple[int, Engine], project: Project, group: _Group) -> None:
        if self._gathering.get(key) is group:  # else it was closed when it filled up
            del self._gathering[key]
        task = asyncio.get_running_loop().create_task(self._flush(project, group))
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _flush(self, project: Project, group: _Group) -> None:
        pending = [(row, fut) for row, fut in group if not fut.cancelled()]
        if not pending:
            return
        try:
            ids = await self.insert(project, [row for row, _ in pending])
        except BaseException as exc:  # every create of the group failed; nothing was stored
            for _, fut in pending:
                if not fut.done():
                    fut.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        self.groups += 1
        self.rows += len(pending)
        for (_, fut), rid in zip(pending, ids, strict=True):
            if not fut.done():
                fut.set_result(rid)


#: The process's group commit of single creates (keyed by event loop, so apps never mix).
CREATES = GroupCommit(store.insert_together)
