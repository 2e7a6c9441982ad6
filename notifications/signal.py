"""After a commit that wrote alert causes, tell Prefect: the ``alerts-dispatch`` deployment
has a trigger on the event ``idflow.alert.raised`` and runs within seconds; its 5-minute
schedule stays as the backstop for a signal that got lost.

Nothing in ``procedures`` knows of this. The store, which writes every alert cause on the
database driver itself, calls its outbox listeners with the causes it wrote; SQLAlchemy
events see any other INSERT into the outbox on a connection of this process. The rows are
kept with their transaction, dropped on rollback, and signalled once the session has
committed. Entry
points call :func:`install`; without ``PREFECT_API_URL`` (local use) it installs nothing,
so nothing is emitted and Prefect is not even imported.

A process signals at most once per ``DEBOUNCE_S``: the first commit at once, the commits
after it together when the window ends (a timer, or at exit), so an import's batches or a
busy web server make a few events, not one per commit.
"""

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from models.settings import get_settings
from procedures.rows import OutboxRow
from procedures.store import OUTBOX_LISTENERS

EVENT = "idflow.alert.raised"
DEBOUNCE_S = 2.0
_KEY = "idflow.alerts.raised"
log = logging.getLogger(__name__)


class _DrainingAtExit(logging.Filter):
    """Prefect's events worker says it is "still processing" while it sends the last signal
    of a command that is ending; that is the point, not a warning for whoever reads stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Still processing items")


logging.getLogger("EventsWorker").addFilter(_DrainingAtExit())


@dataclass(frozen=True)
class Raised:
    """One alert cause written in a transaction (what the event names)."""

    engine: Engine
    vacancy: str | None
    directorate: str | None
    kind: str


Emit = Callable[[list[Raised]], None]


class _Signal:
    """Collects raised causes per transaction and emits them, debounced, after commit."""

    def __init__(self, emit: Emit) -> None:
        self.emit, self.lock = emit, threading.Lock()
        self.committing = threading.local()
        self.pending: list[Raised] = []
        self.last = float("-inf")
        self.timer: threading.Timer | None = None
        self.exit_hook = False

    def executed(self, conn: Any, clause: Any, multiparams: Any, params: Any, *_: Any) -> None:
        if not _is_outbox_insert(clause):
            return
        rows = [r for r in (multiparams or [params]) if isinstance(r, dict)] or [{}]
        conn.info.setdefault(_KEY, []).extend(
            Raised(conn.engine, r.get("vacancy"), r.get("directorate"), r.get("kind", ""))
            for r in rows
        )

    def written(self, conn: Any, rows: Sequence[OutboxRow]) -> None:
        """The store wrote these causes in ``conn``'s transaction."""
        conn.info.setdefault(_KEY, []).extend(
            Raised(conn.engine, r.vacancy, r.directorate, r.kind) for r in rows
        )

    def committed_connection(self, conn: Any) -> None:
        raised = conn.info.pop(_KEY, [])
        if raised:
            self._committing().extend(raised)

    def rolled_back_connection(self, conn: Any) -> None:
        conn.info.pop(_KEY, None)

    def committed_session(self, _session: Any) -> None:
        raised, self.committing.raised = self._committing(), []
        if raised:
            self.add(raised)

    def rolled_back_session(self, _session: Any) -> None:
        self.committing.raised = []

    def _committing(self) -> list[Raised]:
        if not hasattr(self.committing, "raised"):
            self.committing.raised = []
        raised: list[Raised] = self.committing.raised
        return raised

    def add(self, raised: list[Raised]) -> None:
        with self.lock:
            self.pending += raised
            if self.timer is not None:
                return  # the window's trailing signal will carry these too
            wait = self.last + DEBOUNCE_S - time.monotonic()
            if wait > 0:
                self.timer = threading.Timer(wait, self.flush)
                self.timer.daemon = True
                self.timer.start()
                return
        self.flush()

    def flush(self) -> None:
        with self.lock:
            raised, self.pending = self.pending, []
            self.timer, self.last = None, time.monotonic()
        if not raised:
            return
        try:
            self.emit(raised)
        except Exception:  # a signal is an optimisation: the schedule delivers anyway
            log.warning("Prefect niet gewaarschuwd over nieuwe meldingen", exc_info=True)
        if not self.exit_hook:
            # Registered after Prefect's own exit hook (its events worker starts at the
            # first emit), so this runs first: the last window is sent before Prefect drains.
            self.exit_hook = True
            threading._register_atexit(self._at_exit)  # type: ignore[attr-defined]

    def _at_exit(self) -> None:
        timer = self.timer
        if timer is not None:
            timer.cancel()
        self.flush()


def _is_outbox_insert(clause: Any) -> bool:
    if isinstance(clause, Insert):
        return getattr(clause.table, "name", None) == "outbox"
    statement = getattr(clause, "text", None)
    return isinstance(statement, str) and statement.lstrip().lower().startswith(
        "insert into outbox"
    )


_installed: _Signal | None = None
_LISTENERS = (
    (Engine, "after_execute", "executed"),
    (Engine, "commit", "committed_connection"),
    (Engine, "rollback", "rolled_back_connection"),
    (Session, "after_commit", "committed_session"),
    (Session, "after_rollback", "rolled_back_session"),
)


def install(emit: Emit | None = None) -> bool:
    """Signal Prefect after every commit that raised alerts (only with PREFECT_API_URL, or
    with an explicit ``emit``); True when signalling is on."""
    global _installed
    if _installed is not None:
        return True
    if emit is None and not get_settings().prefect_api_url:
        return False
    _installed = _Signal(emit or emit_to_prefect)
    for target, name, method in _LISTENERS:
        event.listen(target, name, getattr(_installed, method))
    OUTBOX_LISTENERS.append(_installed.written)
    return True


def uninstall() -> None:
    """Stop signalling (tests)."""
    global _installed
    if _installed is None:
        return
    for target, name, method in _LISTENERS:
        event.remove(target, name, getattr(_installed, method))
    OUTBOX_LISTENERS.remove(_installed.written)
    _installed = None


def emit_to_prefect(raised: list[Raised]) -> None:
    """One Prefect event for the causes of one debounce window."""
    from prefect.events import emit_event

    first = raised[0]
    resource = {"prefect.resource.name": first.vacancy or first.directorate or "idflow"}
    if first.vacancy:
        resource["prefect.resource.id"] = f"idflow.vacancy.{first.vacancy}"
    else:
        resource["prefect.resource.id"] = f"idflow.directorate.{first.directorate}"
    related = []
    cluster = _cluster_of(first)
    if cluster:
        related.append(
            {"prefect.resource.id": f"idflow.cluster.{cluster}", "prefect.resource.role": "cluster"}
        )
    if first.directorate:
        related.append(
            {
                "prefect.resource.id": f"idflow.directorate.{first.directorate}",
                "prefect.resource.role": "directorate",
            }
        )
    payload = {
        "causes": len(raised),
        "kinds": sorted({r.kind for r in raised}),
        "vacancies": sorted({r.vacancy for r in raised if r.vacancy})[:20],
    }
    emit_event(event=EVENT, resource=resource, related=related, payload=payload)


def _cluster_of(raised: Raised) -> str | None:
    if not raised.directorate:
        return None
    with raised.engine.connect() as conn:
        statement = text("SELECT cluster_code FROM directorate WHERE code = :code")
        return conn.execute(statement, {"code": raised.directorate}).scalar()
