"""Retiring an engine without leaving its busy connections open.

``Engine.dispose()`` closes the connections idle in its pool, not one that is checked out at
that moment (a request in flight when its project leaves the engine cache, a readiness probe
that outlived its deadline at shutdown). When its user is done, such a connection goes back
into a pool nothing refers to any more and stays open, a session on the database server,
until the garbage collector happens to find it. An engine set up with
:func:`close_when_retired` closes it as it comes back instead; :func:`retire` marks the engine
and disposes of it.
"""

from __future__ import annotations

import weakref

from sqlalchemy import Engine, event
from sqlalchemy.pool import ConnectionPoolEntry

_RETIRED: weakref.WeakSet[Engine] = weakref.WeakSet()


def close_when_retired(engine: Engine) -> Engine:
    """`engine`, set up so that every connection returning to it after :func:`retire` closes."""
    owner = weakref.ref(engine)

    def on_checkin(dbapi_connection: object, entry: ConnectionPoolEntry) -> None:
        current = owner()
        if current is None or current in _RETIRED:
            entry.close()

    event.listen(engine, "checkin", on_checkin)
    return engine


def retire(engine: Engine) -> None:
    """Close the idle connections of `engine` now and each busy one when it is returned."""
    _RETIRED.add(engine)
    engine.dispose()


def retired(engine: Engine) -> bool:
    """Whether :func:`retire` was called on `engine`."""
    return engine in _RETIRED
