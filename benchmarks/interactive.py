"""Interactive: events through the engine, one durable transaction each, against plain SQL
doing the same reads and writes per event (replayed from the engine's own log)."""

import json
import time
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from models.database import get_engine
from procedures.engine import apply_event
from procedures.events import parse_event

_PROCEDURE = "SELECT vacancy, version FROM procedure WHERE vacancy = :vacancy"
_DUPLICATE = "SELECT id FROM transition WHERE event_id = :event_id"
_COLUMNS = (
    "vacancy, seq, event_id, digest, event, source, target, outcome, indicator, quarter, round, "
    "directorate, policy_version, actor, origin, at, recorded_at, data, prev_hash, hash"
)


def insert_sql(dialect: str) -> str:
    """The transition INSERT; PostgreSQL needs the JSON text cast, SQLite stores it as is."""
    values = [f":{name}" for name in _COLUMNS.split(", ")]
    if dialect == "postgresql":
        values[values.index(":data")] = "CAST(:data AS json)"
    return f"INSERT INTO transition ({_COLUMNS}) VALUES ({', '.join(values)})"


_OPEN = (
    "INSERT INTO procedure (vacancy, directorate, scale, title, kind, state, round, "
    "policy_version, opened_at, state_since, last_event_at, seq, head_hash, version) VALUES "
    "(:vacancy, :directorate, 12, 'x', 'external', :target, 1, 1, :at, :at, :at, :seq, :hash, 1)"
)
_UPDATE = (
    "UPDATE procedure SET state = :target, round = :round, last_event_at = :at, seq = :seq, "
    "head_hash = :hash, version = version + 1 WHERE vacancy = :vacancy AND version = :version"
)


def through_engine(url: str, events: list[dict[str, Any]]) -> float:
    """Events per second, each applied and committed on its own, like a recruiter's click."""
    engine = get_engine(url)
    started = time.perf_counter()
    for raw in events:
        with Session(engine) as session:
            apply_event(session, parse_event(raw), origin="bench")
            session.commit()
    return len(events) / (time.perf_counter() - started)


def plain_sql(source_url: str, target_url: str) -> float:
    """Events per second replaying the engine's reads and writes as plain SQL statements."""
    rows = read_log(source_url)
    engine = get_engine(target_url)
    insert = text(insert_sql(engine.dialect.name))
    started = time.perf_counter()
    for row in rows:
        with engine.begin() as conn:
            found = conn.execute(text(_PROCEDURE), {"vacancy": row["vacancy"]}).first()
            conn.execute(text(_DUPLICATE), {"event_id": row["event_id"]}).first()
            if found is None:
                conn.execute(text(_OPEN), row)
            conn.execute(insert, row)
            if found is not None:
                conn.execute(text(_UPDATE), row | {"version": found[1]})
    return len(rows) / (time.perf_counter() - started)


def read_log(url: str) -> list[dict[str, Any]]:
    """The transition rows as written by the engine, JSON as text, in log order."""
    with get_engine(url).connect() as conn:
        result = conn.execute(text(f"SELECT {_COLUMNS} FROM transition ORDER BY id"))
        rows = [dict(r._mapping) for r in result]
    for row in rows:
        if not isinstance(row["data"], str):
            row["data"] = json.dumps(row["data"])
    return rows
