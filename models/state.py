"""The ``relations_state`` table: one row holding the project's data version."""

from sqlalchemy import BigInteger, Column, Integer
from sqlmodel import Field, SQLModel


class State(SQLModel, table=True):
    """Row 1's `version` goes up by one in every write transaction (``service.store``)."""

    __tablename__ = "relations_state"

    id: int = Field(sa_column=Column("id", Integer, primary_key=True, autoincrement=False))
    version: int = Field(sa_column=Column("version", BigInteger, nullable=False))
