"""The store's contract, on SQLite and PostgreSQL.

The store runs the engine's statements on the driver itself, so these tests hold it to what
SQLAlchemy would do: every row comes back as it went in and reads through the ORM the same;
a write that meets another writer writes nothing and leaves the transaction usable; a
driver's error is SQLAlchemy's error.
"""

from dataclasses import fields
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select
from support import CHECKLIST

from models import ExitReason, Outbox, Procedure, Transition
from procedures import store
from procedures.errors import RuleViolation
from procedures.events import EventIn, parse_event
from procedures.planner import plan_event
from procedures.rows import Earlier, ExitReasonRow, OutboxRow, Plan, ProcedureRow, TransitionRow

OPEN = {"directorate": "SOC-OJZ", "scale": 13, "title": "Coördinator één", "kind": "internal"}
LIFE = [  # one procedure through every kind of value: dates, moments, JSON, side rows
    ("open", OPEN),
    ("deviate_text", {}),  # not_met: an alert cause
    ("complete_biws", {"checklist": CHECKLIST}),
    ("submit_shortlist", {"invited": 4, "diverse": 2}),
    ("hire", {"employee": "P-1", "start_date": "2025-03-01"}),
    ("complete_onboarding", {}),
    ("register_departure", {"leave_date": "2026-02-27", "destination": "pensioen"}),
    ("record_exit_interview", {"held": True, "reasons": ["loopbaan", "inclusie"]}),
]


def _event(number: int, name: str, data: dict[str, Any], vacancy: str = "V1") -> EventIn:
    at = f"2025-02-{number + 1:02d}T09:30:00.{number:06d}+01:00"
    raw = {"id": f"{vacancy}-{number}", "vacancy": vacancy, "event": name, "at": at}
    return parse_event(raw | {"actor": "r-1", "data": data})


def _plan(session: Session, event: EventIn) -> Plan:
    plan = plan_event(event, "test", store.Reads(session.connection(), [event]))
    assert isinstance(plan, Plan)
    return plan


def test_the_typed_rows_name_every_column_of_their_tables() -> None:
    tables = SQLModel.metadata.tables
    for row, table in [
        (ProcedureRow, "procedure"),
        (TransitionRow, "transition"),
        (OutboxRow, "outbox"),
        (ExitReasonRow, "exit_reason"),
    ]:
        columns = {c.name for c in tables[table].columns if not (c.name == "id" and c.primary_key)}
        assert {f.name for f in fields(row)} == columns, table


def test_rows_written_by_the_store_read_back_the_same_through_the_store_and_the_orm(
    engine: Engine,
) -> None:
    side_rows = set()
    for number, (name, data) in enumerate(LIFE):
        event = _event(number, name, data)
        with Session(engine) as session:
            plan = _plan(session, event)
            side_rows |= {"outbox"} if plan.outbox else set()
            side_rows |= {"exit_reason"} if plan.reasons else set()
            assert store.write(session.connection(), [plan])
            session.commit()
        with Session(engine) as session:
            reads = store.Reads(session.connection(), [event])
            assert reads.procedures["V1"] == plan.procedure
            assert reads.used[event.id] == Earlier(
                *(vars(plan.transition)[f] for f in Earlier._fields)
            )
            assert session.get(Procedure, "V1").model_dump() == vars(plan.procedure)  # type: ignore[union-attr]
            stored = session.exec(select(Transition).where(Transition.event_id == event.id)).one()
            assert stored.model_dump(exclude={"id"}) == vars(plan.transition)
            for cause in plan.outbox:
                alert = session.exec(select(Outbox).where(Outbox.cause == cause.cause)).one()
                assert alert.model_dump(exclude={"id"}) == vars(cause) | {
                    "transition_id": stored.id
                }
            reasons = session.exec(select(ExitReason).where(ExitReason.transition_id == stored.id))
            assert sorted(r.code for r in reasons) == sorted(r.code for r in plan.reasons)
    assert side_rows == {"outbox", "exit_reason"}


def test_a_write_that_meets_another_writer_writes_nothing_and_the_transaction_goes_on(
    engine: Engine,
) -> None:
    with Session(engine) as session:
        assert store.write(session.connection(), [_plan(session, _event(0, "open", OPEN))])
        session.commit()
    with Session(engine) as session:
        # Two writers decided on version 1; the second one's write comes too late.
        approve = _plan(session, _event(1, "approve_text", {}))
        deviate = _plan(session, _event(2, "deviate_text", {}))
        opened_again = _plan(session, _event(3, "open", OPEN, vacancy="V2"))
        twice = _plan(session, _event(4, "open", OPEN, vacancy="V2"))
        conn = session.connection()
        assert store.write(conn, [approve])
        assert not store.write(conn, [deviate])  # the version moved on
        assert store.write(conn, [opened_again])
        assert not store.write(conn, [twice])  # the vacancy exists by now
        other = _plan(session, _event(5, "open", OPEN, vacancy="V3"))
        assert not store.write(conn, [other, deviate])  # a batch: all or nothing
        assert store.write(conn, [other])
        session.commit()
    with Session(engine) as session:
        ids = session.exec(select(Transition.event_id).order_by(Transition.id)).all()
        assert ids == ["V1-0", "V1-1", "V2-3", "V3-5"]
        assert session.get(Procedure, "V1").state == "biws"  # type: ignore[union-attr]


def test_a_drivers_error_is_raised_as_sqlalchemys_and_a_batch_leaves_the_transaction_usable(
    engine: Engine,
) -> None:
    def unknown_directorate(number: int, vacancy: str) -> Plan:
        plan = _plan(session, _event(number, "open", OPEN, vacancy=vacancy))
        plan.procedure.directorate = "XX-NONE"  # no such directorate: a foreign key fails
        return plan

    with Session(engine) as session:
        with pytest.raises(IntegrityError):
            store.write(session.connection(), [unknown_directorate(0, "V1")])
        session.rollback()  # a single event's error ends the transaction, as SQLAlchemy's does
        batch = [
            _plan(session, _event(1, "open", OPEN, vacancy="V2")),
            unknown_directorate(2, "V3"),
        ]
        with pytest.raises(IntegrityError):
            store.write(session.connection(), batch)
        assert store.write(session.connection(), [_plan(session, _event(3, "open", OPEN))])
        session.commit()
    with Session(engine) as session:
        assert session.exec(select(Transition.event_id)).all() == ["V1-3"]


def test_policies_are_read_once_and_a_missing_one_is_refused_in_dutch(engine: Engine) -> None:
    with Session(engine) as session:
        current = store.current_policy_version(session)
        assert store.load_policy(session, current) is store.load_policy(session, current)
        with pytest.raises(RuleViolation, match="Beleidsversie 99 bestaat niet"):
            store.load_policy(session, 99)


def test_postgresql_plans_a_read_of_many_keys_with_its_keys(engine: Engine) -> None:
    """psycopg prepares a statement once it ran five times; a prepared IN (...) read may get
    one plan for any keys, which on a table not analysed yet scans the whole table."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite plans every statement with its values")
    one, two = [_event(0, "open", OPEN)], [_event(0, "open", OPEN), _event(1, "hire", {})]
    with Session(engine) as session:
        for _ in range(10):
            store.Reads(session.connection(), one)
            store.Reads(session.connection(), two)
        prepared = session.execute(text("SELECT statement FROM pg_prepared_statements")).all()
    statements = [row[0] for row in prepared]
    assert any("vacancy IN ($1)" in s for s in statements), statements  # one key: prepared
    assert not any("IN ($1, $2)" in s for s in statements), statements
