"""relations_state: the project's versions, bumped by write transactions

Row 1 counts every write (data or tokens): a cached response is served only while it is
unchanged (service/cache.py). Row 2 counts token changes only: a remembered token lookup is
reused only while it is unchanged (service/auth.py). Either way, a write by any worker process
is seen by the very next request on every worker.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    state = op.create_table(
        "relations_state",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(state, [{"id": 1, "version": 0}, {"id": 2, "version": 0}])


def downgrade() -> None:
    op.drop_table("relations_state")
