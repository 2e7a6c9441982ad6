"""Read models for people: one procedure in full, and filtered lists."""

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from models import Directorate, Outbox, Procedure, Transition
from procedures.chart import STATE_LABELS, STEPS, allowed_events
from procedures.errors import UnknownVacancy
from procedures.planner import view_of
from procedures.policy import AMSTERDAM
from procedures.store import load_policy


def procedure_detail(session: Session, vacancy: str) -> dict[str, Any]:
    """State, round, outcomes per indicator, history and the events allowed now."""
    procedure = session.get(Procedure, vacancy)
    if procedure is None:
        raise UnknownVacancy(f"Vacature {vacancy} bestaat niet.")
    view = view_of(procedure, load_policy(session, procedure.policy_version))
    history = session.exec(
        select(Transition).where(Transition.vacancy == vacancy).order_by(col(Transition.seq))
    ).all()
    return {
        "vacancy": procedure.vacancy,
        "directorate": procedure.directorate,
        "title": procedure.title,
        "scale": procedure.scale,
        "kind": procedure.kind,
        "state": procedure.state,
        "state_label": STATE_LABELS[procedure.state],
        "round": procedure.round,
        "version": procedure.version,
        "policy_version": procedure.policy_version,
        "due_at": _local(procedure.due_at) if procedure.due_at else None,
        "outcomes": {STEPS[step]: outcome for step, outcome in view.outcomes.items()},
        "allowed_events": allowed_events(view),
        "history": [_history_row(t) for t in history],
    }


def _history_row(row: Transition) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "at": _local(row.at),
        # When it was entered: an `at` long before this moment is a backdated entry.
        "recorded_at": _local(row.recorded_at),
        "event": row.event,
        "source": row.source,
        "target": row.target,
        "outcome": row.outcome,
        "indicator": row.indicator,
        "round": row.round,
        "actor": row.actor,
        "origin": row.origin,
        "data": row.data,
    }


def _local(moment: datetime) -> str:
    return moment.astimezone(AMSTERDAM).isoformat()


def list_procedures(
    session: Session,
    directorate: str | None = None,
    cluster: str | None = None,
    state: str | None = None,
    overdue_at: datetime | None = None,
    awaiting_explanation: bool = False,
    limit: int = 200,
) -> list[Procedure]:
    """Procedures matching every filter given, most recently changed first."""
    statement = select(Procedure)
    if directorate:
        statement = statement.where(Procedure.directorate == directorate)
    if cluster:
        members = select(Directorate.code).where(Directorate.cluster_code == cluster)
        statement = statement.where(col(Procedure.directorate).in_(members))
    if state:
        statement = statement.where(Procedure.state == state)
    if overdue_at is not None:
        statement = statement.where(col(Procedure.due_at) < overdue_at)
    if awaiting_explanation:
        columns = [col(getattr(Procedure, f"outcome_{step}")) == "not_met" for step in STEPS]
        statement = statement.where(or_(*columns))
    statement = statement.order_by(col(Procedure.last_event_at).desc()).limit(limit)
    return list(session.exec(statement))


# -- read models for the web app (scoped to the directorates a user may see) ----------------


def find_procedures(
    session: Session,
    scope: Collection[str] | None = None,
    directorate: str | None = None,
    state: str | None = None,
    overdue_at: datetime | None = None,
    awaiting_explanation: bool = False,
    search: str | None = None,
    limit: int = 200,
) -> list[Procedure]:
    """Like :func:`list_procedures`, within ``scope`` (None: all) and matching ``search``."""
    statement = select(Procedure)
    if scope is not None:
        statement = statement.where(col(Procedure.directorate).in_(list(scope)))
    if directorate:
        statement = statement.where(Procedure.directorate == directorate)
    if state:
        statement = statement.where(Procedure.state == state)
    if overdue_at is not None:
        statement = statement.where(col(Procedure.due_at) < overdue_at)
    if awaiting_explanation:
        columns = [col(getattr(Procedure, f"outcome_{step}")) == "not_met" for step in STEPS]
        statement = statement.where(or_(*columns))
    if search and search.strip():
        pattern = f"%{search.strip().lower()}%"
        statement = statement.where(
            or_(
                func.lower(col(Procedure.vacancy)).like(pattern),
                func.lower(col(Procedure.title)).like(pattern),
            )
        )
    statement = statement.order_by(col(Procedure.last_event_at).desc()).limit(limit)
    return list(session.exec(statement))


def directorates_of(session: Session, vacancies: Collection[str]) -> dict[str, str]:
    """vacancy -> directorate for the vacancies that exist."""
    if not vacancies:
        return {}
    statement = select(Procedure.vacancy, Procedure.directorate).where(
        col(Procedure.vacancy).in_(list(vacancies))
    )
    return {vacancy: directorate for vacancy, directorate in session.exec(statement)}


def directorate_choices(session: Session) -> list[dict[str, str]]:
    """Active directorates with their cluster, for pick lists."""
    statement = select(Directorate).where(col(Directorate.active)).order_by(col(Directorate.code))
    return [
        {"code": d.code, "name": d.name, "cluster": d.cluster_code} for d in session.exec(statement)
    ]


def alert_rows(
    session: Session, scope: Collection[str] | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest outbox rows (alert causes and their delivery status)."""
    statement = select(Outbox)
    if scope is not None:
        statement = statement.where(col(Outbox.directorate).in_(list(scope)))
    statement = statement.order_by(col(Outbox.id).desc()).limit(limit)
    return [
        {
            "id": row.id,
            "kind": row.kind,
            "immediate": row.immediate,
            "vacancy": row.vacancy,
            "directorate": row.directorate,
            "created_at": _local(row.created_at),
            "status": row.status,
            "payload": row.payload,
        }
        for row in session.exec(statement)
    ]
