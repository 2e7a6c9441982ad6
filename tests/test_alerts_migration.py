"""Deliveries made before they were per channel migrate without losing or repeating a message:
every channel that had accepted one keeps a sent row; an unfinished one is planned again."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from migrations import alembic_config, upgrade_to_head
from models import Outbox
from models.database import get_engine
from models.tables import Delivery
from notifications.channels import channel_id
from notifications.dispatch import Limits, dispatch
from notifications.routing import load_routing

NOW = datetime(2025, 3, 3, 9, 0)


def test_legacy_deliveries_become_one_row_per_channel_and_unfinished_ones_are_planned_again(
    db_url: str, tmp_path: Path
) -> None:
    engine = get_engine(db_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0002")
    a, b = (f"file://{tmp_path / name}" for name in ("a.txt", "b.txt"))
    with engine.begin() as connection:
        for n, status in ((1, "delivered"), (2, "routed"), (3, "failed")):
            connection.execute(
                text(
                    "INSERT INTO outbox (id, cause, kind, immediate, vacancy, directorate, "
                    "created_at, payload, status) VALUES (:id, :cause, 'not_met', true, "
                    ":vacancy, 'SOC-OJZ', :at, :payload, :status)"
                ),
                {
                    "id": n,
                    "cause": f"not_met:V{n}:text",
                    "vacancy": f"V{n}",
                    "at": NOW,
                    "payload": json.dumps(_payload(f"V{n}")),
                    "status": status,
                },
            )
        for outbox, status, sent in ((1, "sent", [a, b]), (2, "pending", [a]), (3, "failed", [])):
            connection.execute(
                text(
                    "INSERT INTO delivery (outbox_id, recipient, immediate, status, attempts, "
                    "sent_channels, created_at) VALUES (:outbox, 'po', true, :status, 2, "
                    ":sent, :at)"
                ),
                {
                    "outbox": outbox,
                    "status": status,
                    "sent": json.dumps([channel_id(url) for url in sent]),
                    "at": NOW,
                },
            )
    upgrade_to_head(engine)
    sent = sorted([(1, channel_id(a)), (1, channel_id(b)), (2, channel_id(a))])
    assert _rows(engine) == [(outbox, channel, "sent") for outbox, channel in sent]
    with Session(engine) as session:
        statuses = {o.id: o.status for o in session.exec(select(Outbox))}
    assert statuses == {1: "delivered", 2: "pending", 3: "pending"}

    routing_file = tmp_path / "routing.yaml"
    routing_file.write_text(
        f'recipients:\n  - id: po\n    clusters: ["*"]\n    channels: ["{a}", "{b}"]\n'
        f'fallback:\n  id: vangnet\n  channels: ["{a}"]\n',
        encoding="utf-8",
    )
    later = datetime.now(UTC) + timedelta(minutes=1)
    result = dispatch(engine, load_routing(routing_file), later, Limits())
    assert (result.planned, result.delivered, result.failed) == (3, 3, [])
    assert (tmp_path / "a.txt").read_text(encoding="utf-8").count("Afwijking") == 1  # V3 only
    assert (tmp_path / "b.txt").read_text(encoding="utf-8").count("Afwijking") == 2  # V2, V3
    assert {status for _, _, status in _rows(engine)} == {"sent"}


def _payload(vacancy: str) -> dict[str, str]:
    return {
        "vacancy": vacancy,
        "directorate": "SOC-OJZ",
        "event": "deviate_text",
        "at": "2025-03-03T10:00:00+01:00",
        "actor": "recruiter-1",
        "step": "text",
        "step_label": "I&D-vacaturetekst",
    }


def _rows(engine: Engine) -> list[tuple[int, str, str]]:
    with Session(engine) as session:
        statement = select(Delivery).order_by(col(Delivery.outbox_id), col(Delivery.channel))
        return [(d.outbox_id, d.channel, d.status) for d in session.exec(statement)]
