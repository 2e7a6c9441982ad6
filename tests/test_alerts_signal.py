"""The commit signal: a transaction that wrote alert causes tells Prefect once it has
committed (a rollback tells nothing), debounced per process; without PREFECT_API_URL nothing
is installed. The real Prefect path is in tests/test_deployments.py."""

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from models import get_settings
from notifications import signal
from notifications.signal import Raised
from procedures.alerts import parse_as_of, scan_overdue
from procedures.engine import apply_event
from procedures.events import parse_event

OPEN = {"directorate": "SOC-OJZ", "scale": 12, "title": "Teamleider", "kind": "external"}


class Recorder:
    def __init__(self) -> None:
        self.windows: list[list[Raised]] = []
        self.arrived = threading.Condition()

    def __call__(self, raised: list[Raised]) -> None:
        with self.arrived:
            self.windows.append(raised)
            self.arrived.notify_all()

    def wait_for(self, count: int) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.windows) >= count, timeout=30)

    def vacancies(self) -> list[list[str | None]]:
        return [[r.vacancy for r in window] for window in self.windows]


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recording = Recorder()
    assert signal.install(recording)
    try:
        yield recording
    finally:
        signal.uninstall()


def test_without_a_prefect_api_url_nothing_is_installed(
    monkeypatch: pytest.MonkeyPatch, send: Any
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    get_settings.cache_clear()
    assert signal.install() is False
    send("V1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    assert send("V1", "deviate_text", "2025-01-07T09:00:00+01:00").outcome == "not_met"


def test_a_commit_that_raised_an_alert_signals_once_and_one_that_raised_none_not(
    recorder: Recorder, send: Any
) -> None:
    send("V1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    assert recorder.windows == []
    send("V1", "deviate_text", "2025-01-07T09:00:00+01:00")
    assert recorder.wait_for(1)
    [[raised]] = recorder.windows
    assert (raised.vacancy, raised.directorate, raised.kind) == ("V1", "SOC-OJZ", "not_met")


def test_a_rolled_back_alert_signals_nothing(recorder: Recorder, engine: Engine, send: Any) -> None:
    send("V1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    raw = {"id": "x", "vacancy": "V1", "event": "deviate_text", "actor": "r", "data": {}}
    with Session(engine) as session:
        apply_event(session, parse_event(raw | {"at": "2025-01-07T09:00:00+01:00"}), "test")
        session.rollback()
    send("V2", "open", "2025-01-06T09:00:00+01:00", OPEN)
    send("V2", "deviate_text", "2025-01-07T09:00:00+01:00")
    assert recorder.wait_for(1)
    assert recorder.vacancies() == [["V2"]]


def test_commits_within_the_window_are_signalled_together_at_its_end_or_at_exit(
    recorder: Recorder, engine: Engine, send: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signal, "DEBOUNCE_S", 3600.0)  # the window ends when the process does
    send("V1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    send("V2", "open", "2025-01-06T09:00:00+01:00", OPEN)
    send("V1", "deviate_text", "2025-01-07T09:00:00+01:00")  # signalled at once
    send("V2", "deviate_text", "2025-01-07T09:00:00+01:00")  # within the window: later
    with Session(engine) as session:  # an overdue scan writes causes too
        scan_overdue(session, parse_as_of("2025-06-01T07:00"))
        session.commit()
    assert recorder.vacancies() == [["V1"]]
    assert signal._installed is not None
    signal._installed._at_exit()  # what the process does as it ends
    first, rest = recorder.vacancies()
    assert first == ["V1"] and rest[0] == "V2" and set(rest[1:]) == {"V1", "V2"}
