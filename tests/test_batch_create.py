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


def test_a_big_batch_answers_each_row_with_its_own_id_in_order(client: TestClient) -> None:
    """Several pages of a multi-row INSERT ... RETURNING (PostgreSQL) or of executemany
    (SQLite): the answer lists the rows in request order, each with the id it was stored at."""
    body = [{"collection_many": f"c{i}", "field_many": "f", "field_one": None if i % 2 else f"o{i}"}
            for i in range(2500)]
    r = client.post("/_/relations", json=body)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert [row["collection_many"] for row in data] == [row["collection_many"] for row in body]
    ids = [row["id"] for row in data]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    stored = client.get("/_/relations", params={"limit": -1}).json()["data"]
    assert {row["id"]: row for row in stored} == {row["id"]: row for row in data}
