"""Every operation, status and error code of the Relations API, on each backend."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

NEW = {"collection_many": "articles", "field_many": "author"}


def _count(client: TestClient) -> int:
    r = client.get("/_/relations?limit=0&meta=total_count")
    assert r.status_code == 200, r.text
    return int(r.json()["meta"]["total_count"])


def _error(r: Any, status: int, code: int) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code, body
    return str(body["error"]["message"])


# --- list -------------------------------------------------------------------------------

def test_list_default_limit_is_200(client: TestClient) -> None:
    assert client.post("/_/relations", json=[NEW] * 210).status_code == 200
    assert len(client.get("/_/relations").json()["data"]) == 200
    assert len(client.get("/_/relations?limit=-1").json()["data"]) == 210


def test_list_meta_star(seeded: TestClient) -> None:
    body = seeded.get("/_/relations?limit=5&offset=5&meta=*").json()
    meta = body["meta"]
    assert list(meta) == ["collection", "type", "result_count", "total_count", "filter_count",
                          "limit", "offset", "page", "page_count", "links"]
    assert meta["links"]["next"].endswith("limit=5&meta=*&offset=10&page=3")
    assert meta["links"]["previous"].endswith("limit=5&meta=*&offset=0&page=1")
    assert meta["links"]["last"].endswith("offset=10&page=3")
    assert list(body) == ["meta", "data"]


def test_list_unknown_project(client: TestClient) -> None:
    assert _error(client.get("/nobody/relations"), 404, 24) == "Unknown project: nobody"


def test_list_single_object(seeded: TestClient) -> None:
    body = seeded.get("/_/relations?single=1&filter[id][eq]=3&meta=type").json()
    assert body == {"meta": {"type": "item"}, "data": seeded.get("/_/relations/3").json()["data"]}


# --- get --------------------------------------------------------------------------------

def test_get_one_and_many(seeded: TestClient) -> None:
    assert seeded.get("/_/relations/2").json()["data"]["id"] == 2
    many = seeded.get("/_/relations/3,2,99").json()["data"]
    assert [row["id"] for row in many] == [2, 3]
    assert seeded.get("/_/relations/98,99").json() == {"data": []}


def test_get_fields_and_meta(seeded: TestClient) -> None:
    body = seeded.get("/_/relations/1?fields=id,field_many&meta=*").json()
    assert body == {"meta": {"collection": "directus_relations", "type": "item"},
                    "data": {"id": 1, "field_many": "action_by"}}


@pytest.mark.parametrize("path", ["/_/relations/99", "/_/relations/abc",
                                  "/_/relations/99999999999999999999"])
def test_get_missing(seeded: TestClient, path: str) -> None:
    _error(seeded.get(path), 404, 203)


# --- create -----------------------------------------------------------------------------

def test_create_with_explicit_id_and_duplicate(client: TestClient) -> None:
    r = client.post("/_/relations", json={**NEW, "id": 40})
    assert r.json()["data"]["id"] == 40
    msg = _error(client.post("/_/relations", json={**NEW, "id": 40}), 409, 204)
    assert msg == 'Duplicate key "40" for collection "directus_relations"'
    assert client.post("/_/relations", json=NEW).json()["data"]["id"] == 41


def test_ids_are_never_reused(client: TestClient) -> None:
    first = client.post("/_/relations", json=NEW).json()["data"]["id"]
    assert client.delete(f"/_/relations/{first}").status_code == 204
    assert client.post("/_/relations", json=NEW).json()["data"]["id"] == first + 1


def test_batch_create_is_all_or_nothing(client: TestClient) -> None:
    before = _count(client)
    batch = [NEW, {**NEW, "id": 7}, {**NEW, "id": 7}]
    _error(client.post("/_/relations", json=batch), 409, 204)
    _error(client.post("/_/relations", json=[NEW, {"collection_many": "x"}]), 422, 4)
    assert _count(client) == before
    r = client.post("/_/relations", json=[NEW, {**NEW, "field_one": "f"}], params={"fields": "id"})
    assert r.json() == {"data": [{"id": 1}, {"id": 2}]}


def test_batch_create_keeps_each_rows_keys(client: TestClient) -> None:
    rows = [{**NEW, "collection_one": "a"}, {**NEW, "junction_field": "j"}]
    data = client.post("/_/relations", json=rows).json()["data"]
    assert [(d["collection_one"], d["junction_field"]) for d in data] == [("a", None), (None, "j")]


@pytest.mark.parametrize(("body", "status", "code", "message"), [
    ({"collection_many": "a"}, 422, 4, "field_many: This value should not be blank."),
    ({"collection_many": "", "field_many": None}, 422, 4,
     "collection_many: This value should not be blank. "
     "field_many: This value should not be blank."),
    ({**NEW, "color": "red"}, 422, 12,
     'Payload fields: "color" does not exist in "directus_relations" collection.'),
    ({**NEW, "field_many": "x" * 46}, 422, 12, None),
    ({**NEW, "field_one": ["a"]}, 422, 213,
     'Attempting to write an array as the value for field "field_one" in "directus_relations"'),
    ({**NEW, "field_one": {"a": 1}}, 422, 213, None),
    ({**NEW, "field_one": 5}, 422, 12, None),
    ({**NEW, "id": 0}, 422, 12, None),
    ([], 400, 13, "Invalid or Empty Payload"),
    ("text", 400, 13, "Invalid or Empty Payload"),
    ([1, 2], 400, 13, None),
])
def test_create_validation(client: TestClient, body: Any, status: int, code: int,
                           message: str | None) -> None:
    got = _error(client.post("/_/relations", json=body), status, code)
    if message is not None:
        assert got == message
    assert _count(client) == 0


def test_too_long_message_names_the_field(client: TestClient) -> None:
    msg = _error(client.post("/_/relations", json={**NEW, "field_many": "x" * 46}), 422, 12)
    assert "'Field Many'" in msg and "(45)" in msg


@pytest.mark.parametrize("raw", [b"", b"{", b"nope", b'{"a":NaN}', b"\xff\xfe"])
def test_create_unparsable_body(client: TestClient, raw: bytes) -> None:
    r = client.post("/_/relations", content=raw, headers={"content-type": "application/json"})
    _error(r, 400, 13)


# --- update -----------------------------------------------------------------------------

def test_patch_merges(seeded: TestClient) -> None:
    r = seeded.patch("/_/relations/11?fields=field_one,junction_field", json={"field_one": "x"})
    assert r.json() == {"data": {"field_one": "x", "junction_field": "role"}}


def test_patch_comma_list_is_atomic(seeded: TestClient) -> None:
    _error(seeded.patch("/_/relations/1,99", json={"field_one": "x"}), 404, 203)
    assert seeded.get("/_/relations/1").json()["data"]["field_one"] is None
    data = seeded.patch("/_/relations/1,2", json={"field_one": "x"}).json()["data"]
    assert [(d["id"], d["field_one"]) for d in data] == [(1, "x"), (2, "x")]


def test_patch_validation(seeded: TestClient) -> None:
    _error(seeded.patch("/_/relations/1", json={"collection_many": ""}), 422, 4)
    _error(seeded.patch("/_/relations/1", json={"nope": 1}), 422, 12)
    _error(seeded.patch("/_/relations/1", json={"id": 5}), 422, 12)
    _error(seeded.patch("/_/relations/99", json={"field_one": "x"}), 404, 203)
    assert seeded.get("/_/relations/1").json()["data"]["collection_many"] == "directus_activity"


def test_patch_array_each_with_its_data(seeded: TestClient) -> None:
    r = seeded.patch("/_/relations?fields=id,field_one",
                     json=[{"id": 3, "field_one": "c"}, {"id": 1, "field_one": "a"}])
    assert r.json() == {"data": [{"id": 3, "field_one": "c"}, {"id": 1, "field_one": "a"}]}
    _error(seeded.patch("/_/relations", json=[{"id": 2, "field_one": "b"}, {"id": 99}]), 404, 203)
    assert seeded.get("/_/relations/2").json()["data"]["field_one"] is None
    _error(seeded.patch("/_/relations", json=[{"field_one": "b"}]), 422, 4)


# --- delete -----------------------------------------------------------------------------

def test_delete_comma_list_is_atomic(seeded: TestClient) -> None:
    _error(seeded.delete("/_/relations/1,99"), 404, 203)
    assert _count(seeded) == 14
    r = seeded.delete("/_/relations/1,2")
    assert r.status_code == 204 and r.content == b""
    assert _count(seeded) == 12


# --- routing ----------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "allow"), [
    ("PUT", "/_/relations/1", "DELETE, GET, HEAD, PATCH"),
    ("DELETE", "/_/relations", "GET, HEAD, PATCH, POST"),
    ("POST", "/server/ping", "GET, HEAD"),
])
def test_method_not_allowed(client: TestClient, method: str, path: str, allow: str) -> None:
    r = client.request(method, path)
    _error(r, 405, 6)
    assert r.headers["allow"] == allow


def test_unknown_route(client: TestClient) -> None:
    assert _error(client.get("/_/nothing/here"), 404, 1) == "Not Found"


def test_ping(client: TestClient) -> None:
    r = client.get("/server/ping")
    assert (r.status_code, r.text) == (200, "pong")


def test_docs_and_spec_are_served(client: TestClient) -> None:
    assert client.get("/openapi.json").json()["openapi"] == "3.0.3"
    assert client.get("/docs/").status_code == 200


def test_page_links_never_carry_the_token(seeded: TestClient, admin_token: str) -> None:
    seeded.headers.pop("Authorization")
    r = seeded.get(f"/_/relations?limit=2&meta=page&access_token={admin_token}")
    assert r.status_code == 200
    assert admin_token not in r.text
    assert r.json()["meta"]["links"]["next"].endswith("limit=2&meta=page&offset=2&page=2")
