"""Alert causes (comply or explain): which facts P&O must hear about, written to the outbox.

Each cause has a stable key, so the same fact never becomes two alerts:

    not_met:{vacancy}:{step}             a step ended not_met (immediate)
    released:{vacancy}                   the Rooney Rule was released (immediate)
    rooney_round:{vacancy}:{round}       a Rooney round failed (informational, daily digest)
    overdue:{vacancy}:{state}:{seq}      a stay in a state passed its limit; seq is the
                                         transition that began the stay (immediate)
    below_norm:{quarter}:{directorate}   a finished quarter with a not_met outcome (immediate)
    correction:{transition id}           a step finished or explained in a closed quarter
                                         (immediate; raised by the roll-up)
    quarter_closed:{quarter}:{version}   a quarter's report was fixed (immediate)
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, Table, cast, exists, func, literal
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from models import Outbox, Procedure, Transition
from procedures.calendar import quarter_end
from procedures.chart import EVENTS_BY_STATE, STATE_LABELS, STEP_LABELS, STEPS, Decision
from procedures.errors import InvalidInput
from procedures.policy import AMSTERDAM
from procedures.report import INDICATOR_LABELS, directorate_cells
from procedures.rows import OutboxRow, TransitionRow
from procedures.store import insert_outbox

KINDS = (
    "not_met",
    "rooney_released",
    "rooney_round_failed",
    "overdue",
    "below_norm",
    "correction",
    "quarter_closed",
)
KIND_LABELS = {
    "not_met": "afwijking zonder toelichting",
    "rooney_released": "Rooney Rule losgelaten",
    "rooney_round_failed": "Rooney-ronde niet gehaald",
    "overdue": "procedure over de termijn",
    "below_norm": "directie onder de norm",
    "correction": "correctie op een vastgesteld kwartaal",
    "quarter_closed": "kwartaal vastgesteld",
}
# Kinds about the whole municipality, with no directorate: only recipients of every cluster
# ("*") take them.
MUNICIPAL_KINDS = frozenset({"quarter_closed"})
STEP_OF_STATE = {
    "text": "text",
    "biws": "biws",
    "shortlist": "rooney",
    "onboarding": "onboarding",
    "exit_interview": "exit_interview",
}
STEP_OF_INDICATOR = {indicator: step for step, indicator in STEPS.items()}
OUTBOX: Table = Outbox.__table__  # type: ignore[attr-defined]
# Transitions imported with ``idflow import --historical`` carry this origin: the alerts
# they raise are kept as historical, never sent.
HISTORICAL = "historical"
# A below-norm alert names at most this many unexplained vacancies; the report has the rest.
MAX_LISTED_VACANCIES = 25


def causes_for(row: TransitionRow, decision: Decision, now: datetime) -> list[OutboxRow]:
    """Outbox rows (without ``transition_id``, which the engine adds once the transition is
    written) for a transition about to be appended; none for most transitions."""
    facts: dict[str, object] = {
        "vacancy": row.vacancy,
        "directorate": row.directorate,
        "event": row.event,
        "at": row.at.isoformat(),
        "actor": row.actor,
    }
    if decision.outcome == "not_met" and decision.step and row.event != "explain":
        step = decision.step
        key = f"not_met:{row.vacancy}:{step}"
        payload = facts | {"step": step, "step_label": STEP_LABELS[step]}
        return [outbox_row(key, "not_met", row.vacancy, row.directorate, payload, now)]
    if decision.outcome == "released":
        payload = facts | {
            "step": "rooney",
            "step_label": STEP_LABELS["rooney"],
            "round": row.round,
        }
        key = f"released:{row.vacancy}"
        return [outbox_row(key, "rooney_released", row.vacancy, row.directorate, payload, now)]
    if decision.round_failed:
        key = f"rooney_round:{row.vacancy}:{row.round - 1}"
        payload = facts | {
            "step": "rooney",
            "step_label": STEP_LABELS["rooney"],
            "failed_round": row.round - 1,
            "new_round": row.round,
        }
        kind = "rooney_round_failed"
        return [outbox_row(key, kind, row.vacancy, row.directorate, payload, now, immediate=False)]
    return []


def outbox_row(
    key: str,
    kind: str,
    vacancy: str | None,
    directorate: str | None,
    payload: dict[str, Any],
    now: datetime,
    *,
    immediate: bool = True,
    transition_id: int | None = None,
) -> OutboxRow:
    """The one place an alert cause becomes an outbox row, not sent yet; the engine names
    the transition of its causes once that is written."""
    return OutboxRow(key, kind, immediate, vacancy, directorate, transition_id, now, payload)


def scan_overdue(session: Session, as_of: datetime) -> list[Outbox]:
    """Raise an alert for every stay overdue at ``as_of`` that has none yet (one per stay)."""
    stay_seq = (
        select(func.min(Transition.seq))
        .where(
            Transition.vacancy == Procedure.vacancy,
            Transition.target == Procedure.state,
            Transition.round == Procedure.round,
            Transition.at == Procedure.state_since,
        )
        .scalar_subquery()
    )
    began = aliased(Transition)
    actor = (
        select(began.actor)
        .where(began.vacancy == Procedure.vacancy, began.seq == stay_seq)
        .scalar_subquery()
        .label("actor")
    )
    key = (
        literal("overdue:")
        + col(Procedure.vacancy)
        + literal(":")
        + col(Procedure.state)
        + literal(":")
        + cast(stay_seq, String)
    ).label("cause")
    stays = (
        select(Procedure, key, actor).where(col(Procedure.due_at) < as_of).subquery()  # type: ignore[call-overload]
    )
    new = sa_select(stays).where(~exists().where(col(Outbox.cause) == stays.c.cause))
    now = datetime.now(UTC)
    rows = [_overdue_row(stay._mapping, now) for stay in session.execute(new)]
    return insert_causes(session, rows)


def _overdue_row(stay: Any, now: datetime) -> OutboxRow:
    state = stay["state"]
    step = STEP_OF_STATE.get(state)
    payload = {
        "vacancy": stay["vacancy"],
        "directorate": stay["directorate"],
        "title": stay["title"],
        "state": state,
        "state_label": STATE_LABELS.get(state, state),
        "step": step,
        "step_label": STEP_LABELS[step] if step else STATE_LABELS.get(state, state),
        "round": stay["round"],
        "since": _iso(stay["state_since"]),
        "due_at": _iso(stay["due_at"]),
        "next_events": [e for e in EVENTS_BY_STATE.get(state, ()) if e != "explain"],
        "actor": stay["actor"],
    }
    return outbox_row(stay["cause"], "overdue", stay["vacancy"], stay["directorate"], payload, now)


def below_norm_causes(session: Session, quarter: str) -> list[Outbox]:
    """Raise one alert per directorate below norm in ``quarter`` (from the rolled-up tallies)."""
    below: dict[str, list[dict[str, Any]]] = {}
    for (_, directorate, indicator), cell in sorted(directorate_cells(session, [quarter]).items()):
        if cell.status == "below_norm":
            below.setdefault(directorate, []).append(
                {
                    "indicator": indicator,
                    "label": INDICATOR_LABELS[indicator],
                    "not_met": cell.not_met,
                    "total": cell.total,
                    "pct_met": cell.pct_met,
                }
            )
    if not below:
        return []
    vacancies = _unexplained(session, quarter, list(below))
    now = datetime.now(UTC)
    rows = [
        outbox_row(
            f"below_norm:{quarter}:{directorate}",
            "below_norm",
            None,
            directorate,
            {
                "quarter": quarter,
                "directorate": directorate,
                "indicators": indicators,
                "vacancies": vacancies.get(directorate, [])[:MAX_LISTED_VACANCIES],
                "more_vacancies": max(
                    0, len(vacancies.get(directorate, [])) - MAX_LISTED_VACANCIES
                ),
            },
            now,
        )
        for directorate, indicators in below.items()
    ]
    return insert_causes(session, rows)


def _unexplained(
    session: Session, quarter: str, directorates: Sequence[str]
) -> dict[str, list[dict[str, str]]]:
    """Deviations of ``quarter`` still without an explanation, per directorate."""
    later = aliased(Transition)
    statement = (
        select(Transition.directorate, Transition.vacancy, Transition.indicator, Transition.actor)
        .where(Transition.quarter == quarter, Transition.outcome == "not_met")
        .where(Transition.event != "explain", col(Transition.directorate).in_(directorates))
        .where(
            ~exists().where(
                col(later.vacancy) == Transition.vacancy,
                col(later.indicator) == Transition.indicator,
                col(later.event) == "explain",
            )
        )
        .order_by(col(Transition.directorate), col(Transition.vacancy))
    )
    result: dict[str, list[dict[str, str]]] = {}
    for directorate, vacancy, indicator, actor in session.exec(statement):  # type: ignore[call-overload]
        step = STEP_OF_INDICATOR.get(indicator or "", "")
        result.setdefault(directorate, []).append(
            {"vacancy": vacancy, "indicator": indicator or "", "step": step, "actor": actor}
        )
    return result


def insert_causes(session: Session, rows: list[OutboxRow]) -> list[Outbox]:
    """Insert the outbox rows whose cause is new and return them; known causes are skipped."""
    keys = [row.cause for row in rows]
    known = (
        set(session.exec(select(Outbox.cause).where(col(Outbox.cause).in_(keys))))
        if keys
        else set()
    )
    rows = [row for row in rows if row.cause not in known]
    if not rows:
        return []
    # A concurrent scan may insert the same cause first: the unique key decides, quietly.
    insert_outbox(session.connection(), rows)
    new_keys = [row.cause for row in rows]
    return list(session.exec(select(Outbox).where(col(Outbox.cause).in_(new_keys))))


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(AMSTERDAM).isoformat() if moment else None


def parse_as_of(text: str | None) -> datetime:
    """An "as of" moment: ISO 8601, without an offset Amsterdam time; empty means now."""
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"Ongeldig tijdstip '{text}': gebruik ISO 8601, bijv. 2025-04-01 of 2025-04-01T07:00."
        ) from None
    return moment.replace(tzinfo=AMSTERDAM) if moment.tzinfo is None else moment


def fact_moment(kind: str, payload: dict[str, Any]) -> datetime | None:
    """When the fact an alert reports happened: the event, the passed limit, the quarter's end."""
    if kind == "below_norm":
        return quarter_end(payload["quarter"])
    moment = payload.get("due_at" if kind == "overdue" else "at")
    return datetime.fromisoformat(moment) if moment else None


def before_go_live(kind: str, payload: dict[str, Any], alerts_from: datetime | None) -> bool:
    """True when the alert reports a fact from before ``alerts_from`` (go-live)."""
    moment = fact_moment(kind, payload) if alerts_from else None
    return moment is not None and alerts_from is not None and moment < alerts_from
