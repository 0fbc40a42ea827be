"""Structured logs: one JSON line per request, and never a token or a query string.

An auth run (good, bad, revoked, foreign and malformed tokens, in the header and in the query)
is made with every logger of the process capturing at DEBUG; no record may contain any of
the tokens, nor the query string. The same is checked on a real `relations serve`, whose
log holds its first-start token exactly once: in the banner it prints for the operator.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from service import tokens
from service.app import RelationsApp
from tests.conftest import bearer, make_settings
from tests.serving import Server

MARKER = "zqx-marker-7731"  # appears only in query strings
ACCESS_KEYS = {"request_id", "method", "route", "project", "status", "role", "token_id",
               "duration_ms"}


CLIENT_LOGGERS = ("httpx", "httpcore")  # the test client's own logs, not the server's


def _all_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every server-side record, formatted with its exception text if any."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(r) for r in caplog.records
                     if not r.name.startswith(CLIENT_LOGGERS))


def test_no_token_or_query_in_logs(app: RelationsApp, anon_client: TestClient,
                                   make_token: Callable[..., str],
                                   caplog: pytest.LogCaptureFixture) -> None:
    from service.registry import ProjectInfo, Registry

    Registry(app.settings.data_dir).add(ProjectInfo("other"))
    admin, read, revoked = make_token("admin"), make_token("read"), make_token("read")
    foreign = make_token("admin", project="other")
    project = app.projects.get("_")
    tokens.revoke(project, tokens.find(project, revoked)[0].id)
    sent = [admin, read, revoked, foreign]
    caplog.set_level(logging.DEBUG)
    calls = [
        anon_client.get(f"/_/relations?q={MARKER}", headers=bearer(admin)),
        anon_client.get(f"/_/relations?access_token={read}&filter[field_many][eq]={MARKER}"),
        anon_client.post(f"/_/relations?access_token={read}", json={"collection_many": MARKER,
                                                                      "field_many": "b"}),
        anon_client.post("/_/relations", json={"collection_many": "a", "field_many": "b"},
                         headers=bearer(admin)),
        anon_client.delete("/_/relations/1", headers=bearer(revoked)),
        anon_client.get(f"/_/relations?access_token={foreign}"),
        anon_client.get("/_/relations", headers={"Authorization": f"Bearer {admin}x"}),
        anon_client.get(f"/_/relations?limit={MARKER}", headers=bearer(admin)),
        anon_client.get("/_/relations"),
        anon_client.get("/server/ping"),
    ]
    assert [r.status_code for r in calls] == [200, 200, 403, 200, 401, 401, 401, 422, 401, 200]
    text = _all_text(caplog)
    for token in sent:
        assert token not in text and token[4:] not in text
        assert tokens.digest(token) not in text
    assert MARKER not in text, [ln for ln in text.splitlines() if MARKER in ln]

    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "relations.access"]
    assert len(lines) == len(calls)
    for line, response in zip(lines, calls, strict=True):
        assert set(line) == ACCESS_KEYS
        assert line["status"] == response.status_code
        assert line["request_id"] == response.headers["x-request-id"]
        assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert [(ln["role"], ln["route"]) for ln in lines[:4]] == [
        ("admin", "/{project}/relations"), ("read", "/{project}/relations"),
        (None, "/{project}/relations"), ("admin", "/{project}/relations"),
    ]
    assert lines[0]["token_id"] == tokens.find(project, admin)[0].id
    assert lines[4]["route"] == "/{project}/relations/{id}" and lines[4]["project"] == "_"
    assert lines[-1]["route"] == "/server/ping" and lines[-1]["project"] is None


def test_invalid_project_names_are_not_logged(anon_client: TestClient,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="relations.access")
    anon_client.get("/rel_SecretLookingThing/relations")
    line = json.loads(caplog.records[-1].getMessage())
    assert line["project"] is None and line["status"] == 404


@pytest.mark.live
def test_live_server_log_has_no_token(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with Server(settings.data_dir) as server:
        banner = re.search(r"export TOKEN=(\S+)", server.log_tail(100_000))
        assert banner, server.log_tail()
        token = banner[1]
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        for target, headers in [
            (f"/_/relations?q={MARKER}", {"Authorization": f"Bearer {token}"}),
            (f"/_/relations?access_token={token}&q={MARKER}", {}),
            ("/_/relations", {"Authorization": f"Bearer {token}x"}),
            (f"/_/relations?access_token={token}&limit={MARKER}", {}),
        ]:
            conn.request("GET", target, headers=headers)
            conn.getresponse().read()
        conn.close()
        server.stop()
        log = server.log_tail(1_000_000)
    assert log.count(token) == 1  # the first-start banner, printed once for the operator
    access = [json.loads(ln) for ln in log.splitlines() if ln.startswith('{"request_id"')]
    assert [a["status"] for a in access if a["route"] != "/server/ping"] == [200, 200, 401, 422]
    assert MARKER not in log and "access_token" not in log


def test_a_served_process_writes_access_lines_to_a_file_descriptor(tmp_path: Path) -> None:
    from service.accesslog import to_fd
    from service.app import create_app

    app = create_app(make_settings(tmp_path))
    read_end, write_end = os.pipe()
    try:
        app.log_requests_to(write_end)
        with TestClient(app, raise_server_exceptions=False) as client:
            r = client.get("/server/ping")
        line = os.read(read_end, 65536)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        entry = json.loads(line)
        assert set(entry) == ACCESS_KEYS and entry["request_id"] == r.headers["x-request-id"]
    finally:
        os.close(read_end)
        os.close(write_end)
        app.projects.dispose()
    to_fd(write_end)({"closed": True})  # a closed log never fails a request


def test_no_access_lines_when_turned_off(tmp_path: Path) -> None:
    from service.app import create_app

    app = create_app(make_settings(tmp_path, log_requests=False))
    try:
        app.log_requests_to(2)
        assert app.hardening.access_log is None
    finally:
        app.projects.dispose()
