"""``python -m benchmarks.alerts``: from the commit that raises an alert to its arrival at a
real SMTP server, through a real Prefect server, the ``alerts-dispatch`` trigger and a
process worker; p50 and p99 beside the 30 s target, for each worker polling interval
(``PREFECT_WORKER_QUERY_SECONDS``) asked for, with what the polling costs while idle.

The alerts are committed by this process exactly as the CLI and the web app commit them
(through the engine, signalling Prefect after the commit), one every ``--gap`` seconds on
average, so some arrive while a dispatch run is still busy.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.databases import fresh_database, postgres_available
from benchmarks.topology import Topology, prefect_database, wait_for

TARGET_P99_S = 30.0
OPEN = {"directorate": "SOC-OJZ", "scale": 12, "title": "Teamleider", "kind": "external"}


class Inbox:
    """A real SMTP server (aiosmtpd) noting when each subject arrived."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()
        from benchmarks.topology import free_port

        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import email

        subject = str(email.message_from_bytes(envelope.content)["subject"])
        with self.lock:
            self.arrived.setdefault(subject, time.time())
        return "250 OK"

    def stop(self) -> None:
        self.controller.stop()


@dataclass
class Measured:
    query_seconds: float
    latencies: list[float]
    ran: int  # triggered runs that had ended when the last alert arrived
    triggered: int  # runs the trigger created (the rest queued, to find nothing left)
    idle_cpu_s_per_min: float
    busy_cpu_s: float  # server + worker + flow runs, from the first alert to the last arrival


def main() -> None:
    args = _arguments()
    if args.only is not None:  # one measurement, in a process of its own (see below)
        measured = measure(
            args.only, args.alerts, args.gap, args.idle, args.database, args.slot_wait
        )
        Path(args.result).write_text(json.dumps(asdict(measured)), encoding="utf-8")
        return
    console = Console(width=150)
    rows = []
    for query_seconds in args.query_seconds.split(","):
        # Prefect reads PREFECT_API_URL once per process: each topology gets a fresh one.
        with tempfile.NamedTemporaryFile(suffix=".json") as result:
            command = [sys.executable, "-m", "benchmarks.alerts", "--only", query_seconds]
            command += ["--result", result.name, "--alerts", str(args.alerts)]
            command += ["--gap", str(args.gap), "--idle", str(args.idle)]
            command += ["--database", args.database, "--slot-wait", str(args.slot_wait)]
            subprocess.run(command, check=True)
            rows.append(Measured(**json.loads(Path(result.name).read_text(encoding="utf-8"))))
        console.print(_table(rows, args.slot_wait))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.alerts")
    parser.add_argument("--alerts", type=int, default=50, help="alerts committed and timed")
    parser.add_argument("--gap", type=float, default=4.0, help="mean seconds between alerts")
    parser.add_argument("--query-seconds", default="10,2", help="worker polling intervals")
    parser.add_argument("--idle", type=float, default=60, help="seconds of idle cost measured")
    default = "postgresql" if postgres_available() else "sqlite"
    parser.add_argument("--database", default=default, help="the idflow database")
    parser.add_argument(
        "--slot-wait",
        type=float,
        default=30,
        help="PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS of the server",
    )
    parser.add_argument("--only", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    return parser.parse_args()


def measure(
    query_seconds: float, alerts: int, gap: float, idle: float, kind: str, slot_wait: float
) -> Measured:
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="idflow-alerts-")))
        url = stack.enter_context(fresh_database(kind, folder))
        inbox = Inbox()
        stack.callback(inbox.stop)
        routing = _routing(folder, inbox.port)
        env = {
            "IDFLOW_DATABASE_URL": url,
            "IDFLOW_ROUTING_FILE": str(routing),
            "IDFLOW_BASE_URL": "https://idflow.gemeente.example",
            "PREFECT_WORKER_QUERY_SECONDS": str(query_seconds),
            "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": str(slot_wait),
        }
        topology = Topology(folder, stack.enter_context(prefect_database()), env)
        stack.callback(topology.stop)
        topology.up()
        send = _committer(url, topology.api)
        send("WARM-UP")  # the first run after a start is slower; not counted
        wait_for(lambda: len(inbox.arrived) >= 1, 300, "the warm-up alert", every=0.2)
        idle_cpu = _idle_cost(topology, idle)
        committed = {}
        pids = [process.pid for process in topology.processes.values()]
        busy_before = sum(_cpu(pid) for pid in pids)
        pace = random.Random(15)
        for n in range(alerts):
            vacancy = f"VAC-{n:03}"
            committed[vacancy] = send(vacancy)
            time.sleep(pace.uniform(0.25 * gap, 1.75 * gap))
        wait_for(lambda: len(inbox.arrived) >= alerts + 1, 600, "every alert", every=0.2)
        busy_cpu = sum(_cpu(pid) for pid in pids) - busy_before
        latencies = []
        for vacancy, moment in committed.items():
            [arrived] = [t for subject, t in inbox.arrived.items() if f": {vacancy}," in subject]
            latencies.append(arrived - moment)
        runs = topology.flow_runs("idflow-alerts-dispatch/alerts-dispatch")
        triggered = [run for run in runs if not run["auto_scheduled"]]
        ran = [r for r in triggered if r["state_type"] in ("COMPLETED", "FAILED", "CRASHED")]
        return Measured(query_seconds, latencies, len(ran), len(triggered), idle_cpu, busy_cpu)


def _routing(folder: Path, port: int) -> Path:
    mail = f"mailto://127.0.0.1:{port}?mode=insecure&from=idflow@gemeente.example&to=po@x.nl"
    path = folder / "routing.yaml"
    path.write_text(
        f'recipients:\n  - id: po\n    clusters: ["*"]\n    channels: ["{mail}"]\n'
        f'fallback:\n  id: vangnet\n  channels: ["{mail}"]\n',
        encoding="utf-8",
    )
    return path


def _committer(url: str, api: str) -> Any:
    """A function that commits one not_met alert and returns when the commit returned."""
    os.environ["PREFECT_API_URL"] = api  # before Prefect is imported: emit_event reads it
    from sqlmodel import Session

    from models import get_engine, get_settings
    from notifications.signal import install
    from procedures.engine import apply_event
    from procedures.events import parse_event

    get_settings.cache_clear()
    install()
    engine = get_engine(url)

    def send(vacancy: str) -> float:
        at = datetime.now(UTC).isoformat()
        with Session(engine) as session:
            for n, (event, data) in enumerate((("open", OPEN), ("deviate_text", {}))):
                raw = {"id": f"{vacancy}-{n}", "vacancy": vacancy, "event": event, "at": at}
                apply_event(session, parse_event(raw | {"actor": "bench", "data": data}), "cli")
            session.commit()
        return time.time()

    return send


def _idle_cost(topology: Topology, seconds: float) -> float:
    """CPU seconds per minute of the server and the worker (with their children) while
    nothing happens but the worker's polling (and the server's own services)."""
    pids = [p.pid for p in topology.processes.values()]
    before = sum(_cpu(pid) for pid in pids)
    time.sleep(seconds)
    return (sum(_cpu(pid) for pid in pids) - before) * 60 / seconds


def _cpu(pid: int) -> float:
    """CPU seconds of a process and every descendant still running or waited for."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, children = 0.0, _children()
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15]) / ticks  # utime stime cutime cstime
        stack += children.get(current, [])
    return total


def _children() -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        found.setdefault(parent, []).append(int(stat.parent.name))
    return found


def _table(rows: list[Measured], slot_wait: float) -> Table:
    title = "Meldingen: commit tot aankomst bij de SMTP-server (trigger + worker)"
    table = Table(title=f"{title}; wachttijd concurrency-slot {slot_wait:g} s")
    for name in ("worker-poll", "meldingen", "p50", "p99", "max", "doel p99", "gehaald"):
        table.add_column(name)
    table.add_column("flow runs (trigger)")
    table.add_column("kosten in rust")
    table.add_column("CPU tijdens de meldingen")
    for r in rows:
        p99 = _percentile(r.latencies, 99)
        table.add_row(
            f"{r.query_seconds:g} s",
            str(len(r.latencies)),
            f"{statistics.median(r.latencies):.1f} s",
            f"{p99:.1f} s",
            f"{max(r.latencies):.1f} s",
            f"< {TARGET_P99_S:g} s",
            "ja" if p99 < TARGET_P99_S else "NEE",
            f"{r.ran} gedraaid van {r.triggered} door de trigger",
            f"{r.idle_cpu_s_per_min:.1f} CPU-s/min, {60 / r.query_seconds:.0f} polls/min",
            f"{r.busy_cpu_s:.0f} CPU-s ({r.busy_cpu_s / len(r.latencies):.1f} per melding)",
        )
    return table


def _percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (the p99 of 50 values is the largest of them)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


if __name__ == "__main__":
    main()
