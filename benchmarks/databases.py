"""Fresh benchmark databases (SQLite file or a new PostgreSQL database), initialised."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlmodel import Session

from models.database import dispose_engine, get_engine
from procedures.setup import initialise

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


@contextmanager
def fresh_database(kind: str, workdir: Path) -> Iterator[str]:
    """Yield the URL of a new, initialised database; drop it afterwards."""
    if kind == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
        url = f"sqlite:///{path}"
        _initialise(url)
        try:
            yield url
        finally:  # a 10M-transition file is gigabytes: gone as soon as it is measured
            dispose_engine(url)
            for leftover in workdir.glob(f"{path.name}*"):
                leftover.unlink()
        return
    name = f"idflow_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{POSTGRES_SERVER}/{name}"
    try:
        _initialise(url)
        yield url
    finally:
        dispose_engine(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def postgres_available() -> bool:
    try:
        engine = create_engine(f"{POSTGRES_SERVER}/postgres", connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


def _initialise(url: str) -> None:
    engine = get_engine(url)
    with Session(engine) as session:
        initialise(engine, session)
        session.commit()
