"""What several test modules share: DOMAIN.md's vocabulary written out, simulated data, and
the senders of events: through the engine, or through the planner against an in-memory store.

The events and the BIWS checklist are copied from DOMAIN.md on purpose, not imported from
``procedures``: the tests that use them check the implementation against the specification.
"""

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from procedures.engine import apply_event
from procedures.events import EventIn, parse_event
from procedures.memory import MemoryReads
from procedures.organisation import parse_org_csv, sample_csv
from procedures.planner import plan_event
from procedures.policy import Policy, default_policy
from procedures.rows import Applied, OutboxRow, Plan, TransitionRow

EVENTS = (
    "open",
    "approve_text",
    "deviate_text",
    "complete_biws",
    "deviate_biws",
    "submit_shortlist",
    "deviate_shortlist",
    "hire",
    "cancel",
    "complete_onboarding",
    "deviate_onboarding",
    "register_departure",
    "record_exit_interview",
    "deviate_exit_interview",
    "explain",
)
CHECKLIST = {
    item: True
    for item in (
        "diverse_committee",
        "criteria_fixed_before_publication",
        "criteria_job_relevant",
        "committee_bias_trained",
        "structured_interview",
        "independent_scoring",
        "rejections_reviewed",
        "decision_justified",
    )
}


def simulated_database(
    url: str, seed: int, first: date, until: datetime, per_year: float
) -> Engine:
    """A new idflow database at ``url`` with simulated procedures for every directorate,
    imported through the engine (not rolled up)."""
    from models import Directorate
    from models.database import get_engine
    from procedures.setup import initialise
    from procedures.store import current_policy_version, load_policy
    from workflows.importer import import_events
    from workflows.simulate import Simulator

    engine = get_engine(url)
    with Session(engine) as session:
        initialise(engine, session)
        session.commit()
        policy = load_policy(session, current_policy_version(session))
        directorates = list(session.exec(select(Directorate.code)))
    events = Simulator(policy, directorates, seed=seed).events(first, until, per_year=per_year)
    import_events(engine, enumerate(events, 1), origin="test")
    return engine


class Sender:
    """Sends events as the CLI does, one at a time; ``apply`` is where each one goes."""

    def __init__(self, apply: Callable[[EventIn], Applied]) -> None:
        self.apply = apply
        self.count = 0

    def __call__(
        self, vacancy: str, event: str, at: str, data: dict[str, Any] | None = None, **extra: Any
    ) -> Applied:
        self.count += 1
        raw = {
            "id": extra.pop("id", f"t-{self.count}"),
            "vacancy": vacancy,
            "event": event,
            "at": at,
            "actor": extra.pop("actor", "recruiter-1"),
            "data": data or {},
            **extra,
        }
        return self.apply(parse_event(raw))


def through_engine(engine: Engine) -> Callable[[EventIn], Applied]:
    """Each event through the engine in a committed transaction of its own."""

    def apply(event: EventIn) -> Applied:
        with Session(engine) as session:
            result = apply_event(session, event, origin="test")
            session.commit()
        return result

    return apply


class FakeStore(MemoryReads):
    """The engine's store in memory (cosmicpython's ``FakeRepository`` shape): the default
    policy, the example organisation's directorates, and every row the planner decided."""

    def __init__(self, policy: Policy | None = None) -> None:
        directorates = {row.directorate_code: True for row in parse_org_csv(sample_csv())}
        super().__init__({1: policy or default_policy()}, directorates)
        self.transitions: list[TransitionRow] = []
        self.outbox: list[OutboxRow] = []

    def accept(self, plan: Plan) -> None:
        super().accept(plan)
        self.transitions.append(plan.transition)
        self.outbox += plan.outbox

    def apply(self, event: EventIn) -> Applied:
        """What the engine does with one event, without a database: decide it, keep it."""
        plan = plan_event(event, "test", self)
        if isinstance(plan, Plan):
            self.accept(plan)
            return plan.applied
        return plan
