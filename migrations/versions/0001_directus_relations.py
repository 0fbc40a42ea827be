"""directus_relations, as the first release created it

A database made before migrations existed (``CREATE TABLE IF NOT EXISTS`` of this same
table, no ``alembic_version``) is adopted at this revision by ``service.migrate`` and then
upgraded like any other.

Revision ID: 0001
Revises:
Create Date: 2025-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types (a revision never imports models/, which move on).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def text(length: int) -> sa.String:
    """VARCHAR(length), compared in code-point order ("C" collation) on PostgreSQL."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "directus_relations",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("collection_many", text(64), nullable=False),
        sa.Column("field_many", text(45), nullable=False),
        sa.Column("collection_one", text(64), nullable=True),
        sa.Column("field_one", text(64), nullable=True),
        sa.Column("junction_field", text(64), nullable=True),
        sqlite_autoincrement=True,  # a deleted id is never handed out again
    )


def downgrade() -> None:
    op.drop_table("directus_relations")
