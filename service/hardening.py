"""The outermost ASGI layer: cheap checks before Connexion sees a request.

Query-string and body size caps, the JSON media type (case-insensitive, 415 otherwise),
unknown projects (404/24 before any validation), a request id, and one structured log line
per request (never the query string or a credential: the caller appears as its role and
token id). Errors raised here are rendered by ``service.app``'s envelope renderer.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.accesslog import AccessLog, to_logger
from service.errors import ApiError, Code
from service.registry import valid_name

Renderer = Callable[[ApiError], tuple[int, list[tuple[bytes, bytes]], bytes]]
BODY_METHODS = frozenset({"POST", "PATCH", "PUT"})


def route_template(path: str) -> tuple[str, str | None]:
    """The route template of a path and the project it names (no I/O)."""
    parts = path.split("/")
    if len(parts) >= 3 and parts[2] == "relations":
        if len(parts) == 3:
            return "/{project}/relations", parts[1]
        if len(parts) == 4:
            return "/{project}/relations/{id}", parts[1]
    if path.startswith("/server/"):
        return path, None
    return "other", None


def _chunked(scope: Scope) -> bool:
    """A request that carries a body of unannounced length."""
    if scope.get("method") not in BODY_METHODS:
        return False
    names = {k for k, _ in scope.get("headers", [])}
    return b"transfer-encoding" in names and b"content-length" not in names


class SizedBodyMiddleware:
    """Give a body sent without Content-Length (chunked) its length, for Connexion.

    Connexion takes a request without Content-Length for one without a body (400/13). This
    reads such a body (still capped by :class:`HardeningMiddleware`: 413/901 beyond the
    maximum) and passes it on with its length. The app places it after authentication, so
    the body of a caller without a valid token is never read.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _chunked(scope):
            scope, receive = await _buffered(scope, receive)
        await self.app(scope, receive, send)


async def _buffered(scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    headers = [(k, v) for k, v in scope.get("headers", []) if k != b"transfer-encoding"]
    headers.append((b"content-length", str(len(body)).encode()))
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return {**scope, "headers": headers}, replay


def utf8_query(query: bytes) -> bool:
    """Whether the query string is UTF-8 once percent-decoded (Starlette would silently
    turn bad bytes into U+FFFD and match on that)."""
    if query.isascii() and b"%" not in query:
        return True
    try:
        unquote_to_bytes(query).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class HardeningMiddleware:
    """Size caps, media type, unknown project, request id and access log."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_query_bytes: int,
        project_exists: Callable[[str], bool],
        access_log: AccessLog | None = to_logger,
    ) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.max_query = max_query_bytes
        self.project_exists = project_exists
        #: where each request's line goes (None: no access log); ``service.accesslog``
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = uuid.uuid4().hex[:16]
        status_box = [0]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        template, project = route_template(scope.get("path", ""))
        try:
            scope = self._check(scope, project)
            receive = self._capped(receive)
            await self.app(scope, receive, send_wrapper)
        except ApiError as err:
            await self._send_error(send_wrapper, err)
        finally:
            if self.access_log is not None:
                # Who called: set by service.auth; the token itself is never logged, nor
                # the query string (it may carry `access_token`).
                principal = (scope.get("state") or {}).get("relations.principal")
                self.access_log({
                    "request_id": request_id,
                    "method": scope.get("method"),
                    "route": template,
                    "project": project if project and valid_name(project) else None,
                    "status": status_box[0],
                    "role": getattr(principal, "role", None),
                    "token_id": getattr(principal, "token_id", None),
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                })

    def _check(self, scope: Scope, project: str | None) -> Scope:
        query = scope.get("query_string", b"")
        if len(query) > self.max_query:
            raise ApiError(Code.QUERY_STRING_TOO_LONG)
        if not utf8_query(query):
            raise ApiError(Code.BAD_QUERY, "The query string is not valid UTF-8")
        headers = scope.get("headers", [])
        length = next((v for k, v in headers if k == b"content-length"), None)
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                raise ApiError(Code.INVALID_PAYLOAD, "Invalid Content-Length") from None
            if size > self.max_body:
                raise ApiError(Code.PAYLOAD_TOO_LARGE)
        if project is not None and not self.project_exists(project):
            raise ApiError(Code.UNKNOWN_PROJECT, f"Unknown project: {project[:64]}")
        if scope.get("method") in BODY_METHODS:
            scope = self._normalise_media_type(scope, headers, length)
        return scope

    @staticmethod
    def _normalise_media_type(scope: Scope, headers: list[Any], length: bytes | None) -> Scope:
        ctype = next((v for k, v in headers if k == b"content-type"), None)
        has_body = length not in (None, b"0") or any(
            k == b"transfer-encoding" for k, _ in headers
        )
        if ctype is None:
            if has_body:
                raise ApiError(Code.UNSUPPORTED_MEDIA_TYPE)
            return scope
        media, _, params = ctype.decode("latin-1").partition(";")
        media = media.strip().lower()
        if media != "application/json":
            raise ApiError(Code.UNSUPPORTED_MEDIA_TYPE)
        charset = params.strip().lower().replace(" ", "")
        if charset and charset not in ("charset=utf-8", "charset=\"utf-8\""):
            raise ApiError(Code.UNSUPPORTED_MEDIA_TYPE, "Only UTF-8 JSON is accepted")
        new_headers = [
            (k, b"application/json") if k == b"content-type" else (k, v) for k, v in headers
        ]
        return {**scope, "headers": new_headers}

    def _capped(self, receive: Receive) -> Receive:
        seen = 0
        limit = self.max_body

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise ApiError(Code.PAYLOAD_TOO_LARGE)
            return message

        return capped

    @staticmethod
    async def _send_error(send: Send, err: ApiError) -> None:
        body = orjson.dumps(err.body())
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        headers += [(k.lower().encode(), v.encode()) for k, v in err.headers.items()]
        await send({"type": "http.response.start", "status": err.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
