"""The throughput scenarios on our server with every project on PostgreSQL (no baseline).

Opt-in: ``python -m bench.run --postgres postgresql://postgres@127.0.0.1:5432/test`` (or
``RELATIONS_BENCH_POSTGRES_URL``). Each bench project gets a scratch database of its own,
created from that admin URL and dropped at the end, whatever happens. Rows go to
``bench/results/latest-postgres.json``.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import psycopg

if TYPE_CHECKING:
    from bench.run import Harness

PROJECTS = ("bdefault", "bfilter", "bwrite", "bbatch")


def _admin(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True, connect_timeout=5)


@contextlib.contextmanager
def scratch_databases(admin_url: str, names: tuple[str, ...]) -> Iterator[dict[str, str]]:
    """One new database per name: {name: URL}; all dropped on exit."""
    tag = uuid.uuid4().hex[:8]
    made: list[str] = []
    try:
        with _admin(admin_url) as conn:
            for name in names:
                conn.execute(f'CREATE DATABASE "relbench_{tag}_{name}"')
                made.append(name)
        yield {n: urlsplit(admin_url)._replace(path=f"/relbench_{tag}_{n}").geturl()
               for n in made}
    finally:
        with contextlib.suppress(psycopg.Error), _admin(admin_url) as conn:
            for name in made:
                conn.execute(f'DROP DATABASE IF EXISTS "relbench_{tag}_{name}" WITH (FORCE)')


def throughput(h: Harness, ours_cmd: list[str], admin_url: str) -> list[dict[str, Any]]:
    """Every selected scenario on our server, its projects on PostgreSQL."""
    from bench import run

    a = h.args
    data_dir = h.work / "ours-postgres"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {"RELATIONS_DATA_DIR": str(data_dir)}
    rows: list[dict[str, Any]] = []
    with scratch_databases(admin_url, PROJECTS) as urls:
        for name, url in urls.items():
            create = [*shlex.split(a.create_cmd), name, "--database-url", url]
            subprocess.run(create, env={**os.environ, **env}, check=True, timeout=60,
                           capture_output=True, cwd=run.ROOT)
            if a.token_cmd:
                out = subprocess.run(shlex.split(a.token_cmd.format(project=name)),
                                     env={**os.environ, **env}, capture_output=True,
                                     text=True, timeout=60, check=True)
                h.tokens[name] = out.stdout.strip().splitlines()[-1].strip()
        ours = h.start("ours-postgres", ours_cmd, data_dir, dict(a.ours_env))
        try:
            h.seed(ours, None, "bdefault", run.DEFAULT_ROWS)
            h.seed(ours, None, "bfilter", run.generated(10_000))
            for name in a.scenarios:
                req = run.SCENARIOS[name]
                try:
                    res = run.measure(h, ours, name, req)
                except Exception as exc:  # one broken scenario must not hide the others
                    rows.append({"scenario": name, "backend": "postgresql", "error": repr(exc)})
                    continue
                rows.append({
                    "scenario": name, "backend": "postgresql",
                    "request": f"{req.method} {req.path}", "ours_rps": run._r(res.rps),
                    "ours_p50_ms": run._r(res.p50_ms), "ours_p99_ms": run._r(res.p99_ms),
                    "ours_errors": res.errors, "tool": res.tool,
                })
                print(f"  {name} (postgresql): ours {res.rps:,.0f} req/s, "
                      f"p99 {res.p99_ms:.1f} ms")
        finally:
            ours.stop()
            h.servers.remove(ours)
    return rows
