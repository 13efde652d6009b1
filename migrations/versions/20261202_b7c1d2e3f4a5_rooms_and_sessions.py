"""rooms and parallel sessions

Revision ID: b7c1d2e3f4a5
Revises: 671428426dfb
Create Date: 2026-12-01 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7c1d2e3f4a5"
down_revision: str | None = "671428426dfb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing programmes have no rooms and no sessions: an empty JSON list, then no default, so
    # that the application always says what it stores.
    with op.batch_alter_table("event") as batch_op:
        batch_op.add_column(sa.Column("rooms", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("item") as batch_op:
        batch_op.add_column(sa.Column("sessions", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("signup_opens_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("signup_closes_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("event") as batch_op:
        batch_op.alter_column("rooms", server_default=None)
    with op.batch_alter_table("item") as batch_op:
        batch_op.alter_column("sessions", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("item") as batch_op:
        batch_op.drop_column("signup_closes_at")
        batch_op.drop_column("signup_opens_at")
        batch_op.drop_column("sessions")
    with op.batch_alter_table("event") as batch_op:
        batch_op.drop_column("rooms")
