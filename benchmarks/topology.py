"""The production topology, started by a test or a benchmark and stopped after it: a Prefect
server (on its own PostgreSQL database when one is reachable), the deployments of
``prefect.yaml`` and a process worker, with the README's commands."""

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

CHECKOUT = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).with_name("prefect"))
POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@contextmanager
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
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


class Topology:
    """The processes a person starts in production."""

    def __init__(self, folder: Path, prefect_db: str | None, env: dict[str, str]) -> None:
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PREFECT_", "IDFLOW_"))
        } | {
            "PREFECT_HOME": str(folder / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_API_URL": self.api,
            "PREFECT_WORKER_QUERY_SECONDS": "2",
            "IDFLOW_CHECKOUT": str(CHECKOUT),
        }
        self.env |= env
        if prefect_db:
            self.env["PREFECT_API_DATABASE_CONNECTION_URL"] = prefect_db
        self.logs = folder
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [PREFECT, *args], env=self.env, cwd=CHECKOUT, stdout=log, stderr=subprocess.STDOUT
        )
        self.processes[name] = process
        return process

    def up(self, worker: bool = True) -> None:
        """Server, work pool, ``prefect deploy --all`` and (unless told not to) a worker."""
        self.start("server", "server", "start", "--host", "127.0.0.1", "--port", str(self.port))
        wait_for(self.healthy, 120, "the Prefect server's /api/health")
        self.prefect("work-pool", "create", "idflow", "--type", "process", "--overwrite")
        self.deployed = self.prefect("--no-prompt", "deploy", "--all")
        if worker:
            self.start("worker", "worker", "start", "--pool", "idflow")

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

    def flow_runs(self, deployment: str) -> list[dict[str, Any]]:
        """The flow runs of one deployment (``flow/deployment``), oldest first."""
        flow, name = deployment.split("/")
        found = httpx.get(f"{self.api}/deployments/name/{flow}/{name}", timeout=5).json()
        body = {"deployments": {"id": {"any_": [found["id"]]}}, "sort": "EXPECTED_START_TIME_ASC"}
        return list(httpx.post(f"{self.api}/flow_runs/filter", json=body, timeout=10).json())

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
