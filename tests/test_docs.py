"""Docs and spec are checked against the tables of data they describe."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

import handlers
from query.operators import OPERATORS
from service.errors import Code
from service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SPEC_TEXT = (ROOT / "openapi.yaml").read_text(encoding="utf-8")
SPEC: dict[str, Any] = yaml.safe_load(SPEC_TEXT)
DESCRIPTION: str = SPEC["info"]["description"]


def _table_rows(text: str, first_cell: str) -> dict[str, list[str]]:
    """Markdown table rows keyed by their first cell (backticks stripped)."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells
    assert first_cell in rows, f"no table with a {first_cell!r} row"
    return rows


def test_spec_is_valid_openapi_303() -> None:
    spec_dict, _ = read_from_filename(str(ROOT / "openapi.yaml"))
    validate(spec_dict)
    assert SPEC["openapi"] == "3.0.3"


@pytest.mark.parametrize("where", ["README", "spec"])
def test_every_operator_is_documented(where: str) -> None:
    text = README if where == "README" else DESCRIPTION
    rows = _table_rows(text, "eq")
    for op in OPERATORS:
        assert op.name in rows, op.name
        for alias in op.aliases:
            assert alias in re.split(r"[`, ]+", rows[op.name][1]), (op.name, alias)


@pytest.mark.parametrize("where", ["README", "spec"])
def test_every_error_code_is_documented(where: str) -> None:
    text = README if where == "README" else DESCRIPTION
    rows = _table_rows(text, "203")
    documented = {int(k) for k in rows if k.isdigit()}
    assert documented == {c.code for c in Code}
    for c in Code:
        assert rows[str(c.code)][1] == str(c.status), c


def test_error_codes_are_unique() -> None:
    assert len({c.code for c in Code}) == len(Code)


def test_every_setting_is_documented_with_its_default() -> None:
    rows = _table_rows(README, "RELATIONS_DATA_DIR")
    for name, field in Settings.model_fields.items():
        var = f"RELATIONS_{name.upper()}"
        assert var in rows, var
        default = field.default
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        if isinstance(default, Path):
            shown = f"./{default}"
        assert rows[var][1] == shown, (var, rows[var][1], shown)


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in SPEC["paths"].items()
            for method, op in item.items() if method in ("get", "post", "patch", "delete")]


def test_every_operation_resolves_to_a_handler() -> None:
    for _, _, op in _operations():
        assert callable(getattr(handlers, op["operationId"])), op["operationId"]


def test_every_error_response_is_the_envelope() -> None:
    responses = SPEC["components"]["responses"]
    for path, method, op in _operations():
        for status, resp in op["responses"].items():
            if int(status) < 400 or path == "/server/health":  # readiness reports per backend
                continue
            if "$ref" in resp:
                resp = responses[resp["$ref"].rsplit("/", 1)[-1]]
            schema = resp["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (path, method, status)


def test_every_integer_is_bounded() -> None:
    ints = re.findall(r"type: integer\n((?:\s+\w+:.*\n){0,6})", SPEC_TEXT)
    assert ints
    for block in ints:
        if "enum" in block:
            continue
        assert "maximum:" in block or "format: int32" in block, block


def test_readme_names_the_two_commands() -> None:
    assert "make run" in README and "make test" in README
