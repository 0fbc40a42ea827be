"""Readiness: one cheap query per database this process uses, all within a short deadline.

Checked: the default project (opened, hence migrated, if it is not open yet) and every
project open in this process, each database once (two projects on one PostgreSQL database
share a check). SQLite runs ``SELECT 1 FROM sqlite_master`` (it reads the file's first page);
PostgreSQL runs ``SELECT 1`` (a round trip to the server). The checks run in parallel; one
that has not answered by the deadline counts as failed. The report names no project, path,
URL or error text: only how many databases of each kind were checked and how many failed.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text

from service.errors import ApiError, Code
from service.projects import Projects
from service.registry import DEFAULT_PROJECT

log = logging.getLogger("relations.health")

_QUERY = {"sqlite": "SELECT 1 FROM sqlite_master LIMIT 1", "postgresql": "SELECT 1"}
_POOL_LOCK = threading.Lock()
_POOL: list[cf.ThreadPoolExecutor] = []


@dataclass(frozen=True)
class Report:
    """The readiness verdict and its body."""

    ok: bool
    body: dict[str, Any]


def _executor() -> cf.ThreadPoolExecutor:
    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(cf.ThreadPoolExecutor(max_workers=8, thread_name_prefix="health"))
        return _POOL[0]


def _probe(engine: Engine) -> float:
    started = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(text(_QUERY.get(engine.dialect.name, "SELECT 1"))).scalar()
    return (time.perf_counter() - started) * 1000


def _kind(projects: Projects, name: str) -> str:
    info = projects.registry.get(name)
    return "postgresql" if info is not None and info.database_url else "sqlite"


def _probe_default(projects: Projects) -> float:
    """Open the default project (migrating it if needed) and probe it."""
    return _probe(projects.get(DEFAULT_PROJECT).engine)


def _others(projects: Projects) -> dict[str, Engine]:
    """One engine per distinct database among the open projects, the default's aside."""
    engines: dict[str, Engine] = {}
    seen: set[str] = set()
    for project in projects.open_projects():
        key = project.engine.url.render_as_string(hide_password=False)
        if project.info.name == DEFAULT_PROJECT:
            seen.add(key)
        else:
            engines.setdefault(key, project.engine)
    return {k: e for k, e in engines.items() if k not in seen}


def check(projects: Projects, timeout_s: float) -> Report:
    """Run the checks; ``ok`` only when every database answered in time."""
    started = time.perf_counter()
    pool = _executor()
    futures: dict[cf.Future[float], str] = {
        pool.submit(_probe_default, projects): _kind(projects, DEFAULT_PROJECT)
    }
    for engine in _others(projects).values():
        futures[pool.submit(_probe, engine)] = engine.dialect.name
    remaining = max(0.0, timeout_s - (time.perf_counter() - started))
    done, pending = cf.wait(futures, timeout=remaining)
    kinds: dict[str, dict[str, Any]] = {}

    def tally(kind: str, ms: float | None) -> None:
        entry = kinds.setdefault(kind, {"kind": kind, "databases": 0, "failed": 0, "ms": 0.0})
        entry["databases"] += 1
        if ms is None:
            entry["failed"] += 1
        else:
            entry["ms"] = round(max(entry["ms"], ms), 3)

    for fut in done:
        exc = fut.exception()
        if exc is not None:
            log.warning("readiness: a %s check failed (%s)", futures[fut], type(exc).__name__)
        tally(futures[fut], None if exc is not None else fut.result())
    for fut in pending:
        fut.cancel()
        log.warning("readiness: a %s check timed out", futures[fut])
        tally(futures[fut], None)
    ok = all(k["failed"] == 0 for k in kinds.values())
    body: dict[str, Any] = {
        "status": "ok" if ok else "unavailable",
        "backends": sorted(kinds.values(), key=lambda k: str(k["kind"])),
    }
    if not ok:
        body = {**ApiError(Code.STORAGE_UNAVAILABLE).body(), **body}
    return Report(ok, body)
