"""Benchmark harness: our server against the bare Starlette + sqlite3 baseline.

Starts both (one uvicorn worker each, pinned to the same CPU), seeds the same data over HTTP,
drives each with the same load (wrk, or the asyncio client when wrk is absent), prints a table
and writes ``bench/results/latest.json``; then runs the scale checks (100,000 rows, 1,000 cold
projects, a 10,000-row batch) into ``bench/results/latest-scale.json``; with ``--postgres`` the
scenarios also run on our server over PostgreSQL (``bench/postgres.py``). Everything is bounded
in time and every server it started is killed on exit, error or signal.

Usage: ``python -m bench.run [--duration 5] [--scenarios a,b] [--skip-scale] [--self-test]``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import loadgen, postgres
from bench.loadgen import Request, Result

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
KEYS = ("collection_many", "field_many", "collection_one", "field_one", "junction_field")
DEFAULT_ROWS: list[dict[str, str | None]] = [dict(zip(KEYS, r, strict=True)) for r in [
    ("directus_activity", "action_by", "directus_users", None, None),
    ("directus_activity_seen", "user", "directus_users", None, None),
    ("directus_activity_seen", "activity", "directus_activity", None, None),
    ("directus_collections_presets", "user", "directus_users", None, None),
    ("directus_collections_presets", "group", "directus_groups", None, None),
    ("directus_files", "uploaded_by", "directus_users", None, None),
    ("directus_files", "folder", "directus_folders", None, None),
    ("directus_folders", "parent_folder", "directus_folders", None, None),
    ("directus_permissions", "group", "directus_groups", None, None),
    ("directus_revisions", "activity", "directus_activity", None, None),
    ("directus_user_roles", "user", "directus_users", "roles", "role"),
    ("directus_user_roles", "role", "directus_roles", "users", "user"),
    ("directus_users", "avatar", "directus_files", None, None),
    ("directus_fields", "collection", "directus_collections", "fields", None),
]]
FILTERED = "?filter[collection_many][eq]=c0042&sort=-collection_one,id&limit=50"
ONE = {"collection_many": "articles", "field_many": "author", "collection_one": "authors",
       "field_one": "books"}
SCENARIOS: dict[str, Request] = {
    "list_defaults": Request("GET", "/bdefault/relations"),
    "list_filtered_10k": Request("GET", "/bfilter/relations" + FILTERED),
    "get_by_id": Request("GET", "/bdefault/relations/7"),
    "list_meta": Request("GET", "/bdefault/relations?meta=*"),
    "create_one": Request("POST", "/bwrite/relations", json.dumps(ONE).encode()),
    "batch_create_1000": Request("POST", "/bbatch/relations", json.dumps([ONE] * 1000).encode()),
}
TARGETS = {"list_defaults": 0.5, "list_filtered_10k": 0.5, "list_meta": 0.5, "get_by_id": 0.25,
           "create_one": 0.5, "batch_create_1000": 0.5}
P99_LIMIT = 3.0


def generated(n: int) -> list[dict[str, str | None]]:
    """``n`` synthetic relations over ``n // 100`` collections (100 rows per collection_many)."""
    nc = max(1, n // 100)
    return [{"collection_many": f"c{i % nc:04d}", "field_many": f"f{i // nc}",
             "collection_one": None if i % 10 == 0 else f"c{i * 7 % nc:04d}",
             "field_one": None if i % 3 else f"o{i}", "junction_field": None} for i in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A server process started in its own session, pinned to ``cpu``, killed by ``stop``."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], cpu: int | None,
                 log: Path) -> None:
        self.name, self.port, self.log = name, free_port(), log
        argv = [a.format(port=self.port, data_dir=env["RELATIONS_DATA_DIR"]) for a in cmd]
        if cpu is not None and shutil.which("taskset"):
            argv = ["taskset", "-c", str(cpu), *argv]
        with log.open("ab") as fh:
            self.proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=fh, stderr=fh,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{self.port}/server/ping", timeout=2)
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.tail()}")

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    def rss_mb(self) -> float:
        """Resident memory of every process in the server's process group, in MiB."""
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[2]) == self.proc.pid:
                    status = (stat.parent / "status").read_text()
                    total += int(status.split("VmRSS:")[1].split()[0])
        return total / 1024

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


class Harness:
    """Options, the servers started so far, and HTTP helpers."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work = args, work
        self.servers: list[Server] = []
        self.tokens: dict[str, str] = {}
        self.http = httpx.Client(timeout=300)
        cpus = self.all_cpus = sorted(os.sched_getaffinity(0))
        self.cpu: int | None = None
        if len(cpus) > 1 and not args.no_pin:
            self.cpu = cpus[-1]
            os.sched_setaffinity(0, cpus[:-1])  # the harness and wrk use the other CPUs

    def start(self, name: str, cmd: list[str], data_dir: Path, extra_env: dict[str, str]) -> Server:
        data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **extra_env, "RELATIONS_DATA_DIR": str(data_dir)}
        server = Server(name, cmd, env, self.cpu, self.work / f"{name}.log")
        self.servers.append(server)
        server.wait_ready()
        return server

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers.clear()

    def token(self, project: str) -> str | None:
        return self.tokens.get(project) or self.args.token or None

    def call(self, server: Server, method: str, path: str, body: Any = None) -> httpx.Response:
        """One request with the token of the path's project."""
        tok = self.token(path.split("/")[1])
        headers = {"Authorization": f"Bearer {tok}"} if tok else {}
        url = f"http://127.0.0.1:{server.port}{path}"
        return self.http.request(method, url, json=body, headers=headers)

    def create_projects(self, names: list[str], data_dir: Path, budget: float,
                        cold: bool = False) -> list[str]:
        """Create projects with the CLI before the server starts (and a token for each unless
        ``cold``: cold projects get ``--cold-create-args`` instead); return the ones created."""
        if not self.args.create_cmd:
            return names
        env = {**os.environ, "RELATIONS_DATA_DIR": str(data_dir)}
        base = shlex.split(self.args.create_cmd)
        base += shlex.split(self.args.cold_create_args) if cold else []
        if shutil.which("taskset"):  # the servers are not running yet: use every CPU
            base = ["taskset", "-c", ",".join(map(str, self.all_cpus)), *base]
        end = time.monotonic() + budget
        failures: list[str] = []

        def cli(batch: list[str]) -> bool:
            if time.monotonic() >= end:
                return False
            try:
                out = subprocess.run([*base, *batch], env=env, capture_output=True, text=True,
                                     timeout=max(1.0, end - time.monotonic()), cwd=ROOT)
            except subprocess.TimeoutExpired:
                return False
            if out.returncode and len(batch) == 1:
                failures.append(f"{batch[0]}: {out.stderr.strip()[-300:]}")
            return out.returncode == 0

        data_dir.mkdir(parents=True, exist_ok=True)
        if len(names) > 1 and cli(names[:2]):  # the CLI takes several names
            done = names[:2]
            for i in range(2, len(names), 200):
                if cli(names[i:i + 200]):
                    done += names[i:i + 200]
        else:  # one name per call, a few at a time
            with ThreadPoolExecutor(4) as pool:
                ok = list(pool.map(lambda n: cli([n]), names))
            done = [n for n, k in zip(names, ok, strict=True) if k]
        for failure in failures[:3]:
            print(f"  project create failed: {failure}")
        for name in done if self.args.token_cmd and not cold else []:
            cmd = shlex.split(self.args.token_cmd.format(project=name))
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60,
                                 check=True)
            self.tokens[name] = out.stdout.strip().splitlines()[-1].strip()
        return done

    def post_rows(self, server: Server, project: str, rows: list[dict[str, Any]],
                  chunk: int = 1000) -> None:
        for i in range(0, len(rows), chunk):
            r = self.call(server, "POST", f"/{project}/relations", rows[i:i + chunk])
            if r.status_code != 200:
                raise RuntimeError(f"seeding {project} on {server.name}: {r.status_code} {r.text}")

    def seed(self, ours: Server, base: Server | None, project: str,
             rows: list[dict[str, Any]]) -> None:
        """Bring ``project`` to ``rows`` on ours, and mirror the same content on the baseline."""
        r = self.call(ours, "GET", f"/{project}/relations?limit=-1")
        r.raise_for_status()
        initial = [{k: v for k, v in row.items() if k != "id"} for row in r.json()["data"]]
        extra = rows[len(initial):]
        self.post_rows(ours, project, extra)
        if base is not None:
            self.post_rows(base, project, initial + extra)


def _normalize(value: Any, port: int, drop_id: bool) -> Any:
    if isinstance(value, dict):
        return {k: _normalize(v, port, drop_id) for k, v in value.items()
                if not (drop_id and k == "id")}
    if isinstance(value, list):
        return [_normalize(v, port, drop_id) for v in value]
    if isinstance(value, str):
        return value.replace(f"127.0.0.1:{port}", "HOST")
    return value


def _first_diff(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in [*a, *(k for k in b if k not in a)]:
            if k not in a or k not in b:
                return f"{path}.{k}: only in {'ours' if k in a else 'baseline'}"
            if a[k] != b[k]:
                return _first_diff(a[k], b[k], f"{path}.{k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_diff(x, y, f"{path}[{i}]")
    return f"{path or 'body'}: ours {json.dumps(a)[:120]} != baseline {json.dumps(b)[:120]}"


def compare(h: Harness, ours: Server, base: Server, req: Request) -> str | None:
    """Send ``req`` once to each server; None when the JSON answers agree, else the difference."""
    body = json.loads(req.body) if req.body else None
    got = [h.call(s, req.method, req.path, body) for s in (ours, base)]
    if got[0].status_code != got[1].status_code:
        return f"status ours {got[0].status_code} != baseline {got[1].status_code}"
    try:
        a, b = (_normalize(g.json(), s.port, req.method == "POST")
                for g, s in zip(got, (ours, base), strict=True))
    except ValueError:
        return "not JSON"
    return None if a == b else _first_diff(a, b)


def measure(h: Harness, server: Server, name: str, req: Request) -> Result:
    """Warm up, then measure one scenario on one server."""
    req = dataclasses.replace(req, token=h.token(req.path.split("/")[1]))
    a = h.args
    if name.startswith("batch_"):
        loadgen.run_python(server.port, req, 120, 1, max_requests=1)
        return loadgen.run_python(server.port, req, 120, 1, max_requests=a.batch_reps)
    loadgen.run(server.port, req, a.warmup, a.connections, a.loadgen)
    return loadgen.run(server.port, req, a.duration, a.connections, a.loadgen)


def _r(x: float) -> float:
    return round(x, 2) if math.isfinite(x) else x


def throughput(h: Harness, ours_cmd: list[str], base_cmd: list[str]) -> list[dict[str, Any]]:
    """Seed, start both servers, run every selected scenario on each; return result rows."""
    a = h.args
    names = ["bdefault", "bfilter", "bwrite", "bbatch"]
    ours_dir, base_dir = h.work / "ours", h.work / "baseline"
    h.create_projects(names, ours_dir, 120)
    ours = h.start("ours", ours_cmd, ours_dir, dict(a.ours_env))
    # the baseline runs at the same durability (RELATIONS_SQLITE_SYNCHRONOUS) as ours
    same = {k: v for k, v in a.ours_env if k == "RELATIONS_SQLITE_SYNCHRONOUS"}
    base = h.start("baseline", base_cmd, base_dir, same)
    t0 = time.monotonic()
    h.seed(ours, base, "bdefault", DEFAULT_ROWS)
    h.seed(ours, base, "bfilter", generated(10_000))
    for p in ("bwrite", "bbatch"):
        h.seed(ours, base, p, [])
    print(f"seeded in {time.monotonic() - t0:.1f}s; ours rss {ours.rss_mb():.0f} MiB, "
          f"baseline rss {base.rss_mb():.0f} MiB")
    rows = []
    for name in a.scenarios:
        req = SCENARIOS[name]
        row: dict[str, Any] = {"scenario": name, "request": f"{req.method} {req.path}"}
        try:
            diff = compare(h, ours, base, req)
            if diff:
                print(f"  {name}: answers differ: {diff}")
            runs: dict[str, list[Result]] = {ours.name: [], base.name: []}
            for _ in range(a.rounds):  # alternate the servers; keep the median round of each
                for server in (ours, base):
                    runs[server.name].append(measure(h, server, name, req))
            res = {k: sorted(v, key=lambda r: r.rps)[len(v) // 2] for k, v in runs.items()}
        except Exception as exc:  # keep going: one broken scenario must not hide the others
            print(f"  {name}: failed: {exc!r}")
            rows.append(row | {"error": repr(exc)})
            continue
        o, b = res["ours"], res["baseline"]
        row |= {
            "ours_rps": _r(o.rps), "baseline_rps": _r(b.rps),
            "ratio": round(o.rps / b.rps, 3) if b.rps else None,
            "ours_p50_ms": _r(o.p50_ms), "ours_p99_ms": _r(o.p99_ms),
            "baseline_p50_ms": _r(b.p50_ms), "baseline_p99_ms": _r(b.p99_ms),
            "p99_ratio": round(o.p99_ms / b.p99_ms, 2) if b.p99_ms else None,
            "ours_errors": o.errors, "baseline_errors": b.errors, "same_json": diff is None,
            "tool": o.tool, "connections": 1 if name.startswith("batch_") else a.connections,
            "seconds": round(o.seconds, 2), "rounds": a.rounds, "target_ratio": TARGETS[name],
        }
        row["meets_target"] = bool(row["ratio"] and row["ratio"] >= TARGETS[name]
                                   and row["p99_ratio"] is not None
                                   and row["p99_ratio"] < P99_LIMIT and not o.errors)
        rows.append(row)
        print(f"  {name}: ours {o.rps:,.0f} req/s, baseline {b.rps:,.0f} req/s")
    print(f"rss after load: ours {ours.rss_mb():.0f} MiB, baseline {base.rss_mb():.0f} MiB")
    h.stop_all()
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    """One line per scenario: req/s, p50, p99 for both, and the ratios."""
    cols = [("ours rps", "ours_rps", ",.0f"), ("base rps", "baseline_rps", ",.0f"),
            ("ratio", "ratio", ".2f"), ("ours p50", "ours_p50_ms", ".1f"),
            ("base p50", "baseline_p50_ms", ".1f"), ("ours p99", "ours_p99_ms", ".1f"),
            ("base p99", "baseline_p99_ms", ".1f"), ("p99 x", "p99_ratio", ".1f"),
            ("target", "meets_target", "")]
    print("\n" + f"{'scenario':<18}" + "".join(f"{t:>10}" for t, _, _ in cols) + "  notes")
    for row in rows:
        cells = "".join(f"{'-' if row.get(k) is None else format(row[k], f):>10}"
                        for _, k, f in cols)
        notes = [row.get("error", "")]
        if row.get("ours_errors") or row.get("baseline_errors"):
            notes.append(f"errors ours {row['ours_errors']}, baseline {row['baseline_errors']}")
        if row.get("same_json") is False:
            notes.append("JSON differs")
        print(f"{row['scenario']:<18}{cells}  {'; '.join(n for n in notes if n)}")
    print("(latency in ms; ratio = ours/baseline req/s; p99 x = ours p99 / baseline p99)\n")


def _timed_get(h: Harness, server: Server, path: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    r = h.call(server, "GET", path)
    return (time.perf_counter() - t0) * 1e3, r.status_code


def scale(h: Harness, ours_cmd: list[str], deadline: float, out: list[dict[str, Any]]) -> None:
    """100,000 rows, a 10,000-row batch, and cold first requests to many projects (ours only)."""
    a = h.args

    def add(check: str, value: Any, unit: str, target: str = "", ok: bool | None = None,
            **extra: Any) -> None:
        out.append({"check": check, "value": value, "unit": unit, "target": target, "ok": ok}
                   | extra)
        verdict = "" if ok is None else ("ok" if ok else "FAIL")
        print(f"  {check}: {value} {unit} {target} {verdict}")

    data_dir = h.work / "scale"
    cold = [f"cold{i:04d}" for i in range(a.projects)]
    t0 = time.monotonic()
    h.create_projects(["bdefault", "b100k"], data_dir, 60)
    made = h.create_projects(cold, data_dir, max(10.0, min(150.0, deadline - time.monotonic())),
                             cold=True)
    add("create_projects", len(made), "projects", f"of {len(cold)}",
        seconds=round(time.monotonic() - t0, 1))
    ours = h.start("ours-scale", ours_cmd, data_dir, dict(a.ours_env))
    add("rss_start", round(ours.rss_mb(), 1), "MiB")
    h.seed(ours, None, "bdefault", DEFAULT_ROWS)
    rows, times, failed = generated(100_000), [], ""
    for i in range(0, len(rows), 10_000):
        if time.monotonic() > deadline:
            break
        if failed:
            h.post_rows(ours, "b100k", rows[i:i + 10_000])
            continue
        t = time.perf_counter()
        r = h.call(ours, "POST", "/b100k/relations", rows[i:i + 10_000])
        if r.status_code == 200:
            times.append(time.perf_counter() - t)
        else:
            failed = f"{r.status_code} {r.text[:200]}"
            h.post_rows(ours, "b100k", rows[i:i + 10_000])
    if failed:
        add("batch_create_10000", None, "s", "one request", False, error=failed)
    elif times:
        add("batch_create_10000", round(times[0], 2), "s", "one request", True,
            median_s=round(sorted(times)[len(times) // 2], 2), max_s=round(max(times), 2),
            batches=len(times))
    n = h.call(ours, "GET", "/b100k/relations?limit=0&meta=total_count").json().get("meta", {})
    req14 = Request("GET", "/bdefault/relations", token=h.token("bdefault"))
    req100k = Request("GET", "/b100k/relations" + FILTERED, token=h.token("b100k"))
    t14 = loadgen.run(ours.port, req14, 2, 1, a.loadgen)
    tf = loadgen.run(ours.port, req100k, 2, 1, a.loadgen)
    add("list_14_rows_p50", _r(t14.p50_ms), "ms")
    add("filtered_list_100k_p50", _r(tf.p50_ms), "ms", "<= 2x the 14-row list",
        tf.p50_ms <= 2 * t14.p50_ms and not tf.errors, rows=n.get("total_count"),
        ratio=round(tf.p50_ms / t14.p50_ms, 2), p99_ms=_r(tf.p99_ms))
    lat, status, rss_half = [], Counter[int](), None
    for i, p in enumerate(made):
        if time.monotonic() > deadline:
            break
        ms, code = _timed_get(h, ours, f"/{p}/relations")
        lat.append(ms)
        status[code] += 1
        if i + 1 == len(made) // 2:
            rss_half = round(ours.rss_mb(), 1)
    if lat:
        lat.sort()
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
        add("cold_project_first_request_p99", _r(p99), "ms", "< 50 ms", p99 < 50,
            max_ms=_r(lat[-1]), p50_ms=_r(lat[len(lat) // 2]), projects=len(lat),
            statuses=dict(status))
    if rss_half is not None:  # the engine cache bounds memory: the second half adds little
        add("rss_after_half_the_projects", rss_half, "MiB", f"after {len(made) // 2} projects")
    add("rss_after_projects", round(ours.rss_mb(), 1), "MiB", f"after {len(lat)} projects")
    h.stop_all()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    rel = Path(sys.executable).parent / "relations"
    rel_cmd = str(rel if rel.exists() else ROOT / ".venv" / "bin" / "relations")
    base = f"{shlex.quote(sys.executable)} {ROOT / 'bench' / 'baseline.py'} --port {{port}}"
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=5, help="seconds per measured run")
    ap.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per run")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=1, help="alternating rounds; median is kept")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS),
                    help=f"comma list of {', '.join(SCENARIOS)}")
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--only-scale", action="store_true", help="skip the throughput scenarios")
    ap.add_argument("--projects", type=int, default=1000, help="cold projects in the scale check")
    ap.add_argument("--batch-reps", type=int, default=10, help="repetitions of the 1,000 batch")
    ap.add_argument("--budget", type=float, default=300, help="seconds for the whole run")
    ap.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    ap.add_argument("--token", default=os.environ.get("RELATIONS_BENCH_TOKEN"),
                    help="bearer token for every request (env RELATIONS_BENCH_TOKEN)")
    ap.add_argument("--token-cmd", default=f"{rel_cmd} token create --project {{project}} "
                    "--role admin --label bench", help="prints a token for {project} on its "
                    "last line; run once per project ('' to skip; --token skips it too)")
    ap.add_argument("--ours-cmd", default=f"{rel_cmd} serve --host 127.0.0.1 --port {{port}} "
                    "--workers 1", help="our server; {port} and {data_dir} are filled in")
    ap.add_argument("--ours-env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra env for our server, e.g. RELATIONS_VALIDATE_RESPONSES=false")
    ap.add_argument("--create-cmd", default=f"{rel_cmd} project create",
                    help="project creation command, names appended ('' to skip)")
    ap.add_argument("--cold-create-args", default="--public read",
                    help="added to --create-cmd for the cold projects (they get no token)")
    ap.add_argument("--baseline-cmd", default=base)
    ap.add_argument("--postgres", default=os.environ.get("RELATIONS_BENCH_POSTGRES_URL"),
                    metavar="ADMIN_URL", help="also run the scenarios on our server with its "
                    "projects on PostgreSQL (scratch databases made from this URL, then "
                    "dropped); env RELATIONS_BENCH_POSTGRES_URL")
    ap.add_argument("--self-test", action="store_true",
                    help="run the baseline in place of our server (no project CLI)")
    ap.add_argument("--no-pin", action="store_true", help="do not pin the servers to one CPU")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data and logs")
    args = ap.parse_args(argv)
    if args.self_test:
        args.ours_cmd, args.create_cmd, args.token_cmd = base, "", ""
    if args.token:
        args.token_cmd = ""
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenarios: {', '.join(unknown)}")
    args.ours_env = [tuple(kv.split("=", 1)) for kv in args.ours_env]
    if args.only_scale:
        args.scenarios = []
    return args


def _raise_signal(signum: int, frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; the exit status is 0 when it ran (targets are reported, not enforced)."""
    args = parse_args(argv)
    start = time.monotonic()
    deadline = start + args.budget
    signal.signal(signal.SIGTERM, _raise_signal)
    signal.signal(signal.SIGALRM, _raise_signal)
    signal.alarm(int(args.budget) + 120)  # hard stop; the finally below kills the servers
    work = Path(tempfile.mkdtemp(prefix="relations-bench-"))
    h = Harness(args, work)
    ours_cmd, base_cmd = shlex.split(args.ours_cmd), shlex.split(args.baseline_cmd)
    if not shutil.which(ours_cmd[0]):
        print(f"our server's command is missing: {ours_cmd[0]} (try --self-test)", file=sys.stderr)
        return 2
    tool = "wrk" if args.loadgen == "wrk" or (args.loadgen == "auto" and loadgen.have_wrk()) \
        else "python asyncio client"
    print(f"load: {tool}, {args.connections} connections, {args.warmup:g}s warm-up + "
          f"{args.duration:g}s per run; servers pinned to CPU {h.cpu}; work dir {work}")
    try:
        RESULTS.mkdir(parents=True, exist_ok=True)
        if args.scenarios:
            rows = throughput(h, ours_cmd, base_cmd)
            print_table(rows)
            (RESULTS / "latest.json").write_text(json.dumps(rows, indent=2) + "\n")
            print(f"wrote {RESULTS / 'latest.json'}")
        if args.scenarios and args.postgres and not args.self_test:
            print("the same scenarios, our server on PostgreSQL (no baseline):")
            pg_rows = postgres.throughput(h, ours_cmd, args.postgres)
            (RESULTS / "latest-postgres.json").write_text(json.dumps(pg_rows, indent=2) + "\n")
            print(f"wrote {RESULTS / 'latest-postgres.json'}")
        if not args.skip_scale:
            print("scale checks (our server only):")
            checks: list[dict[str, Any]] = []
            try:
                scale(h, ours_cmd, deadline, checks)
            except Exception as exc:  # keep the checks that ran
                print(f"  scale checks stopped: {exc!r}")
                checks.append({"check": "error", "value": repr(exc), "ok": False})
            (RESULTS / "latest-scale.json").write_text(json.dumps(checks, indent=2) + "\n")
            print(f"wrote {RESULTS / 'latest-scale.json'}")
    except BaseException:
        for server in h.servers:
            print(f"--- last lines of {server.log} ---\n{server.tail()}", file=sys.stderr)
        raise
    finally:
        signal.alarm(0)
        h.stop_all()
        h.http.close()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"done in {time.monotonic() - start:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
