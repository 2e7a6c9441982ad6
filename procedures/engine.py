"""The one place that applies an event: load, decide, append, update, outbox; one transaction.

Every entry point (CLI, import, web, flows) calls :func:`apply_event`. The caller owns the
outer transaction; each event runs in a savepoint, so a refused event leaves nothing behind.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select
from statemachine.exceptions import TransitionNotAllowed

from models import Directorate, ExitReason, PolicyVersion, Procedure, Transition
from procedures.alerts import causes_for
from procedures.audit import GENESIS, transition_hash
from procedures.calendar import quarter_of, year_of
from procedures.chart import (
    STATE_LABELS,
    STEPS,
    ProcedureView,
    allowed_events,
    events_in_state,
    send,
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
    event_digest,
    parse_data,
    stored_data,
)
from procedures.evidence import text_evidence
from procedures.policy import Policy

FUTURE_SLACK = timedelta(minutes=10)  # clocks of other systems may run a little ahead


@dataclass(frozen=True)
class Applied:
    """The engine's answer: the event was applied now, or had been applied before."""

    status: str  # "applied" | "duplicate"
    vacancy: str
    seq: int
    event: str
    state: str
    outcome: str | None
    round: int
    version: int


def apply_event(session: Session, event: EventIn, origin: str) -> Applied:
    """Apply one event inside the caller's transaction, or raise a domain error."""
    # Always read the stored row: in a long transaction (an import batch) the copy in the
    # session may predate another writer's commit, and deciding on it refuses valid events.
    procedure = session.get(Procedure, event.vacancy, populate_existing=True)
    policy = _policy_for(session, procedure)
    earlier = session.exec(select(Transition).where(Transition.event_id == event.id)).first()
    if earlier is not None:
        return _duplicate(earlier, event_digest(event, parse_data(event), policy), procedure)
    _check_preconditions(session, event, procedure)
    view = view_of(procedure, policy)
    if event.event not in events_in_state(view):
        raise EventNotAllowed(not_allowed_message(event.event, event.vacancy, view))
    data = parse_data(event)
    if event.event == "open":
        _check_directorate(session, data.directorate)  # type: ignore[attr-defined]
    digest = event_digest(event, data, policy)
    evidence = text_evidence(data)
    try:
        with session.begin_nested():
            return _decide_and_append(
                session, event, origin, procedure, view, data, digest, evidence
            )
    except (IntegrityError, StaleDataError):
        # Another writer may have applied this very event first (the same file imported twice
        # at once): then it is a duplicate, not a conflict.
        earlier = session.exec(select(Transition).where(Transition.event_id == event.id)).first()
        if earlier is not None:
            current = session.get(Procedure, event.vacancy, populate_existing=True)
            return _duplicate(earlier, digest, current)
        raise ConflictError(
            f"Vacature {event.vacancy} is tegelijk door iemand anders gewijzigd; "
            "laad de vacature opnieuw en probeer het nog eens."
        ) from None


def _duplicate(earlier: Transition, digest: str, procedure: Procedure | None) -> Applied:
    if earlier.digest != digest:
        raise EventIdReused(
            f"Gebeurtenis-id '{earlier.event_id}' is al gebruikt voor een andere gebeurtenis "
            f"({earlier.event} op vacature {earlier.vacancy}); kies een nieuw id."
        )
    assert procedure is not None
    return Applied(
        "duplicate",
        earlier.vacancy,
        earlier.seq,
        earlier.event,
        earlier.target,
        earlier.outcome,
        earlier.round,
        procedure.version or 0,
    )


def _check_preconditions(session: Session, event: EventIn, procedure: Procedure | None) -> None:
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
        raise RuleViolation(
            f"Gebeurtenis op {event.at.isoformat()} ligt vóór de laatste gebeurtenis van "
            f"vacature {event.vacancy} ({procedure.last_event_at.isoformat()}); "
            "gebeurtenissen moeten in tijdsvolgorde komen."
        )


def _check_directorate(session: Session, code: str) -> None:
    directorate = session.get(Directorate, code)
    if directorate is None or not directorate.active:
        raise RuleViolation(
            f"Onbekende directie '{code}'. Kies een actieve directie uit 'idflow org show', "
            "of laad de organisatie met 'idflow org load'."
        )


def _decide_and_append(
    session: Session,
    event: EventIn,
    origin: str,
    procedure: Procedure | None,
    view: ProcedureView,
    data: Any,
    digest: str,
    evidence: dict[str, Any] | None = None,
) -> Applied:
    source = view.state or "new"
    policy = view.policy
    try:
        send(view, event.event, data=data, evidence=evidence)
    except TransitionNotAllowed:  # a guard said no: still a refusal that names the state
        raise EventNotAllowed(not_allowed_message(event.event, event.vacancy, view)) from None
    now = datetime.now(UTC)
    if procedure is None:
        procedure = _new_procedure(event, data, policy)
        session.add(procedure)
    decision = view.decision
    quarter = None
    if decision.step is not None:
        quarter = quarter_of(event.at)
        if event.event == "explain":
            quarter = _quarter_of_step(session, event.vacancy, STEPS[decision.step])
    row = Transition(
        vacancy=event.vacancy,
        seq=procedure.seq + 1,
        event_id=event.id,
        digest=digest,
        event=event.event,
        source=source,
        target=view.state or source,
        outcome=decision.outcome,
        indicator=decision.indicator,
        quarter=quarter,
        round=view.round,
        directorate=procedure.directorate,
        policy_version=policy.version,
        actor=event.actor,
        origin=origin,
        at=event.at,
        recorded_at=now,
        data=stored_data(data) | ({"text_check": evidence} if evidence else {}),
        prev_hash=procedure.head_hash,
        hash="",
    )
    row.hash = transition_hash(row)
    _update_procedure(procedure, view, row, data, policy)
    session.add(row)
    session.flush()
    _write_side_rows(session, row, decision, data, now)
    return Applied(
        "applied",
        row.vacancy,
        row.seq,
        row.event,
        row.target,
        row.outcome,
        row.round,
        procedure.version or 0,
    )


def _write_side_rows(session: Session, row: Transition, decision: Any, data: Any, now: Any) -> None:
    side: list[Any] = causes_for(row, decision, now)
    if isinstance(data, ExitInterviewData) and row.id is not None:
        year = year_of(row.at)
        side += [
            ExitReason(transition_id=row.id, code=code, directorate=row.directorate, year=year)
            for code in dict.fromkeys(data.reasons)
        ]
    if side:
        session.add_all(side)
        session.flush()


def _new_procedure(event: EventIn, data: Any, policy: Policy) -> Procedure:
    return Procedure(
        vacancy=event.vacancy,
        directorate=data.directorate,
        scale=data.scale,
        title=data.title,
        kind=data.kind,
        state="new",
        policy_version=policy.version,
        opened_at=event.at,
        state_since=event.at,
        last_event_at=event.at,
        head_hash=GENESIS,
    )


def _update_procedure(
    procedure: Procedure, view: ProcedureView, row: Transition, data: Any, policy: Policy
) -> None:
    stay_changed = row.target != row.source or view.round != procedure.round
    if isinstance(data, HireData):
        procedure.employee, procedure.start_date = data.employee, data.start_date
    if isinstance(data, DepartureData):
        procedure.leave_date = data.leave_date
    procedure.state = row.target
    procedure.round = view.round
    for step, outcome in view.outcomes.items():
        setattr(procedure, f"outcome_{step}", outcome)
    procedure.last_event_at = row.at
    if stay_changed:
        procedure.state_since = row.at
        anchor = {"onboarding": procedure.start_date, "exit_interview": procedure.leave_date}
        procedure.due_at = policy.due_at(row.target, row.at, anchor.get(row.target))
    procedure.seq = row.seq
    procedure.head_hash = row.hash


def _quarter_of_step(session: Session, vacancy: str, indicator: str) -> str | None:
    statement = (
        select(Transition.quarter)
        .where(Transition.vacancy == vacancy, Transition.indicator == indicator)
        .where(Transition.event != "explain")
        .order_by(Transition.seq.desc())  # type: ignore[attr-defined]
        .limit(1)
    )
    return session.exec(statement).first()


def view_of(procedure: Procedure | None, policy: Policy) -> ProcedureView:
    """The chart's model for a stored procedure (or a fresh one for ``open``)."""
    if procedure is None:
        return ProcedureView(policy=policy)
    outcomes = {step: getattr(procedure, f"outcome_{step}") for step in STEPS}
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


_POLICIES: dict[tuple[str, int], Policy] = {}


def _policy_for(session: Session, procedure: Procedure | None) -> Policy:
    version = procedure.policy_version if procedure else current_policy_version(session)
    return load_policy(session, version)


def current_policy_version(session: Session) -> int:
    version = session.exec(select(func.max(PolicyVersion.version))).one()
    if version is None:
        raise RuleViolation("Er is geen beleid geladen; voer eerst 'idflow init' uit.")
    return int(version)


def load_policy(session: Session, version: int) -> Policy:
    """A stored policy version; versions never change once stored, so they are cached."""
    key = (str(session.get_bind().engine.url), version)
    if key not in _POLICIES:
        row = session.get(PolicyVersion, version)
        if row is None:
            raise RuleViolation(f"Beleidsversie {version} bestaat niet.")
        _POLICIES[key] = Policy.model_validate(row.body)
    return _POLICIES[key]
