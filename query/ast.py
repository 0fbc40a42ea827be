"""The typed tree between the parser and the compiler (frozen dataclasses, no SQL)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Logical = Literal["and", "or"]
Operand = str | int | tuple[str, ...] | tuple[int, ...] | None


@dataclass(frozen=True)
class Condition:
    """One ``filter[field][op]=value`` with its operand already coerced."""

    field: str
    op: str
    value: Operand


@dataclass(frozen=True)
class Clause:
    """Conditions AND-ed together, joined to what precedes them by `logical`."""

    logical: Logical
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class SortKey:
    """One sort key; `field` None means random order."""

    field: str | None
    descending: bool = False


@dataclass(frozen=True)
class Page:
    """The pagination inputs as the client sent them (for the `page` meta block)."""

    limit_param: int | None
    offset_param: int | None
    page_param: int | None


@dataclass(frozen=True)
class Query:
    """A whole read: which rows, in which order, which columns, which meta."""

    fields: tuple[str, ...]
    limit: int
    offset: int
    sort: tuple[SortKey, ...]
    single: bool = False
    clauses: tuple[Clause, ...] = ()
    q: str | None = None
    meta: frozenset[str] = frozenset()
    ids: tuple[int, ...] | None = None
    page: Page = field(default_factory=lambda: Page(None, None, None))

    @property
    def filtered(self) -> bool:
        """Whether `filter` or `q` narrows the rows (then filter_count may differ)."""
        return bool(self.clauses) or self.q is not None
