"""audience minutes

Revision ID: 671428426dfb
Revises: 3d2a7fe35b06
Create Date: 2026-12-02 00:13:44.892453
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "671428426dfb"
down_revision: str | None = "3d2a7fe35b06"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audience_minute",
        sa.Column("event_pk", sa.Integer(), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("viewers", sa.Integer(), nullable=False),
        sa.Column("peak_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_pk"], ["event.pk"], name=op.f("fk_audience_minute_event_pk_event"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("event_pk", "minute", name=op.f("pk_audience_minute")),
    )


def downgrade() -> None:
    op.drop_table("audience_minute")
