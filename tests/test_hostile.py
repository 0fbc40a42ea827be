"""Hostile input: one table of requests, run in-process and against a real `relations serve`.

Every case is sent byte for byte (request target, headers and body exactly as written, no
client-side normalisation of `..` or percent-escapes), with an admin token so that it gets
past authentication. Each answer must be the expected status and code in the one error
envelope, leak no SQL, traceback, class name or file path, and leave the table exactly as
it was. The few cases that answer 200 put SQL or LIKE wildcards in a *value*: they must
match nothing, which shows the value was taken literally.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from service.app import RelationsApp, create_app
from tests.conftest import DEFAULT_ROWS, bind_default_project, issue_token, make_settings
from tests.serving import Server

MAX_BODY = 65536  # small caps, so the oversize cases stay cheap
MAX_QUERY = 32768
JSON = b"application/json"


@dataclass(frozen=True)
class Case:
    """One hostile request and the answer it must get."""

    name: str
    method: str
    target: bytes
    status: int
    code: int | None  # None: a 200 whose data must be empty
    body: bytes | None = None
    content_type: bytes | None = JSON
    chunked: bool = False
    headers: tuple[tuple[bytes, bytes], ...] = ()


def _filters(n: int, field: str = "f{i}") -> bytes:
    return b"&".join(f"filter[{field.format(i=i)}][eq]=1".encode() for i in range(n))


NEW = b'{"collection_many": "a", "field_many": "b"}'
CASES = [
    # SQL meta-characters in values (literal: nothing matches), keys, sort and fields
    Case("sql-in-value", "GET", b"/_/relations?filter[collection_many][eq]=%27%20OR%201%3D1%20--",
         200, None),
    Case("sql-in-q", "GET", b"/_/relations?q=%27%29%3B%20DELETE%20FROM%20directus_relations%3B--",
         200, None),
    Case("sql-in-field-key", "GET", b"/_/relations?filter[id%20OR%201][eq]=1", 422, 202),
    Case("sql-in-operator", "GET",
         b"/_/relations?filter[id][eq%3B%20DROP%20TABLE%20directus_relations]=1", 422, 214),
    Case("sql-in-sort", "GET", b"/_/relations?sort=id%3BDROP%20TABLE%20directus_relations",
         422, 202),
    Case("subquery-in-sort", "GET", b"/_/relations?sort=(select%201)", 422, 202),
    Case("subquery-in-fields", "GET",
         b"/_/relations?fields=id,(select%20token_hash%20from%20relations_tokens)", 422, 202),
    Case("sql-in-id", "DELETE", b"/_/relations/1%20OR%201=1", 404, 203),
    Case("sql-in-int-operand", "GET", b"/_/relations?filter[id][eq]=1%20OR%201=1", 422, 900),
    # LIKE wildcards are literal in like/contains/q
    Case("like-percent", "GET", b"/_/relations?filter[collection_many][contains]=%25", 200, None),
    Case("like-underscore-run", "GET", b"/_/relations?filter[field_many][like]=______________",
         200, None),
    Case("q-wildcards", "GET", b"/_/relations?q=%25_%25", 200, None),
    # parser look-alikes, repeats, conflicts, depth, breadth
    Case("lookalike-param", "GET", b"/_/relations?filterx[id][eq]=1", 400, 2),
    Case("lookalike-bracket", "GET", b"/_/relations?filter[a[id]][eq]=1", 400, 2),
    Case("empty-key", "GET", b"/_/relations?filter[][eq]=1", 400, 2),
    Case("repeated-param", "GET", b"/_/relations?limit=1&limit=2", 400, 2),
    Case("conflicting-filter", "GET",
         b"/_/relations?filter[id]=1&filter[id][eq]=2", 400, 2),
    Case("1000-filter-keys", "GET", b"/_/relations?" + _filters(1000), 422, 903),
    Case("1000-repeats", "GET", b"/_/relations?" + _filters(1000, "collection_many"), 400, 2),
    Case("deep-brackets", "GET", b"/_/relations?filter[id]" + b"[x]" * 500 + b"=1", 400, 2),
    Case("unknown-operator", "GET", b"/_/relations?filter[id][regexp]=.*", 422, 214),
    Case("query-too-long", "GET", b"/_/relations?q=" + b"a" * (MAX_QUERY + 1), 414, 907),
    Case("query-not-utf8", "GET", b"/_/relations?filter[collection_many][eq]=%ff%fe", 400, 2),
    Case("nul-in-value", "GET", b"/_/relations?q=%00", 422, 900),
    # huge and odd numbers
    Case("limit-huge", "GET", b"/_/relations?limit=99999999999999999999999", 422, 900),
    Case("limit-exponent", "GET", b"/_/relations?limit=1e3", 422, 900),
    Case("limit-nan", "GET", b"/_/relations?limit=NaN", 422, 900),
    Case("limit-hex", "GET", b"/_/relations?limit=0x10", 422, 900),
    Case("limit-below-minus-one", "GET", b"/_/relations?limit=-2", 422, 900),
    Case("offset-negative", "GET", b"/_/relations?offset=-1", 422, 900),
    Case("offset-past-int64", "GET", b"/_/relations?offset=9223372036854775808", 422, 900),
    Case("page-zero", "GET", b"/_/relations?page=0", 422, 900),
    Case("page-infinity", "GET", b"/_/relations?page=Infinity", 422, 900),
    Case("id-past-int64", "GET", b"/_/relations/99999999999999999999999", 404, 203),
    # bad bodies of every kind
    Case("body-truncated", "POST", b"/_/relations", 400, 13, body=b'{"collection_many": "a"'),
    Case("body-nan", "POST", b"/_/relations", 400, 13,
         body=b'{"collection_many": NaN, "field_many": "b"}'),
    Case("body-infinity", "POST", b"/_/relations", 400, 13,
         body=b'{"collection_many": "a", "field_many": "b", "id": Infinity}'),
    Case("body-number-overflow", "POST", b"/_/relations", 400, 13,
         body=b'{"collection_many": "a", "field_many": "b", "id": 1e400}'),
    Case("body-huge-integer", "POST", b"/_/relations", 422, 12,
         body=b'{"collection_many": "a", "field_many": "b", "id": 123456789012345678901234567890}'),
    Case("body-fraction-id", "POST", b"/_/relations", 422, 12,
         body=b'{"collection_many": "a", "field_many": "b", "id": 1.5}'),
    Case("body-invalid-utf8", "POST", b"/_/relations", 400, 13,
         body=b'{"collection_many": "\xff\xfe", "field_many": "b"}'),
    Case("body-lone-surrogate", "POST", b"/_/relations", 400, 13,
         body=b'{"collection_many": "\\ud800", "field_many": "b"}'),
    Case("body-deep-nesting", "POST", b"/_/relations", 400, 13,
         body=b"[" * 10000 + b"]" * 10000),
    Case("body-depth-over-cap", "POST", b"/_/relations", 400, 13,
         body=b'{"collection_many": ' + b"[" * 40 + b"]" * 40 + b', "field_many": "b"}'),
    Case("body-null", "POST", b"/_/relations", 400, 13, body=b"null"),
    Case("body-string", "POST", b"/_/relations", 400, 13, body=b'"x"'),
    Case("body-empty-array", "POST", b"/_/relations", 400, 13, body=b"[]"),
    Case("body-empty", "POST", b"/_/relations", 400, 13, body=b""),
    Case("body-array-value", "POST", b"/_/relations", 422, 213,
         body=b'{"collection_many": ["a"], "field_many": "b"}'),
    Case("body-unknown-key", "POST", b"/_/relations", 422, 12,
         body=b'{"collection_many": "a", "field_many": "b", "__proto__": {"admin": true}}'),
    Case("body-too-long-value", "POST", b"/_/relations", 422, 12,
         body=b'{"collection_many": "' + b"a" * 65 + b'", "field_many": "b"}'),
    Case("body-nul-char", "POST", b"/_/relations", 422, 12,
         body=b'{"collection_many": "a\\u0000b", "field_many": "b"}'),
    Case("body-over-cap", "POST", b"/_/relations", 413, 901,
         body=b'{"collection_many": "' + b"a" * MAX_BODY + b'", "field_many": "b"}'),
    Case("body-over-cap-chunked", "POST", b"/_/relations", 413, 901,
         body=b'{"collection_many": "' + b"a" * MAX_BODY + b'", "field_many": "b"}',
         chunked=True),
    Case("batch-id-injection", "PATCH", b"/_/relations", 422, 12,
         body=b'[{"id": "1 OR 1=1", "field_one": "x"}]'),
    # media types: case-insensitive, but JSON in UTF-8 only
    Case("media-type-text", "POST", b"/_/relations", 415, 902, body=NEW,
         content_type=b"text/plain"),
    Case("media-type-missing", "POST", b"/_/relations", 415, 902, body=NEW, content_type=None),
    Case("media-type-form", "POST", b"/_/relations", 415, 902,
         body=b"collection_many=a&field_many=b",
         content_type=b"application/x-www-form-urlencoded"),
    Case("media-type-latin1", "POST", b"/_/relations", 415, 902, body=NEW,
         content_type=b"application/json; charset=latin-1"),
    Case("media-type-lookalike", "POST", b"/_/relations", 415, 902, body=NEW,
         content_type=b"application/jsonp"),
    Case("media-type-upper-bad-body", "PATCH", b"/_/relations/1", 400, 13, body=b"{",
         content_type=b"APPLICATION/JSON"),
    # project names that must never become a path
    Case("project-dotdot", "GET", b"/../relations", 404, 24),
    Case("project-encoded-dotdot", "GET", b"/%2E%2E/relations", 404, 24),
    Case("project-nul", "GET", b"/%00/relations", 404, 24),
    Case("project-300-chars", "GET", b"/" + b"a" * 300 + b"/relations", 404, 24),
    Case("project-slash", "GET", b"/_%2F..%2F_/relations", 404, 1),
    Case("project-upper", "POST", b"/ABC/relations", 404, 24, body=NEW),
    Case("project-traversal-file", "GET", b"/..%2Fprojects.json/relations", 404, 1),
]

LEAKS = re.compile(
    r"\[SQL:|Background on this error|sqlalche|sqlite3|psycopg|Traceback|File \"|\.py\b"
    r"|site-packages|/tmp/|/work/|/home/|Error\(|OperationalError|IntegrityError"
    r"|\bSELECT\b.*\bFROM\b|\bWHERE\b"
)


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes


def _headers(case: Case, token: str) -> list[tuple[bytes, bytes]]:
    out = [(b"authorization", b"Bearer " + token.encode())]
    if case.content_type is not None and case.body is not None:
        out.append((b"content-type", case.content_type))
    if case.body is not None:
        out.append((b"transfer-encoding", b"chunked") if case.chunked
                   else (b"content-length", str(len(case.body)).encode()))
    return out + list(case.headers)


def check(case: Case, answer: Answer, before: Any, after: Any) -> None:
    """The assertions every case shares."""
    assert answer.status == case.status, (case.name, answer.status, answer.body[:300])
    assert answer.content_type == "application/json", (case.name, answer.content_type)
    text = answer.body.decode("utf-8")
    assert not LEAKS.search(text), (case.name, text)
    body = json.loads(text)
    if case.code is None:
        assert body == {"data": []}, (case.name, body)
    else:
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
        assert body["error"]["code"] == case.code, (case.name, body)
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert after == before, case.name


# -- in process: the ASGI app called with the scope uvicorn would build ---------------------

async def _asgi(app: RelationsApp, case: Case, token: str) -> Answer:
    raw_path, _, query = case.target.partition(b"?")
    path = raw_path.decode("ascii")
    path = urllib.parse.unquote(path) if "%" in path else path  # as uvicorn does
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": case.method, "scheme": "http", "path": path, "raw_path": raw_path,
        "query_string": query, "root_path": "", "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80), "headers": [(b"host", b"127.0.0.1"), *_headers(case, token)],
    }
    body = case.body or b""
    parts = [body[i:i + 4096] for i in range(0, len(body), 4096)] if case.chunked else [body]
    messages = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1}
                for i, p in enumerate(parts)]
    answer = Answer(0, "", b"")

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.content_type = dict(message["headers"]).get(b"content-type", b"").decode()
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    await app(scope, receive, send)
    return answer


@pytest.fixture
def hostile_app(backend: str, tmp_path: Path,
                request: pytest.FixtureRequest) -> Iterator[tuple[RelationsApp, str]]:
    settings = make_settings(tmp_path, max_body_bytes=MAX_BODY, max_query_bytes=MAX_QUERY)
    bind_default_project(settings, backend, request)
    app = create_app(settings)
    token = issue_token(app)
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as c:
        assert c.post("/_/relations", json=DEFAULT_ROWS).status_code == 200
    yield app, token
    app.projects.dispose()


def _rows(app: RelationsApp) -> list[tuple[Any, ...]]:
    with app.projects.get("_").engine.connect() as conn:
        return [tuple(r) for r in
                conn.execute(sa.text("SELECT * FROM directus_relations ORDER BY id"))]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_in_process(hostile_app: tuple[RelationsApp, str], case: Case) -> None:
    app, token = hostile_app
    before = _rows(app)
    answer = anyio.run(_asgi, app, case, token)
    check(case, answer, before, _rows(app))


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 25
    assert len({c.name for c in CASES}) == len(CASES)


# -- against a real `relations serve`, over a raw socket ---------------------------------

def _send_raw(port: int, case: Case, token: str) -> Answer:
    head = [case.method.encode() + b" " + case.target + b" HTTP/1.1",
            b"host: 127.0.0.1", b"connection: close"]
    head += [k + b": " + v for k, v in _headers(case, token)]
    body = case.body or b""
    if case.chunked:
        body = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 4096]), body[i:i + 4096])
                        for i in range(0, len(body), 4096)) + b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        # the server may answer (413) before it read everything: read the answer anyway
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return Answer(response.status, response.getheader("content-type", ""), response.read())


def _live_rows(port: int, token: str) -> tuple[int, list[int]]:
    """total_count and every id, through the API."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/_/relations?meta=total_count&limit=-1",
                     headers={"Authorization": f"Bearer {token}"})
        body = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    return int(body["meta"]["total_count"]), [r["id"] for r in body["data"]]


@pytest.fixture
def live(backend: str, tmp_path: Path,
         request: pytest.FixtureRequest) -> Iterator[tuple[Server, str]]:
    """`relations serve` on a free loopback port; its first-start admin token, parsed from
    what it printed, seeds the 14 default rows."""
    settings = make_settings(tmp_path)
    bind_default_project(settings, backend, request)
    server = Server(settings.data_dir, env={
        "RELATIONS_MAX_BODY_BYTES": str(MAX_BODY), "RELATIONS_MAX_QUERY_BYTES": str(MAX_QUERY),
    })
    server.start()
    try:
        printed = server.log_tail(100_000)
        token = re.search(r"export TOKEN=(\S+)", printed)
        assert token, printed
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("POST", "/_/relations", body=json.dumps(DEFAULT_ROWS),
                     headers={"Authorization": f"Bearer {token[1]}",
                              "Content-Type": "application/json"})
        assert conn.getresponse().status == 200
        conn.close()
        yield server, token[1]
    finally:
        server.kill()


@pytest.mark.live
def test_hostile_live(live: tuple[Server, str]) -> None:
    server, token = live
    before = _live_rows(server.port, token)
    for case in CASES:
        answer = _send_raw(server.port, case, token)
        check(case, answer, before, _live_rows(server.port, token))
    assert server.proc is not None and server.proc.poll() is None  # still serving
    assert "Traceback" not in server.log_tail(1_000_000)


# -- every limit is a setting ------------------------------------------------------------

NEW_ROW = {"collection_many": "a", "field_many": "b"}


def test_limits_follow_settings(backend: str, tmp_path: Path,
                                request: pytest.FixtureRequest) -> None:
    settings = make_settings(tmp_path, max_body_bytes=1024, max_query_bytes=256,
                             max_json_depth=3, max_filter_clauses=2, max_limit=3)
    bind_default_project(settings, backend, request)
    app = create_app(settings)
    try:
        with TestClient(app, raise_server_exceptions=False,
                        headers={"Authorization": f"Bearer {issue_token(app)}"}) as c:
            assert c.post("/_/relations", json=DEFAULT_ROWS[:5]).status_code == 200
            cases = [
                (c.post("/_/relations", json={**NEW_ROW, "field_one": "x" * 1100}), 413, 901),
                (c.get("/_/relations?q=" + "a" * 260), 414, 907),
                (c.post("/_/relations", json={**NEW_ROW, "junction_field": [[["x"]]]}), 400, 13),
                (c.get("/_/relations?filter[id][gt]=0&filter[id][lt]=9&filter[id][neq]=2"),
                 422, 903),
            ]
            for r, status, code in cases:
                assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
            assert len(c.get("/_/relations?limit=-1").json()["data"]) == 3
            assert len(c.get("/_/relations?limit=100").json()["data"]) == 3
            assert len(c.get("/_/relations?filter[id][gt]=0&filter[id][lt]=9").json()
                       ["data"]) == 3
            assert _rows(app)[-1][0] == 5
    finally:
        app.projects.dispose()


SEED_SQL = {
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) "
              "INSERT INTO directus_relations (collection_many, field_many, collection_one) "
              "SELECT 'collection_' || i, 'field_' || i, 'one_' || i FROM n",
    "postgresql": "INSERT INTO directus_relations (collection_many, field_many, collection_one) "
                  "SELECT 'collection_' || i, 'field_' || i, 'one_' || i "
                  "FROM generate_series(1, {n}) AS i",
}


def test_statement_time_limit(backend: str, tmp_path: Path,
                              request: pytest.FixtureRequest) -> None:
    """A statement running past RELATIONS_STATEMENT_TIMEOUT_MS is stopped: 503/906 with
    Retry-After, the envelope and no leak (SQLite: progress handler; PostgreSQL:
    statement_timeout). Short statements on the same server still answer."""
    settings = make_settings(tmp_path)
    bind_default_project(settings, backend, request)
    seeder = create_app(settings)
    token = issue_token(seeder)
    engine = seeder.projects.get("_").engine
    with engine.begin() as conn:
        conn.execute(sa.text(SEED_SQL[engine.dialect.name].format(n=300_000)))
    seeder.projects.dispose()

    app = create_app(settings.model_copy(update={"statement_timeout_ms": 25}))
    try:
        with TestClient(app, raise_server_exceptions=False,
                        headers={"Authorization": f"Bearer {token}"}) as c:
            r = c.get("/_/relations?q=no-such-thing&meta=filter_count&sort=-field_one")
            assert r.status_code == 503, r.text
            assert r.json() == {"error": {"code": 906, "message": "Statement timed out"}}
            assert r.headers["retry-after"]
            assert c.get("/_/relations/1?fields=id").json() == {"data": {"id": 1}}
            r = c.get("/_/relations?limit=2&fields=id")
            assert r.json() == {"data": [{"id": 1}, {"id": 2}]}
    finally:
        app.projects.dispose()


def test_chunked_bodies(hostile_app: tuple[RelationsApp, str]) -> None:
    """A JSON body streamed without Content-Length is accepted within the cap, and the body
    of a caller without a valid token is never read."""
    app, token = hostile_app
    body = b'[{"collection_many": "chunked", "field_many": "b"}]'

    async def post(headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes, int]:
        parts = [body[:10], body[10:30], body[30:]]
        messages = [{"type": "http.request", "body": p, "more_body": i < 2}
                    for i, p in enumerate(parts)]
        read = 0
        out: dict[str, Any] = {"body": b""}

        async def receive() -> dict[str, Any]:
            nonlocal read
            read += 1
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out["status"] = message["status"]
            else:
                out["body"] += message.get("body", b"")

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": "/_/relations",
                 "raw_path": b"/_/relations", "query_string": b"", "root_path": "",
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
                 "headers": [(b"host", b"127.0.0.1"), (b"content-type", JSON),
                             (b"transfer-encoding", b"chunked"), *headers]}
        await app(scope, receive, send)
        return out["status"], out["body"], read

    before = _rows(app)
    status, answer, read = anyio.run(post, [])
    assert (status, json.loads(answer)["error"]["code"], read) == (401, 108, 0)
    status, answer, read = anyio.run(post, [(b"authorization", b"Bearer " + token.encode())])
    assert status == 200, answer
    assert json.loads(answer)["data"][0]["collection_many"] == "chunked"
    assert len(_rows(app)) == len(before) + 1


@pytest.mark.parametrize("media_type", [b"APPLICATION/JSON", b"Application/Json; Charset=UTF-8",
                                        b"application/json;charset=\"utf-8\""])
def test_media_type_case_is_ignored(hostile_app: tuple[RelationsApp, str],
                                    media_type: bytes) -> None:
    """`APPLICATION/JSON` is JSON: accepted when valid, validated like JSON when not."""
    app, token = hostile_app
    ok = Case("upper", "POST", b"/_/relations", 200, None, body=NEW, content_type=media_type)
    answer = anyio.run(_asgi, app, ok, token)
    assert answer.status == 200, answer.body
    assert json.loads(answer.body)["data"]["collection_many"] == "a"
    bad = Case("upper-bad", "PATCH", b"/_/relations/1", 422, 12,
               body=b'{"nope": 1}', content_type=media_type)
    before = _rows(app)
    check(bad, anyio.run(_asgi, app, bad, token), before, _rows(app))
