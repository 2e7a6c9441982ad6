"""The import's batch path (``apply_events``) and the savepoint-free single write.

A batch must decide and write exactly what the same events write one by one; a batch that
meets another writer is applied again event by event; a single event that loses a race undoes
its own first write and leaves the caller's transaction usable.
"""

import json
import threading
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from models import Directorate, Procedure, Transition
from procedures import store
from procedures.audit import verify_log
from procedures.engine import Applied, apply_event, apply_events
from procedures.errors import ConflictError, EventIdReused, EventNotAllowed, RuleViolation
from procedures.events import parse_event

OPEN = {"directorate": "SOC-OJZ", "scale": 13, "title": "Teamleider", "kind": "internal"}
BATCH = 40


def _simulated(engine: Engine) -> list[dict[str, Any]]:
    """Simulated procedures of four directorates, in time order so that vacancies interleave
    and a late explanation lands in another batch than its deviation, or in the same one."""
    from procedures.store import current_policy_version, load_policy
    from workflows.simulate import Simulator

    with Session(engine) as session:
        policy = load_policy(session, current_policy_version(session))
        directorates = list(session.exec(select(Directorate.code).order_by(Directorate.code)))
    simulator = Simulator(policy, directorates[:4], seed=11)
    events = list(simulator.events(date(2024, 1, 1), datetime(2025, 12, 31, tzinfo=UTC), 16))
    return sorted(events, key=lambda e: datetime.fromisoformat(e["at"]))


def _with_prefix(events: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [e | {"id": prefix + e["id"], "vacancy": prefix + e["vacancy"]} for e in events]


def _awkward(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The simulated events with what an import meets in practice mixed in: a line sent
    twice in one batch, an id reused for other content, an event the state does not allow,
    and one before the vacancy's last event."""
    out = list(events)
    out.insert(5, dict(events[3]))  # the same line again, within the batch
    first = events[0]
    out.insert(9, first | {"actor": "iemand-anders"})  # same id, other content
    last = events[-1]  # opening a vacancy that exists: not allowed
    out.append({**last, "id": "x-open-again", "event": "open", "data": OPEN})
    out.insert(
        len(out) // 2, {**events[-1], "id": "x-too-early", "at": "2024-01-01T00:00:00+00:00"}
    )
    return out


def _answer(outcome: Any, prefix: str) -> str:
    if isinstance(outcome, Applied):
        return json.dumps(outcome.__dict__, sort_keys=True).replace(prefix, "")
    return f"{type(outcome).__name__}: {outcome}".replace(prefix, "")


def _one_by_one(engine: Engine, events: list[dict[str, Any]], prefix: str) -> list[str]:
    answers = []
    for raw in events:
        with Session(engine) as session:
            try:
                answers.append(_answer(apply_event(session, parse_event(raw), "import"), prefix))
            except (RuleViolation, EventNotAllowed, EventIdReused, ConflictError) as error:
                answers.append(_answer(error, prefix))
            session.commit()
    return answers


def _in_batches(engine: Engine, events: list[dict[str, Any]], prefix: str) -> list[str]:
    answers = []
    for start in range(0, len(events), BATCH):
        parsed = [parse_event(raw) for raw in events[start : start + BATCH]]
        with Session(engine) as session:
            answers += [_answer(o, prefix) for o in apply_events(session, parsed, "import")]
            session.commit()
    return answers


def _stored(engine: Engine, prefix: str) -> dict[str, list[str]]:
    """Every row the events wrote, under ``prefix``, as text without the prefix and without
    what differs by construction (ids, the moment of recording, the hashes over those)."""
    like = {"p": prefix + "%"}
    queries = {
        "procedure": "SELECT * FROM procedure WHERE vacancy LIKE :p",
        "transition": "SELECT * FROM transition WHERE vacancy LIKE :p",
        "outbox": (
            "SELECT o.*, t.event_id FROM outbox o JOIN transition t ON t.id = o.transition_id "
            "WHERE o.vacancy LIKE :p"
        ),
        "exit_reason": (
            "SELECT r.*, t.event_id FROM exit_reason r "
            "JOIN transition t ON t.id = r.transition_id WHERE t.vacancy LIKE :p"
        ),
    }
    apart = {"id", "transition_id", "recorded_at", "created_at", "hash", "prev_hash"}
    apart |= {"head_hash", "digest"}  # the digest covers the vacancy number itself
    stored = {}
    with engine.connect() as conn:
        for table, sql in queries.items():
            rows = [
                json.dumps(
                    {k: v for k, v in row._mapping.items() if k not in apart},
                    sort_keys=True,
                    default=str,
                ).replace(prefix, "")
                for row in conn.execute(text(sql), like)
            ]
            stored[table] = sorted(rows)
    return stored


def test_a_batch_decides_and_writes_exactly_what_the_same_events_write_one_by_one(
    engine: Engine,
) -> None:
    events = _awkward(_simulated(engine))
    single = _one_by_one(engine, _with_prefix(events, "one-"), "one-")
    batched = _in_batches(engine, _with_prefix(events, "bat-"), "bat-")

    assert batched == single
    kinds = {answer.split(":")[0] for answer in single}
    assert {"EventIdReused", "EventNotAllowed", "RuleViolation"} <= kinds, kinds
    assert sum('"status": "duplicate"' in answer for answer in single) == 1
    assert sum('"status": "applied"' in answer for answer in single) > 300
    one, batch = _stored(engine, "one-"), _stored(engine, "bat-")
    for table in one:
        assert batch[table] == one[table], table
    # The comparison covers the side rows too: alerts and exit reasons were written.
    assert one["outbox"] and one["exit_reason"], {t: len(rows) for t, rows in one.items()}
    assert any('"event": "explain"' in row for row in one["transition"])
    with Session(engine) as session:
        checked, breaks = verify_log(session)
    assert breaks == [] and checked == 2 * len(one["transition"])


def test_a_batch_repeated_whole_is_all_duplicates_and_writes_nothing(engine: Engine) -> None:
    events = [parse_event(raw) for raw in _simulated(engine)[:BATCH]]
    with Session(engine) as session:
        first = apply_events(session, events, "import")
        session.commit()
    with Session(engine) as session:
        again = apply_events(session, events, "import")
        session.commit()
    assert all(isinstance(o, Applied) and o.status == "applied" for o in first)
    assert [o.status for o in again] == ["duplicate"] * len(events)  # type: ignore[union-attr]
    assert [(o.vacancy, o.seq) for o in again] == [(o.vacancy, o.seq) for o in first]  # type: ignore[union-attr]
    with Session(engine) as session:
        assert len(session.exec(select(Transition.id)).all()) == len(events)


def test_a_batch_that_meets_another_writer_is_applied_again_event_by_event(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip(
            "SQLite: a batch takes the write lock with its first read (BEGIN IMMEDIATE), so "
            "no other writer can get in between its reads and its writes."
        )
    _apply(engine, "V1", "open", "2025-03-03T09:00:00+00:00", OPEN, "v1-open")
    real_reads = store.Reads.__init__

    def reads_then_another_writer(self: Any, conn: Any, events: Any) -> None:
        real_reads(self, conn, events)
        if len(events) == len(batch):  # the batch's reads, not those of its writers
            # Between the batch's reads and its writes, a recruiter approves V1's text.
            _apply(engine, "V1", "approve_text", "2025-03-04T09:00:00+00:00", {}, "v1-web")

    monkeypatch.setattr(store.Reads, "__init__", reads_then_another_writer)
    batch = [
        _event("V1", "approve_text", "2025-03-05T09:00:00+00:00", {}, "v1-import"),
        _event("V2", "open", "2025-03-05T10:00:00+00:00", OPEN, "v2-open"),
    ]
    with Session(engine) as session:
        outcomes = apply_events(session, batch, "import")
        session.commit()

    assert isinstance(outcomes[0], EventNotAllowed)
    assert "'biws'" in str(outcomes[0])  # judged against the state the other writer left
    assert isinstance(outcomes[1], Applied) and outcomes[1].status == "applied"
    with Session(engine) as session:
        rows = session.exec(select(Transition.event_id).order_by(Transition.id)).all()
        assert rows == ["v1-open", "v1-web", "v2-open"]
        assert session.get(Procedure, "V1").state == "biws"  # type: ignore[union-attr]
        assert verify_log(session)[1] == []


def test_an_event_that_loses_a_race_for_its_id_undoes_its_own_rows_and_keeps_the_transaction(
    engine: Engine,
) -> None:
    """Two recruiters open different vacancies with the same event id at the same moment.

    On PostgreSQL the second insert waits for the first transaction and then meets its id:
    the second event must remove the procedure row it had inserted, answer that the id is
    taken, and leave its transaction usable for the next event (no savepoint involved).
    """
    first = Session(engine)
    apply_event(first, _event("V1", "open", "2025-03-03T09:00:00+00:00", OPEN, "same-id"), "web")
    answers: list[Any] = []

    def second_recruiter() -> None:
        with Session(engine) as session:
            try:
                opened = _event("V2", "open", "2025-03-03T09:00:00+00:00", OPEN, "same-id")
                answers.append(apply_event(session, opened, "web"))
            except EventIdReused as error:
                answers.append(error)
            # The same transaction goes on: a different event still applies and commits.
            other = _event("V3", "open", "2025-03-03T09:01:00+00:00", OPEN, "v3-open")
            answers.append(apply_event(session, other, "web"))
            session.commit()

    thread = threading.Thread(target=second_recruiter)
    thread.start()
    thread.join(timeout=1.0)  # it waits for the first transaction (a lock on either database)
    first.commit()
    first.close()
    thread.join(timeout=60)

    assert not thread.is_alive()
    assert isinstance(answers[0], EventIdReused), answers
    assert isinstance(answers[1], Applied) and answers[1].status == "applied"
    with Session(engine) as session:
        assert session.get(Procedure, "V2") is None
        vacancies = session.exec(select(Transition.vacancy).order_by(Transition.id)).all()
        assert vacancies == ["V1", "V3"]


def test_a_version_lost_after_the_transition_was_written_removes_that_transition(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The procedure UPDATE finding another version after this event's transition row went
    in: every writer inserts the transition first, so only a writer outside idflow could
    cause it; the event is then a conflict and its transition row is removed again."""
    _apply(engine, "V1", "open", "2025-03-03T09:00:00+00:00", OPEN, "v1-open")
    monkeypatch.setattr(store, "_update_procedures", lambda db, updates: False)
    with Session(engine) as session:
        approve = _event("V1", "approve_text", "2025-03-04T09:00:00+00:00", {}, "v1-approve")
        with pytest.raises(ConflictError, match="tegelijk door iemand anders gewijzigd"):
            apply_event(session, approve, "web")
        assert session.exec(select(Transition.event_id)).all() == ["v1-open"]
        session.commit()
    with Session(engine) as session:
        assert session.get(Procedure, "V1").version == 1  # type: ignore[union-attr]
        assert verify_log(session)[1] == []


def _event(vacancy: str, event: str, at: str, data: dict[str, Any], event_id: str) -> Any:
    raw = {"id": event_id, "vacancy": vacancy, "event": event, "at": at, "actor": "r-1"}
    return parse_event(raw | {"data": data})


def _apply(
    engine: Engine, vacancy: str, event: str, at: str, data: dict[str, Any], event_id: str
) -> Applied:
    with Session(engine) as session:
        result = apply_event(session, _event(vacancy, event, at, data, event_id), "web")
        session.commit()
    return result
