"""`relations check`: the Schemathesis contract suite against a deployment, end to end.

One bounded run against a real `relations serve` (fixed seed, every phase) must pass; a fake
deployment that serves the spec but breaks it must fail with a non-zero exit; a missing
Schemathesis is a clear message, not a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from clientkit.live import ROOT, live_server
from service.cli import cli
from service.cli_check import pin_project

SPEC = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))


def run_check(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", "check", *args, "--seed", "7"],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
    )


@pytest.mark.live
def test_check_passes_against_a_live_server(tmp_path: Path) -> None:
    with live_server(tmp_path / "data") as live:
        token = ["--token", live.token] if live.token else []
        done = run_check(live.base_url, *token, "--max-examples", "5", "--max-time", "25",
                         "--report-dir", str(tmp_path / "report"))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert f"relations check: {live.base_url}" in output
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert phase in output
    assert "relations check: PASSED" in output
    assert list((tmp_path / "report").glob("*.xml")), "the JUnit report is written"


class _BrokenApi(BaseHTTPRequestHandler):
    """Serves the real spec, then answers every operation with a body it does not allow."""

    def _answer(self) -> None:
        if self.path.startswith("/openapi.json"):
            body, status = json.dumps(SPEC).encode(), 200
        else:
            body, status = b'{"data": "not a relation"}', 200
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = do_OPTIONS = _answer

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def broken_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BrokenApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.live
def test_check_fails_on_a_deployment_that_breaks_the_contract(broken_api: str) -> None:
    done = run_check(broken_api, "--max-examples", "2", "--max-time", "10", timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-4000:]
    assert "ST108 Response violates schema" in output
    assert "relations check: FAILED" in output and "--seed 7" in output


def test_check_explains_a_missing_schemathesis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "schemathesis", None)  # `import schemathesis` fails
    result = CliRunner().invoke(cli, ["check", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "needs Schemathesis" in result.output + (result.stderr or "")


def test_unreachable_deployment_is_a_clear_error() -> None:
    result = CliRunner().invoke(cli, ["check", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "cannot read http://127.0.0.1:9/openapi.json" in result.output + (result.stderr or "")


def test_pin_project_narrows_every_project_parameter() -> None:
    spec = json.loads(json.dumps(SPEC))
    assert pin_project(spec, "check") >= 1
    assert spec["components"]["parameters"]["Project"]["schema"] == {
        "type": "string", "enum": ["check"]}
