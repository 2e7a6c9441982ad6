"""The roll-up: finished transitions become quarterly tallies, in SQL, exactly once.

A finishing transition adds one to its (quarter, directorate, indicator, outcome); an
``explain`` carries the quarter of the step it amends and moves one count from ``not_met``
to ``explained`` there. The position of the last counted transition moves in the same
transaction as the tallies, so a re-run or a crash never counts anything twice.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlmodel import Session, delete

from models import RollupPosition, Tally
from procedures.corrections import correction_causes

POSITION = "tallies"

# One scan of the new transitions (MATERIALIZED: both databases compute ``g`` once): each
# finished step counts one for its outcome, and each ``explain`` (counted there as explained)
# also takes one from ``not_met`` in the quarter of the step it amends.
_DELTAS = text(
    """
    WITH g AS MATERIALIZED (
        SELECT quarter, directorate, indicator, outcome,
               SUM(CASE WHEN outcome IS NOT NULL THEN 1 ELSE 0 END) AS n,
               SUM(CASE WHEN event = 'explain' THEN 1 ELSE 0 END) AS explains
          FROM transition
         WHERE id > :low AND id <= :high AND quarter IS NOT NULL
           AND (outcome IS NOT NULL OR event = 'explain')
         GROUP BY quarter, directorate, indicator, outcome
    )
    INSERT INTO tally (quarter, directorate, indicator, outcome, count)
    SELECT quarter, directorate, indicator, outcome, SUM(n) FROM (
        SELECT quarter, directorate, indicator, outcome, n FROM g WHERE outcome IS NOT NULL
        UNION ALL
        SELECT quarter, directorate, indicator, 'not_met' AS outcome, -explains AS n
          FROM g WHERE explains > 0
    ) AS deltas
    WHERE true
    GROUP BY quarter, directorate, indicator, outcome
    ON CONFLICT (quarter, directorate, indicator, outcome)
    DO UPDATE SET count = tally.count + excluded.count
    """
)


_CREATE_POSITION = text(
    "INSERT INTO rollup_position (name, position) VALUES (:name, 0) ON CONFLICT DO NOTHING"
)


@dataclass(frozen=True)
class RollupResult:
    low: int
    high: int
    rebuilt: bool

    @property
    def transitions(self) -> int:
        return self.high - self.low


def roll_up(session: Session, rebuild: bool = False) -> RollupResult:
    """Count the transitions after the stored position (all of them with ``rebuild``)."""
    if session.get_bind().dialect.name == "postgresql":
        # Ids are handed out before commit, so a lower id can become visible after a higher
        # one. Waiting for in-flight writers (and holding new ones) closes that gap.
        session.exec(text("LOCK TABLE transition IN SHARE MODE"))  # type: ignore[call-overload]
    # The first roll-ups of a database may run at once: each creates the position row only if
    # it is missing, so the row lock below, not the primary key, decides who counts first.
    session.exec(_CREATE_POSITION, params={"name": POSITION})  # type: ignore[call-overload]
    position = session.get(RollupPosition, POSITION, with_for_update=True, populate_existing=True)
    assert position is not None
    if rebuild:
        session.exec(delete(Tally))  # type: ignore[call-overload]
        position.position = 0
    low = position.position
    high = session.exec(text("SELECT COALESCE(MAX(id), 0) FROM transition")).one()[0]  # type: ignore[call-overload]
    if high > low:
        session.exec(_DELTAS, params={"low": low, "high": high})  # type: ignore[call-overload]
        correction_causes(session, low, high)
    position.position = high
    position.updated_at = datetime.now(UTC)
    session.flush()
    return RollupResult(low=low, high=high, rebuilt=rebuild)
