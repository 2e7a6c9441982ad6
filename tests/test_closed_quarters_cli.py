"""Issue 14's "Done when", step by step through the ``idflow`` commands on a fresh database:
a closed quarter's report never changes; late events, a late explanation, an organisation load
and a new policy become corrections in the next report."""

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from support import CHECKLIST
from typer.testing import CliRunner

from idflow.cli import app
from procedures.organisation import sample_csv

pytestmark = pytest.mark.prefect
IDFLOW = str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "idflow")
OJZ = {"directorate": "SOC-OJZ", "scale": 12, "title": "Teamleider", "kind": "external"}
NRD = OJZ | {"directorate": "SD-NRD"}


def _event(n: int, vacancy: str, event: str, at: str, data: dict[str, Any] | None = None) -> str:
    line = {"id": f"e-{n}", "vacancy": vacancy, "event": event, "at": at, "actor": "ats"}
    return json.dumps(line | {"data": data or {}})


# 2025Q1: SOC-OJZ I2 met 1 (V1), explained 1 (V3), not_met 1 (V2); SOC-OJZ I3 met 1 (V1);
# SD-NRD I2 met 1 (V5). V4 is still in its text step. 2025Q2: SOC-OJZ I2 met 1 (V6),
# SOC-OJZ I4 met 1 (V1), SD-NRD I3 not_met 1 (V5).
EVENTS = [
    ("V1", "open", "2025-01-06T09:00:00+01:00", OJZ),
    ("V1", "approve_text", "2025-01-20T09:00:00+01:00", None),
    ("V1", "complete_biws", "2025-02-10T09:00:00+01:00", {"checklist": CHECKLIST}),
    ("V2", "open", "2025-01-07T09:00:00+01:00", OJZ),
    ("V2", "deviate_text", "2025-02-03T09:00:00+01:00", None),
    ("V3", "open", "2025-01-08T09:00:00+01:00", OJZ),
    ("V3", "deviate_text", "2025-02-04T09:00:00+01:00", {"explanation": "Spoedvacature"}),
    ("V4", "open", "2025-02-01T09:00:00+01:00", OJZ),
    ("V5", "open", "2025-01-10T09:00:00+01:00", NRD),
    ("V5", "approve_text", "2025-03-01T09:00:00+01:00", None),
    ("V5", "deviate_biws", "2025-05-05T09:00:00+02:00", None),
    ("V6", "open", "2025-04-02T09:00:00+02:00", OJZ),
    ("V6", "approve_text", "2025-04-15T09:00:00+02:00", None),
    ("V1", "submit_shortlist", "2025-05-01T09:00:00+02:00", {"invited": 4, "diverse": 2}),
]
# After the close: a backdated approval that falls in 2025Q1 (V4), and a late explanation of
# V2's text deviation (it counts in 2025Q1, the quarter of the step).
LATE = [
    ("V4", "approve_text", "2025-03-20T09:00:00+01:00", None),
    ("V2", "explain", "2025-06-10T09:00:00+02:00", {"step": "text", "explanation": "Spoed"}),
]


def _row(cluster: str, directorate: str, indicator: str, *counts: int) -> dict[str, Any]:
    met, explained, released, not_met = counts
    return {"cluster": cluster, "directorate": directorate, "indicator": indicator,
            "met": met, "explained": explained, "released": released, "not_met": not_met,
            "total": sum(counts)}  # fmt: skip


# DOMAIN.md's counts over all events (the snapshot's and the late ones), with SOC-OJZ now in
# cluster RE: a step counts in the quarter of the event that finished it; an explain moves
# one not_met to explained there.
RESTATED_Q1 = [
    _row("RE", "SOC-OJZ", "I2", 2, 2, 0, 0),
    _row("RE", "SOC-OJZ", "I3", 1, 0, 0, 0),
    _row("SBD", "SD-NRD", "I2", 1, 0, 0, 0),
]
FROZEN_Q1 = [
    _row("SBD", "SD-NRD", "I2", 1, 0, 0, 0),
    _row("SOC", "SOC-OJZ", "I2", 1, 1, 0, 1),
    _row("SOC", "SOC-OJZ", "I3", 1, 0, 0, 0),
]


class Idflow:
    """The ``idflow`` command line, run as a user types it (in this process: the flows use
    the test session's Prefect API instead of starting a server of their own)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.runner = CliRunner()

    def __call__(self, *args: str) -> str:
        result = self.runner.invoke(app, list(args))
        assert result.exit_code == 0, f"idflow {' '.join(args)}: {result.output}"
        return result.stdout

    def file(self, name: str, text: str) -> str:
        path = self.folder / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    def report(self, quarter: str, *flags: str) -> dict[str, Any]:
        return json.loads(self("report", "--quarter", quarter, "--format", "json", *flags))


def _lines(events: list[tuple[str, str, str, Any]], first: int) -> str:
    return "\n".join(_event(first + n, *event) for n, event in enumerate(events)) + "\n"


def _moved_organisation() -> str:
    """The sample organisation with SOC-OJZ moved from Sociaal to Ruimte & Economie."""
    return sample_csv().replace("SOC,Sociaal,SOC-OJZ,", "RE,Ruimte & Economie,SOC-OJZ,")


def test_done_when_a_closed_quarter_stays_fixed_and_late_changes_become_corrections(
    db_url: str, prefect_harness: None, tmp_path: Path
) -> None:
    idflow = Idflow(tmp_path)
    idflow("init")
    idflow("import", idflow.file("events.jsonl", _lines(EVENTS, 1)))
    assert "vastgesteld: versie 1" in idflow("quarter", "close", "2025Q1", "--actor", "pia")
    internal = idflow("report", "--quarter", "2025Q1", "--format", "json", "--no-suppress")
    published = idflow("report", "--quarter", "2025Q1", "--format", "json")
    saved = json.loads(internal)
    assert (saved["status"], _counted(saved["rows"])) == ("vastgesteld", FROZEN_Q1)

    idflow("import", idflow.file("late.jsonl", _lines(LATE, 100)))
    assert "1 gewijzigd" in idflow("org", "load", idflow.file("org.csv", _moved_organisation()))
    policy = json.loads(idflow("policy", "show")) | {"version": 2, "suppression_threshold": 10}
    idflow("policy", "add", idflow.file("policy.json", json.dumps(policy)))

    after = idflow("report", "--quarter", "2025Q1", "--format", "json", "--no-suppress")
    assert after == internal  # byte for byte
    assert json.loads(after)["rows"] == saved["rows"]
    assert json.loads(after)["closed_at"] == saved["closed_at"]
    assert idflow("report", "--quarter", "2025Q1", "--format", "json") == published
    assert json.loads(published)["threshold"] == 5  # the policy in force at the close

    restated = idflow.report("2025Q1", "--restated", "--no-suppress")
    assert _counted(restated["rows"]) == RESTATED_Q1
    assert (restated["status"], restated["restated"]) == ("vastgesteld", True)

    q2 = idflow.report("2025Q2", "--no-suppress")
    assert q2["status"] == "voorlopig"
    assert q2["corrections"] == [
        {"quarter": "2025Q1", "directorate": "SOC-OJZ", "indicator": "I2", "met": 1,
         "explained": 1, "released": 0, "not_met": -1, "total": 1}
    ]  # fmt: skip
    assert q2["corrections"] == _difference(restated["rows"], saved["rows"], "2025Q1")
    idflow("quarter", "close", "2025Q2", "--actor", "pia")  # only a closed quarter is published
    published_q2 = idflow.report("2025Q2")
    assert published_q2["threshold"] == 10  # closed under the new policy
    assert {published_q2["corrections"][0][c] for c in ("met", "not_met", "total")} == {"-"}
    assert "transities en 2 versies van vastgestelde kwartalen" in idflow("audit", "verify")


def _counted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with counts (every active directorate is listed, empty or not)."""
    return [row for row in rows if row["total"]]


def _difference(now: list[dict[str, Any]], then: list[dict[str, Any]], quarter: str) -> list:
    """now minus then per directorate x indicator, written out apart from the product."""
    columns = ("met", "explained", "released", "not_met", "total")
    keyed = {(r["directorate"], r["indicator"]): r for r in then}
    out = []
    for row in now:
        old = keyed.get((row["directorate"], row["indicator"]), dict.fromkeys(columns, 0))
        diff = {c: row[c] - old[c] for c in columns}
        if any(diff.values()):
            key = {"directorate": row["directorate"], "indicator": row["indicator"]}
            out.append({"quarter": quarter} | key | diff)
    return out


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # refused before anything changes
def test_reopening_needs_a_reason_and_a_closed_quarter_with_dutch_refusals(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([IDFLOW, *args], cwd=tmp_path, capture_output=True, text=True)

    missing = run("quarter", "reopen", "2025Q1")
    assert missing.returncode == 2 and "--reason" in missing.stderr
    blank = run("quarter", "reopen", "2025Q1", "--reason", "  ")
    assert blank.returncode == 1 and "reden" in blank.stderr
    not_closed = run("quarter", "reopen", "2025Q1", "--reason", "typefout")
    assert not_closed.returncode == 1 and "niet vastgesteld" in not_closed.stderr
    future = run("quarter", "close", "2999Q4")
    assert future.returncode == 1 and "nog niet voorbij" in future.stderr
    assert "Traceback" not in future.stderr + not_closed.stderr
    assert json.loads(Idflow(tmp_path)("quarter", "list", "--json")) == []
