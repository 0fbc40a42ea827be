"""Validated request parameters -> :class:`query.ast.Query`.

Connexion has already checked every parameter against ``openapi.yaml``; this module turns
them into the typed tree and enforces what the spec cannot say (server limits, operand
arity). Every failure is an :class:`~service.errors.ApiError` with a stable code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from models import COLUMNS
from query.ast import Clause, Condition, Logical, Operand, Page, Query, SortKey
from query.operators import BY_NAME, ONE_TO_MANY_ONLY, SPELLINGS
from service.errors import ApiError, Code, invalid_field

INT_COLUMNS = frozenset({"id"})
META_KEYS = ("collection", "type", "result_count", "total_count", "filter_count", "page")
INT64_MAX = 2**63 - 1
#: Offsets beyond this can never match a row; clamping keeps every SQL integer in range.
OFFSET_CEILING = 2**62


@dataclass(frozen=True)
class Limits:
    """The server limits the parser enforces (from settings)."""

    default_limit: int = 200
    max_limit: int = 100_000
    max_filter_clauses: int = 64


def parse_fields(fields: Sequence[str] | None) -> tuple[str, ...]:
    """`*`, names and `-name` exclusions -> the output columns."""
    if not fields:
        return COLUMNS
    chosen: list[str] = []
    excluded: set[str] = set()
    star = False
    for raw in fields:
        name = raw.strip()
        if not name:
            continue
        if name == "*":
            star = True
            continue
        target = name[1:] if name.startswith("-") else name
        if target not in COLUMNS:
            raise invalid_field(name)
        if name.startswith("-"):
            excluded.add(target)
        elif target not in chosen:
            chosen.append(target)
    base = COLUMNS if star or not chosen else tuple(chosen)
    if star:
        base = COLUMNS
    return tuple(c for c in base if c not in excluded)


def parse_meta(meta: Sequence[str] | None) -> frozenset[str]:
    """`*` or a list of meta keys; unknown names are rejected by the spec."""
    if not meta:
        return frozenset()
    keys = {m.strip() for m in meta}
    if "*" in keys:
        return frozenset(META_KEYS)
    return frozenset(k for k in keys if k in META_KEYS)


def parse_sort(sort: Sequence[str] | None) -> tuple[SortKey, ...]:
    """Comma list -> sort keys, with `id` appended as the final tie-breaker."""
    keys: list[SortKey] = []
    for raw in sort or ():
        token = raw.strip()
        if not token:
            continue
        if token == "?":
            keys.append(SortKey(None))
            continue
        name = token[1:] if token.startswith("-") else token
        if name not in COLUMNS:
            raise invalid_field(token)
        keys.append(SortKey(name, token.startswith("-")))
    if not any(k.field == "id" for k in keys):
        keys.append(SortKey("id"))
    return tuple(keys)


def _int_operand(raw: str, param: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ApiError(
            Code.INVALID_PARAMETER, f"{param} needs an integer, got {raw[:40]!r}"
        ) from None
    if not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise ApiError(Code.INVALID_PARAMETER, f"{param} is out of range")
    return value


def _operand(field: str, op_name: str, raw: object) -> Operand:
    """Coerce the raw string operand to what the operator and column need."""
    op = BY_NAME[op_name]
    param = f"filter[{field}][{op_name}]"
    if isinstance(raw, list):  # PHP list form already joined by the URI parser
        raw = ",".join(str(v) for v in raw)
    if not isinstance(raw, str):
        raw = "" if raw is None else str(raw)
    is_int = field in INT_COLUMNS
    if op.operand == "ignored":
        return None
    if op.operand == "text":
        return raw
    if op.operand == "scalar":
        return _int_operand(raw, param) if is_int else raw
    items = raw.split(",")
    if op.operand == "range":
        if len(items) < 2:
            raise ApiError(Code.INVALID_PARAMETER, f"{param} needs two values: low,high")
        items = [items[0], items[-1]]
    if is_int:
        return tuple(_int_operand(i, param) for i in items)
    return tuple(items)


def _conditions(field: str, ops: Mapping[str, Any]) -> tuple[Logical, list[Condition]]:
    logical: Logical = "and"
    out: list[Condition] = []
    for key, raw in ops.items():
        if key == "logical":
            if raw not in ("and", "or"):
                raise ApiError(
                    Code.INVALID_PARAMETER, f"filter[{field}][logical] must be and or or"
                )
            logical = raw
            continue
        name = SPELLINGS.get(key)
        if name is None:
            if key in ONE_TO_MANY_ONLY:
                raise ApiError(
                    Code.UNPROCESSABLE, f'Operator "{key}" only works for one-to-many fields'
                )
            raise ApiError(Code.UNKNOWN_FILTER, f"Unknown filter: {key[:40]}")
        out.append(Condition(field, name, _operand(field, name, raw)))
    return logical, out


def parse_filter(
    filter_: Mapping[str, Any] | None, max_clauses: int, order: Sequence[str] = ()
) -> tuple[Clause, ...]:
    """``{field: {op: value} | {"0": {op: value}, ...}}`` -> clauses in request order.

    `order` is the fields' order in the query string (the mapping's own order otherwise).
    """
    clauses: list[Clause] = []
    count = 0
    given = dict(filter_ or {})
    ranked = [f for f in order if f in given] + [f for f in given if f not in order]
    for field in ranked:
        spec = given[field]
        if field not in COLUMNS:
            raise invalid_field(field)
        if not isinstance(spec, Mapping):
            spec = {"eq": spec}
        if not spec:
            continue
        direct = {k: v for k, v in spec.items() if not k.isdigit()}
        groups = [v for k, v in spec.items() if k.isdigit()]
        for ops in ([direct] if direct else []) + groups:
            if not isinstance(ops, Mapping):
                raise ApiError(Code.INVALID_PARAMETER, f"filter[{field}] is malformed")
            logical, conds = _conditions(field, ops)
            count += len(conds)
            if count > max_clauses:
                raise ApiError(
                    Code.QUERY_TOO_LARGE, f"filter has more than {max_clauses} conditions"
                )
            if conds:
                clauses.append(Clause(logical, tuple(conds)))
    return tuple(clauses)


def effective_limit(limit: int | None, limits: Limits) -> int:
    """`limit` after the default and the server maximum (-1 and larger values are capped)."""
    if limit is None:
        return min(limits.default_limit, limits.max_limit)
    if limit < 0:
        return limits.max_limit
    return min(limit, limits.max_limit)


def parse_list(
    *,
    limits: Limits,
    fields: Sequence[str] | None = None,
    limit: int | None = None,
    offset: int | None = None,
    page: int | None = None,
    sort: Sequence[str] | None = None,
    single: int | None = None,
    filter_: Mapping[str, Any] | None = None,
    q: str | None = None,
    meta: Sequence[str] | None = None,
    ids: tuple[int, ...] | None = None,
    filter_order: Sequence[str] = (),
) -> Query:
    """The list endpoint's parameters -> a query."""
    eff_limit = 1 if single else effective_limit(limit, limits)
    if offset is not None:
        eff_offset = offset
    elif page is not None and eff_limit > 0:
        eff_offset = eff_limit * (page - 1)
    else:
        eff_offset = 0
    return Query(
        fields=parse_fields(fields),
        limit=eff_limit,
        offset=min(eff_offset, OFFSET_CEILING),
        sort=parse_sort(sort),
        single=bool(single),
        clauses=parse_filter(filter_, limits.max_filter_clauses, filter_order),
        q=q if q else None,
        meta=parse_meta(meta),
        ids=ids,
        page=Page(limit, offset, page),
    )


def parse_ids(raw: str) -> tuple[int, ...]:
    """A path id or comma list -> distinct ids in int64 range (others cannot exist)."""
    out: list[int] = []
    for part in raw.split(","):
        part = part.strip()
        if part.isdigit():
            value = int(part)
            if 0 < value <= INT64_MAX and value not in out:
                out.append(value)
    return tuple(out)
