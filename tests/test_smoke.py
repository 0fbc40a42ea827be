"""The reference page's examples, end to end, on both backends."""

from starlette.testclient import TestClient

REFERENCE_CREATE = {
    "collection_many": "articles",
    "field_many": "author",
    "collection_one": "authors",
    "field_one": "books",
}


def test_reference_create_get_patch_delete(seeded: TestClient) -> None:
    r = seeded.post("/_/relations", json=REFERENCE_CREATE)
    assert r.status_code == 200
    assert r.json() == {"data": {"id": 15, **REFERENCE_CREATE, "junction_field": None}}
    r = seeded.get("/_/relations/1")
    assert r.json() == {"data": {"id": 1, "collection_many": "directus_activity",
                                 "field_many": "action_by", "collection_one": "directus_users",
                                 "field_one": None, "junction_field": None}}
    r = seeded.patch("/_/relations/15", json={"field_one": "books"})
    assert r.status_code == 200
    assert r.json() == {"data": {"id": 15, **REFERENCE_CREATE, "junction_field": None}}
    r = seeded.delete("/_/relations/15")
    assert r.status_code == 204 and r.content == b""
    assert seeded.get("/_/relations/15").status_code == 404
