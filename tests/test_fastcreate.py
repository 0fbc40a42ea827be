"""The short way in for plain creates (service/fastcreate.py) answers exactly as Connexion does.

Twin apps on the same backend, one with the fast path and one without, get the same
requests (valid and invalid bodies, every credential, query strings, media types) and must
give the same status, headers and body, and end with the same stored rows.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.responses import Response
from starlette.testclient import TestClient

from service.app import RelationsApp, create_app, load_spec
from service.errors import ApiError, Code
from service.fastcreate import create_contract
from service.groupcommit import CREATES
from service.registry import ProjectInfo, Registry
from tests.conftest import bearer, issue_token, make_settings
from tests.serving import PG_ENV, scratch_pg_database

ONE = {"collection_many": "articles", "field_many": "author", "collection_one": "users"}


@dataclass
class Twin:
    """One app of a pair, its client and its tokens by kind."""

    app: RelationsApp
    client: TestClient
    tokens: dict[str, str]

    def post(self, query: str, body: bytes, token: str, ctype: str | None) -> Any:
        headers = {} if ctype is None else {"Content-Type": ctype}
        if token in self.tokens:
            headers |= bearer(self.tokens[token])
        elif token == "bogus":
            headers |= {"Authorization": "Bearer rel_" + "x" * 43}
        query = query.replace("ADMIN", self.tokens["admin"])
        return self.client.post(f"/_/relations{query}", content=body, headers=headers)

    def rows(self) -> Any:
        r = self.client.get("/_/relations?limit=-1&sort=id", headers=bearer(self.tokens["admin"]))
        assert r.status_code == 200
        return r.json()["data"]


@contextlib.contextmanager
def _database(backend: str) -> Iterator[str | None]:
    if backend != "postgres":
        yield None
        return
    admin = os.environ.get(PG_ENV)
    if not admin:
        pytest.skip(f"PostgreSQL runs skipped: set {PG_ENV} to run them")
    with scratch_pg_database(admin) as url:
        yield url


@contextlib.contextmanager
def _twin(backend: str, root: Path, fast: bool) -> Iterator[Twin]:
    with _database(backend) as url:
        settings = make_settings(root, fast_create=fast)
        if url is not None:
            Registry(settings.data_dir).add(ProjectInfo("_", url), replace=True)
        app = create_app(settings)
        try:
            tokens = {"admin": issue_token(app, "admin"), "read": issue_token(app, "read")}
            with TestClient(app, raise_server_exceptions=False) as client:
                yield Twin(app, client, tokens)
        finally:
            app.projects.dispose()


@pytest.fixture
def twins(backend: str, tmp_path: Path) -> Iterator[tuple[Twin, Twin]]:
    """(fast, connexion-only) apps on `backend`, each with its own empty project `_`."""
    with _twin(backend, tmp_path / "fast", True) as fast, \
            _twin(backend, tmp_path / "slow", False) as slow:
        assert fast.app.fast_create is not None and slow.app.fast_create is None
        yield fast, slow


def _same(fast: Any, slow: Any) -> None:
    assert fast.status_code == slow.status_code, (fast.text, slow.text)
    assert fast.content == slow.content
    drop = {"x-request-id"}
    assert {k: v for k, v in fast.headers.items() if k not in drop} == {
        k: v for k, v in slow.headers.items() if k not in drop
    }


NAMES = st.one_of(
    st.text(min_size=1, max_size=66),
    st.sampled_from(["articles", "a" * 64, "a" * 65, "b" * 45, "b" * 46, "", "x\x00y", "é"]),
    st.none(),
    st.integers(-2, 2**63),
    st.booleans(),
    st.lists(st.just("a"), max_size=2),
)
KEYS = ["id", "collection_many", "field_many", "collection_one", "field_one", "junction_field"]
VALID = st.fixed_dictionaries(
    {"collection_many": st.text(min_size=1, max_size=64), "field_many": st.text(min_size=1,
                                                                                max_size=45)},
    optional={"id": st.integers(1, 40), "collection_one": st.none() | st.text(max_size=64),
              "field_one": st.none() | st.text(max_size=64), "junction_field": st.none()},
)
ANY_OBJECT = st.dictionaries(st.sampled_from([*KEYS, "extra", "ID"]), NAMES, max_size=7)
BODIES = st.one_of(
    VALID.map(orjson.dumps),
    VALID.map(orjson.dumps),
    ANY_OBJECT.map(orjson.dumps),
    st.lists(VALID, min_size=0, max_size=3).map(orjson.dumps),
    st.binary(max_size=24),
    st.sampled_from([b"", b"null", b"[]", b"{}", b'"x"', b"{" * 40,
                     b'{"collection_many":"a","field_many":"b","collection_many":"c"}',
                     b'{"collection_many":"a","field_many":"b"} trailing']),
)


TOKENS = st.sampled_from(["admin", "admin", "admin", "read", "bogus", "none"])
QUERIES = st.sampled_from(["", "", "", "?fields=id", "?meta=*", "?x=1", "?access_token=ADMIN"])
CTYPES = st.sampled_from(["application/json"] * 5 + ["application/json; charset=utf-8",
                                                     "text/plain", None])
#: Half the examples are plain admin creates (the fast path's own), half anything.
REQUESTS = st.one_of(
    st.tuples(VALID.map(orjson.dumps), st.just("admin"), st.just(""), st.just("application/json")),
    st.tuples(BODIES, TOKENS, QUERIES, CTYPES),
)


def _plain(body: bytes, token: str, query: str, ctype: str | None) -> bool:
    """Shaped like a request the fast path takes (if the spec accepts the body)."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return (token == "admin" and query == "" and isinstance(parsed, dict)
            and ctype in ("application/json", "application/json; charset=utf-8"))


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(request=REQUESTS)
def test_fast_and_connexion_paths_answer_alike(
    twins: tuple[Twin, Twin], request: tuple[bytes, str, str, str | None]
) -> None:
    fast, slow = twins
    assert fast.app.fast_create is not None
    before = fast.app.fast_create.hits
    fast_answer, slow_answer = fast.post(*_args(request)), slow.post(*_args(request))
    _same(fast_answer, slow_answer)
    assert fast.rows() == slow.rows()
    # valid plain creates (200, or 409 for a taken explicit id) took the fast path, no other
    took = _plain(*request) and slow_answer.status_code in (200, 409)
    assert fast.app.fast_create.hits == before + took


def _args(request: tuple[bytes, str, str, str | None]) -> tuple[str, bytes, str, str | None]:
    body, token, query, ctype = request
    return query, body, token, ctype


def test_the_differential_run_used_the_fast_path(twins: tuple[Twin, Twin]) -> None:
    fast, slow = twins
    assert fast.app.fast_create is not None
    before = fast.app.fast_create.hits
    for twin in twins:
        r = twin.post("", orjson.dumps(ONE), "admin", "application/json")
        assert r.status_code == 200, r.text
        assert r.json()["data"] == {"id": 1, "field_one": None, "junction_field": None, **ONE}
    assert fast.app.fast_create.hits == before + 1
    assert fast.rows() == slow.rows() == [{"id": 1, "field_one": None, "junction_field": None,
                                          **ONE}]


def test_refusals_and_other_shapes_go_through_connexion(twins: tuple[Twin, Twin]) -> None:
    fast, _ = twins
    assert fast.app.fast_create is not None
    cases = [
        ("", orjson.dumps(ONE), "read", "application/json", 403),
        ("", orjson.dumps(ONE), "bogus", "application/json", 401),
        ("", orjson.dumps(ONE), "none", "application/json", 401),
        ("", orjson.dumps({**ONE, "x": 1}), "admin", "application/json", 422),
        ("", orjson.dumps([ONE]), "admin", "application/json", 200),
        ("?fields=id", orjson.dumps(ONE), "admin", "application/json", 200),
    ]
    for query, body, token, ctype, status in cases:
        r = fast.post(query, body, token, ctype)
        assert r.status_code == status, (query, token, r.text)
    assert fast.app.fast_create.hits == 0
    # the hardening layer has normalised the media type by then: this one is plain
    r = fast.post("", orjson.dumps(ONE), "admin", "application/json; charset=utf-8")
    assert r.status_code == 200 and fast.app.fast_create.hits == 1


def test_a_chunked_body_goes_through_connexion(twins: tuple[Twin, Twin]) -> None:
    fast, _ = twins
    assert fast.app.fast_create is not None

    def chunks() -> Iterator[bytes]:
        yield b'{"collection_many":"a",'
        yield b'"field_many":"b"}'

    r = fast.client.post("/_/relations", content=chunks(), headers={
        **bearer(fast.tokens["admin"]), "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert fast.app.fast_create.hits == 0
    assert [row["collection_many"] for row in fast.rows()] == ["a"]


def test_an_answer_outside_the_spec_is_a_500(twins: tuple[Twin, Twin]) -> None:
    fast, _ = twins
    layer = fast.app.fast_create
    assert layer is not None and layer.validate_responses

    async def bad(_project: object, _body: object) -> Response:
        return Response(b'{"data":{"id":"one"}}', media_type="application/json")

    layer.create = bad
    r = fast.post("", orjson.dumps(ONE), "admin", "application/json")
    assert r.status_code == 500
    assert r.json() == {"error": {"code": 0, "message": "Internal Server Error"}}


def test_the_contract_is_read_from_the_spec() -> None:
    spec = load_spec()
    contract = create_contract(spec)
    assert contract is not None
    assert contract.body_schema["required"] == ["collection_many", "field_many"]
    assert contract.body_schema["additionalProperties"] is False
    assert contract.project_pattern.fullmatch("_") and not contract.project_pattern.fullmatch("a/b")

    renamed = copy.deepcopy(spec)
    renamed["paths"]["/{project}/relations"]["post"]["operationId"] = "something_else"
    assert create_contract(renamed) is None
    required = copy.deepcopy(spec)
    required["paths"]["/{project}/relations"]["post"]["parameters"].append(
        {"name": "must", "in": "query", "required": True, "schema": {"type": "string"}})
    assert create_contract(required) is None
    no_pattern = copy.deepcopy(spec)
    no_pattern["components"]["parameters"]["Project"]["schema"] = {"type": "string"}
    assert create_contract(no_pattern) is None


def test_the_fast_path_can_be_turned_off(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, fast_create=False))
    try:
        assert app.fast_create is None
    finally:
        app.projects.dispose()


def test_a_fast_create_is_logged_like_any_request(
    twins: tuple[Twin, Twin], caplog: pytest.LogCaptureFixture
) -> None:
    fast, _ = twins
    caplog.set_level("INFO", logger="relations.access")
    assert fast.post("", orjson.dumps(ONE), "admin", "application/json").status_code == 200
    lines = [orjson.loads(r.getMessage()) for r in caplog.records if r.name == "relations.access"]
    assert lines and lines[-1]["route"] == "/{project}/relations"
    assert (lines[-1]["method"], lines[-1]["status"], lines[-1]["role"]) == ("POST", 200, "admin")
    assert isinstance(lines[-1]["token_id"], int)
    assert fast.tokens["admin"] not in caplog.text


@pytest.mark.parametrize("code", [Code.STORAGE_FULL, Code.STORAGE_BUSY])
def test_a_storage_failure_is_answered_alike(
    twins: tuple[Twin, Twin], monkeypatch: pytest.MonkeyPatch, code: Code
) -> None:
    async def failing(_project: object, _rows: object) -> list[int]:
        raise ApiError(code, headers={"Retry-After": "1"} if code.status == 503 else None)

    monkeypatch.setattr(CREATES, "insert", failing)
    fast, slow = twins
    assert fast.app.fast_create is not None
    answers = [t.post("", orjson.dumps(ONE), "admin", "application/json") for t in twins]
    _same(*answers)
    assert answers[0].status_code == code.status
    assert answers[0].json()["error"]["code"] == code.code
    assert fast.app.fast_create.hits == 1
    assert fast.rows() == slow.rows() == []
