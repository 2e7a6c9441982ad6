"""What several test modules share: DOMAIN.md's vocabulary written out, simulated data, and
waiting for a server a test started.

The events and the BIWS checklist are copied from DOMAIN.md on purpose, not imported from
``procedures``: the tests that use them check the implementation against the specification.
"""

import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

EVENTS = (
    "open",
    "approve_text",
    "deviate_text",
    "complete_biws",
    "deviate_biws",
    "submit_shortlist",
    "deviate_shortlist",
    "hire",
    "cancel",
    "complete_onboarding",
    "deviate_onboarding",
    "register_departure",
    "record_exit_interview",
    "deviate_exit_interview",
    "explain",
)
CHECKLIST = {
    item: True
    for item in (
        "diverse_committee",
        "criteria_fixed_before_publication",
        "criteria_job_relevant",
        "committee_bias_trained",
        "structured_interview",
        "independent_scoring",
        "rejections_reviewed",
        "decision_justified",
    )
}


def simulated_database(
    url: str, seed: int, first: date, until: datetime, per_year: float
) -> Engine:
    """A new idflow database at ``url`` with simulated procedures for every directorate,
    imported through the engine (not rolled up)."""
    from models import Directorate
    from models.database import get_engine
    from procedures.engine import current_policy_version, load_policy
    from procedures.setup import initialise
    from workflows.importer import import_events
    from workflows.simulate import Simulator

    engine = get_engine(url)
    with Session(engine) as session:
        initialise(engine, session)
        session.commit()
        policy = load_policy(session, current_policy_version(session))
        directorates = list(session.exec(select(Directorate.code)))
    events = Simulator(policy, directorates, seed=seed).events(first, until, per_year=per_year)
    import_events(engine, enumerate(events, 1), origin="test")
    return engine


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
