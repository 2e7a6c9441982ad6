"""Simulated years as they happened: events entered when a recruiter would enter them, each
quarter closed when the close deployment would close it, and each year's report published
once its fourth quarter is closed.

``idflow demo`` and the disclosure tests replay their data this way, so what they publish has
what real publications have: late events and late explanations, the corrections they cause,
several publications of the same figures, and a yearly report.
"""

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from models import session_scope
from procedures.calendar import parse_quarter, quarter_of, shift_quarter
from procedures.policy import Policy
from procedures.quarters import close_due, close_quarter
from procedures.snapshots import current_snapshots
from workflows.importer import ImportSummary, import_events

LATE_SHARE = 0.06  # vacancies whose events reach idflow weeks after they happened
LATE_DAYS = (20, 50)


def _draw(text: str) -> float:
    """A stable number in [0, 1) for ``text`` (the same event, the same draw)."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 16**8


def _lag(vacancy: str) -> timedelta:
    if _draw(vacancy) >= LATE_SHARE:
        return timedelta(0)
    low, high = LATE_DAYS
    return timedelta(days=low + int(_draw(vacancy + "/lag") * (high - low)))


def entry_moments(events: Iterable[dict[str, Any]]) -> list[tuple[datetime, dict[str, Any]]]:
    """Each event with the moment it is entered: when it happened, or for a few vacancies
    some weeks later; a vacancy's events are entered in their own order."""
    entered: list[tuple[datetime, dict[str, Any]]] = []
    last: dict[str, datetime] = {}
    for event in events:
        vacancy = event["vacancy"]
        moment = datetime.fromisoformat(event["at"]) + _lag(vacancy)
        if vacancy in last:
            moment = max(moment, last[vacancy])
        last[vacancy] = moment
        entered.append((moment, event))
    entered.sort(key=lambda pair: pair[0])
    return entered


@dataclass
class Replayed:
    """What a replay did: the import summary, the quarters closed and years published."""

    summary: ImportSummary = field(default_factory=ImportSummary)
    closed: list[str] = field(default_factory=list)
    years: list[int] = field(default_factory=list)


def replay(
    engine: Engine,
    events: Iterable[dict[str, Any]],
    policy: Policy,
    now: datetime,
    actor: str = "idflow-demo",
    on_close: Callable[[str, float], None] | None = None,
) -> Replayed:
    """Enter ``events`` up to ``now`` in the order they are entered, closing each quarter at
    the moment it falls due and publishing each year once its fourth quarter is closed."""
    from procedures.report_year import publish_year

    entered = [pair for pair in entry_moments(events) if pair[0] <= now]
    done = Replayed()
    if not entered:
        return done
    quarter, position = quarter_of(entered[0][0]), 0
    while close_due(policy, quarter) <= now:
        due = close_due(policy, quarter)
        position = _enter(engine, entered, position, due, done.summary)
        started = time.perf_counter()
        with session_scope(engine) as session:
            if close_quarter(session, quarter, actor, now=due).created:
                done.closed.append(quarter)
        if on_close:
            on_close(quarter, time.perf_counter() - started)
        year, number = parse_quarter(quarter)
        with session_scope(engine) as session:
            whole = set(current_snapshots(session)) >= {f"{year}Q{n}" for n in range(1, 5)}
            if number == 4 and whole and publish_year(session, year, actor, now=due).created:
                done.years.append(year)
        quarter = shift_quarter(quarter, 1)
    _enter(engine, entered, position, now, done.summary)
    return done


def _enter(
    engine: Engine,
    entered: list[tuple[datetime, dict[str, Any]]],
    position: int,
    until: datetime,
    summary: ImportSummary,
) -> int:
    end = position
    while end < len(entered) and entered[end][0] <= until:
        end += 1
    lines = ((number, event) for number, (_, event) in enumerate(entered[position:end], 1))
    part = import_events(engine, lines, origin="demo")
    summary.applied += part.applied
    summary.duplicate += part.duplicate
    summary.refused += part.refused
    return end
