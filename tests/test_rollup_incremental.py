"""The roll-up counts each finished step exactly once, incrementally, in the right quarter."""

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select
from typer.testing import CliRunner

from models import Tally
from models.database import create_schema, get_engine
from procedures.tallies import _DELTAS, roll_up


def tallies(engine: Engine) -> dict[tuple[str, str, str, str], int]:
    with Session(engine) as session:
        rows = session.exec(select(Tally).where(Tally.count != 0)).all()
    return {(t.quarter, t.directorate, t.indicator, t.outcome): t.count for t in rows}


def roll(engine: Engine, rebuild: bool = False) -> Any:
    with Session(engine) as session:
        result = roll_up(session, rebuild=rebuild)
        session.commit()
    return result


def open_and_deviate(send: Any, vacancy: str, at: str, explanation: str | None = None) -> None:
    send(
        vacancy,
        "open",
        "2025-01-06T09:00:00+01:00",
        {"directorate": "SOC-OJZ", "scale": 12, "title": "Teamleider", "kind": "external"},
    )
    send(vacancy, "deviate_text", at, {"explanation": explanation} if explanation else {})


def test_the_incremental_query_reads_only_the_new_range_of_the_primary_key(
    tmp_path: Path,
) -> None:
    """Its cost grows with the new transitions, not with the history (SQLite's plan)."""
    engine = get_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    create_schema(engine)
    with engine.connect() as connection:
        plan = connection.execute(
            text(f"EXPLAIN QUERY PLAN {_DELTAS.text}"), {"low": 10, "high": 20}
        ).all()
    details = [row[-1] for row in plan if "transition" in row[-1]]
    assert len(details) == 1  # one pass over the new transitions, not one per kind of delta
    assert all("USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)" in d for d in details), details


def test_a_second_run_counts_only_what_came_after_the_stored_position(
    engine: Engine, send: Any
) -> None:
    open_and_deviate(send, "VAC-1", "2025-01-10T10:00:00+01:00")
    first = roll(engine)
    open_and_deviate(send, "VAC-2", "2025-02-10T10:00:00+01:00", "Geen kandidaten")
    second = roll(engine)
    again = roll(engine)
    assert (second.low, second.transitions) == (first.high, 2)
    assert again.transitions == 0
    assert tallies(engine) == {
        ("2025Q1", "SOC-OJZ", "I2", "not_met"): 1,
        ("2025Q1", "SOC-OJZ", "I2", "explained"): 1,
    }


def test_a_late_explanation_moves_its_count_in_the_quarter_of_the_step(
    engine: Engine, send: Any
) -> None:
    open_and_deviate(send, "VAC-1", "2025-03-28T10:00:00+01:00")
    roll(engine)
    send(
        "VAC-1",
        "explain",
        "2025-05-02T10:00:00+02:00",
        {"step": "text", "explanation": "Tekst was al goedgekeurd door de directie"},
    )
    roll(engine)
    assert tallies(engine) == {("2025Q1", "SOC-OJZ", "I2", "explained"): 1}


@pytest.mark.prefect
def test_idflow_rollup_rebuild_gives_the_same_tallies_as_the_incremental_runs(
    engine: Engine, send: Any, prefect_harness: None
) -> None:
    from idflow.cli import app

    open_and_deviate(send, "VAC-1", "2025-03-28T10:00:00+01:00")
    roll(engine)
    open_and_deviate(send, "VAC-2", "2025-04-03T10:00:00+02:00", "Spoed")
    send("VAC-1", "explain", "2025-04-20T10:00:00+02:00", {"step": "text", "explanation": "Alsnog"})
    roll(engine)
    incremental = tallies(engine)
    result = CliRunner().invoke(app, ["rollup", "--rebuild"])
    assert result.exit_code == 0, result.output
    assert "Roll-up klaar" in result.output
    assert tallies(engine) == incremental
    assert incremental == {
        ("2025Q1", "SOC-OJZ", "I2", "explained"): 1,
        ("2025Q2", "SOC-OJZ", "I2", "explained"): 1,
    }


def test_a_run_that_dies_before_commit_leaves_nothing_and_the_next_counts_once(
    engine: Engine, send: Any
) -> None:
    open_and_deviate(send, "VAC-1", "2025-01-10T10:00:00+01:00")
    with Session(engine) as session:
        roll_up(session)
        session.rollback()  # the crash: tallies and position go back together
    assert tallies(engine) == {}
    roll(engine)
    roll(engine)
    assert tallies(engine) == {("2025Q1", "SOC-OJZ", "I2", "not_met"): 1}
