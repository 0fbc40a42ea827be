"""Run both generated clients' smoke tests against a live server (the last step of make clients).

    .venv/bin/python -m clientkit.run_smoke                       # a fresh relations serve
    .venv/bin/python -m clientkit.run_smoke --base-url URL [--token T] [--project P]

Without --base-url it starts `relations serve` on a free loopback port with its data in a
temporary folder (and an admin token when `relations token` exists), then runs
clientkit/python/smoke.py with the generator's venv and clients/typescript/dist/smoke.js with
node, and exits non-zero if either fails.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from clientkit.live import ROOT, live_server

CLIENTS = ROOT / "clients"


def run_smokes(base_url: str, token: str | None, project: str) -> dict[str, bool]:
    """Each client's smoke test against `base_url`: name -> passed."""
    env = {**os.environ, "RELATIONS_BASE_URL": base_url, "RELATIONS_PROJECT": project,
           "RELATIONS_TOKEN": token or ""}
    commands = {
        "python": ([str(CLIENTS / ".venv" / "bin" / "python"),
                    str(ROOT / "clientkit" / "python" / "smoke.py")],
                   {"PYTHONPATH": str(CLIENTS / "python")}),
        "typescript": (["node", str(CLIENTS / "typescript" / "dist" / "smoke.js")], {}),
    }
    results = {}
    for name, (argv, extra) in commands.items():
        print(f"--- {name} client", flush=True)
        results[name] = subprocess.run(argv, env={**env, **extra}, check=False).returncode == 0
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="an existing deployment (default: start one)")
    parser.add_argument("--token", default=os.environ.get("RELATIONS_TOKEN"))
    parser.add_argument("--project", default="_")
    args = parser.parse_args(argv)
    if args.base_url:
        results = run_smokes(args.base_url.rstrip("/"), args.token, args.project)
    else:
        with (
            tempfile.TemporaryDirectory(prefix="relations-smoke-") as tmp,
            live_server(Path(tmp) / "data", project=args.project) as live,
        ):
            print(f"relations serve at {live.base_url} "
                  f"({'with an admin token' if live.token else 'no token command'})")
            results = run_smokes(live.base_url, live.token, live.project)
    summary = ", ".join(f"{name} {'passed' if ok else 'FAILED'}" for name, ok in results.items())
    print(f"client smoke tests: {summary}")
    passed = sum(results.values())
    print(f"clients: {passed} passed, {len(results) - passed} failed")
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
