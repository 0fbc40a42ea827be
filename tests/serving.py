"""Helpers for tests that run a real ``relations serve`` process or need their own database.

Everything stays on loopback; every process started here is stopped by the test that
started it (its own process group, killed by id), and every scratch database is dropped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import sqlalchemy as sa

from service import tokens
from service.projects import Projects
from service.settings import Settings

PG_ENV = "RELATIONS_TEST_POSTGRES_URL"
ROOT = Path(__file__).resolve().parent.parent


def sa_url(url: str) -> str:
    """A SQLAlchemy URL for psycopg 3."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


@contextlib.contextmanager
def scratch_pg_database(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (its URL), dropped afterwards whatever happened."""
    name = f"relations_scratch_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(sa_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(sa_url(admin_url)).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def free_port() -> int:
    """A TCP port that was free on loopback a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def admin_token(settings: Settings, project: str = "_") -> str:
    """Open (and migrate) `project` in this process and mint an admin token for it."""
    projects = Projects(settings)
    try:
        _, token = tokens.create(projects.get(project), "admin", label="tests")
    finally:
        projects.dispose()
    return token


def relations_command() -> list[str]:
    """The installed ``relations`` script of this interpreter's environment."""
    script = Path(sys.executable).with_name("relations")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "service.cli"]


def _group_alive(pgid: int) -> bool:
    """Whether a process of group `pgid` still runs (zombies do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


class Server:
    """``relations serve`` in its own process group, on a free loopback port."""

    def __init__(self, data_dir: Path, *, workers: int = 1, env: dict[str, str] | None = None,
                 log_path: Path | None = None) -> None:
        self.data_dir = data_dir
        self.workers = workers
        # the code under test is this checkout, whatever the environment has installed
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        self.env = {**os.environ, "PYTHONPATH": path, "RELATIONS_DATA_DIR": str(data_dir),
                    **(env or {})}
        self.log_path = log_path or data_dir.parent / "server.log"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> float:
        """Start and wait until ``/server/ping`` answers; returns the seconds it took."""
        started = time.monotonic()
        self.port = free_port()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in _reap)
        self.proc = subprocess.Popen(
            [*relations_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(self.workers)],
            env=self.env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() - started < timeout:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}: "
                                       f"{self.log_tail()}")
                try:
                    if client.get(f"{self.url}/server/ping").status_code == 200:
                        return time.monotonic() - started
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"server did not start in {timeout}s: {self.log_tail()}")

    def worker_pids(self) -> list[int]:
        """The uvicorn worker processes (children spawned by multiprocessing), when
        ``--workers`` > 1; multiprocessing's resource tracker is not one of them."""
        assert self.proc is not None
        pids = []
        for children in Path(f"/proc/{self.proc.pid}/task").glob("*/children"):
            for pid in children.read_text().split():
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if b"spawn_main" in cmdline:
                    pids.append(int(pid))
        return sorted(pids)

    def kill(self) -> None:
        """SIGKILL the whole process group (server and workers) at once."""
        self._signal(signal.SIGKILL)
        self._reap(5.0)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop in time."""
        self._signal(signal.SIGTERM)
        if not self._reap(10.0):
            self.kill()

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def _reap(self, timeout: float) -> bool:
        if self.proc is None:
            return True
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        # workers of a killed group: wait until none is left (they die with the group)
        deadline = time.monotonic() + timeout
        while _group_alive(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if self._log is not None:
            self._log.close()
            self._log = None
        return True

    def log_tail(self, n: int = 4000) -> str:
        """The end of the server's log."""
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except FileNotFoundError:
            return ""

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.stop()
