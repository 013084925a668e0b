"""link cards: an entry's cards (title, author, thumbnail, player) beside its body

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 16:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL (no cards) for every entry written before: nothing to fill in.
    op.add_column("entries", sa.Column("cards", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("entries") as batch_op:
        batch_op.drop_column("cards")
