"""The rows an accepted event writes, typed: what the planner decides and the store writes.

One dataclass per table, its fields the table's columns (``tests/test_store.py`` checks that
they stay the same), so a row goes to the database as it is and comes back the same way.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple


@dataclass
class ProcedureRow:
    """The ``procedure`` table: one vacancy's procedure as it stands."""

    vacancy: str
    directorate: str
    scale: int
    title: str
    kind: str
    state: str
    round: int
    policy_version: int
    outcome_text: str | None
    outcome_biws: str | None
    outcome_rooney: str | None
    outcome_onboarding: str | None
    outcome_exit_interview: str | None
    employee: str | None
    start_date: date | None
    leave_date: date | None
    opened_at: datetime
    state_since: datetime
    last_event_at: datetime
    due_at: datetime | None
    seq: int
    head_hash: str
    version: int


@dataclass
class TransitionRow:
    """The ``transition`` table without its generated ``id``: one accepted event."""

    vacancy: str
    seq: int
    event_id: str
    digest: str
    event: str
    source: str
    target: str
    outcome: str | None
    indicator: str | None
    quarter: str | None
    round: int
    directorate: str
    policy_version: int
    actor: str
    origin: str
    at: datetime
    recorded_at: datetime
    data: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class OutboxRow:
    """The ``outbox`` table without its generated ``id``: one alert cause."""

    cause: str
    kind: str
    immediate: bool
    vacancy: str | None
    directorate: str | None
    transition_id: int | None  # the engine's causes get theirs once the transition is written
    created_at: datetime
    payload: dict[str, Any]
    status: str = "pending"


@dataclass(frozen=True)
class ExitReasonRow:
    """The ``exit_reason`` table: one reason code given in an exit interview."""

    transition_id: int | None  # known once the transition is written
    code: str
    directorate: str
    year: int


class Earlier(NamedTuple):
    """What a transition already written is recognised by, and a duplicate answered with."""

    event_id: str
    digest: str
    vacancy: str
    seq: int
    event: str
    target: str
    outcome: str | None
    round: int


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


@dataclass
class Plan:
    """What one accepted event writes: its transition, the procedure after it, side rows."""

    applied: Applied
    transition: TransitionRow
    procedure: ProcedureRow  # the procedure after the event
    before: ProcedureRow | None  # the procedure the decision was made on; None for a new one
    outbox: list[OutboxRow] = field(default_factory=list)
    reasons: list[ExitReasonRow] = field(default_factory=list)
