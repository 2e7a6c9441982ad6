"""Engine and sessions: SQLite gets WAL and immediate write locks; others are used as is."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel

from models.settings import get_settings


class _HandledPipelineError(logging.Filter):
    """psycopg warns when a batch (executemany, run in pipeline mode) fails and the pipeline
    then cannot end cleanly; the batch's own error is raised and handled (the import applies
    the batch again event by event), so the warning would only alarm whoever reads stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("error ignored terminating")


logging.getLogger("psycopg").addFilter(_HandledPipelineError())


def make_engine(url: str | None = None) -> Engine:
    """Create an engine for ``url`` (default: the settings' database URL)."""
    settings = get_settings()
    url = url or settings.database_url
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=settings.echo_sql, connect_args={"timeout": 30})
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # A server that does not answer is reported (StorageError) instead of hanging forever.
    connect_args = {"connect_timeout": 10} if url.startswith("postgresql") else {}
    return create_engine(url, echo=settings.echo_sql, pool_pre_ping=True, connect_args=connect_args)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    # SQLite is the one place we must branch: pysqlite's own transaction handling would start
    # transactions late and deferred, and a deferred writer can fail with SQLITE_BUSY_SNAPSHOT.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "handle_error")
    def _report_the_first_error(context: Any) -> Any:
        # On a full disk or an I/O error SQLite rolls the whole transaction back by itself;
        # the savepoint rollback that follows then fails with "no such savepoint", which
        # would hide why. Remember the first error and report that one instead.
        pooled = getattr(context.connection, "connection", None)
        if pooled is None or pooled.dbapi_connection is None:
            return None
        if "no such savepoint" in str(context.original_exception) and "lost_by" in pooled.info:
            lost_by = pooled.info.pop("lost_by")
            return OperationalError(context.statement, context.parameters, lost_by)
        if not pooled.dbapi_connection.in_transaction:  # SQLite ended the transaction
            pooled.info["lost_by"] = context.original_exception
        return None


def create_schema(engine: Engine) -> None:
    """Create the models' tables directly; for tests only (``idflow init`` runs the migrations)."""
    import models.tables  # noqa: F401  (registers the tables on the metadata)

    SQLModel.metadata.create_all(engine)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


_ENGINES: dict[str, Engine] = {}


def get_engine(url: str | None = None) -> Engine:
    """One engine (and connection pool) per database URL per process."""
    url = url or get_settings().database_url
    if url not in _ENGINES:
        _ENGINES[url] = make_engine(url)
    return _ENGINES[url]


def dispose_engine(url: str) -> None:
    """Close the pooled connections of ``url``'s engine and forget it (tests drop databases)."""
    engine = _ENGINES.pop(url, None)
    if engine is not None:
        engine.dispose()


def storage_failure(error: Exception) -> str:
    """Dutch: why the database refused, for a StorageError message."""
    reason = (str(getattr(error, "orig", error)).strip().splitlines() or ["onbekende fout"])[0]
    if "no such table" in reason or ("relation" in reason and "does not exist" in reason):
        return f"De database is nog niet ingericht ({reason}); voer eerst 'idflow init' uit"
    return f"De database is niet bereikbaar of niet beschrijfbaar ({reason})"
