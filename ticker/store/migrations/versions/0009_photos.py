"""photos: uploaded photos, their files (when kept in SQL), an entry's photos, a submission's, the lead photo

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 18:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ticker.store.tables

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

When = ticker.store.tables.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "photos",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("created_at", When(timezone=True), nullable=False),
        sa.Column("alt", sa.Text(), nullable=False),
        sa.Column("credit", sa.Text(), nullable=False),
        sa.Column("caption", sa.Text(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("source_format", sa.String(length=8), nullable=False),
        sa.Column("source_digest", sa.String(length=64), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["uploaded_by"], ["users.id"], name=op.f("fk_photos_uploaded_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_photos")),
    )
    op.create_index("ix_photos_uploaded_by_created_at", "photos", ["uploaded_by", "created_at"])
    op.create_table(
        "media_files",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", When(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_media_files")),
    )
    # NULL (no photos) for every entry and submission written before, and no lead photo but the old photo_url.
    op.add_column("entries", sa.Column("photos", sa.JSON(), nullable=True))
    op.add_column("submissions", sa.Column("photos", sa.JSON(), nullable=True))
    op.add_column("incidents", sa.Column("photo", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch_op:
        batch_op.drop_column("photo")
    with op.batch_alter_table("submissions") as batch_op:
        batch_op.drop_column("photos")
    with op.batch_alter_table("entries") as batch_op:
        batch_op.drop_column("photos")
    op.drop_table("media_files")
    op.drop_index("ix_photos_uploaded_by_created_at", table_name="photos")
    op.drop_table("photos")
