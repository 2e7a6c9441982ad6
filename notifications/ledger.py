"""The delivery ledger: every delivery (one cause, one recipient, one channel) is claimed
just before it is sent, then recorded; each step is its own committed transaction.

    pending --claim--> sending (leased to one dispatcher until claimed_until)
    sending --record--> sent
                     |  pending again, later (the channel was down, timed out, answered
                     |  5xx, 408 or 429: capped exponential backoff)
                     |  failed (a permanent answer, recorded; or still failing after
                     |  IDFLOW_ALERT_RETRY_FOR)
    sending with an expired lease is claimable again: "maybe sent: send again, same key"

A claim takes the rows with ``SELECT ... FOR UPDATE SKIP LOCKED`` (PostgreSQL: another
dispatcher skips them instead of waiting; SQLite serialises writers and ignores the clause)
and the UPDATE checks again that they are claimable, so two dispatchers (a Prefect run and
``idflow alerts dispatch``) never hold one delivery at once.
"""

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, exists, func, or_, update
from sqlmodel import Session, col, select

from models import Outbox, session_scope
from models.settings import Settings, get_settings
from models.tables import Delivery
from notifications.channels import ChannelError


@dataclass(frozen=True)
class Limits:
    """Retry, lease and digest timing, and the go-live moment (from the settings)."""

    retry_for: timedelta = timedelta(days=3)
    retry_base_s: float = 60
    retry_max_s: float = 6 * 3600
    lease_s: int = 300
    digest_grace_s: int = 600
    alerts_from: datetime | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> "Limits":
        s = settings or get_settings()
        return cls(
            s.alert_retry_for,
            s.alert_retry_base_s,
            s.alert_retry_max_s,
            s.alert_lease_s,
            s.alert_digest_grace_s,
            s.alerts_from,
        )

    def backoff(self, attempts: int) -> timedelta:
        seconds = min(self.retry_max_s, self.retry_base_s * 2 ** max(attempts - 1, 0))
        return timedelta(seconds=seconds)


class Clock:
    """The current moment, or a simulated one (``--as-of``) that moves on with real time."""

    def __init__(self, as_of: datetime | None = None) -> None:
        self.as_of, self.started = as_of, time.monotonic()

    def __call__(self) -> datetime:
        if self.as_of is None:
            return datetime.now(UTC)
        return self.as_of + timedelta(seconds=time.monotonic() - self.started)


@dataclass(frozen=True)
class FailedDelivery:
    """A delivery that failed: reported, and not retried until ``idflow alerts retry``."""

    recipient: str
    channel: str
    cause: str
    attempts: int
    error: str


@dataclass
class DispatchResult:
    """What one dispatch run did, and the queue as it stands after it (counted)."""

    planned: int = 0
    historical: int = 0
    unrouted: list[str] = field(default_factory=list)  # causes sent to the fallback
    messages: int = 0
    delivered: int = 0
    digests: int = 0
    failed: list[FailedDelivery] = field(default_factory=list)
    waiting: int = 0
    waiting_for_digest: int = 0
    failed_total: int = 0

    def merge(self, other: "DispatchResult") -> None:
        for name in ("planned", "historical", "messages", "delivered", "digests"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.unrouted += other.unrouted
        self.failed += other.failed

    @property
    def busy(self) -> bool:
        return bool(self.planned or self.historical or self.messages or self.failed)


def delivery_key(*parts: str) -> str:
    """The key one delivery keeps on every attempt: Message-ID and ``idempotency_key``."""
    return "idflow-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def claimable(now: datetime) -> Any:
    due = or_(col(Delivery.next_attempt_at).is_(None), col(Delivery.next_attempt_at) <= now)
    expired = and_(col(Delivery.status) == "sending", col(Delivery.claimed_until) < now)
    return or_(and_(col(Delivery.status) == "pending", due), expired)


def claim(
    session: Session, candidates: Any, token: str, now: datetime, limits: Limits
) -> list[tuple[Delivery, Outbox]]:
    """Lease the claimable deliveries of the ``candidates`` select (of ids) to ``token``;
    committed by the caller before anything is sent."""
    locked = candidates.where(claimable(now)).with_for_update(skip_locked=True)
    ids = list(session.exec(locked))
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


def record_sent(engine: Engine, deliveries: Sequence[Delivery], token: str, now: datetime) -> int:
    """Mark the deliveries this claim holds as sent; how many it still held."""
    with session_scope(engine) as session:
        statement = (
            update(Delivery)
            .where(col(Delivery.id).in_([d.id for d in deliveries]))
            .where(col(Delivery.claim_token) == token)
            .values(
                status="sent",
                sent_at=now,
                claim_token=None,
                claimed_until=None,
                last_error=None,
            )
            .execution_options(synchronize_session=False)
        )
        return int(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def record_failure(
    engine: Engine,
    claimed: Sequence[tuple[Delivery, Outbox]],
    token: str,
    error: ChannelError,
    now: datetime,
    limits: Limits,
    result: DispatchResult,
) -> None:
    """The channel refused: a permanent answer fails these deliveries at once (nothing else);
    a passing one sends them into backoff, and the other due deliveries on the same channel
    count as failing since now (unless they already were): after IDFLOW_ALERT_RETRY_FOR of
    failing they are given up together, not one per run."""
    first = claimed[0][0]
    with session_scope(engine) as session:
        statement = (
            select(Delivery, Outbox)
            .join(Outbox, col(Outbox.id) == Delivery.outbox_id)
            .where(col(Delivery.claim_token) == token)
        )
        for delivery, alert in session.exec(statement).all():
            _after_failure(delivery, alert, error, now, limits, result)
        if error.permanent:
            return
        waiting = (
            select(Delivery, Outbox)
            .join(Outbox, col(Outbox.id) == Delivery.outbox_id)
            .where(col(Delivery.recipient) == first.recipient)
            .where(col(Delivery.channel) == first.channel, col(Delivery.immediate))
            .where(col(Delivery.status) == "pending", claimable(now))
            .with_for_update(of=Delivery, skip_locked=True)  # type: ignore[arg-type]
        )
        for delivery, alert in session.exec(waiting).all():
            delivery.failing_since = delivery.failing_since or now
            delivery.last_error = str(error)[:1000]
            if now - delivery.failing_since >= limits.retry_for:
                give_up(delivery, alert, _since(str(error), delivery.failing_since), result)


def _after_failure(
    delivery: Delivery,
    alert: Outbox,
    error: ChannelError,
    now: datetime,
    limits: Limits,
    result: DispatchResult,
) -> None:
    delivery.failing_since = delivery.failing_since or now
    delivery.claim_token, delivery.claimed_until = None, None
    delivery.last_error = str(error)[:1000]
    if error.permanent:
        give_up(delivery, alert, str(error), result)
    elif now - delivery.failing_since >= limits.retry_for:
        give_up(delivery, alert, _since(str(error), delivery.failing_since), result)
    else:
        delivery.status = "pending"
        delivery.next_attempt_at = now + limits.backoff(delivery.attempts)


def _since(error: str, since: datetime) -> str:
    return f"{error}; mislukt sinds {since:%Y-%m-%d %H:%M} UTC, niet meer herhaald"


def give_up(delivery: Delivery, alert: Outbox, error: str, result: DispatchResult) -> None:
    delivery.status, delivery.claim_token, delivery.claimed_until = "failed", None, None
    delivery.last_error = error[:1000]
    result.failed.append(
        FailedDelivery(delivery.recipient, delivery.channel, alert.cause, delivery.attempts, error)
    )


def queue_counts(engine: Engine, now: datetime, ready_before: str) -> dict[str, int]:
    """The deliveries not sent yet, counted: waiting (for a first try or a retry), waiting
    for their day's digest, and failed."""
    open_ = col(Delivery.status).in_(("pending", "sending"))
    later_digest = and_(~col(Delivery.immediate), col(Delivery.digest_day) >= ready_before)
    counts = {
        "waiting": and_(open_, ~later_digest),
        "waiting_for_digest": and_(open_, later_digest),
        "failed_total": col(Delivery.status) == "failed",
    }
    with Session(engine) as session:
        return {
            name: int(session.exec(select(func.count()).select_from(Delivery).where(where)).one())
            for name, where in counts.items()
        }


def retry_failed(engine: Engine, recipient: str | None = None) -> int:
    """Put failed deliveries (of one recipient, or all) back in the queue, a fresh retry time."""
    with session_scope(engine) as session:
        statement = update(Delivery).where(col(Delivery.status) == "failed")
        if recipient:
            statement = statement.where(col(Delivery.recipient) == recipient)
        values: dict[str, Any] = {
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": None,
            "failing_since": None,
        }
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
