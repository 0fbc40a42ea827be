"""One row per filter operator and alias, on each backend, over the 14 default rows.

The table is checked against ``query.operators.OPERATORS`` so that a new operator cannot
ship without a row here.
"""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from query.operators import OPERATORS

ALL = set(range(1, 15))

# (operator spelling as sent, field, value, expected ids)
ROWS: list[tuple[str, str, str, set[int]]] = [
    ("eq", "collection_one", "directus_users", {1, 2, 4, 6, 11}),
    ("=", "collection_one", "directus_users", {1, 2, 4, 6, 11}),
    ("neq", "field_one", "roles", {12, 14}),
    ("!=", "field_one", "roles", {12, 14}),
    ("<>", "field_one", "roles", {12, 14}),
    ("lt", "id", "3", {1, 2}),
    ("<", "id", "3", {1, 2}),
    ("lte", "id", "3", {1, 2, 3}),
    ("<=", "id", "3", {1, 2, 3}),
    ("gt", "id", "12", {13, 14}),
    (">", "id", "12", {13, 14}),
    ("gte", "id", "12", {12, 13, 14}),
    (">=", "id", "12", {12, 13, 14}),
    ("in", "id", "1,3,5", {1, 3, 5}),
    ("nin", "id", "1,2,3,4,5,6,7,8,9,10", {11, 12, 13, 14}),
    ("null", "field_one", "", ALL - {11, 12, 14}),
    ("nnull", "field_one", "1", {11, 12, 14}),
    ("empty", "junction_field", "", ALL - {11, 12}),
    ("nempty", "junction_field", "", {11, 12}),
    ("like", "collection_many", "user", {11, 12, 13}),
    ("contains", "collection_many", "USER", {11, 12, 13}),
    ("nlike", "collection_many", "user", ALL - {11, 12, 13}),
    ("ncontains", "collection_many", "user", ALL - {11, 12, 13}),
    ("rlike", "collection_many", "directus_f%", {6, 7, 8, 14}),
    ("nrlike", "collection_many", "directus_f%", ALL - {6, 7, 8, 14}),
    ("between", "id", "2,4", {2, 3, 4}),
    ("nbetween", "id", "2,13", {1, 14}),
]

# Text-column comparisons and literal-vs-wildcard checks (same answers on both backends).
EXTRA: list[tuple[str, str, str, set[int]]] = [
    ("lt", "field_many", "b", {1, 3, 10, 13}),
    ("in", "collection_one", "directus_roles,directus_files", {12, 13}),
    ("between", "field_many", "a,b", {1, 3, 10, 13}),
    ("contains", "collection_many", "%", set()),
    ("contains", "collection_many", "_", ALL),
    ("rlike", "collection_many", "%", ALL),
    ("rlike", "field_many", "_ser", {2, 4, 11}),
    ("contains", "id", "1", {1, 10, 11, 12, 13, 14}),
    ("like", "collection_many", "", ALL),
    ("contains", "field_one", "0", set()),
]


def _ids(client: TestClient, query: str) -> set[int]:
    r = client.get(f"/_/relations?fields=id&limit=-1&{query}")
    assert r.status_code == 200, r.text
    return {row["id"] for row in r.json()["data"]}


def test_every_operator_has_a_row() -> None:
    spellings = {s for op in OPERATORS for s in (op.name, *op.aliases)}
    assert spellings == {row[0] for row in ROWS}


@pytest.mark.parametrize(("op", "field", "value", "expected"), ROWS + EXTRA,
                         ids=[f"{r[1]}-{r[0]}-{r[2]}" for r in ROWS + EXTRA])
def test_operator(seeded: TestClient, op: str, field: str, value: str,
                  expected: set[int]) -> None:
    from urllib.parse import quote

    assert _ids(seeded, f"filter[{field}][{quote(op)}]={quote(value)}") == expected


@pytest.mark.parametrize("op", ["all", "has", "nhas"])
def test_one_to_many_operators_are_refused(seeded: TestClient, op: str) -> None:
    r = seeded.get(f"/_/relations?filter[collection_one][{op}]=1")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == 12


@pytest.mark.parametrize(("value", "expected"), [("É", {1}), ("é", {2}), ("x", {1, 2})])
def test_case_folding_is_ascii_only_on_every_backend(
    client: TestClient, value: str, expected: set[int]
) -> None:
    rows = [
        {"collection_many": "xÉ", "field_many": "a"},
        {"collection_many": "Xé", "field_many": "b"},
    ]
    assert client.post("/_/relations", json=rows).status_code == 200
    from urllib.parse import quote

    assert _ids(client, f"filter[collection_many][contains]={quote(value)}") == expected


def test_unknown_operator(seeded: TestClient) -> None:
    r = seeded.get("/_/relations?filter[collection_one][bogus]=1")
    assert r.status_code == 422
    assert r.json() == {"error": {"code": 214, "message": "Unknown filter: bogus"}}
