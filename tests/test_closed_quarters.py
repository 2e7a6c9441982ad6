"""Closed quarters: the snapshot, its hash and verification, concurrent closes, reopening,
corrections and their alerts (DOMAIN.md, "Closed quarters"), on both databases."""

import io
import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from support import CHECKLIST
from typer.testing import CliRunner

from idflow.cli import app
from models import Outbox, QuarterSnapshot, session_scope
from notifications.render import Names, render_alert
from procedures.corrections import corrections_for
from procedures.organisation import load_organisation, parse_org_csv, sample_csv
from procedures.quarters import close_quarter, quarter_overview, reopen_quarter
from procedures.report_builder import build_report
from procedures.setup import add_policy
from procedures.snapshots import current_snapshots, verify_snapshots
from procedures.tallies import roll_up
from workflows.report import render

OJZ = {"directorate": "SOC-OJZ", "scale": 12, "title": "Teamleider", "kind": "external"}
COUNTS = ("met", "explained", "released", "not_met", "total")


def _q1(send: Any) -> None:
    """2025Q1 in SOC-OJZ: texts of V1..V3 met, V4 not met; V5 and V6 still in their text."""
    for n in range(1, 7):
        send(f"V{n}", "open", "2025-01-06T09:00:00+01:00", OJZ)
    for n in range(1, 4):
        send(f"V{n}", "approve_text", "2025-02-03T09:00:00+01:00")
    send("V4", "deviate_text", "2025-02-04T09:00:00+01:00")


def _close(engine: Engine, quarter: str, actor: str = "pia") -> Any:
    with session_scope(engine) as session:
        return close_quarter(session, quarter, actor)


def _book(engine: Engine, quarter: str, **options: Any) -> Any:
    with session_scope(engine) as session:
        roll_up(session)
        return build_report(session, quarter, **options)


def _late_changes(engine: Engine, send: Any) -> None:
    """What the issue saw move a reported quarter: a backdated step, a late explanation, a
    directorate moved to another cluster, a policy with suppression threshold 10."""
    send("V5", "approve_text", "2025-03-25T09:00:00+01:00")  # recorded now, dated 2025Q1
    send("V4", "explain", "2025-05-02T09:00:00+02:00", {"step": "text", "explanation": "Spoed"})
    send("V6", "deviate_text", "2025-03-30T09:00:00+02:00")  # a second backdated step
    moved = sample_csv().replace("SOC,Sociaal,SOC-OJZ,", "RE,Ruimte & Economie,SOC-OJZ,")
    with Session(engine) as session:
        load_organisation(session, parse_org_csv(moved))
        policy = build_policy(version=2, suppression_threshold=10)
        add_policy(session, policy)
        session.commit()


def build_policy(**changes: Any) -> Any:
    from procedures.policy import Policy, default_policy

    return Policy.model_validate(default_policy().to_json() | changes)


def _ojz(report: dict[str, Any]) -> dict[str, Any]:
    """SOC-OJZ's I2 row (every active directorate has rows; this one has the counts)."""
    [row] = [r for r in report["rows"] if (r["directorate"], r["indicator"]) == ("SOC-OJZ", "I2")]
    return row


def _workbook_values(data: bytes) -> dict[str, list[list[Any]]]:
    book = load_workbook(io.BytesIO(data))
    return {s.title: [[c.value for c in row] for row in s.iter_rows()] for s in book.worksheets}


def test_a_closed_quarter_renders_the_same_in_every_format_whatever_happens_later(
    engine: Engine, send: Any
) -> None:
    _q1(send)
    _close(engine, "2025Q1")
    before = {
        (suppress, fmt): render(_book(engine, "2025Q1", suppress=suppress), fmt)
        for suppress in (True, False)
        for fmt in ("json", "csv", "xlsx", "html")
    }
    _late_changes(engine, send)
    for (suppress, fmt), rendered in before.items():
        now = render(_book(engine, "2025Q1", suppress=suppress), fmt)
        if fmt == "xlsx":  # a workbook's zip carries the moment it was written
            assert isinstance(now, bytes) and isinstance(rendered, bytes)
            assert _workbook_values(now) == _workbook_values(rendered)
        else:
            assert now == rendered, (suppress, fmt)
    restated = _book(engine, "2025Q1", suppress=False, restated=True)
    assert restated.report["rows"] != json.loads(before[(False, "json")])["rows"]


def test_the_snapshot_holds_the_organisation_and_policy_as_they_stood(
    engine: Engine, send: Any
) -> None:
    _q1(send)
    snapshot = _close(engine, "2025Q1").snapshot
    _late_changes(engine, send)
    with Session(engine) as session:
        content = current_snapshots(session)["2025Q1"].content
    assert content["organisation"]["directorates"]["SOC-OJZ"]["cluster"] == "SOC"
    assert content["policy"] == {"version": 1, "suppression_threshold": 5}
    assert content["tallies"] == [
        ["SOC-OJZ", "I2", "met", 3],
        ["SOC-OJZ", "I2", "not_met", 1],
    ]
    assert content["published"]["report"]["threshold"] == 5
    assert len(snapshot.row.sha256) == 64
    rows = [r for r in content["internal"]["report"]["rows"] if r["total"]]
    assert [(r["cluster"], r["met"], r["not_met"], r["total"]) for r in rows] == [("SOC", 3, 1, 4)]


def test_corrections_equal_restated_minus_snapshot_and_are_published_once(
    engine: Engine, send: Any
) -> None:
    _q1(send)
    send("V1", "complete_biws", "2025-04-03T09:00:00+02:00", {"checklist": CHECKLIST})  # Q2
    _close(engine, "2025Q1")
    frozen = _book(engine, "2025Q1", suppress=False).report
    _late_changes(engine, send)
    restated = _book(engine, "2025Q1", suppress=False, restated=True).report
    q2 = _book(engine, "2025Q2", suppress=False).report
    assert q2["corrections"] == _minus(restated["rows"], frozen["rows"], "2025Q1")
    assert q2["corrections"]  # the late changes really moved 2025Q1

    _close(engine, "2025Q2")  # freezes the corrections it lists
    send("V2", "deviate_biws", "2025-03-31T09:00:00+02:00")  # one more late step in 2025Q1
    q3 = _book(engine, "2025Q3", suppress=False).report
    frozen_q2 = _book(engine, "2025Q2", suppress=False).report
    assert frozen_q2["corrections"] == q2["corrections"]
    assert q3["corrections"] == [
        {"quarter": "2025Q1", "directorate": "SOC-OJZ", "indicator": "I3", "met": 0,
         "explained": 0, "released": 0, "not_met": 1, "total": 1}
    ]  # fmt: skip
    now = _book(engine, "2025Q1", suppress=False, restated=True).report["rows"]
    listed = _sum(frozen_q2["corrections"] + q3["corrections"])
    assert listed == _sum(_minus(now, frozen["rows"], "2025Q1"))


def _minus(now: list[dict[str, Any]], then: list[dict[str, Any]], quarter: str) -> list:
    old = {(r["directorate"], r["indicator"]): r for r in then}
    out = []
    for row in sorted(now, key=lambda r: (r["directorate"], r["indicator"])):
        base = old.pop((row["directorate"], row["indicator"]), dict.fromkeys(COUNTS, 0))
        diff = {c: row[c] - base[c] for c in COUNTS}
        if any(diff.values()):
            key = {"directorate": row["directorate"], "indicator": row["indicator"]}
            out.append({"quarter": quarter} | key | diff)
    assert not old  # nothing that was published has vanished from the tallies
    return out


def _sum(rows: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, ...]]:
    total: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        cell = total.setdefault((row["directorate"], row["indicator"]), [0] * len(COUNTS))
        for n, c in enumerate(COUNTS):
            cell[n] += row[c]
    return {key: tuple(values) for key, values in total.items()}


def test_a_published_correction_with_a_small_difference_is_withheld_whole(
    engine: Engine, send: Any
) -> None:
    _q1(send)
    _close(engine, "2025Q1")
    send("V5", "approve_text", "2025-03-25T09:00:00+01:00")
    _close(engine, "2025Q2")  # only a closed quarter is published
    published = _book(engine, "2025Q2").report["corrections"]
    assert published == [
        {"quarter": "2025Q1", "directorate": "SOC-OJZ", "indicator": "I2"}
        | dict.fromkeys(COUNTS, "-")
    ]


def test_audit_verify_detects_an_edited_snapshot_and_an_edited_reopening(
    engine: Engine, send: Any
) -> None:
    _q1(send)
    _close(engine, "2025Q1")
    with Session(engine) as session:
        assert verify_snapshots(session) == (1, [])
        reopen_quarter(session, "2025Q1", "adm", "Late import")
        session.commit()
    _close(engine, "2025Q1")
    with Session(engine) as session:
        assert verify_snapshots(session) == (2, [])
        row = session.exec(select(QuarterSnapshot).where(QuarterSnapshot.version == 1)).one()
        content = json.loads(json.dumps(row.content))
        [ojz] = [r for r in content["internal"]["report"]["rows"] if r["directorate"] == "SOC-OJZ"
                 and r["indicator"] == "I2"]  # fmt: skip
        ojz["not_met"] = 0  # a quarter "on norm" after all
        session.execute(
            text("UPDATE quarter_snapshot SET content = :c WHERE id = :id"),
            {"c": json.dumps(content), "id": row.id},
        )
        session.execute(text("UPDATE quarter_reopening SET reason = 'geen'"))
        session.commit()
    with Session(engine) as session:
        checked, breaks = verify_snapshots(session)
    assert checked == 2
    assert [(b.quarter, b.version, b.reason) for b in breaks] == [
        ("2025Q1", 1, "inhoud gewijzigd (hash klopt niet)"),
        ("2025Q1", 1, "heropening gewijzigd (hash klopt niet)"),
    ]
    verified = CliRunner().invoke(app, ["audit", "verify"])
    assert verified.exit_code == 1
    assert "kwartaal 2025Q1 versie 1: inhoud gewijzigd (hash klopt niet)" in verified.stderr
    assert "2 in 2 versies van vastgestelde kwartalen" in verified.stderr


def test_two_closes_of_the_same_quarter_at_once_give_one_snapshot(
    engine: Engine, send: Any
) -> None:
    _q1(send)
    start, results, errors = threading.Barrier(4), [], []

    def close(actor: str) -> None:
        try:
            with Session(engine) as session:
                start.wait()
                results.append(close_quarter(session, "2025Q1", actor).created)
                session.commit()
        except Exception as error:  # a failure must show in the assertion, not vanish
            errors.append(error)

    threads = [threading.Thread(target=close, args=(f"p{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [False, False, False, True]
    with Session(engine) as session:
        rows = session.exec(select(QuarterSnapshot)).all()
        closed = session.exec(select(Outbox).where(Outbox.kind == "quarter_closed")).all()
    assert len(rows) == 1 and len(closed) == 1


def test_the_unique_key_refuses_a_second_snapshot_of_the_same_version(engine: Engine) -> None:
    """The last guard against a race the roll-up lock would not catch."""
    _close(engine, "2025Q1")
    with Session(engine) as session:
        row = session.exec(select(QuarterSnapshot)).one()
        session.add(QuarterSnapshot(**row.model_dump(exclude={"id"})))
        with pytest.raises(IntegrityError):
            session.flush()


def test_reopen_then_close_keeps_both_versions_and_the_reason(engine: Engine, send: Any) -> None:
    _q1(send)
    first = _close(engine, "2025Q1").snapshot
    send("V5", "approve_text", "2025-03-25T09:00:00+01:00")
    with Session(engine) as session:
        reopen_quarter(session, "2025Q1", "adm", "Late import van de ATS-koppeling")
        session.commit()
    assert _book(engine, "2025Q1", suppress=False).report["status"] == "voorlopig"
    second = _close(engine, "2025Q1", "po-2").snapshot
    assert (first.version, second.version) == (1, 2)
    v1 = _book(engine, "2025Q1", suppress=False, version=1).report
    v2 = _book(engine, "2025Q1", suppress=False, version=2).report
    assert (_ojz(v1)["met"], _ojz(v2)["met"]) == (3, 4)
    assert _book(engine, "2025Q1", suppress=False).report == v2
    with Session(engine) as session:
        [quarter] = quarter_overview(session)
        assert corrections_for(session, "2025Q2", current_snapshots(session))[0] == []
        assert verify_snapshots(session) == (2, [])
    assert quarter["status"] == "vastgesteld"
    assert [(v["version"], v["closed_by"], v["reason"]) for v in quarter["versions"]] == [
        (1, "pia", "Late import van de ATS-koppeling"),
        (2, "po-2", None),
    ]


def test_a_step_counted_in_a_closed_quarter_raises_one_correction_alert(
    engine: Engine, send: Any
) -> None:
    _q1(send)
    _close(engine, "2025Q1")
    send("V5", "deviate_text", "2025-03-25T09:00:00+01:00")
    send("V6", "approve_text", "2025-04-25T09:00:00+02:00")  # 2025Q2: open, no correction
    for rebuild in (False, False, True):
        with Session(engine) as session:
            roll_up(session, rebuild=rebuild)
            session.commit()
    with Session(engine) as session:
        alerts = session.exec(select(Outbox).where(Outbox.kind == "correction")).all()
        ids = session.exec(select(col(Outbox.transition_id)).where(Outbox.kind == "not_met")).all()
    assert len(alerts) == 1
    [alert] = alerts
    assert alert.cause == f"correction:{alert.transition_id}" and alert.transition_id in ids
    assert (alert.vacancy, alert.payload["quarter"], alert.payload["outcome"]) == (
        "V5",
        "2025Q1",
        "not_met",
    )
    with Session(engine) as session:
        names = Names.load(session)
        closed = session.exec(select(Outbox).where(Outbox.kind == "quarter_closed")).one()
    message = render_alert(alert, names, "https://idflow.example")
    assert message.title == (
        "Correctie op vastgesteld kwartaal 2025Q1: V5, I&D-vacaturetekst (Onderwijs, Jeugd en Zorg)"
    )
    assert "uitkomst: niet voldaan" in message.body and "25 maart 2025 09:00" in message.body
    assert "https://idflow.example/vacatures/V5" in message.body
    told = render_alert(closed, names, "https://idflow.example")
    assert told.title == "Kwartaal 2025Q1 vastgesteld (versie 1)"
    assert closed.payload["sha256"] in told.body and "door pia" in told.body


def test_a_quarter_that_has_not_ended_cannot_be_closed(engine: Engine) -> None:
    from procedures.calendar import quarter_of
    from procedures.errors import RuleViolation

    with Session(engine) as session, pytest.raises(RuleViolation, match="nog niet voorbij"):
        close_quarter(session, quarter_of(datetime.now(UTC)), "pia")


def test_a_correction_row_is_published_whole_only_when_no_difference_is_small() -> None:
    from procedures.disclosure import suppress_corrections

    key = {"quarter": "2025Q1", "directorate": "SOC-OJZ", "indicator": "I2"}
    large = key | {"met": 6, "explained": 0, "released": 0, "not_met": -6, "total": 0}
    negative = key | {"met": 0, "explained": 7, "released": 0, "not_met": -2, "total": 5}
    assert suppress_corrections([large, negative], 5) == [
        large,
        key | dict.fromkeys(COUNTS, "-"),  # -2 would follow from 7 and 5
    ]
