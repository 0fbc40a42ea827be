"""A plain-Python evaluation of the Directus query language, for property tests.

Deliberately written from the README's rules, not from ``query/``: SQL NULL semantics
(comparisons with NULL never match), ASCII-only case folding, code-point text order, empty
``like`` operands meaning "no condition", AND binding tighter than OR, NULLs sorted last.
"""

from __future__ import annotations

import re
from typing import Any

COLUMNS = ("id", "collection_many", "field_many", "collection_one", "field_one", "junction_field")
Row = dict[str, Any]
Condition = tuple[str, str]  # (operator, raw value)
Clause = tuple[str, str, list[Condition]]  # (field, logical, conditions)


def fold(text: str) -> str:
    """ASCII-only lower case."""
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def _like(pattern: str, text: str) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, flags=re.DOTALL) is not None


def _operand(field: str, raw: str) -> Any:
    return int(raw) if field == "id" else raw


def _holds(row: Row, field: str, op: str, raw: str) -> bool | None:
    """Whether the condition holds; None when it is no condition at all."""
    value = row[field]
    if op == "null":
        return value is None
    if op == "nnull":
        return value is not None
    if op == "empty":
        return value is None or value == ""
    if op == "nempty":
        return value is not None and value != ""
    if op in ("like", "nlike", "rlike", "nrlike") and raw == "":
        return None
    if value is None:
        return False
    if op in ("like", "nlike"):
        found = fold(raw) in fold(str(value))
        return found if op == "like" else not found
    if op in ("rlike", "nrlike"):
        matched = _like(fold(raw), fold(str(value)))
        return matched if op == "rlike" else not matched
    if op in ("in", "nin"):
        items = [_operand(field, v) for v in raw.split(",")]
        return (value in items) == (op == "in")
    if op in ("between", "nbetween"):
        parts = raw.split(",")
        low, high = _operand(field, parts[0]), _operand(field, parts[-1])
        inside = low <= value <= high
        return inside if op == "between" else not inside
    operand = _operand(field, raw)
    return {
        "eq": value == operand,
        "neq": value != operand,
        "lt": value < operand,
        "lte": value <= operand,
        "gt": value > operand,
        "gte": value >= operand,
    }[op]


def matches(row: Row, clauses: list[Clause], q: str | None) -> bool:
    """The WHERE clause: runs of AND-ed clauses, OR-ed together; then `q`."""
    runs: list[list[bool]] = []
    for field, logical, conditions in clauses:
        results = [_holds(row, field, op, raw) for op, raw in conditions]
        kept = [r for r in results if r is not None]
        if not kept:
            continue
        value = all(kept)
        if logical == "or" and runs:
            runs.append([value])
        elif runs:
            runs[-1].append(value)
        else:
            runs.append([value])
    if runs and not any(all(run) for run in runs):
        return False
    if q:
        return any(row[c] is not None and fold(q) in fold(str(row[c])) for c in COLUMNS)
    return True


def evaluate(
    rows: list[Row],
    clauses: list[Clause],
    q: str | None,
    sort: list[str],
    limit: int,
    offset: int,
) -> list[int]:
    """The ids the server should answer, in order."""
    found = [r for r in rows if matches(r, clauses, q)]
    keys = [*sort, "id"] if "id" not in [k.lstrip("-") for k in sort] else list(sort)
    for key in reversed(keys):
        name = key.lstrip("-")
        desc = key.startswith("-")
        present = sorted((r for r in found if r[name] is not None),
                         key=lambda r: r[name], reverse=desc)
        found = present + [r for r in found if r[name] is None]
    return [r["id"] for r in found][offset:offset + limit if limit >= 0 else None]
