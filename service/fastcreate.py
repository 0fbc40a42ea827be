"""A short way in for the commonest write: one relation created with a bearer token.

Connexion's routing, security, parameter and body machinery costs about 0.5 ms per request,
more than the create itself (issue 6). This layer, in front of Connexion, takes
``POST /{project}/relations`` when the request is plainly valid: an open project, no query
string, a ``Content-Length`` body that is one JSON object accepted by the request schema of
``create_relations`` in the spec (compiled), and a bearer token whose principal, from the
same remembered lookups as :class:`service.auth.AuthMiddleware`, may create. It then runs
the very handler code Connexion would call and, when response validation is on, checks the
answer against the spec's 200 schema.

Anything else, and anything this layer is unsure of (a bad token, a read token, an array,
an invalid body, a query string, a chunked body), goes on to Connexion unchanged, the body
replayed, so every refusal is Connexion's path's refusal. ``tests/test_fastcreate.py``
sends the same requests both ways and compares the answers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from connexion.json_schema import resolve_refs
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.auth import GRANTS, Principals, credentials
from service.errors import ApiError, Code
from service.projects import Project, Projects
from service.validation import fast_validator_for

log = logging.getLogger("relations.fastcreate")
OPERATION_ID = "create_relations"
TEMPLATE = "/{project}/relations"
#: Bodies bigger than this are never one plain relation: Connexion takes them.
MAX_FAST_BODY = 16 * 1024
Create = Callable[[Project, dict[str, Any]], Awaitable[Response]]


@dataclass(frozen=True)
class CreateContract:
    """What the spec says of ``create_relations``, as the fast path needs it."""

    project_pattern: re.Pattern[str]
    body_schema: dict[str, Any]
    response_schema: dict[str, Any]


def _object_branch(schema: dict[str, Any]) -> dict[str, Any] | None:
    branches = schema.get("oneOf", [schema])
    return next((b for b in branches if b.get("type") == "object"), None)


def create_contract(spec: dict[str, Any]) -> CreateContract | None:
    """The contract of ``create_relations`` read from `spec`, or None (fast path off) when
    the operation is not the shape this layer knows: the spec always wins."""
    op = resolve_refs(spec).get("paths", {}).get(TEMPLATE, {}).get("post")
    if not op or op.get("operationId") != OPERATION_ID:
        return None
    params = op.get("parameters", [])
    project = [p for p in params if p.get("in") == "path" and p.get("name") == "project"]
    required_other = [p for p in params if p.get("required") and p not in project]
    if len(project) != 1 or required_other:
        return None
    pattern = project[0].get("schema", {}).get("pattern")
    content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    body = _object_branch(content.get("schema", {}))
    ok = op.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {})
    response = ok.get("schema")
    if not pattern or body is None or not response:
        return None
    if fast_validator_for(body) is None or fast_validator_for(response) is None:
        return None
    return CreateContract(re.compile(pattern), body, response)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands out `messages` again, then the client's own."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


class FastCreate:
    """ASGI layer: plainly valid single creates skip Connexion (see the module doc)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        contract: CreateContract,
        projects: Projects,
        principals: Principals,
        create: Create,
        validate_responses: bool,
    ) -> None:
        self.app = app
        self.contract = contract
        self.projects = projects
        self.principals = principals
        self.create = create
        self.validate_responses = validate_responses
        self.body_ok = fast_validator_for(contract.body_schema).is_valid
        self.response_ok = fast_validator_for(contract.response_schema).is_valid
        self.hits = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        project = self._candidate(scope)
        if project is None:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = await self._body(receive, messages)
        receive = _replay(messages, receive)
        if body is None or not await self._may_create(project, scope):
            await self.app(scope, receive, send)
            return
        self.hits += 1
        response = await self.create(project, body)
        if self.validate_responses:
            self._check_response(response)
        await response(scope, receive, send)

    def _candidate(self, scope: Scope) -> Project | None:
        """The open project of a request shaped like a plain create, else None."""
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("query_string"):
            return None
        parts = scope.get("path", "").split("/")
        if len(parts) != 3 or parts[0] or parts[2] != "relations":
            return None
        if not self.contract.project_pattern.fullmatch(parts[1]):
            return None
        headers = scope.get("headers", [])
        length = next((v for k, v in headers if k == b"content-length"), None)
        ctype = next((v for k, v in headers if k == b"content-type"), None)
        if ctype != b"application/json" or length is None or not length.isdigit():
            return None
        if int(length) > MAX_FAST_BODY or any(k == b"transfer-encoding" for k, _ in headers):
            return None
        return self.projects.opened(parts[1])

    async def _body(self, receive: Receive, messages: list[Message]) -> dict[str, Any] | None:
        """The body when it is one object the spec accepts, else None (all of it is kept
        in `messages` for Connexion)."""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return None
            if not message.get("more_body", False):
                break
        raw = b"".join(m.get("body", b"") for m in messages)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(body, dict) or not self.body_ok(body):
            return None
        return body

    async def _may_create(self, project: Project, scope: Scope) -> bool:
        """Whether the bearer token's principal may create here (else Connexion answers)."""
        try:
            token = credentials(scope.get("headers", []), b"")
            if token is None:
                return False
            principal = await self.principals.of(project.info.name, token)
        except ApiError:
            return False
        if "create" not in GRANTS[principal.role]:
            return False
        scope.setdefault("state", {})["relations.principal"] = principal
        return True

    def _check_response(self, response: Response) -> None:
        """What Connexion's response validation does: a non-conforming answer is a 500."""
        if not self.response_ok(orjson.loads(response.body)):
            log.error("fast create answered outside the spec's 200 schema")
            raise ApiError(Code.INTERNAL)
