"""Every error-producing path answers the one envelope, JSON, and leaks nothing.

A sweep over requests that fail at every layer: hardening, routing, Connexion validation,
our validators, handlers and the database.
"""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

LEAKS = re.compile(
    r"Traceback|File \"|/work/|/home/|\.py\b|sqlalchemy|sqlite3|psycopg|SELECT |INSERT |"
    r"UPDATE |DELETE FROM|connexion\.|jsonschema|Exception",
    re.IGNORECASE,
)

JSON = {"content-type": "application/json"}
CASES: list[tuple[str, str, dict[str, str], bytes | None, int]] = [
    ("GET", "/nobody/relations", {}, None, 404),
    ("GET", "/_/nothing", {}, None, 404),
    ("PUT", "/_/relations", {}, None, 405),
    ("GET", "/_/relations?limit=abc", {}, None, 422),
    ("GET", "/_/relations?limit=-2", {}, None, 422),
    ("GET", "/_/relations?offset=-1", {}, None, 422),
    ("GET", "/_/relations?page=0", {}, None, 422),
    ("GET", "/_/relations?single=2", {}, None, 422),
    ("GET", "/_/relations?meta=bogus", {}, None, 422),
    ("GET", "/_/relations?fields=bogus", {}, None, 422),
    ("GET", "/_/relations?sort=bogus", {}, None, 422),
    ("GET", "/_/relations?filter[bogus][eq]=1", {}, None, 422),
    ("GET", "/_/relations?filter[id][bogus]=1", {}, None, 422),
    ("GET", "/_/relations?filter[id][has]=1", {}, None, 422),
    ("GET", "/_/relations?filter[id][eq]=x", {}, None, 422),
    ("GET", "/_/relations?filter=abc", {}, None, 422),
    ("GET", "/_/relations?filter[id]=", {}, None, 400),
    ("GET", "/_/relations?filterx[id]=1", {}, None, 400),
    ("GET", "/_/relations?filter[a[id]][eq]=1", {}, None, 400),
    ("GET", "/_/relations?q=" + "x" * 2000, {}, None, 422),
    ("GET", "/_/relations?q=%00", {}, None, 422),
    ("GET", "/_/relations/abc", {}, None, 404),
    ("GET", "/_/relations/0", {}, None, 404),
    ("POST", "/_/relations", JSON, b"", 400),
    ("POST", "/_/relations", JSON, b"{bad", 400),
    ("POST", "/_/relations", JSON, b"[" * 40 + b"]" * 40, 400),
    ("POST", "/_/relations", JSON, b'{"collection_many": 1e999}', 400),
    ("POST", "/_/relations", JSON, b'{"id": 123456789012345678901234567890}', 422),
    ("POST", "/_/relations", {"content-type": "text/plain"}, b"{}", 415),
    ("POST", "/_/relations", {}, b'{"collection_many":"a","field_many":"b"}', 415),
    ("POST", "/_/relations", JSON, b'{"collection_many":"a"}', 422),
    ("POST", "/_/relations", JSON, b'{"collection_many":"a","field_many":"b","x":1}', 422),
    ("POST", "/_/relations", JSON, b'{"collection_many":"a","field_many":["b"]}', 422),
    ("PATCH", "/_/relations/999", JSON, b'{"field_one":"x"}', 404),
    ("PATCH", "/_/relations", JSON, b'{"id":1}', 400),
    ("DELETE", "/_/relations/999", {}, None, 404),
    ("DELETE", "/_/relations/1?x=1", {}, None, 400),
]


@pytest.mark.parametrize(("method", "path", "headers", "body", "status"), CASES,
                         ids=[f"{c[0]} {c[1][:50]}" for c in CASES])
def test_error_envelope(client: TestClient, method: str, path: str, headers: dict[str, str],
                        body: bytes | None, status: int) -> None:
    r = client.request(method, path, headers=headers, content=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    payload = r.json()
    assert set(payload) == {"error"}
    assert set(payload["error"]) == {"code", "message"}
    assert isinstance(payload["error"]["code"], int)
    assert isinstance(payload["error"]["message"], str) and payload["error"]["message"]
    assert not LEAKS.search(r.text), r.text


def test_query_string_cap(tmp_path: object) -> None:
    """414/907 past RELATIONS_MAX_QUERY_BYTES (set low here; the default is 64 KiB)."""
    from pathlib import Path

    from service.app import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(Path(str(tmp_path)), max_query_bytes=300))
    with TestClient(app) as c:
        r = c.get("/_/relations?q=" + "x" * 400)
    assert r.status_code == 414
    assert r.json() == {"error": {"code": 907, "message": "Query string too long"}}
