"""A cache of rendered GET responses in front of Connexion, exact across workers.

Relations change rarely and are read constantly. Every write transaction bumps the
project's data version (``relations_state.version``, in the project's own database, see
``service.store.writing``); token creation and revocation are writes too. A cached response
is served only when the version read at the start of this request equals the version read
before the response was produced, so a write committed by any worker is visible to the very
next read on every worker.

Only what a full pass through Connexion has already answered with 200 is cached, keyed by
everything that shaped it: project, path, raw query string, credential and Host. The same
key means the same validation, the same authentication (the credential is part of the key
and any token change bumps the version) and the same SQL. Random sorts are never cached.
When the version cannot be read (old schema, storage trouble) the request simply takes the
normal path.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import ApiError
from service.projects import Project
from service.versions import VersionReader

#: Marks a response served from the cache (operators and tests can tell).
HIT_HEADER = (b"x-relations-cache", b"hit")
Key = tuple[str, str, bytes, str | None, bytes]
Credentials = Callable[[list[tuple[bytes, bytes]], bytes], str | None]


@dataclass(frozen=True)
class Entry:
    """One cached response."""

    version: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def _route(path: str) -> str | None:
    """The project of a relations GET route, else None."""
    parts = path.split("/")
    if len(parts) in (3, 4) and parts[2] == "relations" and parts[1]:
        return parts[1]
    return None


def _random_sort(query_string: bytes) -> bool:
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return any(k.startswith("sort") and "?" in v for k, v in pairs)


class ResponseCache:
    """ASGI layer: serve a repeated GET from memory while the project's data is unchanged."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        opened: Callable[[str], Project | None],
        credentials: Credentials,
        max_entries: int,
        max_body_bytes: int,
        versions: VersionReader,
    ) -> None:
        self.app = app
        self.opened = opened
        self.credentials = credentials
        self.max_entries = max_entries
        self.max_body = max_body_bytes
        self.entries: OrderedDict[Key, Entry] = OrderedDict()
        self.versions = versions
        self.hits = 0
        self.misses = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = self._key(scope)
        project = self.opened(key[0]) if key is not None else None
        if key is None or project is None:
            await self.app(scope, receive, send)
            return
        version = await self.versions.read(project)
        if version is None:
            await self.app(scope, receive, send)
            return
        entry = self.entries.get(key)
        if entry is not None and entry.version == version:
            self.hits += 1
            self.entries.move_to_end(key)
            await send({"type": "http.response.start", "status": 200, "headers": entry.headers})
            await send({"type": "http.response.body", "body": entry.body})
            return
        self.misses += 1
        await self.app(scope, receive, self._recorder(key, version, send))

    def _key(self, scope: Scope) -> Key | None:
        if scope["type"] != "http" or scope.get("method") != "GET" or self.max_entries <= 0:
            return None
        project = _route(scope.get("path", ""))
        if project is None:
            return None
        query: bytes = scope.get("query_string", b"")
        if b"sort" in query and _random_sort(query):
            return None
        headers = scope.get("headers", [])
        try:
            token = self.credentials(headers, query)
        except ApiError:
            return None
        host = next((v for k, v in headers if k == b"host"), b"")
        return (project, scope["path"], query, token, host)

    def _recorder(self, key: Key, version: int, send: Send) -> Send:
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body" and start.get("status") == 200:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self._store(key, version, list(start.get("headers", [])), b"".join(chunks))
            await send(message)

        return record

    def _store(self, key: Key, version: int, headers: list[tuple[bytes, bytes]],
               body: bytes) -> None:
        if len(body) > self.max_body:
            return
        self.entries[key] = Entry(version, [*headers, HIT_HEADER], body)
        self.entries.move_to_end(key)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)
