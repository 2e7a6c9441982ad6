"""How does the schema change? Alembic migrations, and the one function that applies them."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, inspect, text

HERE = Path(__file__).resolve().parent
# The first revision; databases made by ``create_all`` before migrations existed match it.
BASELINE = "0001"
# Any constant works; it only has to be the same in every idflow process.
_PG_LOCK_KEY = 7_316_001


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the migrations shipped in this package.

    With ``connection`` the migrations run on it (inside its transaction); without it
    ``env.py`` connects to the settings' database URL.
    """
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Bring the database to the newest revision in one transaction."""
    with engine.begin() as connection:
        hold_setup_lock(connection)
        config = alembic_config(connection)
        if _unversioned_idflow_schema(connection):
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")


def hold_setup_lock(connection: Connection) -> None:
    """Serialise setting a database up until this transaction ends.

    Several processes may start at once (web workers, `idflow init`); one migrates (or loads
    the first policy and organisation), the others wait and then find nothing to do. SQLite's
    BEGIN IMMEDIATE already serialises writers."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def _unversioned_idflow_schema(connection: Connection) -> bool:
    tables = set(inspect(connection).get_table_names())
    return "alembic_version" not in tables and "transition" in tables
