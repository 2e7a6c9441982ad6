"""Schemathesis against the OpenAPI schema: generated requests never get a server error."""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from sqlmodel import Session

from models import get_settings
from models.database import dispose_engine, get_engine
from procedures.accounts import create_user, issue_token
from procedures.setup import initialise
from web.app import create_app

ROLES = {"recruiter": ["SOC-OJZ"], "auditor": [], "admin": []}
TOKENS: dict[str, str] = {}
# The schema is loaded when the module is collected; the app touches its database only when a
# request comes, and the fixture below prepares that database first.
DB_DIR = Path(tempfile.mkdtemp(prefix="idflow-schema-"))
DB_URL = f"sqlite:///{DB_DIR / 'idflow.db'}"
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(DB_URL))


@pytest.fixture(scope="module", autouse=True)
def database() -> Iterator[None]:
    """A fresh database with one user (and API token) per role."""
    get_settings.cache_clear()
    engine = get_engine(DB_URL)
    with Session(engine) as session:
        initialise(engine, session)
        for role, directorates in ROLES.items():
            user = create_user(session, f"fuzz-{role}", "correct-horse-battery", role, directorates)
            assert user.id is not None
            TOKENS[role] = issue_token(session, user.id, "schemathesis").token
        session.commit()
    yield
    dispose_engine(DB_URL)
    shutil.rmtree(DB_DIR, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_generated_request_gets_a_server_error(case: schemathesis.Case) -> None:
    """Each request goes out once per role, so every route runs past its permission check."""
    for role in sorted(ROLES):
        headers = {"Authorization": f"Bearer {TOKENS[role]}"}
        case.call_and_validate(headers=headers, checks=[not_a_server_error])
