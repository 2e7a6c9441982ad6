"""The systemd units in deploy/systemd: valid for systemd, running the commands this checkout
has, given every setting the worker needs, and a web process that ends cleanly on SIGTERM."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from benchmarks.topology import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "deploy" / "systemd"
# What a worker must be given (README, "Production"): without any of these, alerts fail,
# link to the wrong place, wait for the schedule or never reach P&O.
WORKER_SETTINGS = (
    "IDFLOW_DATABASE_URL",
    "IDFLOW_BASE_URL",
    "IDFLOW_ROUTING_FILE",
    "IDFLOW_CHECKOUT",
    "IDFLOW_REPORT_DIR",
    "PREFECT_API_URL",
)


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not here")
def test_the_units_are_valid_for_systemd_with_this_checkouts_commands(tmp_path: Path) -> None:
    venv = Path(sys.executable).parent.parent
    for unit in UNITS.glob("*.service"):
        text = unit.read_text(encoding="utf-8").replace("/opt/idflow/.venv", str(venv))
        name = unit.name.replace("@.", "@8001.")
        (tmp_path / name).write_text(text.replace("/opt/idflow", str(ROOT)), encoding="utf-8")
    units = sorted(str(path) for path in tmp_path.glob("*.service"))
    assert len(units) == 3
    checked = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0 and checked.stderr == "", checked.stderr


def test_the_environment_file_gives_the_worker_every_setting_it_needs() -> None:
    example = (UNITS / "idflow.env.example").read_text(encoding="utf-8")
    names = {line.split("=", 1)[0] for line in example.splitlines() if "=" in line}
    assert set(WORKER_SETTINGS) <= names
    readme = (ROOT / "README.md").read_text(encoding="utf-8").split("## Production", 1)[1]
    for name in WORKER_SETTINGS:
        assert name in readme, name
    worker = (UNITS / "idflow-worker.service").read_text(encoding="utf-8")
    assert "EnvironmentFile=/etc/idflow/idflow.env" in worker
    assert "ExecStart=/opt/idflow/.venv/bin/prefect worker start --pool idflow" in worker
    assert "KillMode=mixed" in worker  # SIGTERM to the worker, which lets runs finish


def test_idflow_serve_ends_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", "from idflow.cli import main; main()", "serve", "--port", str(port)],
        env=os.environ | {"IDFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'idflow.db'}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: _answers(port), 60, "idflow serve")
        server.send_signal(signal.SIGTERM)
        # uvicorn shuts down, then raises the signal again so the exit status names it;
        # systemd counts an exit by SIGTERM as clean.
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    log = server.stderr.read().decode() if server.stderr else ""
    assert "Waiting for application shutdown" in log and "Finished server process" in log


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
