"""Relations operations, named by operationId: parse -> plan -> run -> shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio.to_thread
from starlette.responses import Response

from models import COLUMNS
from query.ast import Query
from query.parse import Limits, parse_fields, parse_ids, parse_list, parse_meta
from query.shape import Counts, item_meta, list_meta, rows_to_data
from service import store
from service.errors import item_not_found
from service.groupcommit import CREATES
from service.http import current_app, current_url, deep_key_order, json_response, no_content
from service.projects import Project

WRITE_META = frozenset({"collection", "type", "result_count", "total_count", "filter_count"})


def _project(name: str) -> Project:
    return current_app().projects.get(name)  # type: ignore[no-any-return]


def _limits() -> Limits:
    s = current_app().settings
    return Limits(s.default_limit, s.max_limit, s.max_filter_clauses)


def _envelope(meta: dict[str, Any], data: Any) -> Response:
    return json_response({"meta": meta, "data": data} if meta else {"data": data})


def list_relations(
    project: str,
    fields: list[str] | None = None,
    limit: int | None = None,
    offset: int | None = None,
    page: int | None = None,
    sort: list[str] | None = None,
    single: int | None = None,
    filter: dict[str, Any] | None = None,
    q: str | None = None,
    meta: list[str] | None = None,
) -> Response:
    """GET /{project}/relations."""
    query = parse_list(
        limits=_limits(), fields=fields, limit=limit, offset=offset, page=page, sort=sort,
        single=single, filter_=filter, q=q, meta=meta,
        filter_order=deep_key_order("filter") if filter else (),
    )
    proj = _project(project)
    with store.reading(proj) as conn:
        rows = store.fetch(conn, query)
        counts = store.counts(conn, query)
    data = rows_to_data(rows, query.fields)
    if query.single:
        if not data:
            raise item_not_found("single")
        return _envelope(item_meta(query.meta), data[0])
    return _envelope(_list_meta(query, len(data), counts), data)


def _list_meta(query: Query, result_count: int, counts: Counts) -> dict[str, Any]:
    if not query.meta:
        return {}
    self_url, items = current_url()
    # Never echo a credential into links that clients store, log or share.
    items = [(k, v) for k, v in items if k != "access_token"]
    return list_meta(query, result_count, counts, self_url, items)


def get_relations(
    project: str, id: str, fields: list[str] | None = None, meta: list[str] | None = None
) -> Response:
    """GET /{project}/relations/{id}: an object for one id, an array for a comma list."""
    ids = parse_ids(id)
    many = "," in id
    query = parse_list(
        limits=Limits(max_limit=max(len(ids), 1)), fields=fields, meta=meta, ids=ids,
        limit=max(len(ids), 1),
    )
    proj = _project(project)
    with store.reading(proj) as conn:
        rows = store.fetch(conn, query)
        counts = store.counts(conn, query) if many else Counts()
    data = rows_to_data(rows, query.fields)
    if many:
        return _envelope(_list_meta(query, len(data), counts), data)
    if not data:
        raise item_not_found(id)
    return _envelope(item_meta(query.meta), data[0])


def _reread(conn: Any, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The stored rows of `ids`, whole, in `ids` order."""
    query = Query(fields=COLUMNS, limit=len(ids), offset=0, sort=(), ids=tuple(ids))
    by_id = {row[0]: row for row in store.fetch(conn, query)}
    return [dict(zip(COLUMNS, by_id[rid], strict=True)) for rid in ids]


def _as_created(rows: Sequence[dict[str, Any]], ids: Sequence[int]) -> list[dict[str, Any]]:
    """The rows just inserted, whole: exactly what is stored (no defaults, no triggers), so
    creates answer without reading them back."""
    return [
        {c: rid if c == "id" else row.get(c) for c in COLUMNS}
        for row, rid in zip(rows, ids, strict=True)
    ]


def _write_response(
    conn: Any,
    rows: list[dict[str, Any]],
    many: bool,
    fields: list[str] | None,
    meta: list[str] | None,
) -> Response:
    wanted = parse_fields(fields)
    data = [{f: row[f] for f in wanted} for row in rows]
    keys = parse_meta(meta)
    if not many:
        return _envelope(item_meta(keys), data[0])
    keys = keys & WRITE_META
    query = Query(fields=COLUMNS, limit=len(rows), offset=0, sort=(), meta=keys)
    counts = store.counts(conn, query)
    return _envelope(list_meta(query, len(data), counts, "", []), data)


async def _open_project(name: str) -> Project:
    """The project, opened in a worker thread the first time (opening may migrate)."""
    opened: Project | None = current_app().projects.opened(name)
    if opened is not None:
        return opened
    return await anyio.to_thread.run_sync(_project, name)


def _known_ids(raw: str) -> list[int]:
    """Distinct ids of a path; 404/203 naming the first that cannot exist."""
    labels = [p.strip() for p in raw.split(",")]
    ids = list(dict.fromkeys(parse_ids(raw)))
    if len(ids) != len(dict.fromkeys(labels)):
        raise item_not_found(next(lbl for lbl in labels if not parse_ids(lbl)))
    return ids


async def create_relations(
    project: str,
    body: dict[str, Any] | list[dict[str, Any]],
    fields: list[str] | None = None,
    meta: list[str] | None = None,
) -> Response:
    """POST /{project}/relations: one object, or an array in one transaction."""
    return await create_in(await _open_project(project), body, fields, meta)


async def create_in(
    proj: Project,
    body: dict[str, Any] | list[dict[str, Any]],
    fields: list[str] | None = None,
    meta: list[str] | None = None,
) -> Response:
    """Create in an open project: the body of :func:`create_relations`, which the fast
    entrance (``service.fastcreate``) calls too."""
    many = isinstance(body, list)
    rows = body if isinstance(body, list) else [body]
    if not many and rows[0].get("id") is None:  # cannot fail alone: share a commit
        rid = await CREATES.create(proj, dict(rows[0]))
        return _write_response(None, _as_created(rows, [rid]), False, fields, meta)

    def work(inline: bool) -> Response:
        with store.writing(proj, inline) as conn:
            ids = store.insert_rows(conn, proj, [dict(r) for r in rows])
            return _write_response(conn, _as_created(rows, ids), many, fields, meta)

    return await store.run_write(proj, work, len(rows))


async def update_relations(
    project: str,
    id: str,
    body: dict[str, Any],
    fields: list[str] | None = None,
    meta: list[str] | None = None,
) -> Response:
    """PATCH /{project}/relations/{id}: the same changes for one id or a comma list."""
    ids = _known_ids(id)
    proj = await _open_project(project)

    def work(inline: bool) -> Response:
        with store.writing(proj, inline) as conn:
            store.require_ids(conn, ids, [str(i) for i in ids])
            store.update_rows(conn, [(rid, dict(body)) for rid in ids])
            return _write_response(conn, _reread(conn, ids), "," in id, fields, meta)

    return await store.run_write(proj, work, len(ids))


async def update_relations_batch(
    project: str,
    body: list[dict[str, Any]],
    fields: list[str] | None = None,
    meta: list[str] | None = None,
) -> Response:
    """PATCH /{project}/relations: an array of objects, each with its own id."""
    changes = [(int(item["id"]), {k: v for k, v in item.items() if k != "id"}) for item in body]
    ids = list(dict.fromkeys(rid for rid, _ in changes))
    proj = await _open_project(project)

    def work(inline: bool) -> Response:
        with store.writing(proj, inline) as conn:
            store.require_ids(conn, ids, [str(i) for i in ids])
            store.update_rows(conn, changes)
            return _write_response(conn, _reread(conn, ids), True, fields, meta)

    return await store.run_write(proj, work, len(changes))


async def delete_relations(project: str, id: str) -> Response:
    """DELETE /{project}/relations/{id}: one id or a comma list, all or nothing."""
    ids = _known_ids(id)
    proj = await _open_project(project)

    def work(inline: bool) -> Response:
        with store.writing(proj, inline) as conn:
            store.require_ids(conn, ids, [str(i) for i in ids])
            store.delete_ids(conn, ids)
        return no_content()

    return await store.run_write(proj, work, len(ids))
