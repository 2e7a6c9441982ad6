"""The one place that applies events: read, decide, write, in the caller's transaction.

Every entry point (CLI, import, web, flows) goes through :func:`apply_event` or, for a batch,
:func:`apply_events`; both are the same path. The store reads what the events need (their
procedures and event ids in a few queries), the planner decides each event in order against
what the earlier ones left, and the store writes every accepted event's rows at once.

If another writer got to one of the vacancies or event ids in between, nothing of the batch
is written and each event is applied again on its own; a single event that lost such a race
is a duplicate (the other writer applied this very event) or a :class:`ConflictError`.
"""

from collections.abc import Sequence

from sqlmodel import Session

from procedures import store
from procedures.errors import ConflictError, RefusedError
from procedures.events import EventIn
from procedures.planner import duplicate, plan_event
from procedures.rows import Applied, Plan

__all__ = ["Applied", "Outcome", "apply_event", "apply_events"]

Outcome = Applied | RefusedError | ConflictError


def apply_event(session: Session, event: EventIn, origin: str) -> Applied:
    """Apply one event inside the caller's transaction, or raise a domain error; a refused
    event has written nothing."""
    [outcome] = apply_events(session, [event], origin)
    if isinstance(outcome, Applied):
        return outcome
    raise outcome


def apply_events(session: Session, events: Sequence[EventIn], origin: str) -> list[Outcome]:
    """Apply events in order, each as it would be on its own: one answer per event."""
    conn = session.connection()
    # Always read the stored rows: in a long transaction the caller may hold older copies,
    # and deciding on them refuses valid events.
    reads = store.Reads(conn, events)
    decided = [_decide(event, origin, reads) for event in events]
    plans = [plan for plan in decided if isinstance(plan, Plan)]
    if not store.write(conn, plans):
        if len(events) == 1:
            return [_lost(session, events[0], plans[0])]
        return [apply_events(session, [event], origin)[0] for event in events]
    store.forget(session, {plan.applied.vacancy for plan in plans})
    return [plan.applied if isinstance(plan, Plan) else plan for plan in decided]


def _decide(event: EventIn, origin: str, reads: store.Reads) -> Plan | Outcome:
    try:
        plan = plan_event(event, origin, reads)
    except (RefusedError, ConflictError) as error:
        return error
    if isinstance(plan, Plan):
        reads.accept(plan)  # the events after it see what it writes
    return plan


def _lost(session: Session, event: EventIn, plan: Plan) -> Outcome:
    """The answer for an event whose write met another writer's."""
    # That writer may have applied this very event (the same file imported twice at once).
    reads = store.Reads(session.connection(), [event])
    earlier = reads.earlier(event.id)
    if earlier is None:
        return ConflictError(
            f"Vacature {event.vacancy} is tegelijk door iemand anders gewijzigd; "
            "laad de vacature opnieuw en probeer het nog eens."
        )
    try:
        return duplicate(earlier, plan.transition.digest, reads.reread(earlier.vacancy))
    except RefusedError as error:
        return error
