"""THE operator table: every filter operator, its aliases, operand kind and SQL builder.

A row per operator; the parser, the compiler, the spec's description and the README are all
checked against :data:`OPERATORS` by tests. Builders receive the column expression (already
cast to text for text-only operators on the integer ``id``) and the coerced operand; they
return a SQLAlchemy boolean expression, or None for "no condition" (an empty ``like``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import and_, func, not_, or_
from sqlalchemy.sql.elements import ColumnElement

OperandKind = Literal["scalar", "list", "range", "ignored", "text"]
Builder = Callable[[Any, Any, bool], "ColumnElement[bool] | None"]

LIKE_ESCAPE = "\\"


def escape_like(value: str) -> str:
    """Make `%`, `_` and the escape character match themselves in a LIKE pattern."""
    return (
        value.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(value: str) -> str:
    """Lower-case ASCII letters only: what SQL lower() does on SQLite and on PostgreSQL's
    "C" collation (the columns' collation), so both backends fold case identically."""
    return value.translate(_ASCII_LOWER)


def contains_expr(col: Any, value: str) -> ColumnElement[bool]:
    """Case-insensitive literal substring test (the same on SQLite and PostgreSQL)."""
    pattern = f"%{escape_like(ascii_lower(value))}%"
    return func.lower(col).like(pattern, escape=LIKE_ESCAPE)


def _pattern_expr(col: Any, value: str) -> ColumnElement[bool]:
    # `%` and `_` stay wildcards; a backslash is made literal so both backends agree.
    pattern = ascii_lower(value).replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
    return func.lower(col).like(pattern, escape=LIKE_ESCAPE)


def _empty(col: Any, _v: Any, is_text: bool) -> ColumnElement[bool]:
    return or_(col.is_(None), col == "") if is_text else col.is_(None)


def _nempty(col: Any, _v: Any, is_text: bool) -> ColumnElement[bool]:
    return and_(col.is_not(None), col != "") if is_text else col.is_not(None)


def _unless_empty(
    build: Callable[[Any, str], ColumnElement[bool]], negate: bool
) -> Builder:
    def builder(col: Any, value: str, _is_text: bool) -> ColumnElement[bool] | None:
        if value == "":
            return None
        expr = build(col, value)
        return not_(expr) if negate else expr

    return builder


@dataclass(frozen=True)
class Operator:
    """One filter operator."""

    name: str
    aliases: tuple[str, ...]
    operand: OperandKind
    build: Builder
    summary: str


OPERATORS: tuple[Operator, ...] = (
    Operator("eq", ("=",), "scalar", lambda c, v, _t: c == v, "equal"),
    Operator("neq", ("!=", "<>"), "scalar", lambda c, v, _t: c != v, "not equal"),
    Operator("lt", ("<",), "scalar", lambda c, v, _t: c < v, "less than"),
    Operator("lte", ("<=",), "scalar", lambda c, v, _t: c <= v, "less than or equal"),
    Operator("gt", (">",), "scalar", lambda c, v, _t: c > v, "greater than"),
    Operator("gte", (">=",), "scalar", lambda c, v, _t: c >= v, "greater than or equal"),
    Operator("in", (), "list", lambda c, v, _t: c.in_(v), "one of"),
    Operator("nin", (), "list", lambda c, v, _t: c.not_in(v), "none of"),
    Operator("null", (), "ignored", lambda c, _v, _t: c.is_(None), "is NULL"),
    Operator("nnull", (), "ignored", lambda c, _v, _t: c.is_not(None), "is not NULL"),
    Operator("empty", (), "ignored", _empty, "is NULL or empty"),
    Operator("nempty", (), "ignored", _nempty, "is neither NULL nor empty"),
    Operator("like", ("contains",), "text", _unless_empty(contains_expr, False), "contains"),
    Operator(
        "nlike", ("ncontains",), "text", _unless_empty(contains_expr, True), "does not contain"
    ),
    Operator("rlike", (), "text", _unless_empty(_pattern_expr, False), "matches LIKE pattern"),
    Operator(
        "nrlike", (), "text", _unless_empty(_pattern_expr, True), "does not match LIKE pattern"
    ),
    Operator("between", (), "range", lambda c, v, _t: c.between(v[0], v[1]), "in range"),
    Operator(
        "nbetween", (), "range", lambda c, v, _t: not_(c.between(v[0], v[1])), "outside range"
    ),
)

#: Operators that exist in Directus but only for one-to-many fields (422/12 here).
ONE_TO_MANY_ONLY: frozenset[str] = frozenset({"all", "has", "nhas"})

BY_NAME: dict[str, Operator] = {op.name: op for op in OPERATORS}
#: Every accepted spelling -> the operator's name.
SPELLINGS: dict[str, str] = {
    spelling: op.name for op in OPERATORS for spelling in (op.name, *op.aliases)
}
#: Spellings that are not valid in the spec and are rewritten before validation.
SYMBOL_ALIASES: dict[str, str] = {
    alias: op.name for op in OPERATORS for alias in op.aliases if not alias.isalpha()
}
