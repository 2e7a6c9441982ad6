"""Alembic environment: the models' metadata, and the connection or URL to migrate."""

from typing import Any, Literal

from alembic import context
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

import models.tables  # noqa: F401  (registers every table on SQLModel.metadata)
from models.database import make_engine
from models.settings import get_settings

target_metadata = SQLModel.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Write our column types as their plain SQL type, so old revisions never import models."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False


def run_on(connection: Any) -> None:
    """Configure the context for ``connection`` and run the migrations on it."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite has no ALTER COLUMN: batch mode copies the table
        render_item=render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate the connection handed in by ``migrations.upgrade_to_head``, or the settings' URL."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    engine = make_engine(get_settings().database_url)
    try:
        with engine.begin() as connection:
            run_on(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported; connect to a database.")
run_online()
