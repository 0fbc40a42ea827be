"""A per-statement time limit for SQLite (PostgreSQL gets ``-c statement_timeout``).

SQLite has no statement timeout, but it calls a *progress handler* every N virtual-machine
instructions and aborts the statement (``SQLITE_INTERRUPT``, mapped to 503/906 by
``service.dberrors``) when the handler returns non-zero. Each pooled connection gets a
handler that compares the clock with a deadline; the deadline is armed when a statement
starts (``before_cursor_execute``) and stays armed while its rows are fetched, then disarmed
when the transaction ends or the connection returns to the pool, so a COMMIT or ROLLBACK is
never interrupted. A connection run with the execution option
``statement_timeout_ms=0`` (migrations, say) has no limit.
"""

from __future__ import annotations

import math
import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection

_KEY = "relations.deadline"
#: VM instructions between two looks at the clock (each costs about 50 ns).
CHECK_EVERY = 1000


def install_sqlite_deadline(engine: Engine, timeout_ms: int) -> None:
    """Abort any statement of `engine` still running `timeout_ms` after it started."""

    @event.listens_for(engine, "connect")
    def _handler(dbapi_conn: Any, record: Any) -> None:
        box = [math.inf]
        record.info[_KEY] = box
        dbapi_conn.set_progress_handler(lambda: time.monotonic() > box[0], CHECK_EVERY)

    @event.listens_for(engine, "before_cursor_execute")
    def _arm(conn: Connection, *_args: Any) -> None:
        box = conn.info.get(_KEY)
        if box is not None:
            ms = conn.get_execution_options().get("statement_timeout_ms", timeout_ms)
            box[0] = time.monotonic() + ms / 1000 if ms else math.inf

    def _disarm(conn: Connection) -> None:
        box = conn.info.get(_KEY)
        if box is not None:
            box[0] = math.inf

    event.listen(engine, "commit", _disarm)
    event.listen(engine, "rollback", _disarm)

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        box = record.info.get(_KEY)
        if box is not None:
            box[0] = math.inf
