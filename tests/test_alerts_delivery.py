"""Delivering alerts against real servers the tests start: an SMTP server (aiosmtpd) and an
HTTP(S) webhook receiver. Each delivery is one cause x recipient x channel with its own
attempts and outcome; at least once, never twice but for a message in flight when a
dispatcher dies (and that copy carries the same Message-ID / idempotency_key); nothing lost
while a channel is down, for days; nothing dropped in silence."""

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alert_servers import MailServer, Webhook, free_port, self_signed_tls
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from models import Outbox, get_settings
from models.tables import Delivery
from notifications.dispatch import Limits, dispatch, retry_failed
from notifications.routing import Routing, load_routing
from procedures.alerts import parse_as_of, scan_overdue
from procedures.policy import default_policy

ROOT = Path(__file__).resolve().parents[1]
OPEN = {"directorate": "SOC-OJZ", "scale": 12, "title": "Teamleider", "kind": "external"}
CHECKLIST = dict.fromkeys(default_policy().biws_checklist, True)
BASE = "https://idflow.gemeente.example"
LIMITS = Limits(retry_base_s=60, retry_max_s=3600, lease_s=300)
NOW = datetime.now(UTC)


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


def _write(tmp_path: Path, text: str, fallback: str | None = None) -> Routing:
    fallback = fallback or f"file://{tmp_path / 'vangnet.txt'}"
    path = tmp_path / "routing.yaml"
    text += f'\nfallback:\n  id: po-vangnet\n  channels: ["{fallback}"]\n'
    path.write_text(text, encoding="utf-8")
    return load_routing(path)


def _routing(tmp_path: Path, smtp: MailServer, webhook_port: int | None = None) -> Routing:
    text = f"""
recipients:
  - id: po-soc
    name: P&O Sociaal
    clusters: [SOC]
    channels: ["{smtp.url("po-sociaal@gemeente.example")}"]
"""
    if webhook_port:
        text += f"""
  - id: chat
    name: P&O-kanaal
    clusters: ["*"]
    kinds: [not_met]
    channels: ["json://127.0.0.1:{webhook_port}/po"]
"""
    return _write(tmp_path, text)


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


def _outbox_statuses(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        return {a.cause: a.status for a in session.exec(select(Outbox))}


def _idflow(*args: str, db_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from idflow.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=os.environ | {"IDFLOW_DATABASE_URL": db_url, "COLUMNS": "200"} | env,
        timeout=120,
    )


def test_an_immediate_alert_reaches_each_routed_recipient_once_with_its_stable_key(
    engine: Engine, send: Any, smtp: MailServer, webhook: Webhook, tmp_path: Path, base_url: str
) -> None:
    routing = _routing(tmp_path, smtp, webhook.port)
    _not_met(send, "VAC-1")
    first = dispatch(engine, routing, NOW, LIMITS)
    again = dispatch(engine, routing, NOW + timedelta(hours=1), LIMITS)
    assert (first.delivered, first.messages, again.messages, first.failed) == (2, 2, 0, [])
    [mail] = smtp.mails
    assert mail.to == ["po-sociaal@gemeente.example"]
    assert mail.subject == (
        "Afwijking zonder toelichting: VAC-1, I&D-vacaturetekst (Onderwijs, Jeugd en Zorg)"
    )
    assert f"{base_url}/vacatures/VAC-1#event-explain" in mail.text
    assert mail.message_id.startswith("<idflow-") and mail.message_id.endswith("@gemeente.example>")
    [post] = webhook.posts
    assert post["path"] == "/po" and post["title"] == mail.subject
    assert post["type"] == "warning"  # a not_met asks for something
    assert post["idempotency_key"].startswith("idflow-")
    assert post["idempotency_key"] != mail.message_id[1:].split("@")[0]  # per channel
    assert post["link"] == f"{base_url}/vacatures/VAC-1#event-explain"
    assert set(_outbox_statuses(engine).values()) == {"delivered"}


OUTAGE = [
    timedelta(0),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
    timedelta(days=2),
    timedelta(days=2, hours=20),
]


def test_a_weekend_long_smtp_outage_loses_nothing_and_every_alert_arrives_once_after_it(
    engine: Engine, send: Any, smtp: MailServer, tmp_path: Path, base_url: str
) -> None:
    """The `--as-of` runs of a Friday-evening-to-Monday outage, with the default limits."""
    routing = _routing(tmp_path, smtp)
    smtp.stop()
    _not_met(send, "VAC-1", "VAC-2", "VAC-3")
    for offset in OUTAGE:
        down = dispatch(engine, routing, NOW + offset)
        assert (down.messages, down.failed, down.waiting) == (0, [], 3), offset
    waiting = _deliveries(engine, "po-soc")
    assert {d.status for d in waiting} == {"pending"}
    assert "niet bereikbaar" in (waiting[0].last_error or "")
    smtp.start()
    recovered = dispatch(engine, routing, NOW + OUTAGE[-1] + timedelta(hours=6, minutes=1))
    assert (recovered.delivered, recovered.waiting, recovered.failed) == (3, 0, [])
    assert sorted(Counter(smtp.subjects()).values()) == [1, 1, 1]
    assert set(_outbox_statuses(engine).values()) == {"delivered"}


def test_an_outage_longer_than_the_retry_time_fails_loudly_and_retry_requeues(
    engine: Engine, send: Any, smtp: MailServer, tmp_path: Path, base_url: str, db_url: str
) -> None:
    routing = _routing(tmp_path, smtp)
    smtp.stop()
    _not_met(send, "VAC-1", "VAC-2")
    for offset in (timedelta(0), timedelta(days=1), timedelta(days=2, hours=23)):
        assert dispatch(engine, routing, NOW + offset).failed == []
    late = dispatch(engine, routing, NOW + timedelta(days=3, minutes=1))
    assert sorted(f.cause for f in late.failed) == ["not_met:VAC-1:text", "not_met:VAC-2:text"]
    assert "mislukt sinds" in late.failed[0].error and late.failed_total == 2
    assert set(_outbox_statuses(engine).values()) == {"failed"}
    shown = _idflow("alerts", "list", "--failed", db_url=db_url)
    assert shown.returncode == 0
    assert "Mislukte verzendingen" in shown.stdout and "not_met:VAC-2:text" in shown.stdout
    assert retry_failed(engine) == 2
    smtp.start()
    again = dispatch(engine, routing, NOW + timedelta(days=3, hours=1))
    assert (again.delivered, again.failed_total) == (2, 0)


def test_a_400_fails_only_that_delivery_at_once_and_a_503_is_retried(
    engine: Engine, send: Any, smtp: MailServer, tmp_path: Path, base_url: str
) -> None:
    seen: Counter[str] = Counter()

    def answer(body: dict[str, Any]) -> int:
        vacancy = body["title"].split(": ")[1].split(",")[0]
        seen[vacancy] += 1
        if vacancy == "VAC-3":
            return 400
        return 503 if vacancy == "VAC-4" and seen[vacancy] == 1 else 200

    hook = Webhook(answer)
    try:
        routing = _routing(tmp_path, smtp, hook.port)
        _not_met(send, *(f"VAC-{n}" for n in range(1, 6)))
        first = dispatch(engine, routing, NOW, LIMITS)
        [refused] = first.failed
        assert (refused.cause, refused.recipient, refused.attempts) == (
            "not_met:VAC-3:text",
            "chat",
            1,
        )
        assert "HTTP 400" in refused.error and "ongeldige kaart" in refused.error
        assert first.waiting == 2  # VAC-4 (503) and VAC-5, behind it on that channel
        later = dispatch(engine, routing, NOW + timedelta(minutes=2), LIMITS)
        assert (later.delivered, later.failed, later.waiting) == (2, [], 0)
    finally:
        hook.close()
    accepted = Counter(post["title"].split(": ")[1].split(",")[0] for post in hook.posts)
    assert accepted == {"VAC-1": 1, "VAC-2": 1, "VAC-4": 1, "VAC-5": 1}
    assert len(smtp.mails) == 5  # the mail channel never noticed
    statuses = _outbox_statuses(engine)
    assert statuses.pop("not_met:VAC-3:text") == "failed"
    assert set(statuses.values()) == {"delivered"}


def test_smtp_down_holds_back_only_mail_while_the_same_recipients_webhook_delivers(
    engine: Engine, send: Any, smtp: MailServer, webhook: Webhook, tmp_path: Path, base_url: str
) -> None:
    routing = _write(
        tmp_path,
        f"""
recipients:
  - id: po
    clusters: [SOC]
    channels:
      - "{smtp.url("po@gemeente.example")}"
      - "json://127.0.0.1:{webhook.port}/po"
""",
    )
    smtp.stop()
    _not_met(send, "VAC-1", "VAC-2")
    down = dispatch(engine, routing, NOW, LIMITS)
    assert (down.delivered, down.waiting, down.failed) == (2, 2, [])
    assert [p["title"].split(": ")[1][:5] for p in webhook.posts] == ["VAC-1", "VAC-2"]
    smtp.start()
    back = dispatch(engine, routing, NOW + timedelta(minutes=5), LIMITS)
    assert (back.delivered, len(webhook.posts), len(smtp.mails)) == (2, 2, 2)


def _set_created(engine: Engine, cause: str, moment: str) -> None:
    with Session(engine) as session:
        statement = update(Outbox).where(col(Outbox.cause) == cause)
        session.execute(statement.values(created_at=parse_as_of(moment)))
        session.commit()


def test_the_daily_digest_holds_exactly_the_informational_alerts_of_its_day(
    engine: Engine, send: Any, smtp: MailServer, tmp_path: Path, base_url: str
) -> None:
    routing = _routing(tmp_path, smtp)
    for vacancy in ("VAC-1", "VAC-2", "VAC-3"):
        _round_failed(send, vacancy)
    _not_met(send, "VAC-9")
    _set_created(engine, "rooney_round:VAC-1:1", "2025-03-03T08:00")
    _set_created(engine, "rooney_round:VAC-2:1", "2025-03-03T23:30")  # still 3 March locally
    _set_created(engine, "rooney_round:VAC-3:1", "2025-03-04T00:30")
    first = dispatch(engine, routing, parse_as_of("2025-03-04T12:00"), LIMITS)
    in_grace = dispatch(engine, routing, parse_as_of("2025-03-05T00:05"), LIMITS)
    second = dispatch(engine, routing, parse_as_of("2025-03-05T08:00"), LIMITS)
    counts = (first.digests, first.waiting_for_digest, in_grace.digests, second.digests)
    assert counts == (1, 1, 0, 1)
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


def _dispatcher(routing: Routing, db_url: str, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", DISPATCHER, routing.source],
        cwd=ROOT,
        env=os.environ | {"IDFLOW_DATABASE_URL": db_url} | env,
    )


def test_a_dispatcher_killed_in_the_send_window_duplicates_one_message_with_the_same_id(
    engine: Engine, send: Any, smtp: MailServer, tmp_path: Path, base_url: str, db_url: str
) -> None:
    routing = _routing(tmp_path, smtp)
    _not_met(send, *(f"VAC-{n}" for n in range(1, 6)))
    smtp.hold.set()  # the first message is received, then the server keeps the sender waiting
    process = _dispatcher(routing, db_url)
    try:
        assert smtp.wait_for(1, timeout=60), "the dispatcher never sent its first message"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    smtp.hold.clear()
    in_flight = smtp.mails[0]
    # Only the message in flight was claimed; the others were never touched.
    assert sorted(d.status for d in _deliveries(engine)) == ["pending"] * 4 + ["sending"]
    after_lease = datetime.now(UTC) + timedelta(seconds=get_settings().alert_lease_s + 1)
    restarted = dispatch(engine, routing, after_lease, LIMITS)
    assert restarted.delivered == 5
    counts = Counter(smtp.subjects())
    assert len(counts) == 5  # every alert arrived
    assert [subject for subject, n in counts.items() if n > 1] == [in_flight.subject]
    copies = [mail.message_id for mail in smtp.mails if mail.subject == in_flight.subject]
    assert copies == [in_flight.message_id] * 2  # the receiver can drop the copy
    assert len({mail.message_id for mail in smtp.mails}) == 5
    assert {d.status for d in _deliveries(engine)} == {"sent"}


def test_two_dispatchers_with_a_slow_channel_send_every_delivery_once(
    engine: Engine, send: Any, tmp_path: Path, base_url: str, db_url: str
) -> None:
    """Batch leases used to expire while a slow channel worked through them, and the other
    dispatcher (say `idflow alerts dispatch` beside the Prefect run) sent them again."""
    slow = Webhook(delay=0.5)
    try:
        routing = _write(
            tmp_path,
            f'recipients:\n  - id: chat\n    clusters: ["*"]\n'
            f'    channels: ["json://127.0.0.1:{slow.port}/po"]\n',
        )
        vacancies = [f"VAC-{n:02}" for n in range(1, 17)]
        _not_met(send, *vacancies)
        lease = {"IDFLOW_ALERT_LEASE_S": "4"}  # 8 messages' time on this channel
        first = _dispatcher(routing, db_url, **lease)
        assert slow.wait_for(9), "the first dispatcher stalled"
        second = _dispatcher(routing, db_url, **lease)  # after a batch lease would expire
        assert first.wait(timeout=120) == 0 and second.wait(timeout=120) == 0
    finally:
        slow.close()
    keys = Counter(post["idempotency_key"] for post in slow.posts)
    assert len(keys) == 16 and set(keys.values()) == {1}
    assert {d.status for d in _deliveries(engine)} == {"sent"}


def test_an_alert_without_a_recipient_goes_to_the_fallback_and_the_dispatch_fails(
    engine: Engine,
    send: Any,
    smtp: MailServer,
    tmp_path: Path,
    base_url: str,
    prefect_harness: None,
) -> None:
    from typer.testing import CliRunner

    from idflow.cli import app

    routing = _write(
        tmp_path,
        f"recipients:\n  - id: po-bv\n    clusters: [BV]\n"
        f'    channels: ["{smtp.url("bv@x.nl")}"]\n',
        fallback=smtp.url("vangnet@gemeente.example"),
    )
    _not_met(send, "VAC-1")  # a SOC directorate: nobody routed
    ran = CliRunner().invoke(app, ["alerts", "dispatch", "--routing", routing.source])
    assert ran.exit_code == 1, ran.output
    assert (
        "Zonder eigen ontvanger, naar de vangnetontvanger gestuurd: not_met:VAC-1:text"
        in ran.output
    )
    assert "1 zonder eigen ontvanger" in ran.output
    [mail] = smtp.mails
    assert mail.to == ["vangnet@gemeente.example"] and "VAC-1" in mail.subject
    assert _outbox_statuses(engine) == {"not_met:VAC-1:text": "delivered"}
    from workflows.alerts import dispatch_flow

    _not_met(send, "VAC-2")
    state = dispatch_flow(routing_file=routing.source, return_state=True)
    assert state.is_failed() and "zonder ontvanger" in (state.message or "")
    assert state.result(raise_on_failure=False)["unrouted"] == ["not_met:VAC-2:text"]
    quiet = dispatch_flow(routing_file=routing.source, return_state=True)
    assert quiet.is_completed()  # a routing gap is reported once, with its alert


HISTORY = [
    ("H-1", "open", "2024-01-08T09:00:00+01:00", OPEN),
    ("H-1", "deviate_text", "2024-01-09T09:00:00+01:00", {}),
    ("H-2", "open", "2024-02-05T09:00:00+01:00", OPEN),  # still in text: overdue long ago
]


def test_a_historical_import_sends_nothing_and_its_alerts_stay_visible_as_historical(
    engine: Engine, send: Any, smtp: MailServer, tmp_path: Path, base_url: str, db_url: str
) -> None:
    import json

    from fastapi.testclient import TestClient

    from procedures.accounts import create_user, issue_token
    from web.app import ALERT_STATUS_LABELS, create_app

    history = tmp_path / "history.jsonl"
    lines = [
        {"id": f"h-{n}", "vacancy": v, "event": e, "at": at, "actor": "w&s", "data": data}
        for n, (v, e, at, data) in enumerate(HISTORY)
    ]
    history.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    imported = _idflow("import", "--historical", str(history), db_url=db_url)
    assert imported.returncode == 0, imported.stderr
    go_live = datetime.now(UTC)
    with Session(engine) as session:
        assert len(scan_overdue(session, go_live)) == 2  # both stays passed their limit in 2024
        session.commit()
    now = datetime.now(UTC).isoformat()
    send("VAC-NEW", "open", now, OPEN)
    send("VAC-NEW", "deviate_text", now)  # after go-live: sent
    routing = _routing(tmp_path, smtp)
    result = dispatch(engine, routing, go_live, Limits(alerts_from=go_live))
    assert (result.historical, result.delivered) == (3, 1)
    assert smtp.subjects() == [
        "Afwijking zonder toelichting: VAC-NEW, I&D-vacaturetekst (Onderwijs, Jeugd en Zorg)"
    ]
    assert _outbox_statuses(engine) == {
        "not_met:H-1:text": "historical",
        "overdue:H-1:biws:2": "historical",
        "overdue:H-2:text:1": "historical",
        "not_met:VAC-NEW:text": "delivered",
    }
    with Session(engine) as session:
        user = create_user(session, "pia", "een-lang-wachtwoord", "pno", [])
        assert user.id is not None
        token = issue_token(session, user.id, "tests").token
        session.commit()
    client = TestClient(create_app(db_url), base_url="https://testserver")
    shown = client.get("/api/alerts", headers={"Authorization": f"Bearer {token}"}).json()
    assert {a["vacancy"]: a["status"] for a in shown if a["vacancy"] != "VAC-NEW"} == {
        "H-1": "historical",
        "H-2": "historical",
    }
    assert ALERT_STATUS_LABELS["historical"] == "niet verzonden: historisch"


def test_teams_gets_an_adaptive_card_with_its_key_through_workflows(
    engine: Engine, send: Any, tmp_path: Path, base_url: str
) -> None:
    teams = Webhook(tls=self_signed_tls(tmp_path))
    try:
        routing = _write(
            tmp_path,
            f'recipients:\n  - id: teams\n    clusters: ["*"]\n    channels: '
            f'["workflows://127.0.0.1:{teams.port}/wf-1234/sig-abcd?verify=no"]\n',
        )
        _not_met(send, "VAC-1")
        _round_failed(send, "VAC-2")
        _set_created(engine, "rooney_round:VAC-2:1", "2025-03-03T08:00")
        result = dispatch(engine, routing, parse_as_of("2025-03-04T12:00"), LIMITS)
        assert (result.delivered, result.digests, result.failed) == (2, 1, [])
    finally:
        teams.close()
    alert, digest = teams.posts
    assert alert["path"].startswith("/workflows/wf-1234/triggers/manual/paths/invoke?")
    assert "sig=sig-abcd" in alert["path"]
    assert alert["type"] == "message" and alert["idempotency_key"].startswith("idflow-")
    [attachment] = alert["attachments"]
    card = attachment["content"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["type"] == "AdaptiveCard"
    title, body = card["body"]
    assert title["text"].startswith("Afwijking zonder toelichting: VAC-1")
    assert title["color"] == "attention" and "recruiter-1" in body["text"]
    assert card["actions"][0]["url"] == f"{base_url}/vacatures/VAC-1#event-explain"
    digest_card = digest["attachments"][0]["content"]
    assert digest_card["body"][0]["color"] == "accent"  # informational
    assert digest["idempotency_key"] != alert["idempotency_key"]


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
        f'recipients:\n  - id: po\n    clusters: ["*"]\n    channels: ["file://{target}"]\n'
        f'fallback:\n  id: vangnet\n  channels: ["file://{target}"]\n',
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
    routing = _write(
        tmp_path,
        "recipients:\n  - id: po\n    clusters: [SOC]\n    channels:\n"
        f'      - "file://{target}"\n      - "{smtp.url("po@gemeente.example")}"\n',
    )
    smtp.stop()
    _not_met(send, "VAC-1")
    assert dispatch(engine, routing, NOW, LIMITS).waiting == 1
    smtp.start()
    assert dispatch(engine, routing, NOW + timedelta(minutes=5), LIMITS).delivered == 1
    assert target.read_text(encoding="utf-8").count("Afwijking zonder toelichting: VAC-1") == 1
    assert [mail.to for mail in smtp.mails] == [["po@gemeente.example"]]


def test_a_channel_nobody_listens_on_is_not_reachable_and_waits(
    engine: Engine, send: Any, tmp_path: Path, base_url: str
) -> None:
    port = free_port()
    routing = _write(
        tmp_path,
        f'recipients:\n  - id: chat\n    clusters: ["*"]\n'
        f'    channels: ["json://127.0.0.1:{port}/po"]\n',
    )
    _not_met(send, "VAC-1")
    result = dispatch(engine, routing, NOW, LIMITS)
    assert (result.waiting, result.failed) == (1, [])
    assert "niet bereikbaar" in (_deliveries(engine)[0].last_error or "")
