"""Every SQL statement of the engine: the reads of a batch, the writes, the policy cache.

The statements run on the database driver itself (``sqlite3``, ``psycopg``) inside the
session's transaction; SQLAlchemy's work per statement and per row cost more than the
statements (``docs/performance.md``). What differs between the two databases is handled here:

- placeholders: the statements are written with ``?``; psycopg gets ``%s``;
- values: moments go in as naive UTC text (``2025-01-06 08:30:00.000000``), dates and JSON
  as text, which SQLite stores exactly as SQLAlchemy does and PostgreSQL casts to the column
  types; SQLite hands text back, PostgreSQL naive datetimes and parsed JSON;
- PostgreSQL: psycopg prepares a statement once it ran five times, and PostgreSQL may then
  plan an ``IN (...)`` read once for any keys; on a table autovacuum has not analysed yet (a
  first import) that plan scanned the whole table for every batch. A read with more than one
  key is therefore sent unprepared, and planned with its keys;
- SQLite: after a fatal error (disk full, I/O) SQLite has ended the transaction itself; the
  write's savepoint is gone with it, and the error is raised as it came;
- a driver error is raised as SQLAlchemy's (``DBAPIError``), and a lost connection is marked
  invalid, as if SQLAlchemy had run the statement.

:func:`write` writes any number of plans with the same statements. Every write that can meet
another writer counts instead of failing (``INSERT ... ON CONFLICT DO NOTHING``, ``UPDATE ...
WHERE version = ?``). A batch is written in a savepoint, which a short count or a PostgreSQL
deadlock rolls back; a single event needs none: a short count deletes its own rows written
before it. Every writer inserts transitions before it updates procedures, so two writers of
the same vacancy wait for each other instead of deadlocking.
"""

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields, replace
from datetime import UTC, date, datetime
from functools import cache
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session

from models import Procedure
from procedures.errors import RuleViolation
from procedures.events import EventIn
from procedures.memory import MemoryReads
from procedures.policy import Policy
from procedures.rows import Earlier, ExitReasonRow, OutboxRow, Plan, ProcedureRow, TransitionRow

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

READ_CHUNK = 500  # keys per IN (...) read, well below SQLite's limit of variables
Values = list[object]  # a row's values in its statement's order, as the driver takes them
Row = TypeVar("Row", bound="DataclassInstance")


def _moment_in(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _moment_out(value: str | datetime | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC)


def _day_in(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _day_out(value: str | date | None) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _json_in(value: object) -> str:
    return json.dumps(value)  # as SQLAlchemy's JSON type writes it


def _json_out(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


class _Table(Generic[Row]):
    """A row type's table: its INSERT, and its values converted to and from the driver's."""

    def __init__(self, name: str, row_type: type[Row], conflict: str = "", **kinds: str) -> None:
        self.row_type = row_type
        self.columns = tuple(f.name for f in fields(row_type))
        marks = ", ".join("?" for _ in self.columns)
        self.insert = f"INSERT INTO {name} ({', '.join(self.columns)}) VALUES ({marks}){conflict}"
        write = {"moment": _moment_in, "day": _day_in, "json": _json_in}
        read = {"moment": _moment_out, "day": _day_out, "json": _json_out}
        self.writers: dict[str, Callable[[Any], object]] = {c: write[k] for c, k in kinds.items()}
        self._get = attrgetter(*self.columns)
        self._in = [(self.columns.index(c), write[k]) for c, k in kinds.items()]
        self._out = [(self.columns.index(c), read[k]) for c, k in kinds.items()]

    def values(self, row: Row) -> Values:
        values = list(self._get(row))
        for index, convert in self._in:
            values[index] = convert(values[index])
        return values

    def row(self, values: Sequence[object]) -> Row:
        converted = list(values)
        for index, convert in self._out:
            converted[index] = convert(converted[index])
        return self.row_type(*converted)


_IGNORE = " ON CONFLICT DO NOTHING"
PROCEDURES = _Table(
    "procedure",
    ProcedureRow,
    _IGNORE,
    **dict.fromkeys(("opened_at", "state_since", "last_event_at", "due_at"), "moment"),
    **dict.fromkeys(("start_date", "leave_date"), "day"),
)
TRANSITIONS = _Table(
    "transition", TransitionRow, _IGNORE, at="moment", recorded_at="moment", data="json"
)
# Each cause key names a fact that is one alert however often it is raised.
OUTBOX = _Table("outbox", OutboxRow, _IGNORE, created_at="moment", payload="json")
EXIT_REASONS = _Table("exit_reason", ExitReasonRow)

SELECT_PROCEDURES = f"SELECT {', '.join(PROCEDURES.columns)} FROM procedure WHERE vacancy IN "
SELECT_USED = f"SELECT {', '.join(Earlier._fields)} FROM transition WHERE event_id IN "
SELECT_IDS = "SELECT event_id, id FROM transition WHERE event_id IN "
_ACTIVE = "SELECT active FROM directorate WHERE code = ?"
_STEP_QUARTER = (
    "SELECT quarter FROM transition WHERE vacancy = ? AND indicator = ? AND event <> 'explain' "
    "ORDER BY seq DESC LIMIT 1"
)
_DELETE_PROCEDURE = "DELETE FROM procedure WHERE vacancy = ?"
_DELETE_TRANSITION = "DELETE FROM transition WHERE event_id = ?"
_CURRENT_POLICY = "SELECT max(version) FROM policy_version"
_POLICY = "SELECT body FROM policy_version WHERE version = ?"


@cache
def procedure_update(columns: tuple[str, ...]) -> str:
    """UPDATE of these columns, only where the version is still the one decided on."""
    values = ", ".join(f"{name} = ?" for name in columns)
    return f"UPDATE procedure SET {values} WHERE vacancy = ? AND version = ?"


@cache
def with_keys(prefix: str, count: int) -> str:
    """``prefix`` (a read ending in ``IN``) with placeholders for ``count`` keys."""
    return prefix + "(" + ", ".join("?" for _ in range(count)) + ")"


@cache
def for_psycopg(statement: str) -> str:
    """A statement as psycopg takes it (``%s`` placeholders)."""
    return statement.replace("?", "%s")


# Called with the connection and the alert causes whenever the store writes some, inside the
# transaction (``notifications.signal`` listens to tell Prefect after the commit; the store
# knows nothing of who listens, and with no listener it does nothing more).
OutboxListener = Callable[[Connection, Sequence[OutboxRow]], None]
OUTBOX_LISTENERS: list[OutboxListener] = []


def _outbox_written(conn: Connection, rows: Sequence[OutboxRow]) -> None:
    for listener in OUTBOX_LISTENERS:
        listener(conn, rows)


class _Driver:
    """The session's connection as its driver's own, its errors raised as SQLAlchemy's."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        raw = conn.connection.driver_connection
        assert raw is not None  # a connection in use has its driver's
        self.raw: Any = raw
        self.postgres = conn.dialect.name == "postgresql"
        self.cursor = self.raw.cursor()
        self.error: type[Exception] = conn.dialect.loaded_dbapi.Error

    def run(self, statement: str, values: Sequence[object] = (), planned: bool = True) -> Any:
        """Execute one statement; ``planned=False`` sends it unprepared (PostgreSQL)."""
        sql = for_psycopg(statement) if self.postgres else statement
        try:
            if self.postgres and not planned:
                return self.cursor.execute(sql, values, prepare=False)
            return self.cursor.execute(sql, values)
        except self.error as error:
            raise self._failed(error, sql) from error

    def write(self, statement: str, rows: list[Values]) -> int:
        """Execute a write for every row; the number of rows it changed."""
        if len(rows) == 1:  # psycopg runs executemany as a pipeline: slower for one row
            return int(self.run(statement, rows[0]).rowcount)
        sql = for_psycopg(statement) if self.postgres else statement
        try:
            self.cursor.executemany(sql, rows)
        except self.error as error:
            raise self._failed(error, sql) from error
        return int(self.cursor.rowcount)

    def read_in(self, prefix: str, keys: list[str]) -> list[tuple[Any, ...]]:
        """The rows of ``prefix IN (keys)``, in chunks."""
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(keys), READ_CHUNK):
            chunk = keys[start : start + READ_CHUNK]
            rows += self.run(
                with_keys(prefix, len(chunk)), chunk, planned=len(chunk) == 1
            ).fetchall()
        return rows

    def ended(self) -> bool:
        """Whether the database ended the transaction itself (SQLite, after a fatal error)."""
        return not self.postgres and not self.raw.in_transaction

    def _failed(self, error: Any, sql: str) -> Exception:
        dialect = self.conn.dialect
        lost = dialect.is_disconnect(error, self.conn.connection.dbapi_connection, self.cursor)
        if lost:
            self.conn.invalidate(error)
        return DBAPIError.instance(sql, None, error, self.error, connection_invalidated=lost)


class Reads(MemoryReads):
    """Reads for a batch (or one event): its procedures and used event ids fetched up front,
    in chunks; the rest asked when a decision needs it, each answer kept for the batch."""

    def __init__(self, conn: Connection, events: Sequence[EventIn]) -> None:
        super().__init__()
        self.db = _Driver(conn)
        vacancies = list(dict.fromkeys(event.vacancy for event in events))
        for values in self.db.read_in(SELECT_PROCEDURES, vacancies):
            procedure = PROCEDURES.row(values)
            self.procedures[procedure.vacancy] = procedure
        ids = list(dict.fromkeys(event.id for event in events))
        for values in self.db.read_in(SELECT_USED, ids):
            self.used[values[0]] = Earlier._make(values)
        self._current: int | None = None

    def reread(self, vacancy: str) -> ProcedureRow | None:
        found = self.db.read_in(SELECT_PROCEDURES, [vacancy])
        return PROCEDURES.row(found[0]) if found else None

    def policy(self, version: int | None) -> Policy:
        if version is None:
            if self._current is None:  # the current version, asked once per batch
                self._current = _current_version(self.db)
            version = self._current
        return _policy(self.db, version)

    def directorate_active(self, code: str) -> bool:
        if code not in self.directorates:
            found = self.db.run(_ACTIVE, (code,)).fetchone()
            self.directorates[code] = bool(found and found[0])
        return self.directorates[code]

    def step_quarter(self, vacancy: str, indicator: str) -> str | None:
        if (vacancy, indicator) in self.quarters:  # finished earlier in this batch
            return self.quarters[(vacancy, indicator)]
        found = self.db.run(_STEP_QUARTER, (vacancy, indicator)).fetchone()
        return found[0] if found else None


def write(conn: Connection, plans: Sequence[Plan]) -> bool:
    """Write the plans' rows; False, with nothing of them written, when another writer got
    to one of their vacancies or event ids first."""
    if not plans:
        return True
    db = _Driver(conn)
    if len(plans) == 1:
        return _write_one(db, plans[0])
    db.run("SAVEPOINT idflow_write")
    try:
        written = _write_rows(db, plans) is None
    except DBAPIError as error:
        if error.connection_invalidated or db.ended():
            raise
        db.run("ROLLBACK TO SAVEPOINT idflow_write")
        db.run("RELEASE SAVEPOINT idflow_write")
        # PostgreSQL broke a deadlock with another batch writing the same vacancies in
        # another order: a conflict like any other.
        if getattr(error.orig, "sqlstate", None) != "40P01":
            raise
        return False
    if not written:
        db.run("ROLLBACK TO SAVEPOINT idflow_write")
    db.run("RELEASE SAVEPOINT idflow_write")
    return written


class BatchRows(NamedTuple):
    """A batch's writes as the driver takes them, in the order they are written."""

    procedures: list[Values]  # the procedures new in the batch, as they stand after it
    transitions: list[Values]
    updates: dict[str, list[Values]]  # UPDATE statement (the columns changed): its rows


def batch_rows(plans: Sequence[Plan]) -> BatchRows:
    """The rows of a batch's plans: each procedure is written once, as the batch leaves it,
    and an UPDATE names only the columns that changed (grouped by those columns)."""
    first: dict[str, Plan] = {}
    last: dict[str, Plan] = {}
    for plan in plans:
        first.setdefault(plan.applied.vacancy, plan)
        last[plan.applied.vacancy] = plan
    new = [PROCEDURES.values(last[v].procedure) for v, p in first.items() if p.before is None]
    updates: dict[str, list[Values]] = {}
    writers = PROCEDURES.writers
    for vacancy, plan in first.items():
        if plan.before is None:
            continue
        before, after = vars(plan.before), vars(last[vacancy].procedure)
        columns = tuple(c for c in PROCEDURES.columns if after[c] != before[c])
        values = [writers[c](after[c]) if c in writers else after[c] for c in columns]
        row = [*values, vacancy, before["version"]]  # only where the version is still seen
        updates.setdefault(procedure_update(columns), []).append(row)
    return BatchRows(new, [TRANSITIONS.values(plan.transition) for plan in plans], updates)


def _write_one(db: _Driver, plan: Plan) -> bool:
    """One event's rows without a savepoint (which cost 7% of an interactive event on
    SQLite): a write that falls short undoes this event's writes before it, so the caller's
    transaction goes on."""
    short = _write_rows(db, [plan])
    if short == "transition" and plan.before is None:
        db.run(_DELETE_PROCEDURE, (plan.applied.vacancy,))
    elif short == "update":
        db.run(_DELETE_TRANSITION, (plan.transition.event_id,))
    return short is None


def _write_rows(db: _Driver, plans: Sequence[Plan]) -> str | None:
    """Write the rows; the write that fell short of its count, or None."""
    rows = batch_rows(plans)
    if rows.procedures and db.write(PROCEDURES.insert, rows.procedures) != len(rows.procedures):
        return "procedure"
    if db.write(TRANSITIONS.insert, rows.transitions) != len(rows.transitions):
        return "transition"
    if not _update_procedures(db, rows.updates):
        return "update"
    _write_side_rows(db, [plan for plan in plans if plan.outbox or plan.reasons])
    return None


def _update_procedures(db: _Driver, updates: dict[str, list[Values]]) -> bool:
    """Run the updates; False if a procedure's version was no longer the one decided on."""
    return all(db.write(statement, rows) == len(rows) for statement, rows in updates.items())


def _write_side_rows(db: _Driver, plans: list[Plan]) -> None:
    """Alert causes and exit reasons, each naming its transition by the id just handed out
    (read back for these few: a plain executemany is faster than one returning every id)."""
    if not plans:
        return
    ids = dict(db.read_in(SELECT_IDS, [plan.transition.event_id for plan in plans]))
    causes: list[OutboxRow] = []
    reasons = []
    for plan in plans:
        named = {"transition_id": ids[plan.transition.event_id]}
        causes += [replace(row, **named) for row in plan.outbox]
        reasons += [EXIT_REASONS.values(replace(row, **named)) for row in plan.reasons]
    if causes:
        db.write(OUTBOX.insert, [OUTBOX.values(row) for row in causes])
        _outbox_written(db.conn, causes)
    if reasons:
        db.write(EXIT_REASONS.insert, reasons)


def insert_outbox(conn: Connection, rows: Iterable[OutboxRow]) -> None:
    """Alert causes not raised by a transition (the scans); a known cause is skipped."""
    causes = list(rows)
    if causes:
        _Driver(conn).write(OUTBOX.insert, [OUTBOX.values(row) for row in causes])
        _outbox_written(conn, causes)


def forget(session: Session, vacancies: Iterable[str]) -> None:
    """Expire the session's copies of procedures the store just changed."""
    for vacancy in vacancies:
        loaded = session.identity_map.get(identity_key(Procedure, vacancy))
        if loaded is not None:
            session.expire(loaded)


# Per engine (by identity: cheaper per event than its URL as text), per version.
_POLICIES: WeakKeyDictionary[Engine, dict[int, Policy]] = WeakKeyDictionary()


def current_policy_version(session: Session) -> int:
    return _current_version(_Driver(session.connection()))


def load_policy(session: Session, version: int) -> Policy:
    return _policy(_Driver(session.connection()), version)


def _current_version(db: _Driver) -> int:
    version = db.run(_CURRENT_POLICY).fetchone()[0]
    if version is None:
        raise RuleViolation("Er is geen beleid geladen; voer eerst 'idflow init' uit.")
    return int(version)


def _policy(db: _Driver, version: int) -> Policy:
    """A stored policy version; versions never change once stored, so they are cached."""
    policies = _POLICIES.setdefault(db.conn.engine, {})
    if version not in policies:
        found = db.run(_POLICY, (version,)).fetchone()
        if found is None:
            raise RuleViolation(f"Beleidsversie {version} bestaat niet.")
        policies[version] = Policy.model_validate(_json_out(found[0]))
    return policies[version]
