"""API tokens of a project: minted at random, stored only as a SHA-256 in the project's DB.

A token is ``rel_`` followed by 43 URL-safe characters (256 random bits). Its SHA-256 (hex)
is the only thing stored, in the ``relations_tokens`` table of the project the token belongs
to, so a token can only ever be found in its own project's database. Lookups go to the
database on every request (no cache): a revocation, by this process or by the CLI in another
one, takes effect on the very next request.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Table, func, insert, select, update

from models import ROLES, Token
from service import store
from service.projects import Project

PREFIX = "rel_"
SHAPE = re.compile(r"^rel_[A-Za-z0-9_-]{43}$")
TABLE: Table = Token.__table__  # type: ignore[attr-defined]
#: Shortest hash prefix `revoke` accepts (shown by `token list`).
MIN_PREFIX = 8


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a token: never the token itself."""

    id: int
    role: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    hash_prefix: str

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None


def mint() -> str:
    """A new random token."""
    return PREFIX + secrets.token_urlsafe(32)


def well_formed(token: str) -> bool:
    """Whether `token` has the shape of a token this server mints (no I/O)."""
    return bool(SHAPE.match(token))


def digest(token: str) -> str:
    """The stored form of a token: its SHA-256 in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _info(row: object) -> TokenInfo:
    m = row._mapping  # type: ignore[attr-defined]
    return TokenInfo(
        id=int(m["id"]),
        role=str(m["role"]),
        label=m["label"],
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
        hash_prefix=str(m["token_hash"])[:12],
    )


def create(project: Project, role: str, label: str | None = None) -> tuple[TokenInfo, str]:
    """Store a new token of `role` in `project`; returns its info and the token (once)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    token = mint()
    with store.writing(project, tokens=True) as conn:
        new_id = conn.execute(
            insert(TABLE)
            .values(token_hash=digest(token), role=role, label=label,
                    created_at=datetime.now(UTC))
            .returning(TABLE.c.id)
        ).scalar_one()
        row = conn.execute(select(TABLE).where(TABLE.c.id == new_id)).one()
    return _info(row), token


def active(project: Project, token: str) -> TokenInfo | None:
    """The active token `token` of `project`, or None (unknown, revoked or malformed)."""
    if not well_formed(token):
        return None
    with store.reading(project) as conn:
        row = conn.execute(
            select(TABLE).where(TABLE.c.token_hash == digest(token), TABLE.c.revoked_at.is_(None))
        ).first()
    return _info(row) if row is not None else None


def listing(project: Project) -> list[TokenInfo]:
    """Every token of `project` (active and revoked), oldest first."""
    with store.reading(project) as conn:
        rows = conn.execute(select(TABLE).order_by(TABLE.c.id)).all()
    return [_info(r) for r in rows]


def has_active_admin(project: Project) -> bool:
    """Whether `project` has at least one admin token that is not revoked."""
    with store.reading(project) as conn:
        count = conn.execute(
            select(func.count()).select_from(TABLE)
            .where(TABLE.c.role == "admin", TABLE.c.revoked_at.is_(None))
        ).scalar_one()
    return bool(count)


def find(project: Project, key: str) -> list[TokenInfo]:
    """Tokens matching `key`: an id, a hash prefix (>= 8 hex digits) or the token itself."""
    key = key.strip()
    if key.isdigit():
        where = TABLE.c.id == int(key)
    elif well_formed(key):
        where = TABLE.c.token_hash == digest(key)
    elif re.fullmatch(rf"[0-9a-f]{{{MIN_PREFIX},64}}", key.lower()):
        where = TABLE.c.token_hash.startswith(key.lower(), autoescape=True)
    else:
        return []
    with store.reading(project) as conn:
        rows = conn.execute(select(TABLE).where(where).order_by(TABLE.c.id)).all()
    return [_info(r) for r in rows]


def revoke(project: Project, token_id: int) -> bool:
    """Revoke token `token_id`; False when it was already revoked or does not exist."""
    with store.writing(project, tokens=True) as conn:
        result = conn.execute(
            update(TABLE)
            .where(TABLE.c.id == token_id, TABLE.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
    return bool(result.rowcount)
