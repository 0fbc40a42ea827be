"""The response cache: repeated reads are served from memory, and never stale.

In process: hits, invalidation by writes and by token revocation, random sorts. Live, with two
worker processes on each backend: every write is visible to the very next read, whichever
worker serves it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from service import tokens
from service.app import RelationsApp
from service.registry import ProjectInfo, Registry
from service.settings import Settings
from tests.serving import PG_ENV, Server, admin_token, scratch_pg_database

NEW = {"collection_many": "articles", "field_many": "author"}


def test_repeated_reads_hit_and_writes_invalidate(app: RelationsApp, client: TestClient) -> None:
    client.post("/_/relations", json=NEW)
    first = client.get("/_/relations?meta=*")
    hits = app.cache.hits
    again = client.get("/_/relations?meta=*")
    assert app.cache.hits == hits + 1
    assert again.content == first.content
    assert again.headers["x-relations-cache"] == "hit"
    assert "x-relations-cache" not in first.headers
    assert again.headers["content-type"] == "application/json"
    assert "x-request-id" in again.headers
    client.patch("/_/relations/1", json={"field_one": "x"})
    after = client.get("/_/relations?meta=*")
    assert app.cache.hits == hits + 1
    assert after.json()["data"][0]["field_one"] == "x"
    client.delete("/_/relations/1")
    assert client.get("/_/relations/1").status_code == 404
    assert client.get("/_/relations?meta=*").json()["data"] == []


def test_revoking_a_token_invalidates_what_it_read(app: RelationsApp, client: TestClient,
                                                   make_token: object) -> None:
    token = make_token("read")  # type: ignore[operator]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/_/relations", headers=headers).status_code == 200
    assert client.get("/_/relations", headers=headers).status_code == 200
    project = app.projects.get("_")
    [info] = [t for t in tokens.listing(project) if t.role == "read"]
    assert tokens.revoke(project, info.id)
    r = client.get("/_/relations", headers=headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == 101


def test_errors_and_random_sorts_are_not_cached(app: RelationsApp, client: TestClient) -> None:
    for _ in range(3):
        client.get("/_/relations?sort=%3F")
        client.get("/_/relations?fields=nope")
    assert app.cache.entries == {} or all(
        b"sort=%3F" not in k[2] and b"nope" not in k[2] for k in app.cache.entries
    )


def test_cache_can_be_turned_off(tmp_path: Path) -> None:
    from service.app import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(tmp_path, cache_entries=0))
    token = admin_token(app.settings)
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as c:
        for _ in range(3):
            assert c.get("/_/relations").status_code == 200
    assert app.cache.hits == 0 and not app.cache.entries


@pytest.mark.live
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_write_is_visible_to_the_next_read_on_any_worker(backend: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    with contextlib.ExitStack() as stack:
        if backend == "postgres":
            admin = os.environ.get(PG_ENV)
            if not admin:
                pytest.skip(f"PostgreSQL runs skipped: set {PG_ENV} to run them")
            url = stack.enter_context(scratch_pg_database(admin))
            Registry(data).add(ProjectInfo("_", url), replace=True)
        token = admin_token(Settings(data_dir=data))
        server = stack.enter_context(Server(data, workers=2))
        auth = {"Authorization": f"Bearer {token}"}
        hits = 0
        for _ in range(20):  # fresh connections: both workers cache the list
            with httpx.Client(base_url=server.url, headers=auth, timeout=10) as warm:
                hits += warm.get("/_/relations?fields=id").headers.get("x-relations-cache") == "hit"
        assert hits >= 10  # the cache is live, so the checks below can catch a stale read
        for i in range(30):
            with httpx.Client(base_url=server.url, headers=auth, timeout=10) as c:
                created = c.post("/_/relations", json=NEW).json()["data"]["id"]
            # a fresh connection each time: the read may land on either worker
            with httpx.Client(base_url=server.url, headers=auth, timeout=10) as c:
                ids = [r["id"] for r in c.get("/_/relations?fields=id").json()["data"]]
            assert ids[-1] == created, (i, ids[-3:], created)
            with httpx.Client(base_url=server.url, headers=auth, timeout=10) as c:
                assert c.delete(f"/_/relations/{created}").status_code == 204
            with httpx.Client(base_url=server.url, headers=auth, timeout=10) as c:
                ids = [r["id"] for r in c.get("/_/relations?fields=id").json()["data"]]
            assert created not in ids, i
