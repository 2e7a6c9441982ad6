"""Faults: kill -9 mid-import, the database going away, a read-only or full database.

Each fault must leave whole events only (whole import batches, intact hash chains), give a
clear Dutch error with exit code 4 where the database failed, and a re-run must end in the
same state as one uninterrupted run.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, func, text
from sqlmodel import Session, select

from models import ExitReason, Outbox, Procedure, Tally, Transition, get_settings
from models.database import dispose_engine, get_engine, make_engine
from procedures.audit import verify_log
from procedures.errors import StorageError
from procedures.organisation import parse_org_csv, sample_csv
from procedures.policy import default_policy
from procedures.setup import initialise
from procedures.tallies import roll_up
from workflows.importer import import_events
from workflows.simulate import Simulator

IDFLOW = str(Path(sys.executable).with_name("idflow"))
# The large import; CI keeps it modest, IDFLOW_TEST_FAULT_EVENTS=20000 for the full-size run.
LARGE = int(os.environ.get("IDFLOW_TEST_FAULT_EVENTS", "2000"))
SMALL = 800
BATCH = 100


def _simulated(count: int) -> list[dict[str, Any]]:
    """The first ``count`` events of a seeded simulation over the example organisation."""
    directorates = [row.directorate_code for row in parse_org_csv(sample_csv())]
    simulator = Simulator(default_policy(), directorates, seed=5)
    end = datetime(2025, 12, 31, tzinfo=UTC)
    events = []
    for item in simulator.events(date(2022, 1, 1), end, per_year=max(2.0, count / 1100)):
        events.append(item)
        if len(events) == count:
            break
    return events


def _write(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def large_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("faults") / "large.jsonl", _simulated(LARGE))


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("faults") / "small.jsonl", _simulated(SMALL))


def _state(engine: Engine) -> dict[str, Any]:
    """Everything the events decide, without ids, wall-clock times or hashes over them."""
    with Session(engine) as session:
        roll_up(session)
        session.commit()
        transitions = [
            (t.vacancy, t.seq, t.event_id, t.digest, t.event, t.source, t.target, t.outcome)
            + (
                t.indicator,
                t.quarter,
                t.round,
                t.directorate,
                t.at,
                json.dumps(t.data, sort_keys=True),
            )
            for t in session.exec(select(Transition).order_by(Transition.vacancy, Transition.seq))  # type: ignore[arg-type]
        ]
        procedures = [
            p.model_dump(exclude={"head_hash"})
            for p in session.exec(select(Procedure).order_by(Procedure.vacancy))  # type: ignore[arg-type]
        ]
        tallies = sorted(
            (t.quarter, t.directorate, t.indicator, t.outcome, t.count)
            for t in session.exec(select(Tally).where(Tally.count != 0))
        )
        alerts = sorted((o.cause, o.kind, o.vacancy or "") for o in session.exec(select(Outbox)))
        reasons = Counter((r.code, r.directorate, r.year) for r in session.exec(select(ExitReason)))
    return {
        "transitions": transitions,
        "procedures": procedures,
        "tallies": tallies,
        "alerts": alerts,
        "exit_reasons": reasons,
    }


@pytest.fixture(scope="module")
def uninterrupted(large_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The state after one uninterrupted import of the large file into a fresh database."""
    url = f"sqlite:///{tmp_path_factory.mktemp('reference') / 'reference.db'}"
    engine = get_engine(url)
    with Session(engine) as session:
        initialise(engine, session)
        session.commit()
    lines = enumerate(json.loads(line) for line in large_file.read_text().splitlines())
    summary = import_events(engine, ((n + 1, raw) for n, raw in lines))
    assert (summary.applied, summary.refused) == (LARGE, [])
    state = _state(engine)
    dispose_engine(url)
    return state


def _count(url: str) -> int:
    """Committed transitions, read without taking SQLite's write lock."""
    plain = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with plain.connect() as connection:
            return int(connection.execute(text("SELECT COUNT(*) FROM transition")).scalar_one())
    finally:
        plain.dispose()


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _start_import(url: str, path: Path, log: Path, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [IDFLOW, "import", str(path)],
        env=os.environ
        | {"IDFLOW_DATABASE_URL": url, "IDFLOW_IMPORT_BATCH_SIZE": str(BATCH), **env},
        cwd=path.parent,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )


def _import(url: str, path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [IDFLOW, "import", str(path)],
        env=os.environ | {"IDFLOW_DATABASE_URL": url},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _only_whole_events(engine: Engine) -> int:
    """Every procedure matches its intact chain, and only whole batches were committed."""
    with Session(engine) as session:
        checked, breaks = verify_log(session)
        assert breaks == []
        per_vacancy = dict(
            session.exec(
                select(Transition.vacancy, func.count()).group_by(Transition.vacancy)  # type: ignore[arg-type]
            ).all()
        )
        for procedure in session.exec(select(Procedure)):
            assert procedure.seq == per_vacancy[procedure.vacancy] == procedure.version
        assert sum(per_vacancy.values()) == checked
    return checked


def _whole_batches(count: int) -> int:
    assert count % BATCH == 0, f"{count} transitions: a batch was committed in part"
    return count


def test_an_import_killed_with_sigkill_and_run_again_ends_as_one_uninterrupted_run(
    engine: Engine, db_url: str, large_file: Path, uninterrupted: dict[str, Any], tmp_path: Path
) -> None:
    importer = _start_import(db_url, large_file, tmp_path / "killed.log")
    _wait_for(lambda: _count(db_url) >= LARGE // 3, "a third of the import")
    importer.send_signal(signal.SIGKILL)
    assert importer.wait(timeout=60) == -signal.SIGKILL
    committed = _whole_batches(_only_whole_events(engine))
    assert 0 < committed < LARGE
    again = _import(db_url, large_file, tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"{LARGE - committed} verwerkt, {committed} dubbel, 0 geweigerd" in again.stderr
    assert _state(engine) == uninterrupted


def _cut_off_importer(url: str, log: Path, path: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start an import and take the database away from it once a few batches are in; return
    the importer and its batch size."""
    if url.startswith("postgresql"):
        importer = _start_import(f"{url}?application_name=idflow_victim", path, log)
        _wait_for(lambda: _count(url) >= 3 * BATCH, "three batches")
        with get_engine(url).connect() as connection:
            # The server ends the importer's session, as on a restart or failover.
            ended = connection.execute(
                text(
                    "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'idflow_victim'"
                )
            ).scalar_one()
        assert ended == 1
        return importer, BATCH
    # SQLite has no server to lose: another program takes the file's write lock and keeps it
    # longer than the importer's busy timeout. One event per batch leaves gaps to get in.
    importer = _start_import(
        url, path, log, IDFLOW_SQLITE_BUSY_TIMEOUT_MS="300", IDFLOW_IMPORT_BATCH_SIZE="1"
    )
    _wait_for(lambda: _count(url) >= 3 * BATCH, "three hundred events")
    holder = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
    _wait_for(lambda: _took_lock(holder), "the write lock between two batches", timeout=120)
    importer.wait(timeout=120)
    holder.execute("ROLLBACK")
    holder.close()
    return importer, 1


def _took_lock(connection: sqlite3.Connection) -> bool:
    # The importer takes the lock again right after each commit; only a tight loop gets in.
    for _ in range(2000):
        try:
            connection.execute("BEGIN EXCLUSIVE")
            return True
        except sqlite3.OperationalError:
            continue
    return False


def test_the_database_going_away_mid_import_gives_a_clear_error_and_no_partial_event(
    engine: Engine, db_url: str, small_file: Path, tmp_path: Path
) -> None:
    log = tmp_path / "import.log"
    importer, batch = _cut_off_importer(db_url, log, small_file)
    assert importer.wait(timeout=120) == 4
    message = log.read_text(encoding="utf-8")
    assert "De database is niet bereikbaar of niet beschrijfbaar" in message, message
    assert "Start de import opnieuw" in message
    committed = _only_whole_events(engine)
    assert committed % batch == 0, f"{committed} transitions: a batch was committed in part"
    assert 3 * BATCH <= committed < SMALL
    again = _import(db_url, small_file, tmp_path)
    assert again.returncode == 0, again.stderr
    assert _only_whole_events(engine) == SMALL


def _read_only_url(engine: Engine, url: str) -> str:
    if url.startswith("postgresql"):
        name = url.rsplit("/", 1)[1]
        with engine.begin() as connection:
            connection.execute(
                text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
            )
        engine.dispose()
        return url
    # Tests run as root, who may write a chmod 444 file; SQLite's read-only mode cannot.
    return f"sqlite:///file:{url.removeprefix('sqlite:///')}?mode=ro&uri=true"


def test_a_read_only_database_refuses_writes_clearly_and_still_answers_reads(
    engine: Engine, send: Any, db_url: str, small_file: Path, tmp_path: Path
) -> None:
    send("V1", "open", "2025-03-03T09:00:00+01:00", default_open())
    read_only = _read_only_url(engine, db_url)
    env = os.environ | {"IDFLOW_DATABASE_URL": read_only}
    advance = subprocess.run(
        [IDFLOW, "advance", "V1", "approve_text"], env=env, capture_output=True, text=True
    )
    assert advance.returncode == 4, advance.stderr
    assert "niet bereikbaar of niet beschrijfbaar" in advance.stderr
    assert "read-only" in advance.stderr or "readonly" in advance.stderr
    shown = subprocess.run(
        [IDFLOW, "show", "V1", "--json"], env=env, capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["state"] == "text"
    lines = enumerate((json.loads(line) for line in small_file.read_text().splitlines()), 1)
    with pytest.raises(StorageError, match="niet beschrijfbaar"):
        import_events(make_engine(read_only), lines)
    assert _only_whole_events(engine) == 1


def default_open() -> dict[str, Any]:
    return {"directorate": "SOC-OJZ", "scale": 13, "title": "Teamleider", "kind": "internal"}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_full_database_gives_a_clear_error_and_keeps_only_whole_batches(
    engine: Engine, db_url: str, small_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server's full disk cannot be staged here; SQLite's page limit gives the same error.
    monkeypatch.setenv("IDFLOW_IMPORT_BATCH_SIZE", str(BATCH))
    get_settings.cache_clear()
    full = make_engine(db_url)
    with engine.connect() as connection:
        pages = connection.execute(text("PRAGMA page_count")).scalar_one()

    @event.listens_for(full, "connect")
    def _limit(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 60}")

    lines = enumerate((json.loads(line) for line in small_file.read_text().splitlines()), 1)
    with pytest.raises(StorageError, match="database or disk is full"):
        import_events(full, lines)
    full.dispose()
    assert 0 < _whole_batches(_only_whole_events(engine)) < SMALL
