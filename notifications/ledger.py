"""The delivery ledger: claim a delivery, record each channel that accepted it, or back off.

Every step is its own committed transaction, so a dispatcher that dies leaves a state the
next one can read: ``sending`` with an expired lease means "maybe sent: send again".
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, exists, or_, update
from sqlmodel import Session, col, select

from models import Outbox, session_scope
from models.settings import Settings, get_settings
from models.tables import Delivery
from notifications.channels import ChannelError, channel_id, send
from notifications.render import Message
from notifications.routing import Recipient


@dataclass(frozen=True)
class Limits:
    """Retry, lease and digest timing (from the settings)."""

    max_attempts: int = 6
    retry_base_s: float = 60
    retry_max_s: float = 6 * 3600
    lease_s: int = 300
    digest_grace_s: int = 600

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> "Limits":
        s = settings or get_settings()
        return cls(
            s.alert_max_attempts,
            s.alert_retry_base_s,
            s.alert_retry_max_s,
            s.alert_lease_s,
            s.alert_digest_grace_s,
        )

    def backoff(self, attempts: int) -> timedelta:
        seconds = min(self.retry_max_s, self.retry_base_s * 2 ** max(attempts - 1, 0))
        return timedelta(seconds=seconds)


@dataclass(frozen=True)
class FailedDelivery:
    """A delivery given up after its attempts: reported, never retried by itself."""

    recipient: str
    cause: str
    attempts: int
    error: str


@dataclass
class DispatchResult:
    """What one dispatch run did."""

    planned: int = 0
    unrouted: int = 0
    messages: int = 0
    delivered: int = 0
    digests: int = 0
    retrying: int = 0
    waiting_for_digest: int = 0
    failed: list[FailedDelivery] = field(default_factory=list)

    def merge(self, other: "DispatchResult") -> None:
        for name in ("planned", "unrouted", "messages", "delivered", "digests", "retrying"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.waiting_for_digest = other.waiting_for_digest or self.waiting_for_digest
        self.failed += other.failed


def claimable(now: datetime) -> Any:
    due = or_(col(Delivery.next_attempt_at).is_(None), col(Delivery.next_attempt_at) <= now)
    expired = and_(col(Delivery.status) == "sending", col(Delivery.claimed_until) < now)
    return or_(and_(col(Delivery.status) == "pending", due), expired)


def claim(
    session: Session, ids: Sequence[int | None], token: str, now: datetime, limits: Limits
) -> list[tuple[Delivery, Outbox]]:
    """Lease the still claimable ones of ``ids`` to ``token`` (committed by the caller)."""
    if not ids:
        return []
    session.execute(
        update(Delivery)
        .where(col(Delivery.id).in_(ids), claimable(now))
        .values(
            status="sending",
            claim_token=token,
            claimed_until=now + timedelta(seconds=limits.lease_s),
            attempts=Delivery.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    statement = (
        select(Delivery, Outbox)
        .join(Outbox, col(Outbox.id) == Delivery.outbox_id)
        .where(col(Delivery.claim_token) == token, col(Delivery.status) == "sending")
        .order_by(col(Delivery.id))
    )
    return [(d, a) for d, a in session.exec(statement).all()]


def deliver(
    engine: Engine,
    recipient: Recipient | None,
    deliveries: list[Delivery],
    token: str,
    message: Message,
    now: datetime,
    limits: Limits,
    result: DispatchResult,
) -> bool:
    """Send ``message`` on the recipient's channels not done yet; record each at once."""
    ids = [d.id for d in deliveries if d.id is not None]
    if recipient is None:
        error = f"ontvanger '{deliveries[0].recipient}' staat niet (meer) in het routeringsbestand"
        fail(engine, deliveries[0].recipient, token, error, now, limits, result, final=True)
        return False
    done = set.intersection(*(set(d.sent_channels or []) for d in deliveries))
    todo = [url for url in recipient.channels if channel_id(url) not in done]
    for n, url in enumerate(todo, 1):
        try:
            send(url, message.title, message.body)
        except ChannelError as error:
            fail(engine, recipient.id, token, str(error), now, limits, result)
            return False
        result.messages += 1
        with session_scope(engine) as session:
            _record(session, ids, token, channel_id(url), now, final=n == len(todo))
    if not todo:  # every channel had accepted it before a crash: only the record was missing
        with session_scope(engine) as session:
            _record(session, ids, token, None, now, final=True)
    result.delivered += len(ids)
    return True


def _record(
    session: Session, ids: list[int], token: str, channel: str | None, now: datetime, final: bool
) -> None:
    statement = select(Delivery).where(
        col(Delivery.id).in_(ids), col(Delivery.claim_token) == token
    )
    for delivery in session.exec(statement):
        if channel is not None:
            delivery.sent_channels = [*delivery.sent_channels, channel]
        if final:
            delivery.status, delivery.sent_at = "sent", now
            delivery.claim_token = delivery.claimed_until = None
            delivery.last_error = None


def fail(
    engine: Engine,
    recipient: str,
    token: str,
    error: str,
    now: datetime,
    limits: Limits,
    result: DispatchResult,
    final: bool = False,
) -> None:
    """This recipient failed: its claimed and its due deliveries back off (or give up) together."""
    with session_scope(engine) as session:
        statement = (
            select(Delivery, Outbox)
            .join(Outbox, col(Outbox.id) == Delivery.outbox_id)
            .where(col(Delivery.recipient) == recipient)
            .where(
                or_(
                    col(Delivery.claim_token) == token,
                    and_(col(Delivery.status) == "pending", claimable(now)),
                )
            )
        )
        for delivery, alert in session.exec(statement).all():
            if delivery.claim_token != token:
                delivery.attempts += 1  # not claimed, but it shares the recipient's fate
            if final or delivery.attempts >= limits.max_attempts:
                give_up(delivery, alert, error, result)
                continue
            delivery.status, delivery.claim_token, delivery.claimed_until = "pending", None, None
            delivery.next_attempt_at = now + limits.backoff(delivery.attempts)
            delivery.last_error = error[:1000]
            result.retrying += 1


def give_up(delivery: Delivery, alert: Outbox, error: str, result: DispatchResult) -> None:
    delivery.status, delivery.claim_token, delivery.claimed_until = "failed", None, None
    delivery.last_error = error[:1000]
    result.failed.append(FailedDelivery(delivery.recipient, alert.cause, delivery.attempts, error))


def retry_failed(engine: Engine, recipient: str | None = None) -> int:
    """Put failed deliveries (of one recipient, or all) back in the queue with fresh attempts."""
    with session_scope(engine) as session:
        statement = update(Delivery).where(col(Delivery.status) == "failed")
        if recipient:
            statement = statement.where(col(Delivery.recipient) == recipient)
        values: dict[str, Any] = {"status": "pending", "attempts": 0, "next_attempt_at": None}
        count = session.execute(statement.values(**values)).rowcount  # type: ignore[attr-defined]
        session.execute(
            update(Outbox)
            .where(col(Outbox.status) == "failed")
            .where(
                exists().where(
                    col(Delivery.outbox_id) == Outbox.id, col(Delivery.status) == "pending"
                )
            )
            .values(status="routed")
            .execution_options(synchronize_session=False)
        )
    return int(count)
