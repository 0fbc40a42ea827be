"""The compiled body validator only short-cuts bodies jsonschema accepts: with it and
without it, every body gets the same answer (status, and the error envelope)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from service import validation
from service.app import create_app
from tests.conftest import issue_token, make_settings

KEYS = ["id", "collection_many", "field_many", "collection_one", "field_one",
        "junction_field", "bogus"]
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 2**60), st.floats(allow_nan=False),
    st.text(max_size=70), st.sampled_from(["a", "", "x" * 45, "x" * 46, "x" * 65, "a\x00b"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                         max_size=1),
)
OBJECTS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6)
BODIES = st.one_of(OBJECTS, st.lists(OBJECTS, max_size=3), VALUES)


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, TestClient]]:
    pair = []
    for name in ("fast", "slow"):
        app = create_app(make_settings(Path(tmp_path_factory.mktemp(name))))
        headers = {"Authorization": f"Bearer {issue_token(app)}"}
        client = TestClient(app, headers=headers)
        client.__enter__()
        assert client.post("/_/relations", json={"collection_many": "a",
                                                 "field_many": "b"}).status_code == 200
        pair.append(client)
    yield pair[0], pair[1]
    for client in pair:
        client.__exit__(None, None, None)


def _answer(client: TestClient, method: str, path: str, body: Any) -> tuple[int, Any]:
    r = client.request(method, path, json=body)
    return r.status_code, (r.json() if r.status_code >= 400 else None)


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=BODIES, route=st.sampled_from([("POST", "/_/relations"),
                                           ("PATCH", "/_/relations/1"),
                                           ("PATCH", "/_/relations")]))
def test_same_answer_with_and_without_the_compiled_validator(
    clients: tuple[TestClient, TestClient], body: Any, route: tuple[str, str]
) -> None:
    fast, slow = clients
    method, path = route
    got_fast = _answer(fast, method, path, body)
    original = validation.fast_validator_for
    validation.fast_validator_for = lambda _schema: None  # type: ignore[assignment]
    try:
        got_slow = _answer(slow, method, path, body)
    finally:
        validation.fast_validator_for = original
    assert got_fast == got_slow, body


def test_nullable_becomes_a_null_type() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string", "nullable": True,
                                                     "maxLength": 2}}}
    fast = validation.fast_validator_for(schema)
    assert fast.is_valid({"a": None}) and fast.is_valid({"a": "xy"})
    assert not fast.is_valid({"a": "xyz"}) and not fast.is_valid({"a": 1})
