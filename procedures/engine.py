"""The one place that applies an event: load, decide, append, update, outbox; one transaction.

Every entry point (CLI, import, web, flows) goes through :func:`plan_event`, which decides
one event against the procedure as it stands and returns the rows it writes (or the earlier
answer to a duplicate, or a domain error). The caller owns the outer transaction.

- :func:`apply_event` reads, plans and writes one event. A refused event has written nothing.
  The writes need no savepoint: each one that can meet another writer reports the conflict
  instead of failing (``ON CONFLICT DO NOTHING``, ``UPDATE ... WHERE version = :seen``), and
  a conflict after the event's first write removes that write again.
- :func:`apply_events` (the import) reads a whole batch's procedures and event ids up front,
  plans each event in order with the same :func:`plan_event`, and writes the batch with a few
  ``executemany`` statements in one savepoint. When that write meets another writer, the
  savepoint is rolled back and the batch is applied again event by event.

The rows are written with SQLAlchemy Core statements, not the ORM's unit of work; the
procedure row's ``version`` is checked by the UPDATE itself.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from types import SimpleNamespace
from typing import Any, Protocol
from weakref import WeakKeyDictionary

from sqlalchemy import (
    BindParameter,
    Connection,
    Engine,
    Table,
    TextClause,
    bindparam,
    func,
    insert,
    text,
)
from sqlalchemy import select as sa_select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session

from models import Directorate, ExitReason, Outbox, PolicyVersion, Procedure, Transition
from procedures.alerts import causes_for
from procedures.audit import GENESIS, transition_hash
from procedures.calendar import quarter_of, year_of
from procedures.chart import (
    STATE_LABELS,
    STEPS,
    NoTransition,
    ProcedureView,
    allowed_events,
    decide,
    events_in_state,
)
from procedures.errors import (
    ConflictError,
    EventIdReused,
    EventNotAllowed,
    RefusedError,
    RuleViolation,
    UnknownVacancy,
)
from procedures.events import (
    DepartureData,
    EventIn,
    ExitInterviewData,
    HireData,
    event_digest,
    parse_data,
    stored_data,
)
from procedures.evidence import text_evidence
from procedures.policy import AMSTERDAM, Policy

FUTURE_SLACK = timedelta(minutes=10)  # clocks of other systems may run a little ahead
# Keys per IN (...) query when a batch is read (well below SQLite's limit of variables).
READ_CHUNK = 500

PROCEDURE: Table = Procedure.__table__  # type: ignore[attr-defined]
TRANSITION: Table = Transition.__table__  # type: ignore[attr-defined]
EXIT_REASON: Table = ExitReason.__table__  # type: ignore[attr-defined]
OUTBOX: Table = Outbox.__table__  # type: ignore[attr-defined]
DIRECTORATE: Table = Directorate.__table__  # type: ignore[attr-defined]
PROCEDURE_COLUMNS = tuple(column.name for column in PROCEDURE.columns)
TRANSITION_COLUMNS = tuple(c.name for c in TRANSITION.columns if c.name != "id")
# What a duplicate is recognised by, and answered with.
_EARLIER = ("event_id", "digest", "vacancy", "seq", "event", "target", "outcome", "round")
# Every statement is built once: building one per event (and its cache key) cost more than
# running it.
_EARLIER_COLUMNS = [TRANSITION.c[name] for name in _EARLIER]
_KEYS: BindParameter[Any] = bindparam("keys", expanding=True)
_READ = PROCEDURE.select().where(PROCEDURE.c.vacancy == bindparam("vacancy"))
_READ_MANY = PROCEDURE.select().where(PROCEDURE.c.vacancy.in_(_KEYS))
_USED = sa_select(*_EARLIER_COLUMNS).where(TRANSITION.c.event_id == bindparam("event_id"))
_USED_MANY = sa_select(*_EARLIER_COLUMNS).where(TRANSITION.c.event_id.in_(_KEYS))
_IDS = sa_select(TRANSITION.c.event_id, TRANSITION.c.id).where(TRANSITION.c.event_id.in_(_KEYS))
_ACTIVE = sa_select(DIRECTORATE.c.active).where(DIRECTORATE.c.code == bindparam("code"))
_DIRECTORATES = sa_select(DIRECTORATE.c.code, DIRECTORATE.c.active)
_STEP_QUARTER = (
    sa_select(TRANSITION.c.quarter)
    .where(TRANSITION.c.vacancy == bindparam("vacancy"))
    .where(TRANSITION.c.indicator == bindparam("indicator"))
    .where(TRANSITION.c.event != "explain")
    .order_by(TRANSITION.c.seq.desc())
    .limit(1)
)
_POLICY_TABLE: Table = PolicyVersion.__table__  # type: ignore[attr-defined]
_CURRENT_POLICY = sa_select(func.max(_POLICY_TABLE.c.version))
_POLICY = sa_select(_POLICY_TABLE.c.body).where(_POLICY_TABLE.c.version == bindparam("version"))
_INSERT_PROCEDURE = insert(PROCEDURE)
_INSERT_TRANSITION = insert(TRANSITION)
_INSERT_EXIT_REASON = insert(EXIT_REASON)
_DELETE_PROCEDURE = PROCEDURE.delete().where(PROCEDURE.c.vacancy == bindparam("vacancy"))
_DELETE_TRANSITION = TRANSITION.delete().where(TRANSITION.c.id == bindparam("id"))


def _insert_ignoring(table: Table, returning: str | None = None) -> TextClause:
    """INSERT of every column but a generated id (Python-side defaults are not applied) that
    skips a row meeting a unique key instead of failing, optionally returning a column.

    Written as text because SQLAlchemy 2.0 does not cache its dialect-specific ``ON
    CONFLICT`` inserts (it compiled one per event); the typed bind parameters keep every
    column's conversion, and PostgreSQL and SQLite (3.35 and later) share this syntax.
    """
    names = [column.name for column in table.columns if column.name != "id"]  # id: generated
    sql = (
        f"INSERT INTO {table.name} ({', '.join(names)}) "
        f"VALUES ({', '.join(':' + name for name in names)}) ON CONFLICT DO NOTHING"
    )
    statement = text(sql + (f" RETURNING {returning}" if returning else ""))
    statement = statement.bindparams(*(bindparam(n, type_=table.c[n].type) for n in names))
    return statement.columns(table.c[returning]) if returning else statement  # type: ignore[return-value]


_INSERT_PROCEDURE_IGNORING = _insert_ignoring(PROCEDURE, returning="seq")
_INSERT_TRANSITION_IGNORING = _insert_ignoring(TRANSITION, returning="id")
_INSERT_OUTBOX = insert(OUTBOX)


@cache
def _update(columns: tuple[str, ...]) -> Any:
    """UPDATE of these columns, only where the version is still the one decided on."""
    return (
        PROCEDURE.update()
        .where(PROCEDURE.c.vacancy == bindparam("key"), PROCEDURE.c.version == bindparam("seen"))
        .values({name: bindparam(name) for name in columns})
    )


@dataclass(frozen=True)
class Applied:
    """The engine's answer: the event was applied now, or had been applied before."""

    status: str  # "applied" | "duplicate"
    vacancy: str
    seq: int
    event: str
    state: str
    outcome: str | None
    round: int
    version: int


@dataclass
class Plan:
    """What one accepted event writes: its transition, the procedure after it, side rows."""

    applied: Applied
    transition: dict[str, Any]
    procedure: SimpleNamespace  # every column of the procedure row after the event
    before: Any | None  # the procedure row the decision was made on; None for a new one
    outbox: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[dict[str, Any]] = field(default_factory=list)


class Reads(Protocol):
    """What a decision reads besides the procedure itself."""

    def policy(self, procedure: Any | None) -> Policy:
        """The procedure's policy version, or the current one for a new procedure."""

    def earlier(self, event_id: str) -> Any | None:
        """The transition already written for this event id (attributes as in ``_EARLIER``)."""

    def procedure(self, vacancy: str) -> Any | None:
        """The stored procedure row, read now."""

    def directorate_active(self, code: str) -> bool: ...

    def step_quarter(self, vacancy: str, indicator: str) -> str | None:
        """The quarter of the newest transition that finished this step (not an explain)."""


def apply_event(session: Session, event: EventIn, origin: str) -> Applied:
    """Apply one event inside the caller's transaction, or raise a domain error."""
    conn = session.connection()
    # Always read the stored row: in a long transaction the caller may hold an older copy,
    # and deciding on it refuses valid events.
    plan = plan_event(event, origin, read_procedure(conn, event.vacancy), _Stored(conn))
    if isinstance(plan, Applied):
        return plan
    if not write_one(conn, plan):
        # Another writer may have applied this very event first (the same file imported twice
        # at once): then it is a duplicate, not a conflict.
        earlier = _Stored(conn).earlier(event.id)
        if earlier is not None:
            return _duplicate(
                earlier, plan.transition["digest"], read_procedure(conn, event.vacancy)
            )
        raise ConflictError(
            f"Vacature {event.vacancy} is tegelijk door iemand anders gewijzigd; "
            "laad de vacature opnieuw en probeer het nog eens."
        )
    _forget(session, [event.vacancy])
    return plan.applied


Outcome = Applied | RefusedError | ConflictError


def apply_events(session: Session, events: Sequence[EventIn], origin: str) -> list[Outcome]:
    """Apply a batch in order, each event as :func:`apply_event` would: one answer per event.

    Refused events are answered with their error and change nothing. The batch is written
    in a savepoint; if another writer got in between (a unique or version conflict), the
    savepoint is rolled back and every event of the batch goes through :func:`apply_event`.
    """
    conn = session.connection()
    reads = _Batch(conn, events)
    outcomes: list[Outcome] = []
    plans: list[Plan] = []
    for event in events:
        try:
            plan = plan_event(event, origin, reads.procedures.get(event.vacancy), reads)
        except (RefusedError, ConflictError) as error:
            outcomes.append(error)
            continue
        if isinstance(plan, Plan):
            reads.accept(plan)
            plans.append(plan)
            outcomes.append(plan.applied)
        else:
            outcomes.append(plan)
    try:
        with session.begin_nested():
            write_plans(session.connection(), plans)  # the savepoint begins here
    except (IntegrityError, _Overtaken):
        return [_one_by_one(session, event, origin) for event in events]
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) != "40P01":
            raise
        # PostgreSQL broke a deadlock with another batch writing the same vacancies in
        # another order: this batch's savepoint is gone, its events go one by one.
        return [_one_by_one(session, event, origin) for event in events]
    _forget(session, reads.procedures)
    return outcomes


def _one_by_one(session: Session, event: EventIn, origin: str) -> Outcome:
    try:
        return apply_event(session, event, origin)
    except (RefusedError, ConflictError) as error:
        return error


def plan_event(
    event: EventIn, origin: str, procedure: Any | None, reads: Reads
) -> "Plan | Applied":
    """Decide one event against ``procedure`` (its row, or None): the rows to write, the
    earlier answer for a duplicate, or a domain error. Reads nothing but through ``reads``."""
    policy = reads.policy(procedure)
    earlier = reads.earlier(event.id)
    if earlier is not None:
        if procedure is None or procedure.seq < earlier.seq:
            # Another writer committed it after the procedure was read: read that again.
            procedure = reads.procedure(earlier.vacancy)
        return _duplicate(earlier, event_digest(event, parse_data(event), policy), procedure)
    _check_preconditions(event, procedure)
    view = view_of(procedure, policy)
    if event.event not in events_in_state(view):
        raise EventNotAllowed(not_allowed_message(event.event, event.vacancy, view))
    data = parse_data(event)
    if event.event == "open" and not reads.directorate_active(data.directorate):  # type: ignore[attr-defined]
        raise RuleViolation(
            f"Onbekende directie '{data.directorate}'. Kies een actieve directie uit "  # type: ignore[attr-defined]
            "'idflow org show', of laad de organisatie met 'idflow org load'."
        )
    digest = event_digest(event, data, policy)
    evidence = text_evidence(data)
    source = view.state or "new"
    try:
        decide(view, event.event, data=data, evidence=evidence)
    except NoTransition:  # a guard said no: still a refusal that names the state
        raise EventNotAllowed(not_allowed_message(event.event, event.vacancy, view)) from None
    return _plan(event, origin, procedure, view, source, data, digest, evidence, reads)


def _duplicate(earlier: Any, digest: str, procedure: Any | None) -> Applied:
    if earlier.digest != digest:
        raise EventIdReused(
            f"Gebeurtenis-id '{earlier.event_id}' is al gebruikt voor een andere gebeurtenis "
            f"({earlier.event} op vacature {earlier.vacancy}); kies een nieuw id."
        )
    assert procedure is not None
    return Applied(
        "duplicate",
        earlier.vacancy,
        earlier.seq,
        earlier.event,
        earlier.target,
        earlier.outcome,
        earlier.round,
        procedure.version or 0,
    )


def _check_preconditions(event: EventIn, procedure: Any | None) -> None:
    if event.at > datetime.now(UTC) + FUTURE_SLACK:
        # A moment in the future would also block every real event after it (time order).
        raise RuleViolation(
            f"Gebeurtenis op {event.at.isoformat()} ligt in de toekomst; een gebeurtenis "
            "legt vast wat al gebeurd is (hoogstens 10 minuten na nu, voor klokverschillen)."
        )
    if event.event == "open":
        if procedure is not None:
            raise EventNotAllowed(
                f"Vacature {event.vacancy} bestaat al (toestand '{procedure.state}'); "
                "open een nieuwe vacature met een ander vacaturenummer."
            )
        return
    if procedure is None:
        raise UnknownVacancy(
            f"Vacature {event.vacancy} bestaat niet; open haar eerst met de gebeurtenis 'open'."
        )
    # A writer who saw an older version hears that first: every other check would judge the
    # event against a state that writer never saw.
    if event.expected_version is not None and event.expected_version != procedure.version:
        raise ConflictError(
            f"Vacature {event.vacancy} is intussen gewijzigd (versie {procedure.version}, "
            f"u zag versie {event.expected_version}); laad de vacature opnieuw."
        )
    if event.at < procedure.last_event_at:
        last = procedure.last_event_at.astimezone(AMSTERDAM).isoformat()
        raise RuleViolation(
            f"Gebeurtenis op {event.at.isoformat()} ligt vóór de laatste gebeurtenis van "
            f"vacature {event.vacancy} ({last}); "
            "gebeurtenissen moeten in tijdsvolgorde komen."
        )


def _plan(
    event: EventIn,
    origin: str,
    procedure: Any | None,
    view: ProcedureView,
    source: str,
    data: Any,
    digest: str,
    evidence: dict[str, Any] | None,
    reads: Reads,
) -> Plan:
    policy = view.policy
    now = datetime.now(UTC)
    before = _new_procedure(event, data, policy) if procedure is None else procedure
    decision = view.decision
    quarter = None
    if decision.step is not None:
        quarter = quarter_of(event.at)
        if event.event == "explain":
            quarter = reads.step_quarter(event.vacancy, STEPS[decision.step])
    row = SimpleNamespace(
        vacancy=event.vacancy,
        seq=before.seq + 1,
        event_id=event.id,
        digest=digest,
        event=event.event,
        source=source,
        target=view.state or source,
        outcome=decision.outcome,
        indicator=decision.indicator,
        quarter=quarter,
        round=view.round,
        directorate=before.directorate,
        policy_version=policy.version,
        actor=event.actor,
        origin=origin,
        at=event.at,
        recorded_at=now,
        data=stored_data(data) | ({"text_check": evidence} if evidence else {}),
        prev_hash=before.head_hash,
        hash="",
    )
    row.hash = transition_hash(row)
    after = _procedure_after(before, view, row, data, policy)
    outbox = causes_for(row, decision, now)
    reasons = []
    if isinstance(data, ExitInterviewData):
        year = year_of(row.at)
        reasons = [
            {"code": code, "directorate": row.directorate, "year": year}
            for code in dict.fromkeys(data.reasons)
        ]
    applied = Applied(
        "applied",
        row.vacancy,
        row.seq,
        row.event,
        row.target,
        row.outcome,
        row.round,
        after.version,
    )
    transition = {name: getattr(row, name) for name in TRANSITION_COLUMNS}
    return Plan(applied, transition, after, procedure, outbox, reasons)


def _new_procedure(event: EventIn, data: Any, policy: Policy) -> SimpleNamespace:
    values: dict[str, Any] = dict.fromkeys(PROCEDURE_COLUMNS)
    values.update(
        vacancy=event.vacancy,
        directorate=data.directorate,
        scale=data.scale,
        title=data.title,
        kind=data.kind,
        state="new",
        round=1,
        policy_version=policy.version,
        opened_at=event.at,
        state_since=event.at,
        last_event_at=event.at,
        seq=0,
        head_hash=GENESIS,
        version=0,
    )
    return SimpleNamespace(**values)


def _procedure_after(
    before: Any, view: ProcedureView, row: Any, data: Any, policy: Policy
) -> SimpleNamespace:
    """The procedure row once the transition is applied (``before`` stays as it was)."""
    after = SimpleNamespace(**_values(before))
    stay_changed = row.target != row.source or view.round != before.round
    if isinstance(data, HireData):
        after.employee, after.start_date = data.employee, data.start_date
    if isinstance(data, DepartureData):
        after.leave_date = data.leave_date
    after.state = row.target
    after.round = view.round
    for step, outcome in view.outcomes.items():
        setattr(after, f"outcome_{step}", outcome)
    after.last_event_at = row.at
    if stay_changed:
        after.state_since = row.at
        anchor = {"onboarding": after.start_date, "exit_interview": after.leave_date}
        after.due_at = policy.due_at(row.target, row.at, anchor.get(row.target))
    after.seq = row.seq
    after.head_hash = row.hash
    after.version = (before.version or 0) + 1
    return after


def _values(procedure: Any) -> dict[str, Any]:
    """Every column of a procedure row (a database row or a planned one) by name."""
    if isinstance(procedure, SimpleNamespace):
        return dict(vars(procedure))
    return dict(procedure._mapping)


class _Overtaken(Exception):
    """A procedure's version moved on between reading it and writing it."""


def write_plans(conn: Connection, plans: Sequence[Plan]) -> None:
    """Write a batch's rows: new procedures, transitions, procedure updates, side rows.

    The caller holds a savepoint around it: a unique conflict raises ``IntegrityError``, a
    procedure whose version moved on raises ``_Overtaken``.
    """
    if not plans:
        return
    last: dict[str, Plan] = {}
    first: dict[str, Plan] = {}
    for plan in plans:
        first.setdefault(plan.applied.vacancy, plan)
        last[plan.applied.vacancy] = plan
    new = [vars(last[v].procedure) for v, p in first.items() if p.before is None]
    if new:
        conn.execute(_INSERT_PROCEDURE, new)
    conn.execute(_INSERT_TRANSITION, [plan.transition for plan in plans])
    changed = [(p.before, last[v].procedure) for v, p in first.items() if p.before is not None]
    if not _update_procedures(conn, changed):
        raise _Overtaken()
    # Side rows name their transition by id: read back the few ids needed (a plain
    # executemany is much faster than one that returns every row's id).
    sided = [plan for plan in plans if plan.outbox or plan.reasons]
    ids = _transition_ids(conn, [plan.transition["event_id"] for plan in sided])
    _write_side_rows(conn, sided, ids)


def write_one(conn: Connection, plan: Plan) -> bool:
    """Write one event's rows without a savepoint; False when another writer got there first.

    Every write that can meet another writer reports the conflict instead of failing (``ON
    CONFLICT DO NOTHING``, ``UPDATE ... WHERE version = :seen``), so the caller's transaction
    stays usable; a conflict after this event's first write undoes that write. Both this and
    :func:`write_plans` write in the same order (procedure insert, transition, procedure
    update), so two writers wait for each other instead of deadlocking.
    """
    vacancy = plan.applied.vacancy
    new = plan.before is None
    if new and conn.execute(_INSERT_PROCEDURE_IGNORING, vars(plan.procedure)).first() is None:
        return False
    transition_id = conn.execute(_INSERT_TRANSITION_IGNORING, plan.transition).scalar()
    if transition_id is None:
        if new:
            conn.execute(_DELETE_PROCEDURE, {"vacancy": vacancy})
        return False
    if not new and not _update_procedures(conn, [(plan.before, plan.procedure)]):
        conn.execute(_DELETE_TRANSITION, {"id": transition_id})
        return False
    _write_side_rows(conn, [plan], {plan.transition["event_id"]: transition_id})
    return True


def _update_procedures(conn: Connection, changes: list[tuple[Any, SimpleNamespace]]) -> bool:
    """One UPDATE per changed procedure of the columns that changed (grouped by those
    columns), each only where the version is still the one decided on; False if one was not."""
    updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for before_row, after_row in changes:
        after, before = vars(after_row), _values(before_row)
        columns = tuple(c for c in PROCEDURE_COLUMNS if after[c] != before[c])
        row = {c: after[c] for c in columns} | {"key": after["vacancy"], "seen": before["version"]}
        updates.setdefault(columns, []).append(row)
    for columns, rows in updates.items():
        result = conn.execute(_update(columns), rows)
        countable = len(rows) == 1 or conn.dialect.supports_sane_multi_rowcount
        if countable and result.rowcount != len(rows):
            return False
    return True


def _write_side_rows(conn: Connection, plans: Sequence[Plan], ids: dict[str, int]) -> None:
    outbox, reasons = [], []
    for plan in plans:
        transition_id = ids[plan.transition["event_id"]]
        outbox += [row | {"transition_id": transition_id} for row in plan.outbox]
        reasons += [row | {"transition_id": transition_id} for row in plan.reasons]
    if outbox:  # each cause key names a fact the chart lets happen once per vacancy
        conn.execute(_INSERT_OUTBOX, outbox)
    if reasons:
        conn.execute(_INSERT_EXIT_REASON, reasons)


def _transition_ids(conn: Connection, event_ids: list[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for chunk in _chunks(event_ids):
        ids.update(conn.execute(_IDS, {"keys": chunk}).tuples().all())
    return ids


def _forget(session: Session, vacancies: Iterable[str]) -> None:
    """Expire the session's copies of procedures the Core statements just changed."""
    for vacancy in vacancies:
        loaded = session.identity_map.get(identity_key(Procedure, vacancy))
        if loaded is not None:
            session.expire(loaded)


def read_procedure(conn: Connection, vacancy: str) -> Any | None:
    """The stored procedure row (attribute access), or None."""
    return conn.execute(_READ, {"vacancy": vacancy}).first()


class _Stored:
    """Reads for one event, straight from the database."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def policy(self, procedure: Any | None) -> Policy:
        version = procedure.policy_version if procedure else _current_version(self.conn)
        return _load_policy(self.conn, version)

    def procedure(self, vacancy: str) -> Any | None:
        return read_procedure(self.conn, vacancy)

    def earlier(self, event_id: str) -> Any | None:
        return self.conn.execute(_USED, {"event_id": event_id}).first()

    def directorate_active(self, code: str) -> bool:
        return bool(self.conn.execute(_ACTIVE, {"code": code}).scalar())

    def step_quarter(self, vacancy: str, indicator: str) -> str | None:
        parameters = {"vacancy": vacancy, "indicator": indicator}
        return self.conn.execute(_STEP_QUARTER, parameters).scalar()


class _Batch(_Stored):
    """Reads for a batch: its procedures and used event ids fetched up front, in chunks,
    and every event the batch accepts seen by the events after it."""

    def __init__(self, conn: Connection, events: Sequence[EventIn]) -> None:
        super().__init__(conn)
        vacancies = list(dict.fromkeys(e.vacancy for e in events))
        ids = list(dict.fromkeys(e.id for e in events))
        self.procedures: dict[str, Any] = {}
        self.used: dict[str, Any] = {}
        # PostgreSQL: psycopg prepares a statement once it ran five times, and PostgreSQL may
        # then plan these IN (...) reads once for any keys. On a table autovacuum has not
        # analysed yet (a first import) that plan scanned the whole table, and the import
        # slowed down with every batch; these reads are planned with their keys instead.
        custom_plans = conn.dialect.name == "postgresql"
        if custom_plans:
            conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
        for chunk in _chunks(vacancies):
            rows = conn.execute(_READ_MANY, {"keys": chunk})
            self.procedures.update((row.vacancy, row) for row in rows)
        for chunk in _chunks(ids):
            rows = conn.execute(_USED_MANY, {"keys": chunk})
            self.used.update((row.event_id, row) for row in rows)
        if custom_plans:  # the batch's writes keep the server's own choice
            conn.exec_driver_sql("SET LOCAL plan_cache_mode = DEFAULT")
        self.directorates = dict(conn.execute(_DIRECTORATES).tuples().all())
        self.pending: dict[tuple[str, str], str | None] = {}  # (vacancy, indicator) -> quarter
        self._current: int | None = None

    def policy(self, procedure: Any | None) -> Policy:
        if procedure is not None:
            return _load_policy(self.conn, procedure.policy_version)
        if self._current is None:  # the current version, asked once per batch
            self._current = _current_version(self.conn)
        return _load_policy(self.conn, self._current)

    def earlier(self, event_id: str) -> Any | None:
        return self.used.get(event_id)

    def directorate_active(self, code: str) -> bool:
        return bool(self.directorates.get(code))

    def step_quarter(self, vacancy: str, indicator: str) -> str | None:
        if (vacancy, indicator) in self.pending:
            return self.pending[(vacancy, indicator)]
        return super().step_quarter(vacancy, indicator)

    def accept(self, plan: Plan) -> None:
        row = plan.transition
        self.procedures[row["vacancy"]] = plan.procedure
        self.used[row["event_id"]] = SimpleNamespace(**{name: row[name] for name in _EARLIER})
        if row["indicator"] is not None and row["event"] != "explain":
            self.pending[(row["vacancy"], row["indicator"])] = row["quarter"]


def _chunks(keys: list[str]) -> Iterable[list[str]]:
    return (keys[i : i + READ_CHUNK] for i in range(0, len(keys), READ_CHUNK))


def view_of(procedure: Procedure | None, policy: Policy) -> ProcedureView:
    """The chart's model for a stored procedure (or a fresh one for ``open``)."""
    if procedure is None:
        return ProcedureView(policy=policy)
    outcomes = {step: getattr(procedure, f"outcome_{step}") for step in STEPS}
    return ProcedureView(
        policy=policy,
        state=procedure.state,
        round=procedure.round,
        outcomes=outcomes,
        start_date=procedure.start_date,
    )


def not_allowed_message(event: str, vacancy: str, view: ProcedureView) -> str:
    state = view.state or "new"
    allowed = allowed_events(view)
    label = STATE_LABELS.get(state, state)
    now_allowed = ", ".join(allowed) if allowed else "geen (de procedure is afgesloten)"
    return (
        f"De gebeurtenis '{event}' is niet toegestaan voor vacature {vacancy} in de toestand "
        f"'{state}' ({label}). Nu toegestaan: {now_allowed}."
    )


# Per engine (by identity: cheaper per event than its URL as text), per version.
_POLICIES: WeakKeyDictionary[Engine, dict[int, Policy]] = WeakKeyDictionary()


def current_policy_version(session: Session) -> int:
    return _current_version(session.connection())


def load_policy(session: Session, version: int) -> Policy:
    return _load_policy(session.connection(), version)


def _current_version(conn: Connection) -> int:
    version = conn.execute(_CURRENT_POLICY).scalar()
    if version is None:
        raise RuleViolation("Er is geen beleid geladen; voer eerst 'idflow init' uit.")
    return int(version)


def _load_policy(conn: Connection, version: int) -> Policy:
    """A stored policy version; versions never change once stored, so they are cached."""
    policies = _POLICIES.setdefault(conn.engine, {})
    if version not in policies:
        body = conn.execute(_POLICY, {"version": version}).scalar()
        if body is None:
            raise RuleViolation(f"Beleidsversie {version} bestaat niet.")
        policies[version] = Policy.model_validate(body)
    return policies[version]
