"""Small HTTP helpers shared by handlers and the app: JSON responses and request facts."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from connexion import request
from starlette.responses import Response

JSON = "application/json"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response rendered with orjson."""
    return Response(orjson.dumps(body), status_code=status, media_type=JSON, headers=headers)


def no_content() -> Response:
    """204 with an empty body."""
    return Response(status_code=204)


def current_url() -> tuple[str, list[tuple[str, str]]]:
    """The current request's URL without its query, and the query items in order."""
    url = request.url
    raw = request.scope.get("query_string", b"").decode("latin-1")
    return f"{url.scheme}://{url.netloc}{url.path}", parse_qsl(raw, keep_blank_values=True)


def current_app() -> Any:
    """The :class:`service.app.RelationsApp` serving this request."""
    return request.scope["relations.app"]


def deep_key_order(root: str) -> list[str]:
    """First-level keys of a deepObject parameter in the order the client sent them.

    Connexion rebuilds nested query objects in schema order; the Directus filter's meaning
    depends on the query-string order (``logical=or`` joins a field to what precedes it).
    """
    prefix = root + "["
    raw = request.scope.get("query_string", b"").decode("latin-1")
    order: list[str] = []
    for key, _ in parse_qsl(raw, keep_blank_values=True):
        if key.startswith(prefix):
            name = key[len(prefix):].split("]", 1)[0]
            if name not in order:
                order.append(name)
    return order
