"""Outbox dispatch: plan deliveries, then claim, send and record each one.

    plan     each new outbox row becomes one Delivery per routed recipient x channel (the
             unique key (outbox_id, recipient, channel) plans each once); an alert no
             recipient takes goes to the routing's fallback, and one about a fact before
             go-live (``import --historical``, ``IDFLOW_ALERTS_FROM``) is kept as historical
    claim    one delivery (or one digest's deliveries) is leased to this dispatcher and the
             lease is committed just before its message is sent (see ``ledger``)
    send     the message goes out on that one channel, with the delivery's stable key
    record   sent, retried later, or failed; one channel's trouble holds back no other

A run repeats until a pass finds nothing to do, so alerts committed while it runs go out in
the same run. A dispatcher that dies after claiming leaves its lease to expire; the next
run sends that message again with the same Message-ID / idempotency_key, so the receiver
can drop the copy: at least once, never silently lost.
"""

import uuid
from datetime import datetime, timedelta

from sqlalchemy import Engine, Table, exists, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from models import Outbox, Transition, session_scope
from models.settings import get_settings
from models.tables import Delivery
from notifications.channels import ChannelError, Outgoing, send
from notifications.ledger import (
    Clock,
    DispatchResult,
    FailedDelivery,
    Limits,
    claim,
    delivery_key,
    give_up,
    queue_counts,
    record_failure,
    record_sent,
    retry_failed,
)
from notifications.render import Message, Names, render_alert, render_digest
from notifications.routing import Routing
from procedures.alerts import HISTORICAL, before_go_live
from procedures.policy import AMSTERDAM

__all__ = ["DispatchResult", "FailedDelivery", "Limits", "dispatch", "retry_failed"]

DELIVERY: Table = Delivery.__table__  # type: ignore[attr-defined]
PLAN_CHUNK = 500  # delivery rows per INSERT (well below SQLite's limit of variables)
Down = set[tuple[str, str]]  # (recipient, channel) that failed for a passing reason this run


def dispatch(
    engine: Engine,
    routing: Routing,
    as_of: datetime | None = None,
    limits: Limits | None = None,
) -> DispatchResult:
    """One full run: plan, immediate alerts, due digests, until nothing is left to do."""
    clock, limits = Clock(as_of), limits or Limits.from_settings()
    result, down = DispatchResult(), Down()
    sender = _Sender(engine, routing, clock, limits)
    while True:
        run = plan(engine, routing, clock(), limits)
        run.merge(sender.immediate(down))
        run.merge(sender.digests(down))
        result.merge(run)
        if not run.busy:
            break
    settle(engine)
    now = clock()
    counts = queue_counts(engine, now, ready_day(now, limits))
    result.waiting, result.waiting_for_digest = counts["waiting"], counts["waiting_for_digest"]
    result.failed_total = counts["failed_total"]
    return result


def plan(engine: Engine, routing: Routing, now: datetime, limits: Limits) -> DispatchResult:
    """Give every new outbox row its deliveries (or mark it historical)."""
    result, rows = DispatchResult(), []
    with session_scope(engine) as session:
        cluster_of = Names.load(session).cluster_of
        statement = (
            select(Outbox, Transition.origin)
            .join(Transition, col(Transition.id) == Outbox.transition_id, isouter=True)
            .where(col(Outbox.status).in_(("pending", "unrouted")))
            .order_by(col(Outbox.id))
            .with_for_update(of=Outbox, skip_locked=True)  # type: ignore[arg-type]
        )
        for alert, origin in session.exec(statement).all():
            if origin == HISTORICAL or before_go_live(
                alert.kind, alert.payload, limits.alerts_from
            ):
                alert.status = "historical"
                result.historical += 1
                continue
            cluster = cluster_of.get(alert.directorate or "")
            recipients = routing.recipients_for(alert.kind, alert.directorate, cluster)
            if not recipients:
                recipients = [routing.fallback]
                result.unrouted.append(alert.cause)
            alert.status = "routed"
            rows += [_delivery(alert, r.id, c.id, now) for r in recipients for c in r.channels]
        result.planned = _insert_new(session, rows)
    return result


def _delivery(alert: Outbox, recipient: str, channel: str, now: datetime) -> dict[str, object]:
    assert alert.id is not None
    return {
        "outbox_id": alert.id,
        "recipient": recipient,
        "channel": channel,
        "immediate": alert.immediate,
        "digest_day": None if alert.immediate else local_day(alert.created_at),
        "status": "pending",
        "attempts": 0,
        "created_at": now,
    }


def _insert_new(session: Session, rows: list[dict[str, object]]) -> int:
    """Insert the deliveries not planned before (the unique key decides); how many were new."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    planned = 0
    for start in range(0, len(rows), PLAN_CHUNK):
        chunk = rows[start : start + PLAN_CHUNK]
        statement = dialect.insert(DELIVERY).values(chunk).on_conflict_do_nothing()
        new = session.connection().execute(statement.returning(DELIVERY.c.id))
        planned += len(new.all())
    return planned


def local_day(moment: datetime) -> str:
    """The Europe/Amsterdam calendar day of ``moment`` (``YYYY-MM-DD``)."""
    return moment.astimezone(AMSTERDAM).date().isoformat()


def ready_day(now: datetime, limits: Limits) -> str:
    """Digests of days before this one are due (the day is over, plus the grace time)."""
    return local_day(now - timedelta(seconds=limits.digest_grace_s))


class _Sender:
    """Claims, renders, sends and records, one message at a time."""

    def __init__(self, engine: Engine, routing: Routing, clock: Clock, limits: Limits) -> None:
        self.engine, self.routing, self.clock, self.limits = engine, routing, clock, limits
        self.base_url = get_settings().base_url
        with Session(engine) as session:
            self.names = Names.load(session)
        self.rendered: dict[int, Message | Exception] = {}

    def immediate(self, down: Down) -> DispatchResult:
        """Send every due immediate delivery, each claimed just before its send."""
        result = DispatchResult()
        while True:
            candidates = select(col(Delivery.id)).where(col(Delivery.immediate))
            if down:
                candidates = candidates.where(
                    tuple_(col(Delivery.recipient), col(Delivery.channel)).not_in(down)
                )
            claimed = self._claim(candidates.order_by(col(Delivery.id)).limit(1))
            if claimed is None:
                return result
            token, [(delivery, alert)] = claimed
            message = self._message(alert)
            if isinstance(message, Message):
                key = delivery_key(alert.cause, delivery.recipient, delivery.channel)
                self._send([(delivery, alert)], token, message, key, down, result)
            else:
                self._give_up(
                    [(delivery, alert)], token, f"melding niet op te maken: {message!r}", result
                )

    def digests(self, down: Down) -> DispatchResult:
        """One digest per recipient x channel per finished day, of that day's alerts."""
        result = DispatchResult()
        for recipient, channel, day in self._digest_groups():
            if (recipient, channel) in down:
                continue
            candidates = select(col(Delivery.id)).where(
                ~col(Delivery.immediate),
                col(Delivery.recipient) == recipient,
                col(Delivery.channel) == channel,
                col(Delivery.digest_day) == day,
            )
            claimed = self._claim(candidates)
            if claimed is None:
                continue
            token, pairs = claimed
            pairs.sort(key=lambda pair: (pair[1].created_at, pair[1].id))
            rendered = [(pair, self._message(pair[1])) for pair in pairs]
            good = [(pair, m) for pair, m in rendered if isinstance(m, Message)]
            for pair, error in rendered:
                if not isinstance(error, Message):
                    self._give_up([pair], token, f"melding niet op te maken: {error!r}", result)
            if not good:
                continue
            who = self.routing.get(recipient)
            messages = [m for _, m in good]
            digest = render_digest(day, who.name if who else recipient, messages, self.base_url)
            # The key names exactly the alerts in this digest: the same digest sent again
            # after a crash has the same key; a digest of other alerts never does.
            ids = sorted(str(delivery.id) for (delivery, _), _ in good)
            key = delivery_key("digest", day, recipient, channel, *ids)
            if self._send([pair for pair, _ in good], token, digest, key, down, result):
                result.digests += 1
        return result

    def _digest_groups(self) -> list[tuple[str, str, str]]:
        now = self.clock()
        with Session(self.engine) as session:
            statement = (
                select(Delivery.recipient, Delivery.channel, Delivery.digest_day)
                .where(~col(Delivery.immediate), col(Delivery.status).in_(("pending", "sending")))
                .where(col(Delivery.digest_day) < ready_day(now, self.limits))
                .distinct()
                .order_by(col(Delivery.digest_day), col(Delivery.recipient), col(Delivery.channel))
            )
            return [(r, c, d) for r, c, d in session.exec(statement).all() if d is not None]

    def _claim(self, candidates: object) -> tuple[str, list[tuple[Delivery, Outbox]]] | None:
        token = str(uuid.uuid4())
        with session_scope(self.engine) as session:
            pairs = claim(session, candidates, token, self.clock(), self.limits)
        return (token, pairs) if pairs else None

    def _message(self, alert: Outbox) -> Message | Exception:
        assert alert.id is not None
        if alert.id not in self.rendered:
            try:
                self.rendered[alert.id] = render_alert(alert, self.names, self.base_url)
            except Exception as error:  # a template or payload fault must not block the others
                self.rendered[alert.id] = error
        return self.rendered[alert.id]

    def _send(
        self,
        pairs: list[tuple[Delivery, Outbox]],
        token: str,
        message: Message,
        key: str,
        down: Down,
        result: DispatchResult,
    ) -> bool:
        first = pairs[0][0]
        recipient = self.routing.get(first.recipient)
        channel = recipient.channel(first.channel) if recipient else None
        if channel is None:
            missing = "ontvanger" if recipient is None else "kanaal van ontvanger"
            error = f"{missing} '{first.recipient}' staat niet (meer) in het routeringsbestand"
            self._give_up(pairs, token, error, result)
            return False
        outgoing = Outgoing(message.title, message.body, key, message.warning, message.link)
        try:
            send(channel.url, outgoing)
        except ChannelError as error:
            record_failure(self.engine, pairs, token, error, self.clock(), self.limits, result)
            if not error.permanent:
                down.add((first.recipient, first.channel))
            return False
        result.messages += 1
        result.delivered += record_sent(self.engine, [d for d, _ in pairs], token, self.clock())
        return True

    def _give_up(
        self, pairs: list[tuple[Delivery, Outbox]], token: str, error: str, result: DispatchResult
    ) -> None:
        with session_scope(self.engine) as session:
            for delivery, alert in pairs:
                mine = session.get(Delivery, delivery.id)
                if mine is not None and mine.claim_token == token:
                    give_up(mine, alert, error, result)


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
