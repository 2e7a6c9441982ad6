"""Corrections on closed quarters: what changed after a quarter's report was fixed.

An event can still finish or explain a step in a closed quarter (it happened). The snapshot
does not change; the difference between the figures as they stand now (the tallies) and the
snapshot is a correction. Each report lists, per closed quarter x directorate x indicator
before its own quarter, the part of that difference that no earlier closed report has listed
yet, so a correction is published once: a closed report freezes the corrections it listed
(and the snapshot versions they were measured against, ``corrects``), and every later report,
whatever its quarter, lists only what came since (so the listings against a snapshot add up
to the figures as they stood at the last of them: what a reader can know).

The roll-up raises a P&O alert for every transition it counts in a closed quarter, in its own
transaction, under a cause key per transition (``correction:{transition id}``).
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from models import Outbox, Transition
from procedures.alerts import STEP_OF_INDICATOR, insert_causes, outbox_row
from procedures.chart import STEP_LABELS
from procedures.report import OUTCOME_LABELS, Cell, directorate_cells, of_quarter
from procedures.rows import OutboxRow
from procedures.snapshots import Snapshot, closed_positions, moment_text, snapshot_versions

Cells = dict[tuple[str, str], Cell]


def differences(session: Session, closed: dict[str, Snapshot]) -> dict[str, Cells]:
    """quarter -> (directorate, indicator) -> restated minus snapshot, non-zero cells only."""
    now = directorate_cells(session, list(closed))
    result: dict[str, Cells] = {}
    for quarter, snapshot in closed.items():
        diff: Cells = {}
        for key, cell in of_quarter(now, quarter).items():
            diff.setdefault(key, Cell()).add(cell)
        for key, cell in snapshot.cells().items():
            diff.setdefault(key, Cell()).add(cell, -1)
        result[quarter] = {key: cell for key, cell in diff.items() if not cell.is_zero()}
    return result


def corrections_for(
    session: Session, quarter: str, closed: dict[str, Snapshot]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The corrections a report of ``quarter`` lists, and the snapshot versions they are
    against: restated minus snapshot, less what any closed report (every stored version,
    whatever its quarter) listed against that snapshot before."""
    earlier = {q: s for q, s in closed.items() if q < quarter}
    outstanding = differences(session, earlier)
    for listing in snapshot_versions(session):
        for row in listing.corrections():
            corrected = earlier.get(row["quarter"])
            if corrected is not None and listing.corrects(row["quarter"]) == corrected.version:
                key = (row["directorate"], row["indicator"])
                outstanding[row["quarter"]].setdefault(key, Cell()).add(Cell.of(row), -1)
    rows = [
        {"quarter": q, "directorate": directorate, "indicator": indicator} | cell.counts()
        for q in sorted(outstanding)
        for (directorate, indicator), cell in sorted(outstanding[q].items())
        if not cell.is_zero()
    ]
    return rows, {q: s.version for q, s in sorted(earlier.items())}


def correction_causes(session: Session, low: int, high: int) -> list[Outbox]:
    """Alert causes for the transitions (low, high] that change a closed quarter's figures:
    those after the position its snapshot counted up to. Known causes are skipped."""
    closed = closed_positions(session)
    if not closed or high <= low:
        return []
    statement = (
        select(Transition)
        .where(col(Transition.id) > low, col(Transition.id) <= high)
        .where(col(Transition.quarter).in_(list(closed)))
        .where(or_(col(Transition.outcome).is_not(None), col(Transition.event) == "explain"))
        .order_by(col(Transition.id))
    )
    now = datetime.now(UTC)
    rows = [
        _cause(t, closed[t.quarter or ""][0], now)
        for t in session.exec(statement)
        if (t.id or 0) > closed[t.quarter or ""][1]
    ]
    return insert_causes(session, rows)


def _cause(row: Transition, version: int, now: datetime) -> OutboxRow:
    step = STEP_OF_INDICATOR.get(row.indicator or "", "")
    outcome = "explained" if row.event == "explain" else row.outcome or ""
    payload = {
        "quarter": row.quarter,
        "version": version,
        "vacancy": row.vacancy,
        "directorate": row.directorate,
        "indicator": row.indicator,
        "step": step,
        "step_label": STEP_LABELS.get(step, ""),
        "event": row.event,
        "outcome": outcome,
        "outcome_label": OUTCOME_LABELS.get(outcome, outcome),
        "at": moment_text(row.at),
        "recorded_at": moment_text(row.recorded_at),
        "actor": row.actor,
    }
    key = f"correction:{row.id}"
    return outbox_row(
        key, "correction", row.vacancy, row.directorate, payload, now, transition_id=row.id
    )
