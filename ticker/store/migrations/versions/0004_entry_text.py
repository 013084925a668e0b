"""entry text: each entry's plain text beside its HTML, which search reads (and joins the two heads before it)

Revision ID: 0004
Revises: 0002, 0003
Create Date: 2026-11-28 21:40:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ticker.logs import log_event
from ticker.sanitize import text_of

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = ("0002", "0003")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def upgrade() -> None:
    op.add_column("entries", sa.Column("body_text", sa.Text(), nullable=False, server_default=""))
    entries = sa.table("entries", sa.column("id", sa.Integer), sa.column("body", sa.Text), sa.column("body_text"))
    connection = op.get_bind()
    total = connection.execute(sa.select(sa.func.count()).select_from(entries)).scalar_one()
    done, after = 0, 0
    while True:
        rows = connection.execute(
            sa.select(entries.c.id, entries.c.body).where(entries.c.id > after).order_by(entries.c.id).limit(BATCH)
        ).all()
        if not rows:
            break
        connection.execute(
            entries.update().where(entries.c.id == sa.bindparam("entry_id")).values(body_text=sa.bindparam("text")),
            [{"entry_id": row.id, "text": text_of(row.body)} for row in rows],
        )
        done, after = done + len(rows), rows[-1].id
        log_event("migration_progress", revision=revision, step="entry text", done=done, total=total)


def downgrade() -> None:
    with op.batch_alter_table("entries") as batch_op:
        batch_op.drop_column("body_text")
