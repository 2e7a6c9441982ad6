"""Deciding one event, pure: the rows it writes, from what ``Reads`` answers; no I/O.

:func:`plan_event` judges an event against its procedure as ``Reads`` has it and returns the
:class:`Plan` (the transition, the procedure after it, its alert causes and exit reasons),
the earlier answer when the event is a duplicate, or raises the domain error that says why
not. ``Reads`` is answered by the store (``procedures.store.Reads``) or from memory alone
(``procedures.memory.MemoryReads``, which the rule tests use without a database).
"""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from procedures.alerts import causes_for
from procedures.audit import GENESIS, transition_hash
from procedures.calendar import quarter_of, year_of
from procedures.chart import (
    STATE_LABELS,
    STEPS,
    NoTransition,
    ProcedureView,
    allowed_events,
    decide,
    events_in_state,
)
from procedures.errors import (
    ConflictError,
    EventIdReused,
    EventNotAllowed,
    RuleViolation,
    UnknownVacancy,
)
from procedures.events import (
    DepartureData,
    EventIn,
    ExitInterviewData,
    HireData,
    OpenData,
    event_digest,
    parse_data,
    stored_data,
)
from procedures.evidence import text_evidence
from procedures.policy import AMSTERDAM, Policy
from procedures.rows import Applied, Earlier, ExitReasonRow, Plan, ProcedureRow, TransitionRow

FUTURE_SLACK = timedelta(minutes=10)  # clocks of other systems may run a little ahead


class Reads(Protocol):
    """What a decision reads."""

    def procedure(self, vacancy: str) -> ProcedureRow | None:
        """The procedure as this decision sees it (after the batch's earlier events)."""

    def reread(self, vacancy: str) -> ProcedureRow | None:
        """The stored procedure, read again now."""

    def earlier(self, event_id: str) -> Earlier | None:
        """The transition already written (or accepted earlier) for this event id."""

    def policy(self, version: int | None) -> Policy:
        """A policy version; None: the current one (for a new procedure)."""

    def directorate_active(self, code: str) -> bool: ...

    def step_quarter(self, vacancy: str, indicator: str) -> str | None:
        """The quarter of the newest transition that finished this step (not an explain)."""


class StoredProcedure(Protocol):
    """What the chart's view needs of a procedure: a row, or the ORM object of the table."""

    state: str
    round: int
    start_date: date | None
    outcome_text: str | None
    outcome_biws: str | None
    outcome_rooney: str | None
    outcome_onboarding: str | None
    outcome_exit_interview: str | None


def plan_event(event: EventIn, origin: str, reads: Reads) -> Plan | Applied:
    """Decide one event: the rows to write, the earlier answer for a duplicate, or a domain
    error. Reads nothing but through ``reads``."""
    procedure = reads.procedure(event.vacancy)
    policy = reads.policy(procedure.policy_version if procedure else None)
    earlier = reads.earlier(event.id)
    if earlier is not None:
        if procedure is None or procedure.seq < earlier.seq:
            # Another writer committed it after the procedure was read: read that again.
            procedure = reads.reread(earlier.vacancy)
        return duplicate(earlier, event_digest(event, parse_data(event), policy), procedure)
    _check_preconditions(event, procedure)
    view = view_of(procedure, policy)
    if event.event not in events_in_state(view):
        raise EventNotAllowed(not_allowed_message(event.event, event.vacancy, view))
    data = parse_data(event)
    if isinstance(data, OpenData):  # only `open` has it, for a vacancy not opened yet
        _check_directorate(data.directorate, reads)
        start = _opened(event, data, policy)
    else:
        assert procedure is not None  # the preconditions refused an unknown vacancy
        start = procedure
    evidence = text_evidence(data)
    try:
        decide(view, event.event, data=data, evidence=evidence)
    except NoTransition:  # a guard said no: still a refusal that names the state
        raise EventNotAllowed(not_allowed_message(event.event, event.vacancy, view)) from None
    kept = stored_data(data) | ({"text_check": evidence} if evidence else {})
    digest = event_digest(event, data, policy)
    row = _transition(event, origin, start, view, digest, kept, _quarter(event, view, reads))
    after = _procedure_after(start, view, row, data)
    applied = _answer("applied", row, after.version)
    outbox = causes_for(row, view.decision, row.recorded_at)
    return Plan(applied, row, after, procedure, outbox, _exit_reasons(row, data))


def duplicate(earlier: Earlier, digest: str, procedure: ProcedureRow | None) -> Applied:
    """The earlier answer to an event id seen before, or ``EventIdReused`` for other content."""
    if earlier.digest != digest:
        raise EventIdReused(
            f"Gebeurtenis-id '{earlier.event_id}' is al gebruikt voor een andere gebeurtenis "
            f"({earlier.event} op vacature {earlier.vacancy}); kies een nieuw id."
        )
    assert procedure is not None  # the same content names the same, existing vacancy
    return _answer("duplicate", earlier, procedure.version)


def _answer(status: str, row: Earlier | TransitionRow, version: int) -> Applied:
    return Applied(
        status, row.vacancy, row.seq, row.event, row.target, row.outcome, row.round, version
    )


def _check_preconditions(event: EventIn, procedure: ProcedureRow | None) -> None:
    if event.at > datetime.now(UTC) + FUTURE_SLACK:
        # A moment in the future would also block every real event after it (time order).
        raise RuleViolation(
            f"Gebeurtenis op {event.at.isoformat()} ligt in de toekomst; een gebeurtenis "
            "legt vast wat al gebeurd is (hoogstens 10 minuten na nu, voor klokverschillen)."
        )
    if event.event == "open":
        if procedure is not None:
            raise EventNotAllowed(
                f"Vacature {event.vacancy} bestaat al (toestand '{procedure.state}'); "
                "open een nieuwe vacature met een ander vacaturenummer."
            )
        return
    if procedure is None:
        raise UnknownVacancy(
            f"Vacature {event.vacancy} bestaat niet; open haar eerst met de gebeurtenis 'open'."
        )
    # A writer who saw an older version hears that first: every other check would judge the
    # event against a state that writer never saw.
    if event.expected_version is not None and event.expected_version != procedure.version:
        raise ConflictError(
            f"Vacature {event.vacancy} is intussen gewijzigd (versie {procedure.version}, "
            f"u zag versie {event.expected_version}); laad de vacature opnieuw."
        )
    if event.at < procedure.last_event_at:
        last = procedure.last_event_at.astimezone(AMSTERDAM).isoformat()
        raise RuleViolation(
            f"Gebeurtenis op {event.at.isoformat()} ligt vóór de laatste gebeurtenis van "
            f"vacature {event.vacancy} ({last}); "
            "gebeurtenissen moeten in tijdsvolgorde komen."
        )


def _transition(
    event: EventIn,
    origin: str,
    start: ProcedureRow,
    view: ProcedureView,
    digest: str,
    kept: dict[str, Any],
    quarter: str | None,
) -> TransitionRow:
    """The transition row of an accepted event, hash-chained to the procedure's last one."""
    row = TransitionRow(
        vacancy=event.vacancy,
        seq=start.seq + 1,
        event_id=event.id,
        digest=digest,
        event=event.event,
        source=start.state,
        target=view.state or start.state,
        outcome=view.decision.outcome,
        indicator=view.decision.indicator,
        quarter=quarter,
        round=view.round,
        directorate=start.directorate,
        policy_version=view.policy.version,
        actor=event.actor,
        origin=origin,
        at=event.at,
        recorded_at=datetime.now(UTC),
        data=kept,
        prev_hash=start.head_hash,
        hash="",
    )
    row.hash = transition_hash(row)
    return row


def _check_directorate(code: str, reads: Reads) -> None:
    if not reads.directorate_active(code):
        raise RuleViolation(
            f"Onbekende directie '{code}'. Kies een actieve directie uit "
            "'idflow org show', of laad de organisatie met 'idflow org load'."
        )


def _quarter(event: EventIn, view: ProcedureView, reads: Reads) -> str | None:
    """The quarter a finished step counts in; a late explanation keeps the step's quarter."""
    step = view.decision.step
    if step is None:
        return None
    if event.event == "explain":
        return reads.step_quarter(event.vacancy, STEPS[step])
    return quarter_of(event.at)


def _opened(event: EventIn, data: OpenData, policy: Policy) -> ProcedureRow:
    """The procedure an ``open`` starts from, before its first transition."""
    return ProcedureRow(
        vacancy=event.vacancy,
        directorate=data.directorate,
        scale=data.scale,
        title=data.title,
        kind=data.kind,
        state="new",
        round=1,
        policy_version=policy.version,
        outcome_text=None,
        outcome_biws=None,
        outcome_rooney=None,
        outcome_onboarding=None,
        outcome_exit_interview=None,
        employee=None,
        start_date=None,
        leave_date=None,
        opened_at=event.at,
        state_since=event.at,
        last_event_at=event.at,
        due_at=None,
        seq=0,
        head_hash=GENESIS,
        version=0,
    )


def _procedure_after(
    before: ProcedureRow, view: ProcedureView, row: TransitionRow, data: object
) -> ProcedureRow:
    """The procedure once the transition is applied (``before`` stays as it was)."""
    after = replace(
        before,
        state=row.target,
        round=view.round,
        outcome_text=view.outcomes["text"],
        outcome_biws=view.outcomes["biws"],
        outcome_rooney=view.outcomes["rooney"],
        outcome_onboarding=view.outcomes["onboarding"],
        outcome_exit_interview=view.outcomes["exit_interview"],
        last_event_at=row.at,
        seq=row.seq,
        head_hash=row.hash,
        version=before.version + 1,
    )
    if isinstance(data, HireData):
        after.employee, after.start_date = data.employee, data.start_date
    if isinstance(data, DepartureData):
        after.leave_date = data.leave_date
    if row.target != row.source or view.round != before.round:  # a new stay begins
        after.state_since = row.at
        anchor = {"onboarding": after.start_date, "exit_interview": after.leave_date}
        after.due_at = view.policy.due_at(row.target, row.at, anchor.get(row.target))
    return after


def _exit_reasons(row: TransitionRow, data: object) -> list[ExitReasonRow]:
    if not isinstance(data, ExitInterviewData):
        return []
    year = year_of(row.at)
    return [
        ExitReasonRow(None, code, row.directorate, year) for code in dict.fromkeys(data.reasons)
    ]


def view_of(procedure: StoredProcedure | None, policy: Policy) -> ProcedureView:
    """The chart's model for a stored procedure (or a fresh one for ``open``)."""
    if procedure is None:
        return ProcedureView(policy=policy)
    outcomes = {
        "text": procedure.outcome_text,
        "biws": procedure.outcome_biws,
        "rooney": procedure.outcome_rooney,
        "onboarding": procedure.outcome_onboarding,
        "exit_interview": procedure.outcome_exit_interview,
    }
    return ProcedureView(
        policy=policy,
        state=procedure.state,
        round=procedure.round,
        outcomes=outcomes,
        start_date=procedure.start_date,
    )


def not_allowed_message(event: str, vacancy: str, view: ProcedureView) -> str:
    state = view.state or "new"
    allowed = allowed_events(view)
    label = STATE_LABELS.get(state, state)
    now_allowed = ", ".join(allowed) if allowed else "geen (de procedure is afgesloten)"
    return (
        f"De gebeurtenis '{event}' is niet toegestaan voor vacature {vacancy} in de toestand "
        f"'{state}' ({label}). Nu toegestaan: {now_allowed}."
    )
