"""The app factory: ``create_app(settings)`` -> a Connexion ``AsyncApp`` wrapped in hardening.

The only module that knows Connexion's wiring: the spec is loaded once (path-level
parameters pushed down into each operation, which saves Connexion validating them six
times), the Directus URI parser and validators are plugged in, and every error, whether
raised by a handler, by Connexion or by Starlette's router, leaves through one renderer
of the ``{"error": {"code", "message"}}`` envelope.
"""

from __future__ import annotations

import copy
import functools
import logging
import re
from pathlib import Path
from typing import Any

import yaml
from connexion import AsyncApp
from connexion.datastructures import MediaTypeDict
from connexion.exceptions import (
    BadRequestProblem,
    ExtraParameterProblem,
    ProblemException,
    UnsupportedMediaTypeProblem,
)
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.middleware import ConnexionMiddleware, MiddlewarePosition
from connexion.middleware.abstract import ROUTING_CONTEXT
from connexion.middleware.security import SecurityMiddleware
from connexion.options import SwaggerUIOptions
from connexion.resolver import RelativeResolver
from connexion.validators import VALIDATOR_MAP
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handlers.relations import create_in
from service import connexion_speedups
from service.accesslog import to_fd, to_logger
from service.auth import AuthMiddleware, Principals, credentials
from service.cache import ResponseCache
from service.errors import ApiError, Code
from service.fastcreate import FastCreate, create_contract
from service.hardening import HardeningMiddleware, SizedBodyMiddleware
from service.projects import Projects
from service.settings import Settings
from service.validation import DirectusURIParser, JsonBodyValidator, ParameterValidator
from service.versions import VersionReader

log = logging.getLogger("relations")
SPEC_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@functools.lru_cache(maxsize=4)
def _parsed_spec(path: Path) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml is ~10x faster
    spec: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    return spec


def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    """The spec as a fresh dict, with path-level parameters copied into every operation."""
    spec = copy.deepcopy(_parsed_spec(path))
    for item in spec["paths"].values():
        shared = item.pop("parameters", [])
        for method in HTTP_METHODS:
            if method in item:
                item[method]["parameters"] = copy.deepcopy(shared) + item[method].get(
                    "parameters", []
                )
    return spec


def _allowed_methods(spec: dict[str, Any]) -> list[tuple[re.Pattern[str], str]]:
    """(path regex, Allow header) for every path of the spec."""
    out = []
    for template, item in spec["paths"].items():
        regex = "^" + re.sub(r"\{[^}]+\}", "[^/]+", re.escape(template).replace(r"\{", "{")
                             .replace(r"\}", "}")) + "$"
        methods = [m.upper() for m in HTTP_METHODS if m in item]
        if "GET" in methods:
            methods.append("HEAD")
        out.append((re.compile(regex), ", ".join(sorted(set(methods)))))
    return out


def open_operations(spec: dict[str, Any]) -> frozenset[str]:
    """operationIds whose effective `security` (own, else the spec's) is empty: no auth."""
    default = spec.get("security", [])
    out = set()
    for item in spec["paths"].values():
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is not None and not op.get("security", default):
                out.add(op["operationId"])
    return frozenset(out)


def _operation_of(scope: Scope) -> str | None:
    """The operationId Connexion routed the request to (None when no route matched)."""
    routed = scope.get("extensions", {}).get(ROUTING_CONTEXT, {})
    resolved = routed.get("operation_id")  # "handlers.list_relations"
    return None if resolved is None else str(resolved).rsplit(".", 1)[-1]


def _envelope(err: ApiError) -> ConnexionResponse:
    import orjson

    return ConnexionResponse(
        status_code=err.status,
        mimetype="application/json",
        content_type="application/json",
        body=orjson.dumps(err.body()),
        headers=err.headers,
    )


def _api_error(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, ApiError)
    return _envelope(exc)


def _problem(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, ProblemException)
    if isinstance(exc, UnsupportedMediaTypeProblem):
        return _envelope(ApiError(Code.UNSUPPORTED_MEDIA_TYPE))
    if isinstance(exc, ExtraParameterProblem):
        return _envelope(ApiError(Code.BAD_QUERY, "Unknown query parameter(s)"))
    if isinstance(exc, BadRequestProblem):
        detail = str(exc.detail or "")
        if "body" in detail.lower():
            return _envelope(ApiError(Code.INVALID_PAYLOAD))
        return _envelope(ApiError(Code.BAD_QUERY, detail.split("\n", 1)[0][:200] or None))
    if exc.status == 401:
        return _envelope(ApiError(Code.NOT_AUTHENTICATED))
    if exc.status == 403:
        return _envelope(ApiError(Code.READ_DENIED))
    if exc.status and exc.status < 500:
        return _envelope(ApiError(Code.BAD_QUERY, str(exc.title or "Bad Request")[:200]))
    log.error("server problem: %s", exc.detail or exc.title)
    return _envelope(ApiError(Code.INTERNAL))


def _unicode_error(_request: ConnexionRequest, _exc: Exception) -> ConnexionResponse:
    return _envelope(ApiError(Code.INVALID_PAYLOAD))


def _unhandled(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    log.exception("unhandled error", exc_info=exc)
    return _envelope(ApiError(Code.INTERNAL))


def _http_error_handler(spec: dict[str, Any]) -> Any:
    allowed = _allowed_methods(spec)

    def handler(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            path = request.scope.get("path", "")
            allow = next((a for rx, a in allowed if rx.match(path)), "")
            return _envelope(ApiError(Code.METHOD_NOT_ALLOWED, headers={"Allow": allow}))
        if exc.status_code == 404:
            return _envelope(ApiError(Code.ROUTE_NOT_FOUND))
        return _envelope(ApiError(Code.BAD_QUERY, str(exc.detail)[:200]))

    return handler


class RelationsApp:
    """The ASGI app: hardening in front of Connexion, plus the objects handlers need."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.projects = Projects(settings)
        self.versions = VersionReader(max_connections=settings.engine_cache_size)
        self.spec = load_spec()
        self.principals = Principals(self.projects, self.versions)
        connexion_speedups.install()
        JsonBodyValidator.max_depth = settings.max_json_depth
        connexion_app = AsyncApp(
            __name__,
            swagger_ui_options=SwaggerUIOptions(swagger_ui_path="/docs"),
            # Connexion's security middleware is replaced by ours (service/auth.py), at the
            # same place: after routing, before validation.
            middlewares=[
                m for m in ConnexionMiddleware.default_middlewares if m is not SecurityMiddleware
            ],
        )
        connexion_app.add_middleware(
            AuthMiddleware,
            position=MiddlewarePosition.BEFORE_VALIDATION,
            principals=self.principals,
            operation_of=_operation_of,
            open_operations=open_operations(self.spec),
        )
        # then chunked bodies get their length (only for callers who passed auth)
        connexion_app.add_middleware(
            SizedBodyMiddleware, position=MiddlewarePosition.BEFORE_VALIDATION
        )
        validator_map = {
            "parameter": ParameterValidator,
            "body": MediaTypeDict({**VALIDATOR_MAP["body"], "*/*json": JsonBodyValidator}),
        }
        connexion_app.add_api(
            self.spec,
            resolver=RelativeResolver("handlers"),
            strict_validation=True,
            validate_responses=settings.validate_responses,
            uri_parser_class=DirectusURIParser,
            validator_map=validator_map,
            pythonic_params=False,
        )
        connexion_app.add_error_handler(ApiError, _api_error)
        connexion_app.add_error_handler(ProblemException, _problem)
        connexion_app.add_error_handler(HTTPException, _http_error_handler(self.spec))
        connexion_app.add_error_handler(UnicodeDecodeError, _unicode_error)
        connexion_app.add_error_handler(Exception, _unhandled)
        self.connexion = connexion_app
        self.cache = ResponseCache(
            connexion_app,
            opened=self.projects.opened,
            credentials=credentials,
            max_entries=settings.cache_entries,
            max_body_bytes=settings.cache_max_body_bytes,
            versions=self.versions,
        )
        contract = create_contract(self.spec) if settings.fast_create else None
        inner: ASGIApp = self.cache
        self.fast_create: FastCreate | None = None
        if contract is not None:
            self.fast_create = FastCreate(
                self.cache,
                contract=contract,
                projects=self.projects,
                principals=self.principals,
                create=create_in,
                validate_responses=settings.validate_responses,
            )
            inner = self.fast_create
        self.hardening = HardeningMiddleware(
            inner,
            max_body_bytes=settings.max_body_bytes,
            max_query_bytes=settings.max_query_bytes,
            project_exists=self.projects.exists,
            access_log=to_logger if settings.log_requests else None,
        )
        self.asgi: ASGIApp = self.hardening

    def log_requests_to(self, fd: int) -> None:
        """Write the access log straight to file descriptor `fd` (``service.asgi``: standard
        error), unless the settings turned it off."""
        if self.settings.log_requests:
            self.hardening.access_log = to_fd(fd)

    def close(self) -> None:
        """Retire every engine and close the private version connections (on shutdown; a
        later request opens them again)."""
        self.projects.dispose()
        self.versions.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})
        if scope["type"] == "http":
            scope["relations.app"] = self
        elif scope["type"] == "lifespan":
            send = self._closing_on_shutdown(send)
        await self.asgi(scope, receive, send)

    def _closing_on_shutdown(self, send: Send) -> Send:
        """`send`, closing the app's connections just before the server is told shutdown is
        complete (the database sees each session end instead of a dropped socket)."""

        async def wrapped(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                self.close()
            await send(message)

        return wrapped


_CURRENT: list[RelationsApp] = []


def create_app(settings: Settings | None = None) -> RelationsApp:
    """Build the app from one settings object (nothing happens at import)."""
    app = RelationsApp(settings or Settings())
    _CURRENT[:] = [app]
    return app
