"""The roll-up: outcomes counted in the Amsterdam quarter of the event that finished the step."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from models import Tally, Transition, session_scope
from procedures.policy import default_policy
from procedures.tallies import roll_up

OPEN = {"directorate": "BV-FIN", "scale": 14, "title": "Concerncontroller", "kind": "external"}
CHECKLIST = dict.fromkeys(default_policy().biws_checklist, True)
Key = tuple[str, str, str, str]


def _roll_up(engine: Engine, rebuild: bool = False) -> int:
    with session_scope(engine) as session:
        return roll_up(session, rebuild=rebuild).transitions


def _tallies(engine: Engine) -> dict[Key, int]:
    with Session(engine) as session:
        rows = session.exec(select(Tally)).all()
    return {(t.quarter, t.directorate, t.indicator, t.outcome): t.count for t in rows if t.count}


def _approved_at(send: Any, vacancy: str, at: str, opened: str = "2025-01-02T09:00:00") -> None:
    send(vacancy, "open", opened, OPEN)
    send(vacancy, "approve_text", at)


def test_a_step_finished_at_half_past_midnight_on_1_april_counts_in_q2_though_utc_is_q1(
    send: Any, engine: Engine
) -> None:
    _approved_at(send, "V1", "2025-04-01T00:30:00+02:00")
    _approved_at(send, "V2", "2025-03-31T22:30:00Z")  # the same moment, given in UTC
    _approved_at(send, "V3", "2025-04-01T00:30:00")  # the same moment, naive local time
    _approved_at(send, "V4", "2025-03-31T23:59:59+02:00")  # the last second of Q1
    _roll_up(engine)
    assert _tallies(engine) == {
        ("2025Q2", "BV-FIN", "I2", "met"): 3,
        ("2025Q1", "BV-FIN", "I2", "met"): 1,
    }


def test_steps_on_the_daylight_saving_days_get_the_right_offset_and_quarter(
    send: Any, engine: Engine
) -> None:
    # 2025: summer time starts Sunday 30 March 02:00, ends Sunday 26 October 03:00.
    cases = {
        "S1": ("2025-03-30T01:59:00", datetime(2025, 3, 30, 0, 59, tzinfo=UTC)),
        "S2": ("2025-03-30T03:00:00", datetime(2025, 3, 30, 1, 0, tzinfo=UTC)),
        "S3": ("2025-03-30T23:30:00", datetime(2025, 3, 30, 21, 30, tzinfo=UTC)),
        "W1": ("2025-10-26T01:30:00", datetime(2025, 10, 25, 23, 30, tzinfo=UTC)),
        "W2": ("2025-10-26T12:00:00", datetime(2025, 10, 26, 11, 0, tzinfo=UTC)),
        "W3": ("2025-10-26T00:30:00+02:00", datetime(2025, 10, 25, 22, 30, tzinfo=UTC)),
    }
    for vacancy, (at, _) in cases.items():
        _approved_at(send, vacancy, at)
    _roll_up(engine)
    with Session(engine) as session:
        rows = session.exec(select(Transition).where(Transition.event == "approve_text")).all()
    assert {r.vacancy: r.at for r in rows} == {v: utc for v, (_, utc) in cases.items()}
    assert _tallies(engine) == {
        ("2025Q1", "BV-FIN", "I2", "met"): 3,
        ("2025Q4", "BV-FIN", "I2", "met"): 3,
    }


def test_the_quarter_boundaries_in_summer_time_and_at_new_year_follow_amsterdam(
    send: Any, engine: Engine
) -> None:
    _approved_at(send, "A1", "2025-06-30T23:30:00+02:00")  # Q2 (21:30 UTC)
    _approved_at(send, "A2", "2025-06-30T22:30:00Z")  # 1 July 00:30 Amsterdam: Q3
    _approved_at(send, "A3", "2025-09-30T22:00:00Z")  # 1 October 00:00 Amsterdam: Q4
    _approved_at(send, "A4", "2025-12-31T23:30:00+01:00")  # Q4
    _approved_at(send, "A5", "2025-12-31T23:00:00Z")  # 1 January 2026 00:00: 2026Q1
    _approved_at(send, "A6", "2026-01-01T00:30:00")  # naive: 2026Q1
    _roll_up(engine)
    assert _tallies(engine) == {
        ("2025Q2", "BV-FIN", "I2", "met"): 1,
        ("2025Q3", "BV-FIN", "I2", "met"): 1,
        ("2025Q4", "BV-FIN", "I2", "met"): 2,
        ("2026Q1", "BV-FIN", "I2", "met"): 2,
    }


def test_a_late_explanation_changes_the_outcome_in_the_original_quarter(
    send: Any, engine: Engine
) -> None:
    send("V1", "open", "2025-03-03T09:00:00", OPEN)
    send("V1", "deviate_text", "2025-03-31T23:45:00")  # Q1, not_met
    send("V1", "deviate_biws", "2025-04-02T09:00:00")  # Q2
    _roll_up(engine)
    assert _tallies(engine) == {
        ("2025Q1", "BV-FIN", "I2", "not_met"): 1,
        ("2025Q2", "BV-FIN", "I3", "not_met"): 1,
    }
    send("V1", "explain", "2025-07-15T10:00:00", {"step": "text", "explanation": "Spoed"})
    _roll_up(engine)
    assert _tallies(engine) == {
        ("2025Q1", "BV-FIN", "I2", "explained"): 1,
        ("2025Q2", "BV-FIN", "I3", "not_met"): 1,
    }
    # Explained within the same roll-up batch as the deviation: the same result.
    send("V1", "explain", "2026-01-05T10:00:00", {"step": "biws", "explanation": "Later"})
    send("V2", "open", "2025-05-01T09:00:00", OPEN)
    send("V2", "deviate_text", "2025-05-02T09:00:00")
    send("V2", "explain", "2025-10-02T09:00:00", {"step": "text", "explanation": "Ja"})
    _roll_up(engine)
    assert _tallies(engine) == {
        ("2025Q1", "BV-FIN", "I2", "explained"): 1,
        ("2025Q2", "BV-FIN", "I2", "explained"): 1,
        ("2025Q2", "BV-FIN", "I3", "explained"): 1,
    }


def test_released_and_the_other_indicators_are_tallied_per_outcome(
    send: Any, engine: Engine
) -> None:
    send("V1", "open", "2025-01-06T09:00:00", OPEN)
    send("V1", "approve_text", "2025-01-07T09:00:00")
    send("V1", "complete_biws", "2025-01-08T09:00:00", {"checklist": CHECKLIST})
    send("V1", "submit_shortlist", "2025-01-09T09:00:00", {"invited": 4, "diverse": 1})
    _roll_up(engine)  # a failed round is not an outcome
    assert ("2025Q1", "BV-FIN", "I4", "met") not in _tallies(engine)
    send("V1", "submit_shortlist", "2025-02-09T09:00:00", {"invited": 4, "diverse": 1})
    send("V1", "hire", "2025-02-10T09:00:00", {"employee": "P1", "start_date": "2025-03-01"})
    send("V1", "complete_onboarding", "2025-04-10T09:00:00")
    send("V1", "register_departure", "2025-05-10T09:00:00", {"leave_date": "2025-06-01"})
    send("V1", "deviate_exit_interview", "2025-06-10T09:00:00", {"explanation": "Ziek"})
    _roll_up(engine)
    assert _tallies(engine) == {
        ("2025Q1", "BV-FIN", "I2", "met"): 1,
        ("2025Q1", "BV-FIN", "I3", "met"): 1,
        ("2025Q1", "BV-FIN", "I4", "released"): 1,
        ("2025Q2", "BV-FIN", "I5", "met"): 1,
        ("2025Q2", "BV-FIN", "I6", "explained"): 1,
    }


def test_running_the_roll_up_twice_counts_nothing_twice(send: Any, engine: Engine) -> None:
    _approved_at(send, "V1", "2025-02-01T10:00:00")
    assert _roll_up(engine) == 2
    first = _tallies(engine)
    assert _roll_up(engine) == 0
    assert _tallies(engine) == first == {("2025Q1", "BV-FIN", "I2", "met"): 1}


def test_an_incremental_roll_up_after_more_events_equals_a_rebuild(
    send: Any, engine: Engine
) -> None:
    def procedure(vacancy: str, month: int, deviate: bool) -> None:
        send(vacancy, "open", f"2025-{month:02d}-01T09:00:00", OPEN | {"directorate": "SD-NW"})
        event = "deviate_text" if deviate else "approve_text"
        send(vacancy, event, f"2025-{month:02d}-28T23:30:00")
        send(vacancy, "deviate_biws", f"2025-{month + 1:02d}-01T00:30:00")

    procedure("V1", 1, True)
    procedure("V2", 3, False)
    _roll_up(engine)
    procedure("V3", 6, True)
    send("V1", "explain", "2025-08-01T09:00:00", {"step": "text", "explanation": "Ok"})
    _roll_up(engine)
    procedure("V4", 9, False)
    send("V3", "explain", "2025-11-01T09:00:00", {"step": "biws", "explanation": "Ok"})
    _roll_up(engine)
    incremental = _tallies(engine)
    _roll_up(engine, rebuild=True)
    assert _tallies(engine) == incremental
    assert incremental == {
        ("2025Q1", "SD-NW", "I2", "explained"): 1,
        ("2025Q1", "SD-NW", "I3", "not_met"): 1,
        ("2025Q1", "SD-NW", "I2", "met"): 1,
        ("2025Q2", "SD-NW", "I3", "not_met"): 1,
        ("2025Q2", "SD-NW", "I2", "not_met"): 1,
        ("2025Q3", "SD-NW", "I3", "explained"): 1,
        ("2025Q3", "SD-NW", "I2", "met"): 1,
        ("2025Q4", "SD-NW", "I3", "not_met"): 1,
    }


def test_the_procedure_list_shows_the_amsterdam_day_of_the_last_event(
    send: Any, engine: Engine
) -> None:
    from rich.console import Console

    from idflow.output import print_list
    from procedures.queries import list_procedures

    _approved_at(send, "V1", "2025-04-01T00:30:00")  # 31 March in UTC
    console = Console(record=True, width=200)
    with Session(engine) as session:
        print_list(console, list_procedures(session), as_json=False)
    shown = console.export_text()
    assert "2025-04-01" in shown and "2025-03-31" not in shown


def test_the_first_roll_ups_of_a_database_running_at_once_all_succeed(
    send: Any, engine: Engine
) -> None:
    """Found by racing two closes of a quarter: the position row did not exist yet, every
    concurrent first roll-up inserted it, and on PostgreSQL all but one failed on its key."""
    import threading

    for n in range(4):
        _approved_at(send, f"V{n}", "2025-02-03T09:00:00")
    start, errors = threading.Barrier(4), []

    def run() -> None:
        try:
            with session_scope(engine) as session:
                start.wait()
                roll_up(session)
        except Exception as error:  # shown by the assertion below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _roll_up(engine) == 0  # everything was counted, once
    assert _tallies(engine) == {("2025Q1", "BV-FIN", "I2", "met"): 4}
