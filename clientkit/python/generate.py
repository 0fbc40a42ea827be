"""Generate the Python client from openapi.yaml with openapi-python-client (make clients).

Run with the interpreter of the generator's own venv (it pins its own httpx):

    clients/.venv/bin/python clientkit/python/generate.py openapi.yaml clients/python

It first checks that every query parameter of the spec is serialised the way our template
override sends it (arrays form/explode:false, objects deepObject, scalars form), assembles the
template folder (our `endpoint_macros.py.jinja` plus the installed generator's own copy of it,
which ours re-exports), then generates the package `relations_client` with no post hooks.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import openapi_python_client
from ruamel.yaml import YAML  # the generator's own YAML parser

HERE = Path(__file__).resolve().parent
PACKAGE = "relations_client"


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def check_query_styles(spec: dict[str, Any]) -> list[str]:
    """Query parameters whose declared serialisation the template would not honour."""
    problems = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            for raw in [*item.get("parameters", []), *op.get("parameters", [])]:
                param = _resolve(spec, raw)
                if param["in"] != "query":
                    continue
                kind = _resolve(spec, param.get("schema", {})).get("type", "string")
                style = param.get("style", "form")
                explode = param.get("explode", style == "form")
                ok = {
                    "array": style == "form" and explode is False,
                    "object": style == "deepObject" and explode is True,
                }.get(kind, style == "form")
                if not ok:
                    problems.append(f"{method.upper()} {path}: {param['name']} "
                                    f"({kind}, style={style}, explode={explode})")
    return problems


def main(spec_path: str, output: str) -> int:
    spec = YAML(typ="safe").load(Path(spec_path).read_text(encoding="utf-8"))
    problems = check_query_styles(spec)
    if problems:
        print("the Python template override cannot serialise:", *problems, sep="\n  ")
        return 1
    upstream = Path(openapi_python_client.__file__).parent / "templates"
    out = Path(output)
    with tempfile.TemporaryDirectory(prefix="relations-templates-") as tmp:
        templates = Path(tmp)
        shutil.copy(upstream / "endpoint_macros.py.jinja",
                    templates / "upstream_endpoint_macros.py.jinja")
        shutil.copy(HERE / "templates" / "endpoint_macros.py.jinja", templates)
        config = templates / "config.yaml"
        config.write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n",
                          encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [str(Path(sys.executable).parent / "openapi-python-client"), "generate",
             "--path", spec_path, "--meta", "none", "--config", str(config),
             "--custom-template-path", str(templates), "--output-path", str(out / PACKAGE),
             "--fail-on-warning"],
            check=False,
        )
    return result.returncode


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
