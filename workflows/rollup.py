"""The roll-up flow: finished transitions into quarterly tallies (the SQL lives in procedures)."""

from prefect import flow, task

from models import get_engine, session_scope
from procedures.tallies import roll_up


@task(name="roll-up-tallies", retries=2, retry_delay_seconds=[1, 5])
def roll_up_task(rebuild: bool = False) -> dict[str, int | bool]:
    """Move the tallies and their position forward in one transaction."""
    with session_scope(get_engine()) as session:
        result = roll_up(session, rebuild=rebuild)
    return {
        "from": result.low,
        "to": result.high,
        "transitions": result.transitions,
        "rebuilt": result.rebuilt,
    }


@flow(name="idflow-rollup", log_prints=False)
def rollup_flow(rebuild: bool = False) -> dict[str, int | bool]:
    """Roll finished transitions up into quarterly tallies (incremental; ``rebuild``: all)."""
    return roll_up_task(rebuild)
