"""Sign-in through the identity provider (OpenID Connect): accounts known by issuer and
subject, the ID token of a session (for the provider's sign-out), and sign-ins in flight.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 19:39:05.004292
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate may write sqlmodel types without importing them)
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "sign_in_state",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key_hash"),
    )
    with op.batch_alter_table("sign_in_state", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sign_in_state_expires_at"), ["expires_at"], unique=False
        )

    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("oidc_issuer", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("oidc_subject", sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint("uq_app_user_oidc", ["oidc_issuer", "oidc_subject"])

    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("id_token", sa.Text(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.drop_column("id_token")

    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_constraint("uq_app_user_oidc", type_="unique")
        batch_op.drop_column("oidc_subject")
        batch_op.drop_column("oidc_issuer")

    with op.batch_alter_table("sign_in_state", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_state_expires_at"))

    op.drop_table("sign_in_state")
