"""Schemathesis over every operation (all default checks) and the stateful phase.

In process on the ASGI app with response validation on, a fixed seed and bounded example
counts so CI stays fast. The project is pinned to `_` (negative-data checks excluded for
that one parameter would fire falsely, so the project is left to the spec's pattern and
unknown projects answer the documented 404).
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode

from service import tokens
from service.app import create_app
from tests.conftest import make_settings

warnings.filterwarnings("ignore", message=".*httpx2.*")

_TMP = Path(__import__("tempfile").mkdtemp(prefix="relations-contract-"))
APP = create_app(make_settings(_TMP))
_, TOKEN = tokens.create(APP.projects.get("_"), "admin")
AUTH = {"Authorization": f"Bearer {TOKEN}"}
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
STATUSES: Counter[tuple[str, int]] = Counter()
STATEFUL: Counter[tuple[str, int]] = Counter()

SETTINGS = hypothesis.settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)


def _negative(case: schemathesis.Case, location: ParameterLocation) -> bool:
    info = case.meta.components.get(location) if case.meta else None
    return info is not None and info.mode == GenerationMode.NEGATIVE


def _authenticate(case: schemathesis.Case) -> dict[str, str]:
    """Pin the project to `_` (others answer 404/24) and use our admin token, except where
    the case deliberately carries an invalid value there (negative testing)."""
    whole_case_negative = bool(case.meta) and case.meta.generation.mode == GenerationMode.NEGATIVE
    if not whole_case_negative:
        if "project" in case.path_parameters:
            case.path_parameters["project"] = "_"
        if case.query:
            case.query.pop("access_token", None)
        return AUTH
    carries_auth = "Authorization" in (case.headers or {}) or "access_token" in (case.query or {})
    return {} if carries_auth or _negative(case, ParameterLocation.HEADER) else AUTH


@pytest.mark.filterwarnings("ignore")
@schema.parametrize()
@SETTINGS
def test_operations(case: schemathesis.Case) -> None:
    response = case.call_and_validate(headers=_authenticate(case))
    STATUSES[(case.operation.label, response.status_code // 100)] += 1


def test_every_operation_succeeded_sometimes() -> None:
    """The run above must not have been all 401s or 422s: each operation saw a 2xx."""
    labels = {label for label, _ in STATUSES}
    assert len(labels) >= 7
    for label in labels:
        assert STATUSES[(label, 2)] > 0, (label, STATUSES)


class _Authed(schema.as_state_machine()):  # type: ignore[misc]
    def teardown(self) -> None:
        """Each example starts from an empty table, so replays see the same answers."""
        with APP.projects.get("_").engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM directus_relations")
            conn.exec_driver_sql("DELETE FROM sqlite_sequence")
            conn.exec_driver_sql("UPDATE relations_state SET version = version + 1")

    def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, object]:
        return {"headers": _authenticate(case)}

    def after_call(self, response: object, case: schemathesis.Case) -> None:
        STATEFUL[(case.operation.label, response.status_code // 100)] += 1  # type: ignore[attr-defined]


Workflow = _Authed
Workflow.TestCase.settings = hypothesis.settings(
    phases=[hypothesis.Phase.generate],  # the server's state makes replay-based shrinking flaky
    max_examples=40,
    stateful_step_count=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@pytest.mark.filterwarnings("ignore")
class TestStateful(Workflow.TestCase):  # type: ignore[name-defined,misc]
    """POST -> GET/PATCH/DELETE chains through the spec's links."""


def test_stateful_chains_ran() -> None:
    """POST -> GET/DELETE by the created id (and a PATCH) happened, authenticated, with 2xx."""
    for label in ("POST /{project}/relations", "GET /{project}/relations/{id}",
                  "DELETE /{project}/relations/{id}"):
        assert STATEFUL[(label, 2)] > 0, (label, STATEFUL)
    patched = STATEFUL[("PATCH /{project}/relations/{id}", 2)]
    assert patched + STATEFUL[("PATCH /{project}/relations", 2)] > 0, STATEFUL
