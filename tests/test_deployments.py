"""The production topology: a real Prefect server, the deployments of prefect.yaml, a process
worker, the roll-up, report and close deployments run through it (the README's commands),
and an alert that a commit signals, delivered by the triggered alerts-dispatch deployment to a
real SMTP server. One server and worker serve every test here (a start costs 10-20 s)."""

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from alert_servers import MailServer
from sqlalchemy import text
from sqlmodel import Session, select
from support import simulated_database

from benchmarks.topology import PREFECT, Topology, prefect_database, wait_for
from models import Outbox
from models.database import get_engine
from procedures.report_builder import build_report
from procedures.snapshots import snapshot_versions, verify_snapshots

QUARTER = "2025Q1"
DISPATCH = "idflow-alerts-dispatch/alerts-dispatch"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("topology")


@pytest.fixture(scope="module")
def idflow_database(folder: Path) -> str:
    """An idflow database with one simulated quarter of procedures (not rolled up yet); its
    simulated alerts count as sent long ago, so only a test's own alert goes out."""
    url = f"sqlite:///{folder / 'idflow.db'}"
    engine = simulated_database(url, 3, date(2025, 1, 1), datetime(2025, 4, 1, tzinfo=UTC), 6)
    with engine.begin() as connection:
        connection.execute(text("UPDATE outbox SET status = 'delivered'"))
    return url


@pytest.fixture(scope="module")
def inbox() -> Iterator[MailServer]:
    server = MailServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def topology(folder: Path, idflow_database: str, inbox: MailServer) -> Iterator[Topology]:
    routing = folder / "routing.yaml"
    mail = inbox.url("po@gemeente.example")
    routing.write_text(
        f'recipients:\n  - id: po\n    clusters: ["*"]\n    channels: ["{mail}"]\n'
        f'fallback:\n  id: vangnet\n  channels: ["{mail}"]\n',
        encoding="utf-8",
    )
    env = {
        "IDFLOW_DATABASE_URL": idflow_database,
        "IDFLOW_REPORT_DIR": str(folder / "reports"),
        "IDFLOW_ROUTING_FILE": str(routing),
        "IDFLOW_BASE_URL": "https://idflow.gemeente.example",
    }
    with prefect_database() as prefect_db:
        topology = Topology(folder, prefect_db, env)
        try:
            topology.up()
            yield topology
        finally:
            topology.stop()


def test_the_deployments_roll_up_report_and_close_through_a_server_and_a_process_worker(
    topology: Topology, idflow_database: str, tmp_path: Path
) -> None:
    assert shutil.which(PREFECT)
    assert "idflow-rollup/rollup" in topology.deployed and "quarterly-report" in topology.deployed
    assert "idflow-quarter-close/quarter-close" in topology.deployed
    rollup = topology.run_deployment("idflow-rollup/rollup")
    assert wait_for(lambda: topology.finished(rollup), 90, "the roll-up run") == "COMPLETED"
    output = tmp_path / "internal.json"
    report = topology.run_deployment(
        "idflow-quarterly-report/quarterly-report",
        f"quarter={QUARTER}",
        "fmt=json",
        "suppress=false",
        f"output={output}",
    )
    assert wait_for(lambda: topology.finished(report), 90, "the report run") == "COMPLETED"

    with Session(get_engine(idflow_database)) as session:
        expected = build_report(session, QUARTER, suppress=False).report
    written = json.loads(output.read_text(encoding="utf-8"))
    assert written["rows"] == expected["rows"]
    assert written["municipality_totals"] == expected["municipality_totals"]
    assert sum(row["total"] for row in written["municipality_totals"]) > 50

    artifacts = httpx.post(
        f"{topology.api}/artifacts/filter",
        json={"artifacts": {"key": {"any_": ["kwartaalrapportage-2025q1"]}}},
        timeout=5,
    ).json()
    assert artifacts == []  # a provisional quarter is not published: its artifacts come at close
    assert written["classification"] == "intern, niet publiceren"
    _the_close_deployment_fixes_the_quarter(topology, written, tmp_path)


def _the_close_deployment_fixes_the_quarter(
    topology: Topology, provisional: dict[str, Any], tmp_path: Path
) -> None:
    """The second deployment: daily at 06:30, it closes 2025Q1 on the 15th day after it ended
    (policy close_after_days 14) and publishes the definitive report."""
    deployment = httpx.get(
        f"{topology.api}/deployments/name/idflow-quarter-close/quarter-close", timeout=5
    ).json()
    [schedule] = [s["schedule"] for s in deployment["schedules"]]
    assert (schedule["cron"], schedule["timezone"]) == ("30 6 * * *", "Europe/Amsterdam")
    run = topology.run_deployment(
        "idflow-quarter-close/quarter-close", "as_of=2025-04-15T06:30:00+02:00"
    )
    assert wait_for(lambda: topology.finished(run), 90, "the close run") == "COMPLETED"
    html = (Path(topology.env["IDFLOW_REPORT_DIR"]) / f"{QUARTER}.html").read_text(encoding="utf-8")
    assert "Vastgesteld: dit kwartaal is vastgesteld" in html
    with Session(get_engine(topology.env["IDFLOW_DATABASE_URL"])) as session:
        [snapshot] = snapshot_versions(session, QUARTER)
        assert verify_snapshots(session) == (1, [])
        told = session.exec(select(Outbox).where(Outbox.kind == "quarter_closed")).all()
    assert (snapshot.version, snapshot.row.closed_by) == (1, "idflow-quarter-close")
    assert snapshot.report(suppress=False)["rows"] == provisional["rows"]
    assert [alert.cause for alert in told] == [f"quarter_closed:{QUARTER}:1"]
    summaries = httpx.post(
        f"{topology.api}/artifacts/filter",
        json={"artifacts": {"key": {"any_": ["kwartaalrapportage-2025q1"]}}},
        timeout=5,
    ).json()
    assert summaries and summaries[0]["type"] == "markdown"
    assert any("Vastgesteld" in str(a["data"]) for a in summaries)


def _pause_schedules(topology: Topology, deployment: str) -> None:
    flow, name = deployment.split("/")
    found = httpx.get(f"{topology.api}/deployments/name/{flow}/{name}", timeout=5).json()
    for schedule in found["schedules"]:
        address = f"{topology.api}/deployments/{found['id']}/schedules/{schedule['id']}"
        assert httpx.patch(address, json={"active": False}, timeout=5).status_code == 204


def test_a_commit_that_raises_an_alert_triggers_a_dispatch_that_delivers_it_at_once(
    topology: Topology, inbox: MailServer
) -> None:
    """The CLI commits a not_met with PREFECT_API_URL set; the alerts-dispatch trigger runs
    the deployment on the worker long before its 5-minute schedule (paused here) would."""
    assert "idflow-alert-raised" in topology.prefect("automation", "ls")
    _pause_schedules(topology, DISPATCH)
    idflow = [sys.executable, "-c", "from idflow.cli import main; main()"]
    opened = ["open", "VAC-TRIGGER", "--directorate", "SOC-OJZ", "--scale", "12", "--title", "T"]
    for args in (opened, ["advance", "VAC-TRIGGER", "deviate_text"]):
        done = subprocess.run(idflow + args, env=topology.env, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr
    committed = time.time()
    subject = "Afwijking zonder toelichting: VAC-TRIGGER, I&D-vacaturetekst"
    assert inbox.wait_for(lambda mails: any(m.subject.startswith(subject) for m in mails), 120)
    [mail] = [m for m in inbox.mails if m.subject.startswith(subject)]
    # The run that sent it was busy between the commit and the mail: started by the trigger
    # for this alert, or one the trigger started just before (the close above raised one)
    # that kept going until it found nothing more to send.
    busy = [
        run
        for run in topology.flow_runs(DISPATCH)
        if run["start_time"]
        and _epoch(run["start_time"]) <= mail.arrived
        and (run["end_time"] is None or _epoch(run["end_time"]) >= committed - 1)
    ]
    assert busy and all(run["created_by"]["type"] == "AUTOMATION" for run in busy)


def _epoch(moment: str) -> float:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()
