"""Who is calling, and may they? Tokens bound to one project, roles, the public role.

The request's path through this module (called by :class:`AuthMiddleware`, which the app
places right after Connexion's routing, where Connexion's own security middleware would be):

1. :func:`credentials` reads the token from ``Authorization: Bearer <t>`` (scheme
   case-insensitive) or ``?access_token=<t>``, without I/O. Anything ambiguous or malformed
   (two headers, another scheme, an empty value, a repeated or conflicting query token, a
   string that is not shaped like our tokens) is 401/101: fail closed, never a fall-back to
   the public role.
2. :func:`authenticate` looks the token's SHA-256 up in the database of the project named in
   the path: unknown, revoked or another project's token -> 401/101. The middleware reuses a
   lookup only while the project's token version is unchanged (``service.versions``; token
   changes bump it), so revocation is immediate, across processes too. No token -> the
   project's public role, which may only read; without one -> 401/108.
3. :func:`authorize` maps the method to an action; a read token writing -> 403 with
   301/302/303 (create/update/delete), as Directus does.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from models.state import TOKENS
from service import tokens
from service.errors import ApiError, Code
from service.projects import Projects
from service.versions import VersionReader

Action = Literal["read", "create", "update", "delete"]
Role = Literal["admin", "read", "public"]

ACTIONS: dict[str, Action] = {
    "GET": "read", "HEAD": "read", "OPTIONS": "read",
    "POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete",
}
DENIED: dict[Action, Code] = {
    "read": Code.READ_DENIED,
    "create": Code.CREATE_DENIED,
    "update": Code.UPDATE_DENIED,
    "delete": Code.DELETE_DENIED,
}
#: What each role may do.
GRANTS: dict[Role, frozenset[Action]] = {
    "admin": frozenset(ACTIONS.values()),
    "read": frozenset({"read"}),
    "public": frozenset({"read"}),
}
QUERY_PARAM = "access_token"
REALM = 'Bearer realm="relations"'
#: Longest Authorization header value looked at (a token is 47 characters).
MAX_CREDENTIAL = 256


@dataclass(frozen=True)
class Principal:
    """The caller: a role, and the id of the token that carried it (None for public)."""

    role: Role
    token_id: int | None = None


def invalid_token(message: str | None = None) -> ApiError:
    """401/101: credentials were sent but are not acceptable."""
    return ApiError(
        Code.INVALID_TOKEN, message,
        headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
    )


def not_authenticated() -> ApiError:
    """401/108: no credentials, and the public role may not do this."""
    return ApiError(Code.NOT_AUTHENTICATED, headers={"WWW-Authenticate": REALM})


def _from_header(headers: list[tuple[bytes, bytes]]) -> str | None:
    values = [v for k, v in headers if k == b"authorization"]
    if not values:
        return None
    if len(values) > 1:
        raise invalid_token("Send one Authorization header")
    raw = values[0]
    if len(raw) > MAX_CREDENTIAL:
        raise invalid_token()
    scheme, _, token = raw.decode("latin-1").strip().partition(" ")
    if scheme.lower() != "bearer":
        raise invalid_token("Only the Bearer scheme is accepted")
    return token.strip()


def _from_query(query_string: bytes) -> str | None:
    if b"access" not in query_string and b"%" not in query_string:
        return None  # fast path: the parameter cannot be there
    values = [
        v for k, v in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
        if k == QUERY_PARAM
    ]
    if not values:
        return None
    if len(values) > 1:
        raise invalid_token(f"Send {QUERY_PARAM} once")
    return values[0].strip()


def credentials(headers: list[tuple[bytes, bytes]], query_string: bytes) -> str | None:
    """The token the request carries, None when it carries none (401/101 when malformed)."""
    header = _from_header(headers)
    query = _from_query(query_string)
    if header is not None and query is not None and header != query:
        raise invalid_token("Two different tokens were sent")
    token = query if query is not None else header
    if token is not None and not tokens.well_formed(token):
        raise invalid_token()
    return token


def authenticate(projects: Projects, project: str, token: str | None) -> Principal:
    """The principal of `token` in `project` (blocking: a database lookup)."""
    if token is None:
        info = projects.registry.get(project)
        if info is not None and info.public == "read":
            return Principal("public")
        raise not_authenticated()
    found = tokens.active(projects.get(project), token)
    if found is None:
        raise invalid_token()
    role: Role = "admin" if found.role == "admin" else "read"
    return Principal(role, found.id)


def authorize(principal: Principal, action: Action) -> None:
    """403 (or 401/108 for the public role) when `principal` may not do `action`."""
    if action in GRANTS[principal.role]:
        return
    if principal.role == "public":
        raise not_authenticated()
    raise ApiError(DENIED[action])


def action_of(method: str) -> Action:
    """The action of an HTTP method (an unknown method counts as an update)."""
    return ACTIONS.get(method.upper(), "update")


class Principals:
    """Token lookups remembered per project token version (every token change bumps it, so
    a revocation by any process is seen by the very next request). Shared by
    :class:`AuthMiddleware` and the fast create path (``service.fastcreate``)."""

    def __init__(
        self, projects: Projects, versions: VersionReader | None = None, max_entries: int = 4096
    ) -> None:
        self.projects = projects
        self.versions = versions
        self.max_entries = max_entries
        #: (project, token digest) -> (token version it was looked up at, principal)
        self.entries: OrderedDict[tuple[str, str], tuple[int, Principal]] = OrderedDict()

    async def of(self, project: str, token: str | None) -> Principal:
        """The principal of `token` (None: the public role) in `project`, or 401."""
        if token is None:
            return authenticate(self.projects, project, None)
        opened = self.projects.opened(project) if self.versions is not None else None
        version = (
            await self.versions.read(opened, TOKENS) if opened and self.versions else None
        )
        key = (project, tokens.digest(token))
        cached = self.entries.get(key)
        if version is not None and cached is not None and cached[0] == version:
            return cached[1]
        principal = await anyio.to_thread.run_sync(authenticate, self.projects, project, token)
        if version is not None:
            self.entries[key] = (version, principal)
            while len(self.entries) > self.max_entries:
                self.entries.popitem(last=False)
        return principal


class AuthMiddleware:
    """Authenticate and authorize every operation that declares security in the spec.

    `operation_of(scope)` names the operation Connexion routed the request to (None when no
    route matched: 404/405 are answered later) and `open_operations` those whose spec says
    ``security: []`` (``/server/ping``). Every other operation needs credentials, so an
    operation added to the spec is protected unless the spec says otherwise.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        principals: Principals,
        operation_of: Callable[[Scope], str | None],
        open_operations: frozenset[str],
    ) -> None:
        self.app = app
        self.principals = principals
        self.operation_of = operation_of
        self.open_operations = open_operations

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        operation = self.operation_of(scope) if scope["type"] == "http" else None
        if operation is not None and operation not in self.open_operations:
            project = str(scope.get("path_params", {}).get("project", ""))
            token = credentials(scope.get("headers", []), scope.get("query_string", b""))
            principal = await self.principals.of(project, token)
            authorize(principal, action_of(scope.get("method", "GET")))
            scope.setdefault("state", {})["relations.principal"] = principal
        await self.app(scope, receive, send)
