"""Tokens, roles and the public role: the auth matrix over every operation, on both backends.

Every cell asserts the status, the error code and that the table is exactly as it was (rows
compared whole, not just counted) unless the caller was allowed to write.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient
from typer.testing import CliRunner

from service import tokens
from service.app import RelationsApp, load_spec
from service.cli import cli
from service.cli_tokens import ensure_first_admin
from service.projects import Projects
from service.registry import ProjectInfo, Registry
from tests.conftest import DEFAULT_ROWS, bearer

NEW = {"collection_many": "articles", "field_many": "author"}

#: name -> (method, path, json body, the action's 403 code)
OPERATIONS: dict[str, tuple[str, str, Any, int | None]] = {
    "list": ("GET", "/_/relations", None, None),
    "get": ("GET", "/_/relations/1", None, None),
    "create": ("POST", "/_/relations", NEW, 301),
    "update": ("PATCH", "/_/relations/1", {"field_one": "changed"}, 302),
    "update_batch": ("PATCH", "/_/relations", [{"id": 2, "field_one": "changed"}], 302),
    "delete": ("DELETE", "/_/relations/1", None, 303),
}
CREDENTIALS = ["none", "admin", "read", "revoked", "other_project", "malformed"]
MALFORMED = "rel_" + "x" * 42  # one character short of a token's shape


def snapshot(app: RelationsApp, project: str = "_") -> list[tuple[Any, ...]]:
    """Every row of the project's table, in id order."""
    with app.projects.get(project).engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.text("SELECT * FROM directus_relations ORDER BY id")
        )]


@pytest.fixture
def world(app: RelationsApp, seeded: TestClient, make_token: Callable[..., str]) -> dict[str, Any]:
    """Project `_` seeded with the 14 default rows, a second project, and one token of each
    kind (the revoked one was valid before it was revoked)."""
    Registry(app.settings.data_dir).add(ProjectInfo("other"))
    revoked = make_token("admin")
    assert seeded.get("/_/relations/1", headers=bearer(revoked)).status_code == 200
    info = tokens.find(app.projects.get("_"), revoked)[0]
    assert tokens.revoke(app.projects.get("_"), info.id)
    return {
        "admin": make_token("admin"),
        "read": make_token("read"),
        "revoked": revoked,
        "other_project": make_token("admin", project="other"),
        "malformed": MALFORMED,
    }


def call(c: TestClient, op: str, headers: dict[str, str] | None = None,
         query: str = "") -> Any:
    method, path, body, _ = OPERATIONS[op]
    return c.request(method, path + query, json=body, headers=headers or {})


def expected(op: str, cred: str) -> tuple[int, int | None]:
    method, _, _, denied = OPERATIONS[op]
    if cred == "none":
        return 401, 108
    if cred in ("revoked", "other_project", "malformed"):
        return 401, 101
    if cred == "read" and denied is not None:
        return 403, denied
    return (204 if method == "DELETE" else 200), None


@pytest.mark.parametrize("cred", CREDENTIALS)
@pytest.mark.parametrize("op", list(OPERATIONS))
def test_auth_matrix(app: RelationsApp, anon_client: TestClient, world: dict[str, Any],
                     op: str, cred: str) -> None:
    before = snapshot(app)
    headers = None if cred == "none" else bearer(world[cred])
    r = call(anon_client, op, headers)
    status, code = expected(op, cred)
    assert r.status_code == status, r.text
    after = snapshot(app)
    if code is not None:
        assert r.headers["content-type"] == "application/json"
        assert r.json()["error"]["code"] == code
        assert after == before
        if status == 401:
            assert r.headers["www-authenticate"].startswith('Bearer realm="relations"')
    elif OPERATIONS[op][0] == "GET":
        assert after == before
    elif op == "create":
        assert len(after) == len(before) + 1
    elif op == "delete":
        assert [row[0] for row in after] == list(range(2, 15))
    else:
        assert after != before and len(after) == len(before)


@pytest.mark.parametrize("cred", CREDENTIALS)
@pytest.mark.parametrize("op", list(OPERATIONS))
def test_auth_matrix_query_token(app: RelationsApp, anon_client: TestClient,
                                 world: dict[str, Any], op: str, cred: str) -> None:
    """The same matrix with the Directus form `?access_token=` (it passes strict validation)."""
    before = snapshot(app)
    query = "" if cred == "none" else f"?access_token={world[cred]}"
    r = call(anon_client, op, query=query)
    status, code = expected(op, cred)
    assert r.status_code == status, r.text
    if code is not None:
        assert r.json()["error"]["code"] == code
        assert snapshot(app) == before


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer"},  # no token
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},  # another scheme
        {"Authorization": "Token abc"},
        {"Authorization": "Bearer " + "a" * 5000},  # far too long
        {"Authorization": "Bearer rel_" + "x" * 43 + " extra"},
        {"Authorization": "Bearer ' OR 1=1 --"},
        {"Authorization": "Bearer rel_" + "é" * 43},
    ],
    ids=["empty", "empty-space", "basic", "other-scheme", "long", "extra", "sql", "non-ascii"],
)
def test_malformed_credentials_are_401_101(app: RelationsApp, anon_client: TestClient,
                                           world: dict[str, Any],
                                           headers: dict[str, str]) -> None:
    before = snapshot(app)
    for op in OPERATIONS:
        r = call(anon_client, op, {k: v.encode("utf-8")  # type: ignore[misc]
                                   for k, v in headers.items()})
        assert (r.status_code, r.json()["error"]["code"]) == (401, 101), (op, r.text)
    assert snapshot(app) == before


def test_scheme_is_case_insensitive(anon_client: TestClient, world: dict[str, Any]) -> None:
    for scheme in ("bearer", "BEARER", "BeArEr"):
        r = anon_client.post("/_/relations", json=NEW,
                             headers={"Authorization": f"{scheme} {world['admin']}"})
        assert r.status_code == 200, r.text


def test_ambiguous_credentials_fail_closed(app: RelationsApp, anon_client: TestClient,
                                           world: dict[str, Any]) -> None:
    before = snapshot(app)
    admin, read = world["admin"], world["read"]
    cases = [
        # header and query disagree (even when both are valid)
        ("/_/relations?access_token=" + read, [("authorization", "Bearer " + admin)]),
        # the query token twice
        (f"/_/relations?access_token={admin}&access_token={admin}", []),
        # an empty query token
        ("/_/relations?access_token=", []),
        # two Authorization headers
        ("/_/relations", [("authorization", "Bearer " + admin),
                          ("authorization", "Bearer " + admin)]),
    ]
    for url, headers in cases:
        r = anon_client.post(url, json=NEW, headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (401, 101), (url, r.text)
    assert snapshot(app) == before
    # the same token in both places is fine
    r = anon_client.post("/_/relations?access_token=" + admin, json=NEW, headers=bearer(admin))
    assert r.status_code == 200


def test_percent_encoded_query_token_is_read(anon_client: TestClient,
                                             world: dict[str, Any]) -> None:
    r = anon_client.get("/_/relations?access%5Ftoken=" + world["read"])
    assert r.status_code == 200, r.text
    r = anon_client.post("/_/relations?%61ccess_token=" + world["read"], json=NEW)
    assert (r.status_code, r.json()["error"]["code"]) == (403, 301)


def test_head_is_a_read(anon_client: TestClient, world: dict[str, Any]) -> None:
    assert anon_client.head("/_/relations", headers=bearer(world["read"])).status_code == 200
    assert anon_client.head("/_/relations").status_code == 401


def test_open_routes_need_no_token(anon_client: TestClient) -> None:
    r = anon_client.get("/server/ping")
    assert (r.status_code, r.text) == (200, "pong")
    assert anon_client.get("/openapi.json").status_code == 200
    assert anon_client.get("/docs/").status_code == 200


def test_unknown_project_and_route_come_before_auth(anon_client: TestClient,
                                                    world: dict[str, Any]) -> None:
    r = anon_client.get("/nope/relations")
    assert (r.status_code, r.json()["error"]["code"]) == (404, 24)
    r = anon_client.put("/_/relations", json=NEW)
    assert (r.status_code, r.json()["error"]["code"]) == (405, 6)


def test_auth_comes_before_validation(anon_client: TestClient, world: dict[str, Any]) -> None:
    """An anonymous or bad caller learns nothing from the validator."""
    assert anon_client.get("/_/relations?limit=abc").json()["error"]["code"] == 108
    r = anon_client.post("/_/relations", content=b"{not json",
                         headers={"Content-Type": "application/json", **bearer(MALFORMED)})
    assert r.json()["error"]["code"] == 101
    r = anon_client.post("/_/relations", json={"nope": 1}, headers=bearer(world["read"]))
    assert r.json()["error"]["code"] == 301


def test_public_read_role(app: RelationsApp, anon_client: TestClient,
                          make_token: Callable[..., str]) -> None:
    Registry(app.settings.data_dir).add(ProjectInfo("pub", None, "read"))
    admin = make_token("admin", project="pub")
    r = anon_client.post("/pub/relations", json=NEW, headers=bearer(admin))
    assert r.status_code == 200
    before = snapshot(app, "pub")
    assert anon_client.get("/pub/relations").json()["data"][0]["collection_many"] == "articles"
    assert anon_client.get("/pub/relations/1").status_code == 200
    for method, path, body in [("POST", "/pub/relations", NEW),
                               ("PATCH", "/pub/relations/1", {"field_one": "x"}),
                               ("PATCH", "/pub/relations", [{"id": 1, "field_one": "x"}]),
                               ("DELETE", "/pub/relations/1", None)]:
        r = anon_client.request(method, path, json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (401, 108), (method, path)
    # a bad token is never downgraded to the public role
    for token in (MALFORMED, make_token("admin")):  # malformed; another project's
        r = anon_client.get("/pub/relations", headers=bearer(token))
        assert (r.status_code, r.json()["error"]["code"]) == (401, 101)
    assert snapshot(app, "pub") == before


def test_revocation_is_immediate_across_processes(app: RelationsApp, anon_client: TestClient,
                                                  make_token: Callable[..., str]) -> None:
    """Revoked through another Projects (as the CLI or another worker would): the next
    request of this app is refused, with no cache to wait for."""
    token = make_token("admin")
    assert anon_client.get("/_/relations", headers=bearer(token)).status_code == 200
    elsewhere = Projects(app.settings)
    try:
        project = elsewhere.get("_")
        assert tokens.revoke(project, tokens.find(project, token)[0].id)
    finally:
        elsewhere.dispose()
    r = anon_client.get("/_/relations", headers=bearer(token))
    assert (r.status_code, r.json()["error"]["code"]) == (401, 101)


def test_only_the_hash_is_stored(app: RelationsApp, make_token: Callable[..., str]) -> None:
    token = make_token("read")
    with app.projects.get("_").engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text("SELECT * FROM relations_tokens"))]
    flat = repr(rows)
    assert token not in flat and token[4:] not in flat
    assert hashlib.sha256(token.encode()).hexdigest() in flat


# -- the CLI -----------------------------------------------------------------------------

@pytest.fixture
def cli_env(app: RelationsApp, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("RELATIONS_DATA_DIR", str(app.settings.data_dir))
    yield CliRunner()


def test_cli_create_list_revoke(app: RelationsApp, anon_client: TestClient,
                                cli_env: CliRunner) -> None:
    result = cli_env.invoke(cli, ["token", "create", "--project", "_", "--role", "read",
                                  "--label", "ci reader"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert tokens.well_formed(token)
    assert anon_client.get("/_/relations", headers=bearer(token)).status_code == 200
    r = anon_client.post("/_/relations", json=NEW, headers=bearer(token))
    assert r.json()["error"]["code"] == 301

    listed = cli_env.invoke(cli, ["token", "list", "--project", "_"])
    assert listed.exit_code == 0
    assert token not in listed.output and token[4:20] not in listed.output
    line = next(ln for ln in listed.output.splitlines() if "ci reader" in ln)
    token_id, role, status, _created, prefix, _label = line.split("\t")
    assert (role, status) == ("read", "active")
    assert hashlib.sha256(token.encode()).hexdigest().startswith(prefix)

    revoked = cli_env.invoke(cli, ["token", "revoke", "--project", "_", prefix[:8]])
    assert revoked.exit_code == 0, revoked.output
    r = anon_client.get("/_/relations", headers=bearer(token))
    assert (r.status_code, r.json()["error"]["code"]) == (401, 101)
    again = cli_env.invoke(cli, ["token", "revoke", "--project", "_", token_id])
    assert again.exit_code == 0 and "already revoked" in again.output
    listed = cli_env.invoke(cli, ["token", "list", "--project", "_"])
    assert f"{token_id}\tread\trevoked" in listed.output


def test_cli_revoke_by_token_and_errors(app: RelationsApp, anon_client: TestClient,
                                        cli_env: CliRunner) -> None:
    out = cli_env.invoke(cli, ["token", "create", "--role", "admin"])
    token = out.output.strip().splitlines()[-1]
    assert cli_env.invoke(cli, ["token", "revoke", token]).exit_code == 0
    assert anon_client.get("/_/relations", headers=bearer(token)).status_code == 401
    assert cli_env.invoke(cli, ["token", "revoke", "999999"]).exit_code == 1
    assert cli_env.invoke(cli, ["token", "revoke", "abc"]).exit_code == 1
    assert cli_env.invoke(cli, ["token", "create", "--role", "root"]).exit_code == 2
    bad = cli_env.invoke(cli, ["token", "create", "--project", "nope", "--role", "read"])
    assert bad.exit_code == 1 and "Unknown project" in bad.output
    # a database that does not answer: a one-line error, no traceback, no token printed
    Registry(app.settings.data_dir).add(ProjectInfo("down", "postgresql://nobody@127.0.0.1:1/x"))
    for args in (["create", "--role", "read"], ["list"], ["revoke", "1"]):
        down = cli_env.invoke(cli, ["token", *args, "--project", "down"])
        assert down.exit_code == 1 and "Storage" in down.output, down.output
        assert "Traceback" not in down.output and "rel_" not in down.output


def test_first_start_prints_one_admin_token(app: RelationsApp, anon_client: TestClient,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    project = app.projects.get("_")
    assert not tokens.has_active_admin(project)
    ensure_first_admin(app.settings, "0.0.0.0", 8123)
    out = capsys.readouterr().out
    token = next(ln.split("=", 1)[1] for ln in out.splitlines() if "export TOKEN=" in ln)
    assert 'curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8123/_/relations' in out
    assert anon_client.post("/_/relations", json=NEW, headers=bearer(token)).status_code == 200
    ensure_first_admin(app.settings, "127.0.0.1", 8123)  # second start: nothing
    assert capsys.readouterr().out == ""
    assert [t.role for t in tokens.listing(project)] == ["admin"]


# -- the contract --------------------------------------------------------------------------

def test_spec_declares_security_and_every_401_403() -> None:
    spec = load_spec()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert (schemes["accessToken"]["in"], schemes["accessToken"]["name"]) == (
        "query", "access_token")
    assert spec["security"] == [{"bearerAuth": []}, {"accessToken": []}]
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if path.startswith("/server/"):  # liveness/readiness: open, no project
                assert op["security"] == [], path
                continue
            assert "security" not in op  # the top-level requirement applies
            assert op["responses"]["401"] == {"$ref": "#/components/responses/Unauthorized"}
            if method == "get":
                assert "403" not in op["responses"]
            else:
                assert op["responses"]["403"] == {"$ref": "#/components/responses/Forbidden"}


def test_default_rows_fixture_is_admin(seeded: TestClient) -> None:
    """The shared `client`/`seeded` fixtures authenticate as admin of `_`."""
    assert seeded.headers["authorization"].startswith("Bearer rel_")
    assert len(seeded.get("/_/relations").json()["data"]) == len(DEFAULT_ROWS)
