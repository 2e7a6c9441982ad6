"""The engine: idempotency, concurrency, atomic refusals, the hash chain, outbox and privacy."""

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session, select

from models import Outbox, Procedure, Transition
from procedures.audit import verify_log
from procedures.engine import apply_event
from procedures.errors import ConflictError, EventIdReused, RefusedError, RuleViolation
from procedures.events import event_digest, parse_data, parse_event
from procedures.policy import default_policy

IDFLOW = str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "idflow")
OPEN = {"directorate": "SOC-OJZ", "scale": 13, "title": "Teamleider", "kind": "internal"}
CHECKLIST = dict.fromkeys(default_policy().biws_checklist, True)


def _at(minute: int) -> str:
    return f"2025-02-03T10:{minute:02d}:00+01:00"


def _to_shortlist(send: Any, vacancy: str = "V1") -> None:
    send(vacancy, "open", _at(0), OPEN)
    send(vacancy, "approve_text", _at(1))
    send(vacancy, "complete_biws", _at(2), {"checklist": CHECKLIST})


def _row_counts(engine: Engine) -> dict[str, int]:
    names = inspect(engine).get_table_names()
    with engine.connect() as connection:
        return {
            name: connection.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one()
            for name in names
        }


def _procedure(engine: Engine, vacancy: str = "V1") -> Procedure:
    with Session(engine) as session:
        procedure = session.get(Procedure, vacancy)
        assert procedure is not None
        return procedure


def test_the_same_event_id_and_content_twice_is_applied_once_and_reported_as_duplicate(
    send: Any, engine: Engine
) -> None:
    send("V1", "open", _at(0), OPEN, id="e-1")
    first = send("V1", "approve_text", _at(1), id="e-2")
    before = _row_counts(engine)
    again = send("V1", "approve_text", _at(1), id="e-2")
    assert (first.status, again.status) == ("applied", "duplicate")
    assert (again.seq, again.state) == (first.seq, first.state)
    assert _row_counts(engine) == before
    assert _procedure(engine).version == first.version


def test_a_duplicate_is_recognised_even_after_the_procedure_moved_on(
    send: Any, engine: Engine
) -> None:
    send("V1", "open", _at(0), OPEN, id="e-1")
    send("V1", "approve_text", _at(1), id="e-2")
    send("V1", "deviate_biws", _at(2), id="e-3")
    assert send("V1", "open", _at(0), OPEN, id="e-1").status == "duplicate"
    assert send("V1", "approve_text", _at(1), id="e-2").status == "duplicate"


def test_a_reused_event_id_with_other_content_is_refused(send: Any, engine: Engine) -> None:
    send("V1", "open", _at(0), OPEN, id="e-1")
    send("V2", "open", _at(0), OPEN, id="e-2")
    send("V1", "approve_text", _at(1), id="e-3")
    before = _row_counts(engine)
    for change in (
        {"at": _at(5)},
        {"actor": "iemand-anders"},
        {"event": "deviate_text"},
        {"vacancy": "V2"},
        {"data": {"explanation": "anders"}, "event": "deviate_text"},
    ):
        event = {"vacancy": "V1", "event": "approve_text", "at": _at(1), "id": "e-3"} | change
        with pytest.raises(EventIdReused, match="e-3"):
            send(
                event.pop("vacancy"),
                event.pop("event"),
                event.pop("at"),
                event.pop("data", {}),
                **event,
            )
    assert _row_counts(engine) == before


def test_a_stale_expected_version_is_a_conflict_and_the_current_version_wins(
    send: Any, engine: Engine
) -> None:
    send("V1", "open", _at(0), OPEN)
    seen = _procedure(engine).version
    send("V1", "approve_text", _at(1), expected_version=seen)
    before = _row_counts(engine)
    with pytest.raises(ConflictError, match="opnieuw"):
        send("V1", "deviate_biws", _at(2), expected_version=seen)
    assert _row_counts(engine) == before
    assert _procedure(engine).state == "biws"
    assert send("V1", "deviate_biws", _at(2), expected_version=seen + 1).state == "shortlist"


def test_two_sessions_advancing_the_same_vacancy_at_once_give_one_winner_and_one_conflict(
    send: Any, engine: Engine
) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): the second one waits instead")
    send("V1", "open", _at(0), OPEN)
    raw = {"vacancy": "V1", "event": "approve_text", "at": _at(1), "actor": "a", "data": {}}
    with Session(engine) as first:
        # The first writer reads the procedure, then a second writer commits in between.
        first.get(Procedure, "V1")
        send("V1", "deviate_text", _at(1))
        with pytest.raises((ConflictError, RefusedError)):
            apply_event(first, parse_event(raw | {"id": "late"}), origin="test")
            first.commit()
    assert _procedure(engine).outcome_text == "not_met"
    with Session(engine) as session:
        assert session.exec(select(Transition).where(Transition.event_id == "late")).first() is None


def test_a_refused_event_leaves_no_row_in_any_table(send: Any, engine: Engine) -> None:
    send("V1", "open", _at(0), OPEN)
    send("V1", "deviate_text", _at(1))
    before = _row_counts(engine)
    version = _procedure(engine).version
    for event, data in (
        ("approve_text", {"unexpected": 1}),  # unknown data field
        ("complete_biws", {"checklist": {"diverse_committee": True}}),  # checklist incomplete
        ("hire", {"employee": "P1", "start_date": "2025-03-01"}),  # not allowed in biws
        ("explain", {"step": "biws", "explanation": "x"}),  # step not finished
        ("open", {**OPEN}),  # the vacancy exists
        ("deviate_biws", {}),  # a business time before the last event
    ):
        at = _at(0) if event == "deviate_biws" else _at(2)
        with pytest.raises(RefusedError):
            send("V1", event, at, data)
        assert _row_counts(engine) == before, event
    assert _procedure(engine).version == version


def test_a_refused_event_inside_a_larger_transaction_rolls_back_only_itself(
    send: Any, engine: Engine
) -> None:
    send("V1", "open", _at(0), OPEN)
    with Session(engine) as session:
        base = {"vacancy": "V1", "actor": "a", "data": {}}
        apply_event(
            session, parse_event(base | {"id": "ok", "event": "approve_text", "at": _at(1)}), "t"
        )
        with pytest.raises(RefusedError):
            apply_event(
                session, parse_event(base | {"id": "no", "event": "hire", "at": _at(2)}), "t"
            )
        session.commit()
    assert _procedure(engine).state == "biws"
    assert _row_counts(engine)["transition"] == 2


def test_an_event_earlier_than_the_last_applied_one_is_refused(send: Any, engine: Engine) -> None:
    send("V1", "open", _at(10), OPEN)
    with pytest.raises(RuleViolation, match="tijdsvolgorde"):
        send("V1", "approve_text", _at(9))
    assert send("V1", "approve_text", _at(10)).state == "biws"  # the same moment is fine


def test_the_transition_log_is_hash_chained_and_verifies(send: Any, engine: Engine) -> None:
    _to_shortlist(send)
    _to_shortlist(send, "V2")
    with Session(engine) as session:
        checked, breaks = verify_log(session)
        rows = session.exec(select(Transition).where(Transition.vacancy == "V1")).all()
    assert (checked, breaks) == (6, [])
    ordered = sorted(rows, key=lambda r: r.seq)
    assert [r.seq for r in ordered] == [1, 2, 3]
    assert [r.prev_hash for r in ordered[1:]] == [r.hash for r in ordered[:-1]]


def test_an_edited_or_deleted_transition_row_is_detected_by_verify_log(
    send: Any, engine: Engine
) -> None:
    edits = {
        "E1": "UPDATE transition SET outcome = 'not_met' WHERE vacancy = 'E1' AND seq = 2",
        "E2": "UPDATE transition SET actor = 'mallory' WHERE vacancy = 'E2' AND seq = 1",
        "E3": "UPDATE transition SET quarter = '2024Q4' WHERE vacancy = 'E3' AND seq = 2",
        "E4": "DELETE FROM transition WHERE vacancy = 'E4' AND seq = 2",
    }
    for vacancy in [*edits, "INTACT"]:
        send(vacancy, "open", _at(0), OPEN)
        send(vacancy, "deviate_text", _at(1), {"explanation": "ok"})
        send(vacancy, "deviate_biws", _at(2), {"explanation": "ok"})
    with Session(engine) as session:
        assert verify_log(session) == (15, [])
    for vacancy, edit in edits.items():
        with engine.begin() as connection:
            connection.execute(text(edit))
        with Session(engine) as session:
            _, breaks = verify_log(session)
        assert vacancy in {b.vacancy for b in breaks}
    assert {b.vacancy for b in breaks} == set(edits)


def test_removing_the_newest_rows_of_a_chain_or_editing_the_procedure_is_detected(
    send: Any, engine: Engine
) -> None:
    for vacancy in ("TAIL", "ALL", "STATE", "INTACT"):
        send(vacancy, "open", _at(0), OPEN)
        send(vacancy, "approve_text", _at(1))
        send(vacancy, "deviate_biws", _at(2), {"explanation": "ok"})
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM transition WHERE vacancy = 'TAIL' AND seq = 3"))
        connection.execute(text("DELETE FROM transition WHERE vacancy = 'ALL'"))
        connection.execute(text("UPDATE procedure SET state = 'closed' WHERE vacancy = 'STATE'"))
    with Session(engine) as session:
        _, breaks = verify_log(session)
    assert {b.vacancy for b in breaks} == {"TAIL", "ALL", "STATE"}


def test_idflow_audit_verify_exits_non_zero_after_a_row_was_edited(
    send: Any, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    _to_shortlist(send)
    env = os.environ | {"IDFLOW_DATABASE_URL": db_url}
    intact = subprocess.run(
        [IDFLOW, "audit", "verify"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert intact.returncode == 0, intact.stderr
    assert "intact" in intact.stdout
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE transition SET data = :d WHERE vacancy = 'V1' AND seq = 3"),
            {"d": json.dumps({"checklist": {}})},
        )
    broken = subprocess.run(
        [IDFLOW, "audit", "verify"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert broken.returncode != 0
    assert "V1 #3" in broken.stderr and "GEBROKEN" in broken.stderr


# -- outbox ---------------------------------------------------------------------------


def _outbox(engine: Engine) -> list[Outbox]:
    with Session(engine) as session:
        return list(session.exec(select(Outbox).order_by(Outbox.id)))  # type: ignore[arg-type]


def test_a_step_ending_not_met_writes_one_immediate_alert_in_the_same_transaction(
    send: Any, engine: Engine
) -> None:
    send("V1", "open", _at(0), OPEN)
    send("V1", "deviate_text", _at(1), {"explanation": "  "})
    alerts = _outbox(engine)
    assert [(a.kind, a.immediate, a.vacancy) for a in alerts] == [("not_met", True, "V1")]
    with Session(engine) as session:
        row = session.exec(select(Transition).where(Transition.seq == 2)).one()
    assert alerts[0].transition_id == row.id
    assert alerts[0].payload["step"] == "text"


def test_an_explained_deviation_and_a_late_explain_write_no_not_met_alert(
    send: Any, engine: Engine
) -> None:
    send("V1", "open", _at(0), OPEN)
    send("V1", "deviate_text", _at(1), {"explanation": "Spoed"})
    send("V1", "deviate_biws", _at(2))
    send("V1", "explain", _at(3), {"step": "biws", "explanation": "Toch"})
    assert [a.kind for a in _outbox(engine)] == ["not_met"]


def test_a_failed_round_and_a_release_each_write_their_alert(send: Any, engine: Engine) -> None:
    _to_shortlist(send)
    send("V1", "submit_shortlist", _at(3), {"invited": 4, "diverse": 1})
    send("V1", "submit_shortlist", _at(4), {"invited": 4, "diverse": 1})
    alerts = [(a.kind, a.immediate) for a in _outbox(engine)]
    assert alerts == [("rooney_round_failed", False), ("rooney_released", True)]


def test_a_refused_event_writes_no_alert(send: Any, engine: Engine) -> None:
    send("V1", "open", _at(0), OPEN)
    with pytest.raises(RefusedError):
        send("V1", "deviate_text", _at(1), {"explanation": "x", "extra": True})
    assert _outbox(engine) == []


# -- privacy -----------------------------------------------------------------------------


def _walk_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _walk_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _walk_keys(v)}
    return set()


def test_the_diverse_count_is_stored_nowhere_after_shortlists(send: Any, engine: Engine) -> None:
    _to_shortlist(send, "V1")
    send("V1", "submit_shortlist", _at(3), {"invited": 7, "diverse": 3})
    send("V1", "submit_shortlist", _at(4), {"invited": 9, "diverse": 6})
    _to_shortlist(send, "V2")
    send("V2", "submit_shortlist", _at(3), {"invited": 8, "diverse": 1})
    send("V2", "submit_shortlist", _at(4), {"invited": 8, "diverse": 2})
    columns = {
        column["name"].lower()
        for name in inspect(engine).get_table_names()
        for column in inspect(engine).get_columns(name)
    }
    assert not [c for c in columns if "divers" in c]
    keys: set[str] = set()
    with engine.connect() as connection:
        for name in inspect(engine).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{name}"')).mappings():
                for value in row.values():
                    if isinstance(value, str) and value[:1] in "{[":
                        value = json.loads(value)
                    keys |= _walk_keys(value)
    assert "diverse" not in keys
    with Session(engine) as session:
        stored = [t.data for t in session.exec(select(Transition)) if t.event == "submit_shortlist"]
    assert stored == [{"invited": 7}, {"invited": 9}, {"invited": 8}, {"invited": 8}]


def _digest(diverse: int, invited: int = 6) -> str:
    raw = {
        "id": "e-9",
        "vacancy": "V1",
        "event": "submit_shortlist",
        "at": _at(3),
        "actor": "a",
        "data": {"invited": invited, "diverse": diverse},
    }
    event = parse_event(raw)
    return event_digest(event, parse_data(event), default_policy())


def test_the_event_digest_reveals_only_the_rooney_decision_not_the_diverse_count() -> None:
    assert _digest(0) == _digest(1) == _digest(2)
    assert _digest(3) == _digest(4) == _digest(6)
    assert _digest(2) != _digest(3)


def test_resending_a_shortlist_with_another_diverse_count_but_the_same_decision_is_a_duplicate(
    send: Any,
) -> None:
    _to_shortlist(send)
    send("V1", "submit_shortlist", _at(3), {"invited": 6, "diverse": 4}, id="s-1")
    again = send("V1", "submit_shortlist", _at(3), {"invited": 6, "diverse": 5}, id="s-1")
    assert again.status == "duplicate"
    with pytest.raises(EventIdReused):
        send("V1", "submit_shortlist", _at(3), {"invited": 6, "diverse": 1}, id="s-1")
