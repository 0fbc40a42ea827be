"""The ``relations_state`` table: one row holding the project's data version."""

from sqlalchemy import BigInteger, Column, Integer
from sqlmodel import Field, SQLModel

#: Row ids: every write bumps DATA; token changes bump TOKENS too (``service.store``).
DATA, TOKENS = 1, 2


class State(SQLModel, table=True):
    """One version counter per row (see :data:`DATA` and :data:`TOKENS`)."""

    __tablename__ = "relations_state"

    id: int = Field(sa_column=Column("id", Integer, primary_key=True, autoincrement=False))
    version: int = Field(sa_column=Column("version", BigInteger, nullable=False))
