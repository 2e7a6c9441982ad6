"""The yearly report: published once, when its four quarters are closed, stored with its hash
and checked by ``idflow audit verify``; exit reasons only where enough interviews were held."""

import json
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session
from support import CHECKLIST
from typer.testing import CliRunner

from idflow.cli import app
from models import session_scope
from procedures.errors import RuleViolation
from procedures.quarters import close_quarter
from procedures.report_year import build_year_report, publish_year
from procedures.snapshots import verify_year_reports

CLOSES = (("2025Q1", "2025-04-15"), ("2025Q2", "2025-07-15"), ("2025Q3", "2025-10-15"),
          ("2025Q4", "2026-01-15"))  # fmt: skip
JANUARY = datetime.fromisoformat("2026-01-15T08:00:00+01:00")


def _leaver(send: Any, vacancy: str, directorate: str, reasons: list[str]) -> None:
    """A vacancy through every step in 2025, ending with a held exit interview."""
    send(
        vacancy,
        "open",
        "2025-01-06T09:00:00+01:00",
        {"directorate": directorate, "scale": 12, "title": "Teamleider", "kind": "external"},
    )
    for event, at, data in (
        ("approve_text", "2025-01-13T09:00:00+01:00", {}),
        ("complete_biws", "2025-01-27T09:00:00+01:00", {"checklist": CHECKLIST}),
        ("submit_shortlist", "2025-02-10T09:00:00+01:00", {"invited": 4, "diverse": 2}),
        ("hire", "2025-02-24T09:00:00+01:00", {"employee": f"P-{vacancy}",
                                                "start_date": "2025-03-03"}),
        ("complete_onboarding", "2025-04-14T09:00:00+02:00", {}),
        ("register_departure", "2025-07-07T09:00:00+02:00", {"leave_date": "2025-07-04"}),
        ("record_exit_interview", "2025-07-14T09:00:00+02:00", {"held": True, "reasons": reasons}),
    ):  # fmt: skip
        send(vacancy, event, at, data)


def _close(engine: Engine, quarters: tuple[tuple[str, str], ...]) -> None:
    for quarter, day in quarters:
        with session_scope(engine) as session:
            close_quarter(session, quarter, "pia", now=datetime.fromisoformat(f"{day}T07:00+01:00"))


def test_a_year_is_published_once_after_its_quarters_with_reasons_only_where_enough_were_held(
    engine: Engine, send: Any
) -> None:
    for n in range(6):  # Sociaal: six interviews in two directorates
        _leaver(
            send, f"S{n}", "SOC-OJZ" if n % 2 else "SOC-WPI", ["werkdruk", "loopbaan"][: n % 2 + 1]
        )
    _leaver(send, "Z1", "SD-ZO", ["gezondheid"])  # Stadsdelen: one interview
    _close(engine, CLOSES[:3])
    with session_scope(engine) as session, pytest.raises(RuleViolation, match="2025Q4 is niet"):
        publish_year(session, 2025, "pia", now=JANUARY)
    _close(engine, CLOSES[3:])
    with session_scope(engine) as session:
        with pytest.raises(RuleViolation, match="nog niet gepubliceerd"):
            build_year_report(session, 2025, suppress=True)
        first = publish_year(session, 2025, "pia", now=JANUARY)
    with session_scope(engine) as session:
        again = publish_year(session, 2025, "po-2")
        published = build_year_report(session, 2025).report
        internal = build_year_report(session, 2025, suppress=False).report
        assert verify_year_reports(session) == (1, [])
    assert (first.created, again.created, again.row.sha256) == (True, False, first.row.sha256)
    assert published["quarters"] == [q for q, _ in CLOSES] and published["status"] == "vastgesteld"
    assert internal["classification"] == "intern, niet publiceren"
    reasons = {r["cluster"]: r for r in published["sections"]["exit_reasons"]["clusters"]}
    assert reasons["SBD"] == {"cluster": "SBD", "published": False, "note": "te weinig gesprekken"}
    assert reasons["SOC"]["published"] and reasons["SOC"]["reasons"]["werkdruk"] == 6
    assert (
        reasons["SOC"]["reasons"]["loopbaan"] == "<5" and reasons["SOC"]["reasons"]["prive"] == "<5"
    )
    [i6] = [r for r in internal["sections"]["indicators"]["cluster_totals"]
            if (r["period"], r["cluster"], r["indicator"]) == ("2025", "SOC", "I6")]  # fmt: skip
    assert (i6["met"], i6["total"]) == (6, 6)


def test_audit_verify_finds_an_edited_yearly_report(engine: Engine, send: Any) -> None:
    _leaver(send, "S1", "SOC-OJZ", ["werkdruk"])
    _close(engine, CLOSES)
    with session_scope(engine) as session:
        publish_year(session, 2025, "pia", now=JANUARY)
    with Session(engine) as session:
        row = session.execute(text("SELECT content FROM year_report")).one()
        content = json.loads(row[0]) if isinstance(row[0], str) else row[0]
        content["published"]["sections"]["exit_reasons"]["clusters"] = []
        session.execute(text("UPDATE year_report SET content = :c"), {"c": json.dumps(content)})
        session.commit()
    with Session(engine) as session:
        checked, breaks = verify_year_reports(session)
    assert (checked, [str(b) for b in breaks]) == (
        1, ["jaarrapportage 2025: inhoud gewijzigd (hash klopt niet)"]
    )  # fmt: skip
    verified = CliRunner().invoke(app, ["audit", "verify"])
    assert verified.exit_code == 1 and "jaarrapportage 2025: inhoud gewijzigd" in verified.stderr


@pytest.mark.prefect
def test_idflow_report_year_prints_the_published_yearly_report(
    engine: Engine, send: Any, prefect_harness: None
) -> None:
    _leaver(send, "S1", "SOC-OJZ", ["werkdruk"])
    _close(engine, CLOSES)
    runner = CliRunner()
    published = runner.invoke(app, ["year", "publish", "2025", "--actor", "pia"])
    assert published.exit_code == 0 and "Jaarrapportage 2025 gepubliceerd" in published.stdout
    shown = runner.invoke(app, ["report", "--year", "2025", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    with Session(engine) as session:
        assert json.loads(shown.stdout) == build_year_report(session, 2025).report
    # Refusals (Dutch, exit 1 through idflow's main) raise out of the bare Typer app.
    mixed = runner.invoke(app, ["report", "--year", "2025", "--quarter", "2025Q1"])
    assert "--year gaat niet samen" in str(mixed.exception)
    xlsx = runner.invoke(app, ["report", "--year", "2025", "--format", "xlsx"])
    assert "alleen als json" in str(xlsx.exception)
