"""indexes for filtered lists: (collection_many, field_many) and (collection_one, field_one)

Directus clients look relations up by the many side (``filter[collection_many][eq]=x``,
often with ``field_many``) or by the one side; without these a filtered list scans the whole
table. The leading column serves the single-column filter too.

Revision ID: 0002
Revises: 0001
Create Date: 2025-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_directus_relations_collection_many",
        "directus_relations",
        ["collection_many", "field_many"],
    )
    op.create_index(
        "ix_directus_relations_collection_one",
        "directus_relations",
        ["collection_one", "field_one"],
    )


def downgrade() -> None:
    op.drop_index("ix_directus_relations_collection_one", table_name="directus_relations")
    op.drop_index("ix_directus_relations_collection_many", table_name="directus_relations")
