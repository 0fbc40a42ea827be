"""The typed tree -> SQLAlchemy statements, and the table's writes. The only place where SQL
of ``directus_relations`` is built.

Identifiers come only from the table's columns; every value is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Delete,
    Select,
    String,
    Table,
    Update,
    and_,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from models import COLUMNS, Relation
from query.ast import Clause, Condition, Query
from query.operators import BY_NAME, contains_expr

TABLE: Table = Relation.__table__  # type: ignore[attr-defined]
INT_COLUMNS = frozenset({"id"})


def _column(name: str, as_text: bool) -> Any:
    col = TABLE.c[name]
    if as_text and name in INT_COLUMNS:
        return cast(col, String)
    return col


def _condition(cond: Condition) -> ColumnElement[bool] | None:
    op = BY_NAME[cond.op]
    is_text = cond.field not in INT_COLUMNS
    col = _column(cond.field, as_text=op.operand == "text")
    return op.build(col, cond.value, is_text)


def _clause(clause: Clause) -> ColumnElement[bool] | None:
    parts = [e for e in (_condition(c) for c in clause.conditions) if e is not None]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else and_(*parts)


def where(query: Query) -> ColumnElement[bool] | None:
    """The WHERE condition: filter clauses (AND binds tighter than OR), `q`, and ids."""
    runs: list[list[ColumnElement[bool]]] = []
    for clause in query.clauses:
        expr = _clause(clause)
        if expr is None:
            continue
        if clause.logical == "or" and runs:
            runs.append([expr])
        elif runs:
            runs[-1].append(expr)
        else:
            runs.append([expr])
    parts: list[ColumnElement[bool]] = []
    if runs:
        ands = [r[0] if len(r) == 1 else and_(*r) for r in runs]
        parts.append(ands[0] if len(ands) == 1 else or_(*ands))
    if query.q is not None:
        parts.append(or_(*(contains_expr(_column(c, True), query.q) for c in COLUMNS)))
    if query.ids is not None:
        parts.append(TABLE.c.id.in_(query.ids) if query.ids else ~true())
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else and_(*parts)


def select_rows(query: Query) -> Select[Any]:
    """SELECT of the requested columns, filtered, sorted and paged."""
    stmt = select(*(TABLE.c[name] for name in query.fields)) if query.fields else select(
        TABLE.c.id
    )
    cond = where(query)
    if cond is not None:
        stmt = stmt.where(cond)
    order: list[Any] = []
    for key in query.sort:
        if key.field is None:
            order.append(func.random())
            continue
        col = TABLE.c[key.field]
        order.append(col.desc().nulls_last() if key.descending else col.asc().nulls_last())
    stmt = stmt.order_by(*order)
    if query.limit >= 0:
        stmt = stmt.limit(query.limit)
    if query.offset:
        stmt = stmt.offset(query.offset)
    return stmt


def count_rows(query: Query | None) -> Select[Any]:
    """COUNT(*) of the rows the query's conditions match (all rows for None)."""
    stmt = select(func.count()).select_from(TABLE)
    cond = where(query) if query is not None else None
    if cond is not None:
        stmt = stmt.where(cond)
    return stmt


# Writes. Built once where they can be: SQLAlchemy then reuses their compiled form.
#: Columns an insert names (the id is assigned unless given).
INSERT_COLUMNS = tuple(c.name for c in TABLE.c if c.name != "id")
#: One row, its id back (an explicit ``id`` key is allowed).
INSERT_ONE = insert(TABLE).returning(TABLE.c.id)
#: Many rows in multi-row pages, their ids back in the rows' order.
INSERT_MANY = insert(TABLE).returning(TABLE.c.id, sort_by_parameter_order=True)
#: Many rows, nothing back (SQLite executemany; ids are read after).
INSERT_PLAIN = insert(TABLE)


def select_ids(ids: Sequence[int]) -> Select[Any]:
    """Which of `ids` exist."""
    return select(TABLE.c.id).where(TABLE.c.id.in_(list(ids)))


def update_row(rid: int, values: dict[str, Any]) -> Update:
    """Set `values` (column -> value) on row `rid`."""
    return update(TABLE).where(TABLE.c.id == rid).values(**values)


def delete_ids(ids: Sequence[int]) -> Delete:
    """Delete the rows `ids`."""
    return delete(TABLE).where(TABLE.c.id.in_(list(ids)))
