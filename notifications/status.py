"""Read models for the alerts: the outbox with its deliveries, and the failed deliveries."""

from typing import Any

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from models import Outbox
from models.tables import Delivery
from procedures.policy import AMSTERDAM

DELIVERY_STATES = ("pending", "sending", "sent", "failed")


def list_alerts(
    session: Session, status: str | None = None, kind: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Outbox rows, newest first, with their deliveries counted per status."""
    counts = [
        func.sum(case((col(Delivery.status) == state, 1), else_=0)).label(state)
        for state in DELIVERY_STATES
    ]
    statement = (
        select(Outbox, *counts)
        .join(Delivery, col(Delivery.outbox_id) == Outbox.id, isouter=True)
        .group_by(col(Outbox.id))
        .order_by(col(Outbox.id).desc())
        .limit(limit)
    )
    if status:
        statement = statement.where(col(Outbox.status) == status)
    if kind:
        statement = statement.where(col(Outbox.kind) == kind)
    rows = []
    for row in session.execute(statement).all():
        alert: Outbox = row[0]
        numbers = row[1:]
        rows.append(
            {
                "id": alert.id,
                "cause": alert.cause,
                "kind": alert.kind,
                "immediate": alert.immediate,
                "vacancy": alert.vacancy,
                "directorate": alert.directorate,
                "created_at": alert.created_at.astimezone(AMSTERDAM).isoformat(timespec="seconds"),
                "status": alert.status,
                "deliveries": dict(zip(DELIVERY_STATES, (n or 0 for n in numbers), strict=True)),
            }
        )
    return rows


def failed_deliveries(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    """Deliveries given up after their attempts, newest first, with the last error."""
    statement = (
        select(Delivery, Outbox.cause)
        .join(Outbox, col(Outbox.id) == Delivery.outbox_id)
        .where(col(Delivery.status) == "failed")
        .order_by(col(Delivery.id).desc())
        .limit(limit)
    )
    return [
        {
            "recipient": delivery.recipient,
            "cause": cause,
            "attempts": delivery.attempts,
            "error": delivery.last_error or "",
        }
        for delivery, cause in session.exec(statement).all()
    ]
