"""Create the tables of a project database when they are missing."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlmodel import SQLModel

import models  # noqa: F401  (registers the tables on SQLModel.metadata)


def ensure_schema(engine: Engine) -> None:
    """``CREATE TABLE/INDEX IF NOT EXISTS`` for every table: safe across processes."""
    with engine.begin() as conn:
        for table in SQLModel.metadata.sorted_tables:
            conn.execute(CreateTable(table, if_not_exists=True))
            for index in table.indexes:
                conn.execute(CreateIndex(index, if_not_exists=True))
