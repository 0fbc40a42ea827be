"""The `relations_tokens` table: API tokens of a project (only their SHA-256 is stored)."""

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, DateTime, Integer, String
from sqlmodel import Field, SQLModel

_ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")


class Token(SQLModel, table=True):
    """One token of the project whose database holds this row; its role is admin or read."""

    __tablename__ = "relations_tokens"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'read')", name="ck_relations_tokens_role"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(
        default=None, sa_column=Column("id", _ID_TYPE, primary_key=True, autoincrement=True)
    )
    token_hash: str = Field(
        sa_column=Column("token_hash", String(64), nullable=False, unique=True)
    )
    role: str = Field(sa_column=Column("role", String(16), nullable=False))
    label: str | None = Field(default=None, sa_column=Column("label", String(200), nullable=True))
    created_at: datetime = Field(
        sa_column=Column("created_at", DateTime(timezone=True), nullable=False)
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column("revoked_at", DateTime(timezone=True), nullable=True)
    )


#: The roles a token may carry.
ROLES: tuple[str, ...] = ("admin", "read")
