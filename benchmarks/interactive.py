"""Interactive: events through the engine, one committed transaction each, like a recruiter's
click; and the same with python-statemachine's own ``send`` deciding instead of ``decide``."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlmodel import Session
from statemachine.exceptions import TransitionNotAllowed

from models.database import get_engine
from procedures import planner
from procedures.chart import NoTransition, ProcedureView, send
from procedures.engine import apply_event
from procedures.events import parse_event


def through_engine(url: str, events: list[dict[str, Any]]) -> float:
    """Seconds for the events, each applied and committed on its own."""
    engine = get_engine(url)
    started = time.perf_counter()
    for raw in events:
        with Session(engine) as session:
            apply_event(session, parse_event(raw), origin="bench")
            session.commit()
    return time.perf_counter() - started


@contextmanager
def deciding_with_send() -> Iterator[None]:
    """The planner decides with python-statemachine's ``send`` (the chart's machine) instead
    of the transition table derived from it: what ``decide`` saves, measured in the engine."""

    def machine(view: ProcedureView, event: str, **kwargs: Any) -> None:
        try:
            send(view, event, **kwargs)
        except TransitionNotAllowed:
            raise NoTransition(event, view.state) from None

    table = planner.decide
    planner.decide = machine
    try:
        yield
    finally:
        planner.decide = table
