"""Outbox dispatch: plan deliveries, then claim, send and record each one.

    plan     each new outbox row becomes one Delivery per routed recipient; the unique key
             (outbox_id, recipient) means one cause never reaches one recipient twice
    claim    deliveries are leased to this dispatcher (status ``sending`` until
             ``claimed_until``) and the lease is committed before anything is sent
    send     the message goes out on each of the recipient's channels not yet done
    record   each accepted channel is committed at once, then the delivery as ``sent``

A dispatcher that dies after claiming leaves its leases to expire; the next run sends them.
If it dies after a channel accepted a message but before the record was committed, the
next run sends that one message again: at least once, never silently lost.
"""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, exists, func, update
from sqlmodel import Session, col, select

from models import Outbox, session_scope
from models.settings import get_settings
from models.tables import Delivery
from notifications.ledger import (
    DispatchResult,
    FailedDelivery,
    Limits,
    claim,
    claimable,
    deliver,
    give_up,
    retry_failed,
)
from notifications.render import Message, Names, render_alert, render_digest
from notifications.routing import Recipient, Routing
from procedures.policy import AMSTERDAM

__all__ = ["DispatchResult", "FailedDelivery", "Limits", "dispatch", "retry_failed"]

BATCH = 50


def dispatch(
    engine: Engine, routing: Routing, as_of: datetime | None = None, limits: Limits | None = None
) -> DispatchResult:
    """One full run: plan, immediate alerts, due digests, outbox status."""
    now, limits = as_of or datetime.now(UTC), limits or Limits.from_settings()
    result = plan(engine, routing)
    result.merge(expire_exhausted(engine, now, limits))
    result.merge(send_immediate(engine, routing, now, limits))
    result.merge(send_digests(engine, routing, now, limits))
    settle(engine)
    return result


def plan(engine: Engine, routing: Routing) -> DispatchResult:
    """Give every new (or so far unrouted) outbox row one delivery per routed recipient."""
    result = DispatchResult()
    with session_scope(engine) as session:
        cluster_of = Names.load(session).cluster_of
        statement = select(Outbox).where(col(Outbox.status).in_(("pending", "unrouted")))
        alerts = session.exec(statement.order_by(col(Outbox.id))).all()
        known = _known_pairs(session, [a.id for a in alerts if a.id is not None])
        for alert in alerts:
            cluster = cluster_of.get(alert.directorate or "")
            recipients = routing.recipients_for(alert.kind, alert.directorate, cluster)
            alert.status = "routed" if recipients else "unrouted"
            result.unrouted += 0 if recipients else 1
            for recipient in recipients:
                if (alert.id, recipient.id) not in known:
                    session.add(_delivery(alert, recipient))
                    result.planned += 1
    return result


def _known_pairs(session: Session, ids: list[int]) -> set[tuple[int, str]]:
    if not ids:
        return set()
    statement = select(Delivery.outbox_id, Delivery.recipient)
    return set(session.exec(statement.where(col(Delivery.outbox_id).in_(ids))).all())


def _delivery(alert: Outbox, recipient: Recipient) -> Delivery:
    assert alert.id is not None
    day = None if alert.immediate else local_day(alert.created_at)
    return Delivery(
        outbox_id=alert.id,
        recipient=recipient.id,
        immediate=alert.immediate,
        digest_day=day,
        created_at=datetime.now(UTC),
    )


def local_day(moment: datetime) -> str:
    """The Europe/Amsterdam calendar day of ``moment`` (``YYYY-MM-DD``)."""
    return moment.astimezone(AMSTERDAM).date().isoformat()


def expire_exhausted(engine: Engine, now: datetime, limits: Limits) -> DispatchResult:
    """Give up deliveries whose dispatcher died while sending on their last attempt."""
    result = DispatchResult()
    with session_scope(engine) as session:
        statement = (
            select(Delivery, Outbox)
            .join(Outbox, col(Outbox.id) == Delivery.outbox_id)
            .where(col(Delivery.status) == "sending", col(Delivery.claimed_until) < now)
            .where(col(Delivery.attempts) >= limits.max_attempts)
        )
        for delivery, alert in session.exec(statement).all():
            error = "verzending afgebroken (lease verlopen) bij de laatste poging"
            give_up(delivery, alert, error, result)
    return result


def send_immediate(
    engine: Engine, routing: Routing, now: datetime, limits: Limits
) -> DispatchResult:
    """Send every due immediate delivery, one message per (cause, recipient)."""
    result, down = DispatchResult(), set[str]()
    names, base_url = _names(engine), get_settings().base_url
    while True:
        token = str(uuid.uuid4())
        with session_scope(engine) as session:
            statement = (
                select(col(Delivery.id))
                .where(col(Delivery.immediate), claimable(now))
                .where(col(Delivery.recipient).not_in(down))
                .order_by(col(Delivery.id))
                .limit(BATCH)
            )
            claimed = claim(session, list(session.exec(statement)), token, now, limits)
        if not claimed:
            return result
        for delivery, alert in claimed:
            if delivery.recipient in down:
                continue  # already moved to its retry time by the failure of this recipient
            recipient = routing.get(delivery.recipient)
            message = _render(engine, delivery, alert, names, base_url, token, result)
            if message is None:
                continue
            if not deliver(engine, recipient, [delivery], token, message, now, limits, result):
                down.add(delivery.recipient)


def send_digests(engine: Engine, routing: Routing, now: datetime, limits: Limits) -> DispatchResult:
    """Send one digest per recipient per finished day, holding that day's informational alerts."""
    result, down = DispatchResult(), set[str]()
    names, base_url = _names(engine), get_settings().base_url
    ready_before = local_day(now - timedelta(seconds=limits.digest_grace_s))
    with session_scope(engine) as session:
        informational = and_(~col(Delivery.immediate), claimable(now))
        groups = session.exec(
            select(Delivery.recipient, Delivery.digest_day)
            .where(informational, col(Delivery.digest_day) < ready_before)
            .distinct()
            .order_by(col(Delivery.digest_day), col(Delivery.recipient))
        ).all()
        result.waiting_for_digest = session.exec(
            select(func.count())
            .select_from(Delivery)
            .where(informational, col(Delivery.digest_day) >= ready_before)
        ).one()
    for recipient_id, day in groups:
        if recipient_id in down or day is None:
            continue
        token = str(uuid.uuid4())
        with session_scope(engine) as session:
            statement = select(col(Delivery.id)).where(
                ~col(Delivery.immediate),
                col(Delivery.recipient) == recipient_id,
                col(Delivery.digest_day) == day,
                claimable(now),
            )
            claimed = claim(session, list(session.exec(statement)), token, now, limits)
        if not claimed:
            continue
        recipient = routing.get(recipient_id)
        claimed.sort(key=lambda pair: (pair[1].created_at, pair[1].id))
        rendered = [(d, _render(engine, d, a, names, base_url, token, result)) for d, a in claimed]
        messages = [message for _, message in rendered if message is not None]
        deliveries = [delivery for delivery, message in rendered if message is not None]
        if not deliveries:
            continue
        digest = render_digest(day, recipient.name if recipient else recipient_id, messages)
        if deliver(engine, recipient, deliveries, token, digest, now, limits, result):
            result.digests += 1
        else:
            down.add(recipient_id)
    return result


def _render(
    engine: Engine,
    delivery: Delivery,
    alert: Outbox,
    names: Names,
    base_url: str,
    token: str,
    result: DispatchResult,
) -> Message | None:
    """The alert's message; an alert that cannot be rendered is given up, the others go on."""
    try:
        return render_alert(alert, names, base_url)
    except Exception as error:  # a template or payload fault must not block every other alert
        with session_scope(engine) as session:
            mine = session.get(Delivery, delivery.id)
            if mine is not None and mine.claim_token == token:
                give_up(mine, alert, f"melding niet op te maken: {error!r}", result)
        return None


def _names(engine: Engine) -> Names:
    with Session(engine) as session:
        return Names.load(session)


def settle(engine: Engine) -> None:
    """Outbox rows whose deliveries have all finished become ``delivered`` or ``failed``."""
    open_ = exists().where(
        col(Delivery.outbox_id) == Outbox.id, col(Delivery.status).in_(("pending", "sending"))
    )
    failed = exists().where(col(Delivery.outbox_id) == Outbox.id, col(Delivery.status) == "failed")
    with session_scope(engine) as session:
        for status, condition in (("failed", failed), ("delivered", ~failed)):
            session.execute(
                update(Outbox)
                .where(col(Outbox.status).in_(("routed", "failed")), ~open_, condition)
                .values(status=status)
                .execution_options(synchronize_session=False)
            )
