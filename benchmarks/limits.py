"""The storage's own limits: the database driver itself (``sqlite3``, ``psycopg``) running the
engine's statements with the engine's rows, and nothing else: no SQLAlchemy, no decisions.

The rows are decided beforehand in memory (the planner against ``MemoryReads``, batch by
batch as the import sees them) and turned into the driver's values before the clock starts.

- interactive: per event, one transaction: read its procedure and its event id, insert or
  update the procedure, insert the transition (and its alert causes and exit reasons);
- bulk: per batch of the import's size, one transaction: ``executemany`` of the same rows,
  the transitions with their ids given (the database is fresh), so their side rows need no read.
"""

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, NamedTuple

import psycopg

from benchmarks.workload import directorates
from procedures import store
from procedures.events import parse_event
from procedures.memory import MemoryReads
from procedures.planner import plan_event
from procedures.policy import default_policy
from procedures.rows import Plan

Step = tuple[str, list[list[Any]]]  # a statement and its rows


def planned(events: list[dict[str, Any]]) -> list[Plan]:
    """The plans of the events, decided in memory in order (as the engine decides them)."""
    reads = MemoryReads({1: default_policy()}, dict.fromkeys(directorates(), True))
    plans = []
    for raw in events:
        plan = plan_event(parse_event(raw), "bench", reads)
        if isinstance(plan, Plan):
            reads.accept(plan)
            plans.append(plan)
    return plans


class Driver(NamedTuple):
    """An open connection of the driver, as idflow sets its own up."""

    connection: Any
    sql: Callable[[str], str]  # the statement as the driver takes it
    begin: Callable[[Any], object]  # starts a transaction on a cursor


def interactive(driver: Driver, plans: list[Plan]) -> float:
    """Seconds for the plans' events, each in its own transaction: the engine's reads and
    writes."""
    work = [(_reads(plan), _writes(plan)) for plan in plans]
    connection, sql, begin = driver
    cursor = connection.cursor()
    started = time.perf_counter()
    for reads, (writes, sided) in work:
        begin(cursor)
        for statement, values in reads:
            cursor.execute(sql(statement), values).fetchall()
        for statement, rows in writes:
            cursor.execute(sql(statement), rows[0])
        transition_id = None
        for statement, rows in sided:
            if transition_id is None:  # the id handed out to this transition
                cursor.execute(sql(store.with_keys(store.SELECT_IDS, 1)), reads[1][1])
                transition_id = cursor.fetchone()[1]
            cursor.execute(sql(statement), [transition_id if v is _ID else v for v in rows[0]])
        connection.commit()
    return time.perf_counter() - started


def bulk(driver: Driver, plans: list[Plan], batch: int) -> float:
    """Seconds writing the plans' rows in batches of ``batch`` events with ``executemany``,
    one transaction each."""
    batches = [(plans[i : i + batch], i + 1) for i in range(0, len(plans), batch)]
    work = [_batch_writes(part, first_id) for part, first_id in batches]
    connection, sql, begin = driver
    cursor = connection.cursor()
    started = time.perf_counter()
    for steps in work:
        begin(cursor)
        for statement, rows in steps:
            cursor.executemany(sql(statement), rows)
        connection.commit()
    return time.perf_counter() - started


_ID = object()  # where the transition's id goes once it is known


def _reads(plan: Plan) -> list[Step]:
    procedure = store.with_keys(store.SELECT_PROCEDURES, 1)
    used = store.with_keys(store.SELECT_USED, 1)
    return [(procedure, [plan.applied.vacancy]), (used, [plan.transition.event_id])]


def _writes(plan: Plan) -> tuple[list[Step], list[Step]]:
    """The event's writes, and its side rows with the transition's id still open."""
    rows = store.batch_rows([plan])
    steps: list[Step] = [(store.PROCEDURES.insert, rows.procedures)] if rows.procedures else []
    steps.append((store.TRANSITIONS.insert, rows.transitions))
    steps += list(rows.updates.items())
    sided: list[Step] = []
    for table, items in ((store.OUTBOX, plan.outbox), (store.EXIT_REASONS, plan.reasons)):
        for item in items:
            values = table.values(item)
            values[table.columns.index("transition_id")] = _ID
            sided.append((table.insert, [values]))
    return steps, sided


def _batch_writes(plans: list[Plan], first_id: int) -> list[Step]:
    """A batch's statements, its transitions numbered from ``first_id``."""
    rows = store.batch_rows(plans)
    columns = ", ".join(("id", *store.TRANSITIONS.columns))
    marks = ", ".join("?" for _ in range(len(store.TRANSITIONS.columns) + 1))
    numbered = f"INSERT INTO transition ({columns}) VALUES ({marks})"
    steps: list[Step] = [(store.PROCEDURES.insert, rows.procedures)] if rows.procedures else []
    steps.append((numbered, [[first_id + i, *values] for i, values in enumerate(rows.transitions)]))
    steps += list(rows.updates.items())
    outbox, reasons = [], []
    for number, plan in enumerate(plans, first_id):
        outbox += [store.OUTBOX.values(replace(row, transition_id=number)) for row in plan.outbox]
        reasons += [
            store.EXIT_REASONS.values(replace(r, transition_id=number)) for r in plan.reasons
        ]
    steps += [(store.OUTBOX.insert, outbox)] if outbox else []
    steps += [(store.EXIT_REASONS.insert, reasons)] if reasons else []
    return steps


@contextmanager
def connect(url: str) -> Iterator[Driver]:
    """The driver's connection to ``url``, set up as idflow sets up its own (SQLite: WAL,
    synchronous=NORMAL, foreign keys, BEGIN IMMEDIATE), open until the block ends."""
    if url.startswith("sqlite"):
        connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            connection.execute(f"PRAGMA {pragma}")
        try:
            yield Driver(connection, lambda s: s, lambda cursor: cursor.execute("BEGIN IMMEDIATE"))
        finally:
            connection.close()
        return
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        yield Driver(connection, store.for_psycopg, lambda cursor: None)  # psycopg begins itself
