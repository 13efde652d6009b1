"""mark rehearsal copies (unlisted, thrown away)

Revision ID: b7e2c4a9d310
Revises: 61828d200ea6
Create Date: 2026-12-01 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7e2c4a9d310"
down_revision: str | None = "61828d200ea6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("event") as batch:
        batch.add_column(sa.Column("rehearsal", sa.Boolean(), server_default=sa.false(), nullable=False))
    # Rehearsals made before this revision are recognised by the slug `regie rehearse` gives them.
    op.execute(
        sa.text("UPDATE event SET rehearsal = :yes WHERE slug LIKE :pattern").bindparams(
            yes=True, pattern="%-repetition-____________%"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("event") as batch:
        batch.drop_column("rehearsal")
