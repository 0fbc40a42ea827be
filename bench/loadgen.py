"""Load generators: ``wrk`` (with a Lua script) or a bounded asyncio keep-alive client.

Both return a :class:`Result` with requests/s and p50/p99 latency. The Python client speaks
plain HTTP/1.1 over asyncio streams (no httpx) so that it costs as little CPU as possible.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Request:
    """One HTTP request, sent again and again."""

    method: str
    path: str
    body: bytes | None = None
    token: str | None = None


@dataclass(frozen=True)
class Result:
    """What one load run measured."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    tool: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def have_wrk() -> bool:
    """True when a ``wrk`` binary is on PATH."""
    return shutil.which("wrk") is not None


def _lua_string(data: bytes) -> str:
    return '"' + "".join(f"\\{b:03d}" for b in data) + '"'


_LUA_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"socket_errors":%d,"status_errors":%d}\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout,
    e.status))
end
"""


def run_wrk(port: int, req: Request, seconds: float, connections: int) -> Result:
    """Drive ``127.0.0.1:port`` with wrk (one thread) for ``seconds``."""
    lua = [f'wrk.method = "{req.method}"']
    if req.body is not None:
        lua += [f"wrk.body = {_lua_string(req.body)}",
                'wrk.headers["Content-Type"] = "application/json"']
    if req.token:
        lua.append(f'wrk.headers["Authorization"] = "Bearer {req.token}"')
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write("\n".join(lua) + _LUA_DONE)
        script.flush()
        cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
               "-s", script.name, f"http://127.0.0.1:{port}{req.path}"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=True)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no summary: {out.stdout}\n{out.stderr}")
    s = json.loads(line[8:])
    return Result(s["requests"], s["duration_us"] / 1e6, s["p50_us"] / 1e3, s["p99_us"] / 1e3,
                  s["socket_errors"] + s["status_errors"], "wrk")


def _raw(req: Request, port: int) -> bytes:
    head = [f"{req.method} {req.path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Accept: */*"]
    if req.token:
        head.append(f"Authorization: Bearer {req.token}")
    body = req.body or b""
    if req.body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; return its status and whether the server keeps the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    pairs = (x.partition(":") for x in lines[1:] if x)
    headers = {k.strip().lower(): v.strip() for k, _, v in pairs}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() != "close"


async def _client(port: int, raw: bytes, stop_at: float, budget: list[int],
                  lat: list[float], errors: list[int]) -> None:
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    while time.perf_counter() < stop_at and budget[0] != 0:
        budget[0] -= 1
        t0 = time.perf_counter()
        try:
            if conn is None:
                conn = await asyncio.open_connection("127.0.0.1", port)
            conn[1].write(raw)
            status, keep = await _read_response(conn[0])
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            errors[0] += 1
            conn = None
            await asyncio.sleep(0.01)
            continue
        lat.append(time.perf_counter() - t0)
        if status >= 400:
            errors[0] += 1
        if not keep:
            conn[1].close()
            conn = None
    if conn is not None:
        conn[1].close()


async def _run_python(port: int, req: Request, seconds: float, connections: int,
                      max_requests: int) -> Result:
    raw = _raw(req, port)
    lat: list[float] = []
    errors = [0]
    budget = [max_requests]
    start = time.perf_counter()
    stop_at = start + seconds
    tasks = [_client(port, raw, stop_at, budget, lat, errors) for _ in range(connections)]
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds + 60)
    elapsed = time.perf_counter() - start
    lat.sort()

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1e3 if lat else float("nan")

    return Result(len(lat), elapsed, pct(0.50), pct(0.99), errors[0], "python")


def run_python(port: int, req: Request, seconds: float, connections: int,
               max_requests: int = -1) -> Result:
    """Drive ``127.0.0.1:port`` with asyncio clients until ``seconds`` or ``max_requests``."""
    return asyncio.run(_run_python(port, req, seconds, connections, max_requests))


def run(port: int, req: Request, seconds: float, connections: int, tool: str) -> Result:
    """Run with ``tool`` (``wrk``, ``python`` or ``auto``: wrk when installed)."""
    if tool == "wrk" or (tool == "auto" and have_wrk()):
        return run_wrk(port, req, seconds, connections)
    return run_python(port, req, seconds, connections)
