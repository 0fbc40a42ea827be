"""Baseline for the benchmark: bare Starlette + stdlib ``sqlite3`` + orjson.

It answers the requests the harness sends with the same JSON as the real server: list with
``limit``/``offset``/``page``/``sort``/``filter``/``meta``, get by id, create one, batch create.
One SQLite file per project (``<data_dir>/<project>.db``, created on first use), WAL mode,
all queries on the event loop thread (no thread pool hop). Run:
``python bench/baseline.py --port 8001 --data-dir /tmp/x``.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

COLS = ("id", "collection_many", "field_many", "collection_one", "field_one", "junction_field")
WRITABLE = COLS[1:]
MAX_LEN = {"collection_many": 64, "field_many": 45, "collection_one": 64, "field_one": 64,
           "junction_field": 64}
SCHEMA = """
CREATE TABLE IF NOT EXISTS directus_relations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_many VARCHAR(64) NOT NULL,
    field_many VARCHAR(45) NOT NULL,
    collection_one VARCHAR(64) NULL,
    field_one VARCHAR(64) NULL,
    junction_field VARCHAR(64) NULL
);
CREATE INDEX IF NOT EXISTS ix_rel_many ON directus_relations (collection_many);
CREATE INDEX IF NOT EXISTS ix_rel_one ON directus_relations (collection_one);
"""
SELECT = f"SELECT {', '.join(COLS)} FROM directus_relations"
INSERT = (f"INSERT INTO directus_relations ({', '.join(WRITABLE)}) VALUES (?, ?, ?, ?, ?) "
          f"RETURNING {', '.join(COLS)}")
FILTER_KEY = re.compile(r"^filter\[(\w+)\](?:\[([^\]]+)\])?$")
ALIASES = {"=": "eq", "!=": "neq", "<>": "neq", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte",
           "contains": "like", "ncontains": "nlike"}
COMPARE = {"eq": "=", "neq": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
META_ALL = ("collection", "type", "result_count", "total_count", "filter_count", "page")


class ApiError(Exception):
    """A Directus error envelope with its HTTP status."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _escape_like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _condition(col: str, op: str, value: str) -> tuple[str | None, list[str]]:
    """One SQL condition for ``filter[col][op]=value`` (None when the filter is a no-op)."""
    op = ALIASES.get(op, op)
    if col not in COLS:
        raise ApiError(422, 202, f'Invalid field "{col}" in "directus_relations"')
    if op in COMPARE:
        return f"{col} {COMPARE[op]} ?", [value]
    if op in ("in", "nin"):
        items = value.split(",")
        neg = "NOT " if op == "nin" else ""
        return f"{col} {neg}IN ({', '.join('?' * len(items))})", items
    if op in ("null", "nnull"):
        return f"{col} IS {'NOT ' if op == 'nnull' else ''}NULL", []
    if op == "empty":
        return f"({col} IS NULL OR {col} = '')", []
    if op == "nempty":
        return f"({col} IS NOT NULL AND {col} != '')", []
    if op in ("like", "nlike", "rlike", "nrlike"):
        if value == "":
            return None, []
        neg = "NOT " if op.startswith("n") else ""
        if op.endswith("rlike"):
            return f"{col} {neg}LIKE ?", [value]
        return f"{col} {neg}LIKE ? ESCAPE '\\'", [_escape_like(value)]
    if op in ("between", "nbetween"):
        parts = value.split(",")
        neg = "NOT " if op == "nbetween" else ""
        return f"{col} {neg}BETWEEN ? AND ?", [parts[0], parts[-1]]
    raise ApiError(422, 214, f"Unknown filter: {op}")


def _where(params: list[tuple[str, str]]) -> tuple[str, list[str], bool]:
    """WHERE clause, its parameters, and whether any filter was given."""
    clauses: list[str] = []
    args: list[str] = []
    seen = False
    for key, value in params:
        m = FILTER_KEY.match(key)
        if not m:
            continue
        seen = True
        sql, vals = _condition(m.group(1), m.group(2) or "eq", value)
        if sql:
            clauses.append(sql)
            args += vals
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args, seen


def _order(sort: str | None) -> str:
    parts: list[str] = []
    for token in (t.strip() for t in (sort or "").split(",")):
        if not token:
            continue
        if token == "?":
            parts.append("RANDOM()")
            continue
        col, desc = (token[1:], "DESC") if token.startswith("-") else (token, "ASC")
        if col not in COLS:
            raise ApiError(422, 202, f'Invalid field "{token}" in "directus_relations"')
        parts += [f"{col} {desc}"] if col == "id" else [f"{col} IS NULL", f"{col} {desc}"]
    return " ORDER BY " + ", ".join([*parts, "id ASC"])


def _int(value: str | None, default: int) -> int:
    try:
        return default if value is None else int(value)
    except ValueError as exc:
        raise ApiError(422, 900, f"Invalid integer: {value}") from exc


def _meta_keys(raw: str | None) -> set[str]:
    if not raw or raw == "0":
        return set()
    keys = {k.strip() for k in raw.split(",")}
    return set(META_ALL) if "*" in keys else keys


class Store:
    """One sqlite3 connection per project, opened lazily."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.conns: dict[str, sqlite3.Connection] = {}

    def conn(self, project: str) -> sqlite3.Connection:
        conn = self.conns.get(project)
        if conn is None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.data_dir / f"{project}.db", isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            # the same durability as our server: RELATIONS_SQLITE_SYNCHRONOUS (default FULL)
            conn.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
            conn.executescript(SCHEMA)
            self.conns[project] = conn
        return conn


SYNCHRONOUS = {"OFF": "OFF", "NORMAL": "NORMAL", "FULL": "FULL", "EXTRA": "EXTRA"}.get(
    os.environ.get("RELATIONS_SQLITE_SYNCHRONOUS", "FULL").upper(), "FULL")


def _page_meta(request: Request, limit: int, offset: int, rows: int, count: int) -> dict[str, Any]:
    """The pagination block as our server renders it: the limit applied, integers."""
    size = limit if limit > 0 else rows
    pages = max(1, math.ceil(count / size)) if size > 0 else 1
    page = offset // size + 1 if size > 0 else 1
    base = str(request.url.replace(query=""))
    items = request.query_params.multi_items()

    def url(params: list[tuple[str, str]]) -> str:
        return f"{base}?{urlencode(params, safe='[]*,-!<>=')}"

    def link(off: int, pg: int) -> str:
        return url([(k, v) for k, v in items if k not in ("offset", "page")]
                   + [("offset", str(off)), ("page", str(pg))])

    multi = pages > 1 and size > 0
    return {"limit": size, "offset": offset, "page": page, "page_count": pages, "links": {
        "self": base,
        "current": url([(k, v) for k, v in items if k != "page"] + [("page", str(page))]),
        "next": link(offset + size, page + 1) if multi and offset + size < count else None,
        "previous": link(max(0, offset - size), max(1, page - 1)) if multi and offset else None,
        "first": link(0, 1) if multi else None,
        "last": link((pages - 1) * size, pages) if multi else None,
    }}


def create_app(data_dir: Path) -> Starlette:
    """The baseline ASGI app over ``data_dir``."""
    store = Store(data_dir)

    async def ping(request: Request) -> Response:
        return PlainTextResponse("pong")

    async def list_or_create(request: Request) -> Response:
        try:
            if request.method == "POST":
                return await _create(request)
            return _list(request)
        except ApiError as err:
            return _json({"error": {"code": err.code, "message": err.message}}, err.status)

    def _list(request: Request) -> Response:
        conn = store.conn(request.path_params["project"])
        qp = request.query_params
        params = qp.multi_items()
        where, args, filtered = _where(params)
        limit = _int(qp.get("limit"), 200)
        offset = max(_int(qp.get("offset"), 0), 0)
        if "offset" not in qp and "page" in qp and limit > 0:
            offset = limit * (max(_int(qp.get("page"), 1), 1) - 1)
        sql = SELECT + where + _order(qp.get("sort"))
        sql += f" LIMIT {limit} OFFSET {offset}" if limit >= 0 else f" LIMIT -1 OFFSET {offset}"
        data = [dict(zip(COLS, r, strict=True)) for r in conn.execute(sql, args)]
        keys = _meta_keys(qp.get("meta"))
        if not keys:
            return _json({"data": data})
        meta: dict[str, Any] = {}
        if "collection" in keys:
            meta["collection"] = "directus_relations"
        if "type" in keys:
            meta["type"] = "collection"
        if "result_count" in keys:
            meta["result_count"] = len(data)
        total = 0
        if keys & {"total_count", "filter_count", "page"}:
            total = conn.execute("SELECT COUNT(*) FROM directus_relations").fetchone()[0]
        count = total
        if filtered and keys & {"filter_count", "page"}:
            count = conn.execute("SELECT COUNT(*) FROM directus_relations" + where,
                                 args).fetchone()[0]
        if "total_count" in keys:
            meta["total_count"] = total
        if "filter_count" in keys:
            meta["filter_count"] = count
        if "page" in keys:
            meta |= _page_meta(request, limit, offset, len(data), count)
        return _json({"meta": meta, "data": data})

    async def _create(request: Request) -> Response:
        conn = store.conn(request.path_params["project"])
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, 13, "Invalid or Empty Payload") from exc
        many = isinstance(body, list)
        items = body if many else [body]
        if not items or not all(isinstance(i, dict) for i in items):
            raise ApiError(400, 13, "Invalid or Empty Payload")
        values = [_validate(i) for i in items]
        conn.execute("BEGIN")
        try:
            rows = [dict(zip(COLS, conn.execute(INSERT, v).fetchone(), strict=True))
                    for v in values]
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return _json({"data": rows if many else rows[0]})

    async def get_one(request: Request) -> Response:
        conn = store.conn(request.path_params["project"])
        row = conn.execute(SELECT + " WHERE id = ?", (request.path_params["id"],)).fetchone()
        if row is None:
            msg = f'Item with id "{request.path_params["id"]}" not found'
            return _json({"error": {"code": 203, "message": msg}}, 404)
        body: dict[str, Any] = {"data": dict(zip(COLS, row, strict=True))}
        keys = _meta_keys(request.query_params.get("meta"))
        if keys:
            meta = {"collection": "directus_relations", "type": "item"}
            body = {"meta": {k: v for k, v in meta.items() if k in keys}} | body
        return _json(body)

    return Starlette(routes=[
        Route("/server/ping", ping),
        Route("/{project}/relations", list_or_create, methods=["GET", "POST"]),
        Route("/{project}/relations/{id:int}", get_one),
    ])


def _validate(item: dict[str, Any]) -> tuple[Any, ...]:
    """Check one create payload and return the INSERT values."""
    unknown = [k for k in item if k not in WRITABLE]
    if unknown:
        raise ApiError(422, 12, f'Payload fields: "{", ".join(unknown)}" does not exist in '
                                '"directus_relations" collection.')
    blank = [f"{k}: This value should not be blank." for k in ("collection_many", "field_many")
             if item.get(k) in (None, "")]
    if blank:
        raise ApiError(422, 4, " ".join(blank))
    for key, value in item.items():
        if value is not None and not isinstance(value, str):
            raise ApiError(422, 213, f'Attempting to write an array as the value for field "{key}"'
                                     ' in "directus_relations"')
        if value is not None and len(value.encode()) > MAX_LEN[key]:
            raise ApiError(422, 12, f"The value submitted ({value}) for '{key}' is too long.")
    return tuple(item.get(k) for k in WRITABLE)


def main() -> None:
    """Serve the baseline with one uvicorn worker (uvloop, httptools, no access log)."""
    import uvicorn

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8001)
    ap.add_argument("--data-dir", default=os.environ.get("RELATIONS_DATA_DIR", "bench-data"))
    args = ap.parse_args()
    uvicorn.run(create_app(Path(args.data_dir)), host=args.host, port=args.port,
                log_level="warning", access_log=False, loop="uvloop", http="httptools")


if __name__ == "__main__":
    main()
