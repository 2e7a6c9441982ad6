"""Alert deliveries per channel: one row per (cause, recipient, channel).

A delivery used to be one row per (cause, recipient) with the channels that had accepted it
in ``sent_channels``. Each channel that had accepted becomes a ``sent`` row of its own. A
delivery that was not finished (pending, sending, or failed by the old rule of six attempts)
is removed and its alert set back to ``pending``: the next dispatch plans it again per
channel of the current routing file, skipping the channels that already have it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 18:16:54.243078
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate may write sqlmodel types without importing them)
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# "Every channel the recipient had" for a sent delivery that recorded none (cannot happen
# with the old dispatcher, which recorded each channel; kept so no row is lost).
ALL_CHANNELS = "*"

_delivery = sa.table(
    "delivery",
    sa.column("id", sa.Integer),
    sa.column("outbox_id", sa.Integer),
    sa.column("recipient", sa.String),
    sa.column("channel", sa.String),
    sa.column("immediate", sa.Boolean),
    sa.column("digest_day", sa.String),
    sa.column("status", sa.String),
    sa.column("attempts", sa.Integer),
    sa.column("sent_channels", sa.JSON),
    sa.column("created_at", sa.DateTime),
    sa.column("sent_at", sa.DateTime),
)
_outbox = sa.table("outbox", sa.column("id", sa.Integer), sa.column("status", sa.String))


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("failing_since", sa.DateTime(), nullable=True))
        batch_op.drop_constraint("uq_delivery_outbox_recipient", type_="unique")
    _split_per_channel(op.get_bind())
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.alter_column("channel", existing_type=sa.String(length=16), nullable=False)
        batch_op.create_unique_constraint(
            "uq_delivery_outbox_recipient_channel", ["outbox_id", "recipient", "channel"]
        )
        batch_op.drop_column("sent_channels")


def _split_per_channel(bind: Any) -> None:
    rows = bind.execute(sa.select(_delivery).order_by(_delivery.c.id)).mappings().all()
    replanned: set[int] = set()
    for row in rows:
        channels = list(row["sent_channels"] or [])
        keep = {k: row[k] for k in ("outbox_id", "recipient", "immediate", "digest_day")}
        sent = keep | {"status": "sent", "attempts": row["attempts"], "sent_channels": []}
        sent |= {"created_at": row["created_at"], "sent_at": row["sent_at"]}
        if row["status"] == "sent":
            first, *others = channels or [ALL_CHANNELS]
            by_id = _delivery.c.id == row["id"]
            bind.execute(_delivery.update().where(by_id).values(channel=first))
        else:
            others = channels
            bind.execute(_delivery.delete().where(_delivery.c.id == row["id"]))
            replanned.add(row["outbox_id"])
        if others:
            bind.execute(_delivery.insert(), [sent | {"channel": c} for c in others])
    if replanned:
        unfinished = _outbox.c.id.in_(sorted(replanned))
        bind.execute(_outbox.update().where(unfinished).values(status="pending"))


def downgrade() -> None:
    """Downgrade schema: one row per (cause, recipient) again, its sent channels listed."""
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sent_channels", sa.JSON(), nullable=True))
        batch_op.drop_constraint("uq_delivery_outbox_recipient_channel", type_="unique")
    _merge_channels(op.get_bind())
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.alter_column("sent_channels", existing_type=sa.JSON(), nullable=False)
        batch_op.create_unique_constraint(
            "uq_delivery_outbox_recipient", ["outbox_id", "recipient"]
        )
        batch_op.drop_column("channel")
        batch_op.drop_column("failing_since")


def _merge_channels(bind: Any) -> None:
    rows = bind.execute(sa.select(_delivery).order_by(_delivery.c.id)).mappings().all()
    groups: dict[tuple[int, str], list[Any]] = {}
    for row in rows:
        groups.setdefault((row["outbox_id"], row["recipient"]), []).append(row)
    for keeper, *others in groups.values():
        finished = all(r["status"] == "sent" for r in (keeper, *others))
        sent = [r["channel"] for r in (keeper, *others) if r["status"] == "sent"]
        values: dict[str, Any] = {"sent_channels": [c for c in sent if c != ALL_CHANNELS]}
        if not finished and keeper["status"] == "sent":
            values |= {"status": "pending", "attempts": 0}
        bind.execute(_delivery.update().where(_delivery.c.id == keeper["id"]).values(**values))
        for row in others:
            bind.execute(_delivery.delete().where(_delivery.c.id == row["id"]))
