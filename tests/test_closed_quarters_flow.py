"""The close flow on a temporary Prefect API: it closes the quarter just ended once the
policy's ``close_after_days`` have passed, publishes the definitive report and tells P&O;
too early, already closed or reopened, it changes nothing."""

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from models import Outbox, QuarterSnapshot, get_settings, session_scope
from procedures.quarters import reopen_quarter

pytestmark = pytest.mark.prefect
OJZ = {"directorate": "SOC-OJZ", "scale": 12, "title": "Teamleider", "kind": "external"}


@pytest.fixture
def report_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IDFLOW_REPORT_DIR", str(tmp_path / "reports"))
    get_settings.cache_clear()
    return tmp_path / "reports"


def _snapshots(engine: Engine) -> list[QuarterSnapshot]:
    with Session(engine) as session:
        return list(session.exec(select(QuarterSnapshot)))


def test_the_close_flow_closes_after_close_after_days_and_publishes_the_definitive_report(
    prefect_harness: None, engine: Engine, send: Any, report_dir: Path
) -> None:
    from prefect.artifacts import Artifact

    from workflows.close import close_flow

    send("V1", "open", "2025-01-06T09:00:00+01:00", OJZ)
    send("V1", "approve_text", "2025-02-03T09:00:00+01:00")
    early = close_flow(as_of="2025-04-14T23:59:00+02:00")  # day 14 after the quarter ended
    assert (early["action"], early["version"]) == ("not_due", None)
    assert early["due"] == "2025-04-15T00:00:00+02:00" and _snapshots(engine) == []

    done = close_flow(as_of="2025-04-15T06:30:00+02:00")
    assert (done["quarter"], done["action"], done["version"]) == ("2025Q1", "closed", 1)
    html = (report_dir / "2025Q1.html").read_text(encoding="utf-8")
    assert "Vastgesteld: dit kwartaal is vastgesteld" in html and done["report"].endswith(
        "2025Q1.html"
    )
    summary = Artifact.get("kwartaalrapportage-2025q1")
    assert summary is not None and "Vastgesteld" in str(summary.data)
    with Session(engine) as session:
        told = session.exec(select(Outbox).where(Outbox.kind == "quarter_closed")).one()
    assert told.cause == "quarter_closed:2025Q1:1" and told.payload["sha256"] == done["sha256"]

    again = close_flow(as_of="2025-04-16T06:30:00+02:00")
    assert (again["action"], again["version"]) == ("already", 1)
    assert (report_dir / "2025Q1.html").read_text(encoding="utf-8") == html
    with session_scope(engine) as session:
        reopen_quarter(session, "2025Q1", "adm", "Late import")
    reopened = close_flow(as_of="2025-04-17T06:30:00+02:00")
    assert (reopened["action"], reopened["version"]) == ("reopened", None)
    assert len(_snapshots(engine)) == 1


def test_a_policy_stored_before_close_after_days_existed_reads_14_days() -> None:
    from procedures.policy import Policy, default_policy

    old = {k: v for k, v in default_policy().to_json().items() if k != "close_after_days"}
    assert Policy.model_validate(old).close_after_days == 14
    assert Policy.model_validate(old | {"close_after_days": 30}).close_after_days == 30
