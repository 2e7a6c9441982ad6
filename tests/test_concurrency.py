"""Many writers at once: one winner per version, a conflict for the rest, nothing lost or doubled.

The writers are real: spawned processes with several threads each, and ``idflow`` processes,
all against the same database (SQLite or PostgreSQL).
"""

import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from models import Directorate, PolicyVersion, Procedure, Transition
from models.database import get_engine
from procedures.audit import verify_log
from procedures.engine import apply_event
from procedures.errors import ConflictError, EventNotAllowed
from procedures.events import parse_event
from procedures.policy import default_policy
from procedures.store import current_policy_version, load_policy

IDFLOW = str(Path(sys.executable).with_name("idflow"))
OPEN = {"directorate": "SOC-OJZ", "scale": 13, "title": "Teamleider", "kind": "internal"}
START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
# The happy path after ``open``; step i expects version i + 1 (``open`` makes version 1).
STEPS: list[tuple[str, dict[str, Any]]] = [
    ("approve_text", {}),
    ("complete_biws", {"checklist": dict.fromkeys(default_policy().biws_checklist, True)}),
    ("submit_shortlist", {"invited": 4, "diverse": 2}),
    ("hire", {"employee": "P100200", "start_date": "2025-06-02"}),
    ("complete_onboarding", {}),
]
VACANCIES = [f"RACE-{n}" for n in range(1, 5)]
PROCESSES, THREADS = 2, 3


def _event(vacancy: str, step: int, writer: str) -> dict[str, Any]:
    """Writer ``writer``'s attempt at step ``step`` of ``vacancy``, with the version all saw."""
    name, data = STEPS[step]
    return {
        "id": f"{writer}-{vacancy}-{step}",
        "vacancy": vacancy,
        "event": name,
        "at": (START + timedelta(days=step + 1)).isoformat(),
        "actor": writer,
        "data": data,
        "expected_version": step + 1,
    }


def _contend(url: str, writer: str, go: Any) -> list[tuple[str, int, str]]:
    """Try every step of every vacancy once; report applied, conflict or anything else."""
    engine = get_engine(url)
    go.wait(timeout=120)
    outcomes = []
    for step in range(len(STEPS)):
        for vacancy in VACANCIES:
            try:
                with Session(engine) as session:
                    apply_event(session, parse_event(_event(vacancy, step, writer)), "test")
                    session.commit()
                outcome = "applied"
            except ConflictError:
                outcome = "conflict"
            except Exception as error:  # reported, so the test shows what went wrong
                outcome = f"{type(error).__name__}: {error}"
            outcomes.append((vacancy, step, outcome))
    return outcomes


def writer_process(url: str, process: int, ready: Any, go: Any, results: Any) -> None:
    """One spawned process: ``THREADS`` writers that start when the parent says go."""
    os.environ["IDFLOW_DATABASE_URL"] = url
    found: list[tuple[str, int, str]] = []

    def run(writer: str) -> None:
        found.extend(_contend(url, writer, go))

    threads = [threading.Thread(target=run, args=(f"p{process}t{t}",)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    ready.release()
    for thread in threads:
        thread.join()
    results.put(found)


def _open_all(send: Any) -> None:
    for vacancy in VACANCIES:
        send(vacancy, "open", START.isoformat(), OPEN, id=f"open-{vacancy}")


def _run_writers(url: str) -> list[tuple[str, int, str]]:
    context = multiprocessing.get_context("spawn")
    ready, go, results = context.Semaphore(0), context.Event(), context.Queue()
    processes = [
        context.Process(target=writer_process, args=(url, n, ready, go, results))
        for n in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        assert ready.acquire(timeout=120), "a writer process did not start"
    go.set()
    outcomes = [item for _ in processes for item in results.get(timeout=300)]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return outcomes


def _chains_intact(engine: Engine) -> int:
    with Session(engine) as session:
        checked, breaks = verify_log(session)
    assert breaks == []
    return checked


def test_writers_in_several_processes_and_threads_get_one_winner_per_version(
    send: Any, engine: Engine, db_url: str
) -> None:
    _open_all(send)
    outcomes = _run_writers(db_url)
    assert {outcome for _, _, outcome in outcomes} <= {"applied", "conflict"}, outcomes
    winners = Counter((v, s) for v, s, outcome in outcomes if outcome == "applied")
    expected = {(v, s): 1 for v in VACANCIES for s in range(len(STEPS))}
    assert winners == expected
    conflicts = sum(outcome == "conflict" for _, _, outcome in outcomes)
    assert conflicts == len(expected) * (PROCESSES * THREADS - 1)
    with Session(engine) as session:
        for vacancy in VACANCIES:
            procedure = session.get(Procedure, vacancy)
            assert procedure is not None
            assert (procedure.state, procedure.seq) == ("employed", len(STEPS) + 1)
            assert procedure.version == len(STEPS) + 1
            events = session.exec(
                select(Transition.event)
                .where(Transition.vacancy == vacancy)
                .order_by(Transition.seq)  # type: ignore[arg-type]
            ).all()
            assert events == ["open", *(name for name, _ in STEPS)]
    assert _chains_intact(engine) == len(VACANCIES) * (len(STEPS) + 1)


def _idflow(args: list[str], url: str, cwd: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [IDFLOW, *args],
        env=os.environ | {"IDFLOW_DATABASE_URL": url, **env},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(processes: list[subprocess.Popen[str]]) -> Iterator[tuple[int, str, str]]:
    for process in processes:
        out, err = process.communicate(timeout=300)
        yield process.returncode, out, err


def test_idflow_advance_at_once_gives_one_winner_and_a_clear_conflict_for_the_others(
    send: Any, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    send("V1", "open", START.isoformat(), OPEN)
    at = (START + timedelta(days=1)).isoformat()
    args = ["advance", "V1", "approve_text", "--expected-version", "1", "--at", at]
    runs = list(_finish([_idflow(args, db_url, tmp_path) for _ in range(3)]))
    codes = sorted(code for code, _, _ in runs)
    assert codes == [0, 3, 3], runs
    for code, _, err in runs:
        if code == 3:
            assert "Vacature V1 is" in err and "gewijzigd" in err and "opnieuw" in err, err
    with Session(engine) as session:
        count = session.exec(
            select(func.count()).select_from(Transition).where(Transition.vacancy == "V1")
        ).one()
    assert count == 2
    _chains_intact(engine)


def _simulated_events(engine: Engine, per_year: float) -> list[dict[str, Any]]:
    from workflows.simulate import Simulator

    with Session(engine) as session:
        policy = load_policy(session, current_policy_version(session))
        directorates = list(session.exec(select(Directorate.code).order_by(Directorate.code)))
    directorates = directorates[:4]
    simulator = Simulator(policy, directorates, seed=7)
    end = datetime(2025, 12, 31, tzinfo=UTC)
    return list(simulator.events(date(2024, 1, 1), end, per_year))


def test_the_same_import_in_two_processes_at_once_applies_each_event_exactly_once(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    events = _simulated_events(engine, per_year=20)
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    # Small batches make the two imports interleave many times.
    both = [
        _idflow(["import", str(path)], db_url, tmp_path, IDFLOW_IMPORT_BATCH_SIZE="25")
        for _ in range(2)
    ]
    runs = list(_finish(both))
    assert [code for code, _, _ in runs] == [0, 0], runs
    applied = duplicates = 0
    for _, _, err in runs:
        summary = next(line for line in err.splitlines() if line.startswith("Import:"))
        numbers = [int(word) for word in summary.replace(",", " ").split() if word.isdigit()]
        applied, duplicates = applied + numbers[0], duplicates + numbers[1]
        assert numbers[2] == 0, summary
    assert (applied, duplicates) == (len(events), len(events))
    with Session(engine) as session:
        ids = session.exec(select(Transition.event_id)).all()
    assert len(ids) == len(set(ids)) == len({e["id"] for e in events})
    assert _chains_intact(engine) == len(events)


def test_a_writer_holding_an_old_copy_is_judged_against_the_stored_state(
    send: Any, engine: Engine
) -> None:
    send("V1", "open", START.isoformat(), OPEN)
    with Session(engine, expire_on_commit=False) as stale:
        seen = stale.get(Procedure, "V1")  # this writer's copy: version 1, state text
        assert seen is not None and seen.version == 1
        stale.commit()
        send("V1", "deviate_text", (START + timedelta(days=1)).isoformat())
        with pytest.raises(ConflictError, match="gewijzigd"):
            apply_event(stale, parse_event(_event("V1", 0, "late")), "test")
        without_version = _event("V1", 0, "later") | {"expected_version": None}
        with pytest.raises(EventNotAllowed, match="'biws'"):
            apply_event(stale, parse_event(without_version), "test")
    with Session(engine) as session:
        procedure = session.get(Procedure, "V1")
        assert procedure is not None
        assert (procedure.outcome_text, procedure.seq) == ("not_met", 2)
    _chains_intact(engine)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_idflow_init_run_at_the_same_moment_loads_the_first_policy_once(
    db_url: str, tmp_path: Path
) -> None:
    """Four ``idflow init`` on a migrated, empty database, let go at the same moment.

    The test holds the policy table locked until all four wait, so they reach the first
    policy together (the real race, made certain). SQLite needs no such test: BEGIN
    IMMEDIATE makes every writer wait for the one before."""
    import psycopg

    from migrations import upgrade_to_head

    upgrade_to_head(get_engine(db_url))
    holder = psycopg.connect(db_url)
    holder.execute("LOCK TABLE policy_version IN ACCESS EXCLUSIVE MODE")
    inits = [_idflow(["init"], db_url, tmp_path) for _ in range(4)]
    waiting = "SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted"
    deadline = time.monotonic() + 120
    while holder.execute(waiting).fetchone() != (4,):
        assert time.monotonic() < deadline, "the four inits never came to wait"
        assert all(p.poll() is None for p in inits), list(_finish(inits))
        time.sleep(0.05)
    holder.rollback()  # lets them go
    holder.close()
    runs = list(_finish(inits))
    assert [code for code, _, _ in runs] == [0, 0, 0, 0], runs
    assert sum("standaardbeleid (versie 1) geladen" in out for _, out, _ in runs) == 1, runs
    assert sum("voorbeeldorganisatie geladen" in out for _, out, _ in runs) == 1, runs
    with Session(get_engine(db_url)) as session:
        assert session.exec(select(func.count()).select_from(PolicyVersion)).one() == 1
        assert session.exec(select(func.count()).select_from(Directorate)).one() == 47
