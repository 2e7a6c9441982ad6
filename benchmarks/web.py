"""Web: 32 concurrent clients advancing vacancies through ``idflow serve`` (the JSON API),
against the same server answering its cheapest signed-in request (``GET /api/me``) at the
same concurrency; afterwards the log is checked for lost and duplicated transitions."""

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlmodel import Session, select

from models import Directorate, get_engine
from procedures.accounts import create_user, issue_token
from procedures.audit import verify_log


@dataclass
class WebResult:
    p50_ms: float
    p99_ms: float
    rate: float  # requests per second
    created: int  # 201 answers: events the server says it applied
    failed: int  # answers other than 201/200


@dataclass
class LogCheck:
    sent: int  # events the clients had accepted (201)
    stored: int  # transitions in the log
    distinct: int  # distinct event ids among them
    chain_breaks: int

    @property
    def intact(self) -> bool:
        return self.sent == self.stored == self.distinct and self.chain_breaks == 0


def run(url: str, events: list[dict[str, Any]], clients: int) -> tuple[WebResult, WebResult]:
    """(advancing, floor): latency and throughput of both against one ``idflow serve``."""
    token = _bench_token(url)
    with _server(url) as base:
        headers = {"authorization": f"Bearer {token}"}
        lanes = _lanes(events, clients)
        floor = _drive(base, headers, [[_me] * len(lane) for lane in lanes], lanes)
        advancing = _drive(base, headers, [[_post] * len(lane) for lane in lanes], lanes)
    return advancing, floor


def check_log(url: str, sent: int) -> LogCheck:
    """Compare what the clients were told with what the log holds, and verify the chains."""
    engine = get_engine(url)
    with engine.connect() as conn:
        stored, distinct = conn.execute(
            text("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM transition")
        ).one()
    with Session(engine) as session:
        _count, breaks = verify_log(session)
    return LogCheck(sent, int(stored), int(distinct), len(breaks))


def _bench_token(url: str) -> str:
    """A recruiter for every directorate, and an API token for it."""
    with Session(get_engine(url)) as session:
        codes = list(session.exec(select(Directorate.code)).all())
        user = create_user(session, "bench", "bench-wachtwoord-123", "recruiter", codes)
        session.flush()
        assert user.id is not None
        token = issue_token(session, user.id, "benchmark").token
        session.commit()
    return token


class _server:
    """``idflow serve`` on a free port as a child process, ready when it answers."""

    def __init__(self, url: str) -> None:
        self.url, self.process = url, None

    def __enter__(self) -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        idflow = str(Path(sys.executable).with_name("idflow"))
        env = os.environ | {"IDFLOW_DATABASE_URL": self.url}
        self.process = subprocess.Popen(  # type: ignore[assignment]
            [idflow, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                    return base
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("idflow serve kwam niet binnen 60 s op")

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=30)


def _lanes(events: list[dict[str, Any]], clients: int) -> list[list[dict[str, Any]]]:
    """Each vacancy's events, in order, to one client; vacancies spread round-robin."""
    by_vacancy: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        by_vacancy[event["vacancy"]].append(event)
    lanes: list[list[dict[str, Any]]] = [[] for _ in range(clients)]
    for n, vacancy_events in enumerate(by_vacancy.values()):
        lanes[n % clients].extend(vacancy_events)
    return lanes


Request = Callable[[httpx.Client, dict[str, Any]], httpx.Response]


def _me(client: httpx.Client, _event: dict[str, Any]) -> httpx.Response:
    return client.get("/api/me")


def _post(client: httpx.Client, event: dict[str, Any]) -> httpx.Response:
    if event["event"] == "open":
        body = {"vacancy": event["vacancy"], "id": event["id"], "at": event["at"]}
        return client.post("/api/vacancies", json=body | event["data"])
    body = {k: event[k] for k in ("event", "data", "id", "at")}
    return client.post(f"/api/vacancies/{event['vacancy']}/events", json=body)


def _drive(
    base: str,
    headers: dict[str, str],
    requests: list[list[Request]],
    lanes: list[list[dict[str, Any]]],
) -> WebResult:
    """Every client runs its lane at once; latency of each request, throughput of all."""
    latencies: list[float] = []
    counts = {"created": 0, "failed": 0}
    lock = threading.Lock()

    def client_loop(calls: list[Request], lane: list[dict[str, Any]]) -> None:
        mine: list[float] = []
        created = bad = 0
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            for call, event in zip(calls, lane, strict=True):
                started = time.perf_counter()
                answer = call(client, event)
                mine.append(time.perf_counter() - started)
                created += answer.status_code == 201
                bad += answer.status_code not in (200, 201)
        with lock:
            latencies.extend(mine)
            counts["created"] += created
            counts["failed"] += bad

    threads = [
        threading.Thread(target=client_loop, args=(calls, lane))
        for calls, lane in zip(requests, lanes, strict=True)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    rate = len(latencies) / elapsed
    return WebResult(cuts[49] * 1000, cuts[98] * 1000, rate, counts["created"], counts["failed"])
