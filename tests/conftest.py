"""Shared fixtures: a fresh database per test (SQLite and PostgreSQL), event helpers, and the
Prefect harness."""

import os
import queue
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Prefect reads its settings at import: keep its home and database out of the user's.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="idflow-prefect-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

import pytest  # noqa: E402
from sqlalchemy import Engine  # noqa: E402
from sqlmodel import Session  # noqa: E402
from support import Sender, through_engine  # noqa: E402

from models import get_settings  # noqa: E402
from models.database import dispose_engine, get_engine  # noqa: E402
from procedures.setup import initialise  # noqa: E402

# The PostgreSQL server the tests create their databases on (trust auth, as in CI).
POSTGRES_URL = os.environ.get("IDFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
IN_CI = os.environ.get("CI", "").lower() == "true"


class PostgresServer:
    """Creates one database per test through the server's ``postgres`` database and drops it
    afterwards in a background thread (a drop waits for the disk; the next test need not)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.admin = self._connect()
        self.template: str | None = None
        self.drops: queue.Queue[str | None] = queue.Queue()
        self.dropper = threading.Thread(target=self._drop_queued, daemon=True)
        self.dropper.start()

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(f"{self.base_url}/postgres", autocommit=True, connect_timeout=5)

    def create(self, initialised: bool = False) -> str:
        """A new database: empty, or a copy of one that ``initialise`` made ready."""
        name = f"idflow_t_{uuid.uuid4().hex[:12]}"
        template = f' TEMPLATE "{self._initialised_template()}"' if initialised else ""
        self.admin.execute(f'CREATE DATABASE "{name}"{template}')
        return f"{self.base_url}/{name}"

    def _initialised_template(self) -> str:
        # Cloning an initialised database is several times faster than migrating each one.
        if self.template is None:
            url = self.create()
            _initialise(url)
            dispose_engine(url)
            self.template = url.rsplit("/", 1)[1]
        return self.template

    def drop(self, url: str) -> None:
        self.drops.put(url.rsplit("/", 1)[1])

    def _drop_queued(self) -> None:
        connection = self._connect()
        while (name := self.drops.get()) is not None:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.close()

    def close(self) -> None:
        if self.template is not None:
            self.drops.put(self.template)
        self.drops.put(None)
        self.dropper.join(timeout=120)
        self.admin.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | str]:
    """The test PostgreSQL server, or why it cannot be used."""
    try:
        server = PostgresServer(POSTGRES_URL)
    except Exception as error:  # any failure to connect means: no PostgreSQL here
        reason = " ".join(str(error).split())
        yield f"PostgreSQL is not reachable at {POSTGRES_URL} ({type(error).__name__}: {reason})"
        return
    yield server
    server.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A fresh, empty database for one test, on each database idflow supports; also the
    process's configured database (subprocesses get it through IDFLOW_DATABASE_URL)."""
    server: PostgresServer | None = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'idflow.db'}"
    else:
        found = request.getfixturevalue("postgres_server")
        if isinstance(found, str):
            # In CI a skipped PostgreSQL test would hide exactly what this run must prove.
            if IN_CI:
                pytest.fail(f"{found}; with CI=true the PostgreSQL tests must run.", pytrace=False)
            pytest.skip(
                f"{found}; the PostgreSQL variants are skipped. Start a server (see .ci/run) "
                "or point IDFLOW_TEST_POSTGRES_URL at one."
            )
        server = found
        # Tests that take the ``engine`` fixture get what initialise makes, only sooner.
        url = server.create(initialised="engine" in request.fixturenames)
    monkeypatch.setenv("IDFLOW_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    dispose_engine(url)
    if server is not None:
        server.drop(url)


@pytest.fixture
def engine(db_url: str) -> Engine:
    """The test database, initialised: schema, default policy and sample organisation."""
    return _initialise(db_url)


def _initialise(url: str) -> Engine:
    engine = get_engine(url)
    with Session(engine) as session:
        initialise(engine, session)
        session.commit()
    return engine


@pytest.fixture
def send(engine: Engine) -> Sender:
    """Sends events through the engine, one committed transaction each, like the CLI."""
    return Sender(through_engine(engine))


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect API for the whole session (starting it takes ~10 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
