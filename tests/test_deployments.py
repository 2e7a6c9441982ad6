"""The production topology: a real Prefect server, the deployments of prefect.yaml, a process
worker, and the roll-up, report and close deployments run through it (the README's commands)."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select
from support import simulated_database

from models import Outbox
from models.database import get_engine
from procedures.report_builder import build_report
from procedures.snapshots import snapshot_versions, verify_snapshots

CHECKOUT = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).with_name("prefect"))
POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
QUARTER = "2025Q1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def prefect_database() -> Iterator[str | None]:
    """A dedicated PostgreSQL database for the Prefect server, or None (SQLite) without one."""
    try:
        import psycopg

        admin = psycopg.connect(POSTGRES, autocommit=True, connect_timeout=3)
    except Exception:
        yield None
        return
    name = f"idflow_prefect_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def idflow_database(tmp_path: Path) -> str:
    """An idflow database with one simulated quarter of procedures (not rolled up yet)."""
    url = f"sqlite:///{tmp_path / 'idflow.db'}"
    simulated_database(url, 3, date(2025, 1, 1), datetime(2025, 4, 1, tzinfo=UTC), per_year=6)
    return url


class Topology:
    """The processes a person starts in production, started by the test and stopped after it."""

    def __init__(self, tmp_path: Path, prefect_db: str | None, idflow_db: str) -> None:
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PREFECT_", "IDFLOW_"))
        } | {
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_API_URL": self.api,
            "PREFECT_WORKER_QUERY_SECONDS": "2",
            "IDFLOW_DATABASE_URL": idflow_db,
            "IDFLOW_CHECKOUT": str(CHECKOUT),
            "IDFLOW_REPORT_DIR": str(tmp_path / "reports"),
        }
        if prefect_db:
            self.env["PREFECT_API_DATABASE_CONNECTION_URL"] = prefect_db
        self.logs = tmp_path
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        self.processes.append(
            subprocess.Popen(
                [PREFECT, *args], env=self.env, cwd=CHECKOUT, stdout=log, stderr=subprocess.STDOUT
            )
        )

    def prefect(self, *args: str) -> str:
        done = subprocess.run(
            [PREFECT, *args],
            env=self.env,
            cwd=CHECKOUT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.api}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def run_deployment(self, name: str, *params: str) -> str:
        """``prefect deployment run``; returns the flow run id it printed."""
        args = [item for param in params for item in ("--param", param)]
        output = self.prefect("deployment", "run", name, *args)
        line = next(line for line in output.splitlines() if "UUID:" in line)
        return line.split("UUID:")[1].strip()

    def finished(self, flow_run_id: str) -> str | None:
        state = httpx.get(f"{self.api}/flow_runs/{flow_run_id}", timeout=5).json()["state"]
        return state["type"] if state["type"] in ("COMPLETED", "FAILED", "CRASHED") else None

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def topology(
    tmp_path: Path, prefect_database: str | None, idflow_database: str
) -> Iterator[Topology]:
    topology = Topology(tmp_path, prefect_database, idflow_database)
    try:
        yield topology
    finally:
        topology.stop()


def test_the_deployments_roll_up_report_and_close_through_a_server_and_a_process_worker(
    topology: Topology, idflow_database: str, tmp_path: Path
) -> None:
    assert shutil.which(PREFECT)
    topology.start("server", "server", "start", "--host", "127.0.0.1", "--port", str(topology.port))
    wait_for(topology.healthy, 90, "the Prefect server's /api/health")
    topology.prefect("work-pool", "create", "idflow", "--type", "process", "--overwrite")
    deployed = topology.prefect("--no-prompt", "deploy", "--all")
    assert "idflow-rollup/rollup" in deployed and "quarterly-report" in deployed
    assert "idflow-quarter-close/quarter-close" in deployed
    topology.start("worker", "worker", "start", "--pool", "idflow")

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
    assert artifacts and artifacts[0]["type"] == "markdown"
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
    html = (tmp_path / "reports" / f"{QUARTER}.html").read_text(encoding="utf-8")
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
    assert any("Vastgesteld" in str(a["data"]) for a in summaries)
