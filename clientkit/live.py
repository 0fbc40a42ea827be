"""A real `relations serve` on a free loopback port, for smoke tests, `relations check` tests
and the browser test.

`live_server(data_dir)` starts the server with its data under `data_dir`, waits for
`GET /server/ping`, and yields a `Live` (base URL, project, token). When the `relations token`
command exists, it first creates an admin token for the project (the server may refuse
anonymous calls), taken from the last line the command prints. The server is stopped, by its
own process id, when the block ends.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "service.cli"]


@dataclass(frozen=True)
class Live:
    """A running server."""

    base_url: str
    project: str
    token: str | None
    log: Path


def _env(data_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "RELATIONS_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    env.update(extra or {})
    return env


def token_command_exists() -> bool:
    """Whether this checkout's CLI has `relations token`."""
    probe = subprocess.run([*CLI, "token", "--help"], cwd=ROOT, capture_output=True, check=False)
    return probe.returncode == 0


def create_token(data_dir: Path, project: str, role: str = "admin") -> str:
    """`relations token create --project P --role R`: the token is the last line printed."""
    done = subprocess.run(
        [*CLI, "token", "create", "--project", project, "--role", role],
        cwd=ROOT, env=_env(data_dir), capture_output=True, text=True, check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"relations token create failed: {done.stderr.strip() or done.stdout}")
    return lines[-1].strip()


def free_port() -> int:
    """A port nothing listens on right now (loopback)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(base_url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"relations serve exited ({proc.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base_url}/server/ping", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"relations serve did not answer within {timeout}s:\n{log.read_text()}")


@contextmanager
def live_server(
    data_dir: Path,
    *,
    project: str = "_",
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> Iterator[Live]:
    """Serve from `data_dir` on loopback until the block ends."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if project != "_":
        subprocess.run([*CLI, "project", "create", project], cwd=ROOT, env=_env(data_dir),
                       capture_output=True, check=True)
    token = create_token(data_dir, project) if token_command_exists() else None
    port = free_port()
    log = data_dir / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=_env(data_dir, env), stdout=out, stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, proc, log, timeout)
        yield Live(base_url, project, token, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
