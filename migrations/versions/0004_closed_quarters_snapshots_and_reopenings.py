"""Closed quarters: immutable report snapshots (quarter_snapshot) and their reopenings
(quarter_reopening).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 18:13:49.233134
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate may write sqlmodel types without importing them)
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "quarter_reopening",
        sa.Column("quarter", sa.String(length=6), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reopened_at", sa.DateTime(), nullable=False),
        sa.Column("reopened_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("quarter", "version"),
    )
    op.create_table(
        "quarter_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.String(length=6), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=False),
        sa.Column("closed_by", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("quarter", "version", name="uq_quarter_snapshot_version"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("quarter_snapshot")
    op.drop_table("quarter_reopening")
