"""partners: sites that embed incidents, their origins and incidents, their readers per day

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-28 17:05:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ticker.store.tables

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("every_incident", sa.Boolean(), nullable=False),
        sa.Column("created_at", ticker.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("name", name=op.f("uq_partners_name")),
    )
    op.create_table(
        "partner_origins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_partner_origins_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_origins")),
        sa.UniqueConstraint("origin", name=op.f("uq_partner_origins_origin")),
    )
    with op.batch_alter_table("partner_origins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_partner_origins_partner_id"), ["partner_id"], unique=False)
    op.create_table(
        "partner_incidents",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_partner_incidents_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_partner_incidents_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("partner_id", "incident_id", name=op.f("pk_partner_incidents")),
    )
    op.create_table(
        "partner_reader_days",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("opened", sa.Integer(), nullable=False),
        sa.Column("peak", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_partner_reader_days_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("partner_id", "day", name=op.f("pk_partner_reader_days")),
    )


def downgrade() -> None:
    op.drop_table("partner_reader_days")
    op.drop_table("partner_incidents")
    with op.batch_alter_table("partner_origins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_origins_partner_id"))
    op.drop_table("partner_origins")
    op.drop_table("partners")
