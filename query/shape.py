"""Rows -> the ``data`` and ``meta`` of a response (plain dicts, ready for orjson)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from models import COLLECTION
from query.ast import Query


@dataclass(frozen=True)
class Counts:
    """The counts a meta block may need (None when not computed)."""

    total: int | None = None
    filtered: int | None = None


def rows_to_data(rows: Iterable[Sequence[Any]], fields: Sequence[str]) -> list[dict[str, Any]]:
    """Each row (in `fields` order) -> an object with exactly those keys."""
    return [dict(zip(fields, row, strict=False)) for row in rows]


def item_meta(keys: frozenset[str]) -> dict[str, Any]:
    """The meta of a single object: `collection` and `type` only."""
    meta: dict[str, Any] = {}
    if "collection" in keys:
        meta["collection"] = COLLECTION
    if "type" in keys:
        meta["type"] = "item"
    return meta


def list_meta(
    query: Query,
    result_count: int,
    counts: Counts,
    self_url: str,
    query_items: Sequence[tuple[str, str]],
) -> dict[str, Any]:
    """The meta of a list, in Directus' key order."""
    keys = query.meta
    meta: dict[str, Any] = {}
    if "collection" in keys:
        meta["collection"] = COLLECTION
    if "type" in keys:
        meta["type"] = "collection"
    if "result_count" in keys:
        meta["result_count"] = result_count
    if "total_count" in keys:
        meta["total_count"] = counts.total
    if "filter_count" in keys:
        meta["filter_count"] = counts.filtered if query.filtered else counts.total
    if "page" in keys:
        matched = (counts.filtered if query.filtered else counts.total) or 0
        meta.update(page_block(query, result_count, matched, self_url, query_items))
    return meta


def page_block(
    query: Query,
    result_count: int,
    matched: int,
    self_url: str,
    query_items: Sequence[tuple[str, str]],
) -> dict[str, Any]:
    """`limit, offset, page, page_count, links`, all integers (Directus sent floats)."""
    size = query.limit if query.page.limit_param is None or query.page.limit_param >= 0 else 0
    if size <= 0:
        size = result_count
    offset = query.offset
    if size > 0:
        page_count = max(1, math.ceil(matched / size))
        page = offset // size + 1
    else:
        page_count, page = 1, 1

    def link(new_offset: int, new_page: int) -> str:
        items = [(k, v) for k, v in query_items if k not in ("offset", "page")]
        items += [("offset", str(new_offset)), ("page", str(new_page))]
        return f"{self_url}?{urlencode(items, safe='[]*,-!<>=')}"

    current_items = [(k, v) for k, v in query_items if k != "page"] + [("page", str(page))]
    links: dict[str, str | None] = {
        "self": self_url,
        "current": f"{self_url}?{urlencode(current_items, safe='[]*,-!<>=')}",
        "next": None,
        "previous": None,
        "first": None,
        "last": None,
    }
    if page_count > 1 and size > 0:
        if offset + size < matched:
            links["next"] = link(offset + size, page + 1)
        if offset > 0:
            links["previous"] = link(max(0, offset - size), max(1, page - 1))
        links["first"] = link(0, 1)
        links["last"] = link((page_count - 1) * size, page_count)
    return {
        "limit": size,
        "offset": offset,
        "page": page,
        "page_count": page_count,
        "links": links,
    }
