"""The peer: what a typical team would write with python-statemachine and SQLModel for the same
chart: per event, load the row, build the machine, send, add the transition, commit.

Its own two tables (in their own SQLModel registry, so idflow's schema never sees them), the
same event parsing and the same ``VacancyChart``; no hash chain, no digest, no outbox.
"""

import time
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy.orm import registry
from sqlmodel import Field, Session, SQLModel

from models.database import get_engine
from procedures.chart import STEPS, ProcedureView, VacancyChart
from procedures.events import parse_data, parse_event
from procedures.evidence import text_evidence
from procedures.policy import default_policy


class PeerModel(SQLModel, registry=registry()):
    pass


class PeerProcedure(PeerModel, table=True):
    __tablename__ = "peer_procedure"
    vacancy: str = Field(primary_key=True)
    directorate: str
    state: str
    round: int = 1
    outcome_text: str | None = None
    outcome_biws: str | None = None
    outcome_rooney: str | None = None
    outcome_onboarding: str | None = None
    outcome_exit_interview: str | None = None
    start_date: date | None = None
    seq: int = 0


class PeerTransition(PeerModel, table=True):
    __tablename__ = "peer_transition"
    id: int | None = Field(default=None, primary_key=True)
    vacancy: str = Field(index=True)
    seq: int
    event_id: str = Field(unique=True)
    event: str
    source: str
    target: str
    outcome: str | None = None
    at: datetime
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


def run(url: str, events: list[dict[str, Any]]) -> float:
    """Seconds for the events, each in its own committed transaction."""
    engine = get_engine(url)  # idflow's connection settings (SQLite: WAL, BEGIN IMMEDIATE)
    PeerModel.metadata.create_all(engine)
    policy = default_policy()
    started = time.perf_counter()
    for raw in events:
        event = parse_event(raw)
        data = parse_data(event)
        with Session(engine) as session:
            row = session.get(PeerProcedure, event.vacancy)
            if row is None:  # an open
                directorate = getattr(data, "directorate", "")
                row = PeerProcedure(vacancy=event.vacancy, directorate=directorate, state="new")
            outcomes = {step: getattr(row, f"outcome_{step}") for step in STEPS}
            view = ProcedureView(policy, row.state, row.round, outcomes, start_date=row.start_date)
            VacancyChart(view, state_field="state").send(
                event.event, data=data, evidence=text_evidence(data)
            )
            source = row.state
            row.state, row.round, row.seq = view.state or "new", view.round, row.seq + 1
            for step, outcome in view.outcomes.items():
                setattr(row, f"outcome_{step}", outcome)
            row.start_date = getattr(data, "start_date", row.start_date)
            session.add(row)
            session.add(
                PeerTransition(
                    vacancy=row.vacancy,
                    seq=row.seq,
                    event_id=event.id,
                    event=event.event,
                    source=source,
                    target=row.state,
                    outcome=view.decision.outcome,
                    at=event.at,
                    data=data.model_dump(mode="json", exclude={"diverse"}),
                )
            )
            session.commit()
    return time.perf_counter() - started
