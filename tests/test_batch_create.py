"""A batch create stores every row's own keys, whatever keys the first row carries.

Found by the generated-client smoke test (make clients): SQLite's executemany took its
columns from the first row and silently dropped `collection_one` of the second.
"""

from starlette.testclient import TestClient


def test_batch_rows_with_different_keys(client: TestClient) -> None:
    body = [
        {"collection_many": "a", "field_many": "b"},
        {"collection_many": "c", "field_many": "d", "collection_one": "e", "junction_field": "f"},
        {"collection_many": "g", "field_many": "h", "field_one": "i"},
    ]
    r = client.post("/_/relations", json=body)
    assert r.status_code == 200, r.text
    stored = client.get("/_/relations", params={"sort": "id"}).json()["data"]
    assert [{k: v for k, v in row.items() if k != "id" and v is not None} for row in stored] == body
