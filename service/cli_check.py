"""``relations check BASE_URL``: the Schemathesis contract suite against any deployment.

It reads the spec the deployment serves (``BASE_URL/openapi.json``), narrows the ``{project}``
path parameter to the one project under test (so that every valid request lands in it, and
every other project name is an invalid value the server must refuse with 404/24), and runs
Schemathesis on it: every check, the examples, coverage, fuzzing and stateful phases, a
bounded number of examples and a time budget, and a seed that is printed so a failure can be
replayed. Schemathesis prints its progress and the failures with `curl` reproductions; this
command adds what it tested and a one-line verdict, and exits non-zero on any failure.

The suite writes: it creates, updates and deletes relations in the project it tests, so point
it at a scratch project (`relations project create check`, `--project check`) or a test
deployment. Schemathesis is a dev dependency; it is imported only when the command runs.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import typer

PHASES = "examples,coverage,fuzzing,stateful"
#: A refusal by size (413 body, 414 request target) also rejects invalid data.
CONFIG = """\
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "414", "415",
                     "422", "428", "429", "5xx"]
"""
INSTALL_HINT = (
    "relations check needs Schemathesis, a development dependency: "
    "pip install -e '.[dev]' (or pip install 'schemathesis>=4,<5')"
)


def fetch_spec(base_url: str, token: str | None) -> dict[str, Any]:
    """The OpenAPI document the deployment serves."""
    request = urllib.request.Request(f"{base_url}/openapi.json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        spec: dict[str, Any] = json.loads(response.read())
    return spec


def pin_project(spec: dict[str, Any], project: str) -> int:
    """Narrow every `{project}` path parameter to `project`; how many were narrowed."""
    params: list[dict[str, Any]] = list(spec.get("components", {}).get("parameters", {}).values())
    for item in spec.get("paths", {}).values():
        params += item.get("parameters", [])
        params += [p for op in item.values() if isinstance(op, dict)
                   for p in op.get("parameters", [])]
    pinned = 0
    for param in params:
        if param.get("in") == "path" and param.get("name") == "project":
            param["schema"] = {"type": "string", "enum": [project]}
            pinned += 1
    return pinned


def schemathesis_args(
    spec_file: Path, base_url: str, *, token: str | None, seed: int, max_examples: int,
    max_time: int, workers: int, report_dir: Path | None,
) -> list[str]:
    """The `schemathesis run` arguments of one check."""
    args = [
        "run", str(spec_file), "--url", base_url, "--checks", "all", "--phases", PHASES,
        "--seed", str(seed), "--max-examples", str(max_examples), "--max-time", str(max_time),
        "--workers", str(workers), "--generation-database", "none",
        "--suppress-health-check", "all",
    ]
    if token:
        args += ["--header", f"Authorization: Bearer {token}"]
    if report_dir is not None:
        args += ["--report", "junit,har", "--report-dir", str(report_dir)]
    return args


def _run_schemathesis(args: list[str], config_file: Path) -> int:
    from schemathesis.cli.commands import schemathesis as st_cli

    try:
        st_cli.main(args=["--config-file", str(config_file), *args],
                    prog_name="relations check", standalone_mode=True)
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0

REPORT_DIR_OPTION = typer.Option(
    None, "--report-dir", help="Also write JUnit and HAR reports to this folder."
)


def check(
    base_url: str = typer.Argument(..., help="Where the API is served: http://host:port"),
    token: str | None = typer.Option(
        None, "--token", envvar="RELATIONS_TOKEN",
        help="API token, sent as `Authorization: Bearer` (env RELATIONS_TOKEN).",
    ),
    project: str = typer.Option(
        "_", "--project", "-p", help="The project to test (the suite writes to it)."
    ),
    seed: int | None = typer.Option(
        None, "--seed", help="Random seed, to replay a run (default: random, printed)."
    ),
    max_examples: int = typer.Option(
        25, "--max-examples", min=1, help="Test cases per operation and phase."
    ),
    max_time: int = typer.Option(
        120, "--max-time", min=1, help="Time budget of the whole run, in seconds."
    ),
    workers: int = typer.Option(
        1, "--workers", min=1, max=64, help="Concurrent Schemathesis workers."
    ),
    report_dir: Path | None = REPORT_DIR_OPTION,
) -> None:
    """Contract-test a deployment against the spec it serves (Schemathesis, every check)."""
    try:
        import schemathesis  # noqa: F401
    except ImportError:
        typer.echo(INSTALL_HINT, err=True)
        raise typer.Exit(2) from None
    base_url = base_url.rstrip("/")
    seed = random.randrange(2**31) if seed is None else seed
    try:
        spec = fetch_spec(base_url, token)
    except (OSError, ValueError) as exc:
        typer.echo(f"relations check: cannot read {base_url}/openapi.json: {exc}", err=True)
        raise typer.Exit(2) from None
    pinned = pin_project(spec, project)
    operations = sum(1 for item in spec.get("paths", {}).values() for m in item
                     if m in {"get", "put", "post", "patch", "delete", "head", "options"})
    typer.echo(
        f"relations check: {base_url}, spec {spec.get('info', {}).get('version', '?')} "
        f"({operations} operations), project {project!r}"
        f"{'' if pinned else ' (the spec has no {project} parameter)'}, "
        f"{'with a token' if token else 'no token'}\n"
        f"  every check; phases {PHASES}; up to {max_examples} examples per operation; "
        f"at most {max_time}s; seed {seed}",
    )
    sys.stdout.flush()
    with tempfile.TemporaryDirectory(prefix="relations-check-") as tmp:
        spec_file = Path(tmp) / "openapi.json"
        spec_file.write_text(json.dumps(spec), encoding="utf-8")
        config_file = Path(tmp) / "schemathesis.toml"
        config_file.write_text(CONFIG, encoding="utf-8")  # and no schemathesis.toml around
        code = _run_schemathesis(schemathesis_args(
            spec_file, base_url, token=token, seed=seed, max_examples=max_examples,
            max_time=max_time, workers=workers, report_dir=report_dir,
        ), config_file)
    if code == 0:
        typer.echo(f"relations check: PASSED ({base_url}, project {project!r}, seed {seed})")
        return
    typer.echo(f"relations check: FAILED (Schemathesis exit code {code}); replay with "
               f"--seed {seed} --max-examples {max_examples}", err=True)
    raise typer.Exit(1)
