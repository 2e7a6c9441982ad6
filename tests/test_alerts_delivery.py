"""Delivering alerts against real servers the tests start: an SMTP server (aiosmtpd) and an
HTTP webhook receiver. At least once, never twice per (cause, recipient) but for a message in
flight when a dispatcher dies, nothing lost while a channel is down."""

import asyncio
import email
import email.policy
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from models import Outbox, get_settings
from models.tables import Delivery
from notifications.dispatch import Limits, dispatch
from notifications.routing import Routing, load_routing
from notifications.status import failed_deliveries
from procedures.alerts import parse_as_of
from procedures.policy import default_policy

ROOT = Path(__file__).resolve().parents[1]
OPEN = {"directorate": "SOC-OJZ", "scale": 12, "title": "Teamleider", "kind": "external"}
CHECKLIST = dict.fromkeys(default_policy().biws_checklist, True)
BASE = "https://idflow.gemeente.example"
LIMITS = Limits(max_attempts=3, retry_base_s=60, retry_max_s=3600, lease_s=300)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Mail:
    to: list[str]
    subject: str
    text: str


class MailServer:
    """A real SMTP server on a fixed free port that can be stopped, started and held."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.mails: list[Mail] = []
        self.arrived = threading.Condition()
        self.hold = threading.Event()  # while set, a message is kept but not yet answered
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.hold.clear()
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
        assert body is not None
        mail = Mail(list(envelope.rcpt_tos), str(message["subject"]), body.get_content())
        with self.arrived:
            self.mails.append(mail)
            self.arrived.notify_all()
        while self.hold.is_set():
            await asyncio.sleep(0.02)
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 30) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.mails) >= count, timeout)

    def subjects(self) -> list[str]:
        return [mail.subject for mail in self.mails]


class Webhook:
    """A real HTTP receiver: every JSON body posted to it is kept."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        received = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                received.append({"path": self.path} | json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    server = MailServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    receiver = Webhook()
    yield receiver
    receiver.close()


@pytest.fixture
def base_url(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("IDFLOW_BASE_URL", BASE)
    get_settings.cache_clear()
    yield BASE
    get_settings.cache_clear()


def _mail_url(port: int, to: str) -> str:
    return f"mailto://127.0.0.1:{port}?mode=insecure&from=idflow@gemeente.example&to={to}&cto=5"


def _routing(tmp_path: Path, mail_port: int, webhook_port: int | None = None) -> Routing:
    text = f"""
recipients:
  - id: po-soc
    name: P&O Sociaal
    clusters: [SOC]
    channels: ["{_mail_url(mail_port, "po-sociaal@gemeente.example")}"]
"""
    if webhook_port:
        text += f"""
  - id: chat
    name: P&O-kanaal
    clusters: ["*"]
    kinds: [not_met]
    channels: ["json://127.0.0.1:{webhook_port}/po"]
"""
    path = tmp_path / "routing.yaml"
    path.write_text(text, encoding="utf-8")
    return load_routing(path)


def _not_met(send: Any, *vacancies: str) -> None:
    for vacancy in vacancies:
        send(vacancy, "open", "2025-03-03T09:00:00+01:00", OPEN)
        send(vacancy, "deviate_text", "2025-03-03T10:00:00+01:00")


def _round_failed(send: Any, vacancy: str) -> None:
    send(vacancy, "open", "2025-03-03T09:00:00+01:00", OPEN)
    send(vacancy, "approve_text", "2025-03-03T09:10:00+01:00")
    send(vacancy, "complete_biws", "2025-03-03T09:20:00+01:00", {"checklist": CHECKLIST})
    send(vacancy, "submit_shortlist", "2025-03-03T09:30:00+01:00", {"invited": 4, "diverse": 1})


def _deliveries(engine: Engine, recipient: str | None = None) -> list[Delivery]:
    with Session(engine) as session:
        statement = select(Delivery).order_by(col(Delivery.id))
        if recipient:
            statement = statement.where(Delivery.recipient == recipient)
        return list(session.exec(statement))


def _outbox_statuses(engine: Engine) -> set[str]:
    with Session(engine) as session:
        return set(session.exec(select(Outbox.status)))


NOW = datetime.now(UTC)


def test_an_immediate_alert_reaches_each_routed_recipient_once_with_its_dutch_text(
    engine: Engine, send: Any, smtp: MailServer, webhook: Webhook, tmp_path: Path, base_url: str
) -> None:
    routing = _routing(tmp_path, smtp.port, webhook.port)
    _not_met(send, "VAC-1")
    first = dispatch(engine, routing, NOW, LIMITS)
    again = dispatch(engine, routing, NOW + timedelta(hours=1), LIMITS)
    assert (first.delivered, first.messages, again.messages) == (2, 2, 0)
    [mail] = smtp.mails
    assert mail.to == ["po-sociaal@gemeente.example"]
    assert mail.subject == (
        "Afwijking zonder toelichting: VAC-1, I&D-vacaturetekst (Onderwijs, Jeugd en Zorg)"
    )
    assert "idflow advance VAC-1 explain -f step=text" in mail.text
    assert f"Vacaturepagina: {base_url}/vacatures/VAC-1" in mail.text
    [post] = webhook.posts
    assert post["path"] == "/po" and post["title"] == mail.subject
    assert f"{base_url}/vacatures/VAC-1" in post["message"]
    assert _outbox_statuses(engine) == {"delivered"}


def test_alerts_wait_while_the_mail_server_is_down_and_arrive_once_after_it_recovers(
    engine: Engine, send: Any, smtp: MailServer, webhook: Webhook, tmp_path: Path, base_url: str
) -> None:
    routing = _routing(tmp_path, smtp.port, webhook.port)
    smtp.stop()
    _not_met(send, "VAC-1", "VAC-2", "VAC-3")
    down = dispatch(engine, routing, NOW, LIMITS)
    assert (down.retrying, len(webhook.posts), down.failed) == (3, 3, [])
    waiting = _deliveries(engine, "po-soc")
    assert [(d.status, d.attempts) for d in waiting] == [("pending", 1)] * 3
    assert "nam het bericht niet aan" in (waiting[0].last_error or "")
    too_soon = dispatch(engine, routing, NOW + timedelta(seconds=30), LIMITS)
    assert too_soon.messages == 0  # the backoff holds the retry back
    smtp.start()
    recovered = dispatch(engine, routing, NOW + timedelta(minutes=2), LIMITS)
    later = dispatch(engine, routing, NOW + timedelta(hours=2), LIMITS)
    assert (recovered.delivered, later.messages) == (3, 0)
    assert sorted(Counter(smtp.subjects()).values()) == [1, 1, 1]
    assert len(webhook.posts) == 3
    assert _outbox_statuses(engine) == {"delivered"}


def test_a_recipient_that_keeps_failing_is_marked_failed_reported_and_not_retried(
    engine: Engine, send: Any, tmp_path: Path, base_url: str, db_url: str
) -> None:
    routing = _routing(tmp_path, _free_port())  # nothing listens there
    _not_met(send, "VAC-1", "VAC-2")
    limits = Limits(max_attempts=2, retry_base_s=60)
    first = dispatch(engine, routing, NOW, limits)
    second = dispatch(engine, routing, NOW + timedelta(hours=1), limits)
    third = dispatch(engine, routing, NOW + timedelta(days=1), limits)
    assert (first.retrying, len(first.failed)) == (2, 0)
    assert sorted(f.cause for f in second.failed) == ["not_met:VAC-1:text", "not_met:VAC-2:text"]
    assert {f.recipient for f in second.failed} == {"po-soc"}
    assert (third.retrying, third.failed, third.messages) == (0, [], 0)
    assert [(d.status, d.attempts) for d in _deliveries(engine)] == [("failed", 2)] * 2
    assert _outbox_statuses(engine) == {"failed"}
    with Session(engine) as session:
        assert {row["recipient"] for row in failed_deliveries(session)} == {"po-soc"}
    shown = subprocess.run(
        [sys.executable, "-c", "from idflow.cli import main; main()", "alerts", "list", "--failed"],
        capture_output=True,
        text=True,
        env=os.environ | {"IDFLOW_DATABASE_URL": db_url, "COLUMNS": "200"},
        timeout=60,
    )
    assert shown.returncode == 0
    assert "Opgegeven verzendingen" in shown.stdout and "not_met:VAC-2:text" in shown.stdout


def _set_created(engine: Engine, cause: str, moment: str) -> None:
    with Session(engine) as session:
        statement = update(Outbox).where(col(Outbox.cause) == cause)
        session.execute(statement.values(created_at=parse_as_of(moment)))
        session.commit()


def test_the_daily_digest_holds_exactly_the_informational_alerts_of_its_day(
    engine: Engine, send: Any, smtp: MailServer, tmp_path: Path, base_url: str
) -> None:
    routing = _routing(tmp_path, smtp.port)
    for vacancy in ("VAC-1", "VAC-2", "VAC-3"):
        _round_failed(send, vacancy)
    _not_met(send, "VAC-9")
    _set_created(engine, "rooney_round:VAC-1:1", "2025-03-03T08:00")
    _set_created(engine, "rooney_round:VAC-2:1", "2025-03-03T23:30")  # still 3 March locally
    _set_created(engine, "rooney_round:VAC-3:1", "2025-03-04T00:30")
    first = dispatch(engine, routing, parse_as_of("2025-03-04T12:00"), LIMITS)
    in_grace = dispatch(engine, routing, parse_as_of("2025-03-05T00:05"), LIMITS)
    second = dispatch(engine, routing, parse_as_of("2025-03-05T08:00"), LIMITS)
    assert (first.digests, first.waiting_for_digest, in_grace.digests, second.digests) == (
        1,
        1,
        0,
        1,
    )
    immediate, day1, day2 = smtp.mails
    assert immediate.subject.startswith("Afwijking zonder toelichting: VAC-9")
    assert day1.subject == "Dagoverzicht I&D-meldingen 3 maart 2025: 2 meldingen"
    assert day2.subject == "Dagoverzicht I&D-meldingen 4 maart 2025: 1 melding"
    assert "VAC-1" in day1.text and "VAC-2" in day1.text
    assert "VAC-3" not in day1.text and "VAC-9" not in day1.text
    assert "VAC-3" in day2.text and "VAC-1" not in day2.text and "VAC-2" not in day2.text
    assert f"{base_url}/vacatures/VAC-3" in day2.text
    assert dispatch(engine, routing, parse_as_of("2025-03-09T08:00"), LIMITS).messages == 0


DISPATCHER = """
import sys
from pathlib import Path
from models import get_engine
from notifications.dispatch import dispatch
from notifications.routing import load_routing
dispatch(get_engine(), load_routing(Path(sys.argv[1])))
"""


def test_a_dispatcher_killed_while_sending_duplicates_at_most_the_message_in_flight(
    engine: Engine, send: Any, smtp: MailServer, tmp_path: Path, base_url: str, db_url: str
) -> None:
    routing = _routing(tmp_path, smtp.port)
    _not_met(send, *(f"VAC-{n}" for n in range(1, 6)))
    smtp.hold.set()  # the first message is received, then the server keeps the sender waiting
    process = subprocess.Popen(
        [sys.executable, "-c", DISPATCHER, routing.source],
        cwd=ROOT,
        env=os.environ | {"IDFLOW_DATABASE_URL": db_url},
    )
    try:
        assert smtp.wait_for(1, timeout=60), "the dispatcher never sent its first message"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    smtp.hold.clear()
    in_flight = smtp.mails[0].subject
    assert {d.status for d in _deliveries(engine)} == {"sending"}  # claimed, none recorded
    after_lease = datetime.now(UTC) + timedelta(seconds=get_settings().alert_lease_s + 1)
    restarted = dispatch(engine, routing, after_lease, LIMITS)
    assert restarted.delivered == 5
    counts = Counter(smtp.subjects())
    assert len(counts) == 5  # every alert arrived
    assert [subject for subject, n in counts.items() if n > 1] == [in_flight]
    assert counts[in_flight] == 2
    assert {d.status for d in _deliveries(engine)} == {"sent"}


@pytest.mark.prefect
def test_the_flows_scan_and_dispatch_under_prefect_into_a_file_channel(
    prefect_harness: None,
    engine: Engine,
    send: Any,
    tmp_path: Path,
    base_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workflows.alerts import dispatch_flow, overdue_scan_flow

    target = tmp_path / "meldingen" / "po.txt"
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        f'recipients:\n  - id: po\n    clusters: ["*"]\n    channels: ["file://{target}"]\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("IDFLOW_ROUTING_FILE", str(routing))
    get_settings.cache_clear()
    _not_met(send, "VAC-1")
    send("VAC-2", "open", "2025-01-06T09:00:00+01:00", OPEN)
    scanned = overdue_scan_flow(as_of="2025-06-01T07:00")
    summary = dispatch_flow()
    again = dispatch_flow()
    assert (scanned["overdue"], scanned["quarter"], scanned["below_norm"]) == (2, "2025Q1", 1)
    assert (summary["delivered"], summary["failed"], again["messages"]) == (4, [], 0)
    text = target.read_text(encoding="utf-8")
    assert "Afwijking zonder toelichting: VAC-1" in text
    assert "Over de termijn: VAC-2, I&D-vacaturetekst sinds 6 januari 2025" in text
    assert "Onder de norm in 2025Q1: Onderwijs, Jeugd en Zorg (SOC-OJZ)" in text


def test_a_recipient_with_two_channels_gets_no_second_copy_on_the_channel_that_worked(
    engine: Engine, send: Any, smtp: MailServer, tmp_path: Path, base_url: str
) -> None:
    target = tmp_path / "po.txt"
    routing_file = tmp_path / "two.yaml"
    routing_file.write_text(
        "recipients:\n  - id: po\n    clusters: [SOC]\n    channels:\n"
        f'      - "file://{target}"\n      - "{_mail_url(smtp.port, "po@gemeente.example")}"\n',
        encoding="utf-8",
    )
    routing = load_routing(routing_file)
    smtp.stop()
    _not_met(send, "VAC-1")
    assert dispatch(engine, routing, NOW, LIMITS).retrying == 1
    smtp.start()
    assert dispatch(engine, routing, NOW + timedelta(minutes=5), LIMITS).delivered == 1
    assert target.read_text(encoding="utf-8").count("Afwijking zonder toelichting: VAC-1") == 1
    assert [mail.to for mail in smtp.mails] == [["po@gemeente.example"]]


def test_an_alert_without_a_recipient_waits_unrouted_until_the_routing_names_one(
    engine: Engine, send: Any, tmp_path: Path, base_url: str
) -> None:
    target = tmp_path / "bv.txt"
    path = tmp_path / "routing.yaml"
    path.write_text(
        f'recipients:\n  - id: po-bv\n    clusters: [BV]\n    channels: ["file://{target}"]\n',
        encoding="utf-8",
    )
    _not_met(send, "VAC-1")  # a SOC directorate: nobody routed
    first = dispatch(engine, load_routing(path), NOW, LIMITS)
    assert (first.unrouted, first.messages, _outbox_statuses(engine)) == (1, 0, {"unrouted"})
    path.write_text(path.read_text().replace("[BV]", "[BV, SOC]"), encoding="utf-8")
    second = dispatch(engine, load_routing(path), NOW, LIMITS)
    assert (second.unrouted, second.delivered) == (0, 1)
    assert "VAC-1" in target.read_text(encoding="utf-8")
