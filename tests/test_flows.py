"""The Prefect flows (roll-up and quarterly report) on a temporary Prefect API, and the
``idflow report`` command's refusals."""

import csv
import io
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from models import session_scope
from procedures.policy import default_policy
from procedures.quarters import close_quarter

IDFLOW = str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "idflow")
CHECKLIST = dict.fromkeys(default_policy().biws_checklist, True)
OPEN = {"directorate": "SD-NRD", "scale": 12, "title": "Gebiedsmanager", "kind": "external"}

pytestmark = pytest.mark.prefect


def _two_procedures(send: Any) -> None:
    send("V1", "open", "2025-01-10T09:00:00", OPEN)
    send("V1", "approve_text", "2025-02-10T09:00:00")
    send("V1", "deviate_biws", "2025-03-31T23:30:00")  # Q1, not_met
    send("V2", "open", "2025-02-10T09:00:00", OPEN)
    send("V2", "deviate_text", "2025-03-01T09:00:00", {"explanation": "Spoed"})
    send("V2", "complete_biws", "2025-04-01T00:15:00", {"checklist": CHECKLIST})  # Q2


def test_the_rollup_flow_counts_new_transitions_once(
    prefect_harness: None, send: Any, engine: Engine
) -> None:
    from workflows.rollup import rollup_flow

    _two_procedures(send)
    first = rollup_flow()
    assert (first["from"], first["to"], first["transitions"]) == (0, 6, 6)
    assert rollup_flow()["transitions"] == 0
    send("V1", "explain", "2025-05-01T09:00:00", {"step": "biws", "explanation": "Ok"})
    assert rollup_flow()["transitions"] == 1
    rebuilt = rollup_flow(rebuild=True)
    assert (rebuilt["transitions"], rebuilt["rebuilt"]) == (7, True)


def test_the_report_flow_writes_the_same_rows_as_json_and_as_csv(
    prefect_harness: None, send: Any, engine: Engine, tmp_path: Path
) -> None:
    from workflows.report import report_flow

    _two_procedures(send)
    text = report_flow(
        quarter="2025Q1", fmt="json", suppress=False, output=str(tmp_path / "q1.json")
    )
    report = json.loads(text)
    assert json.loads((tmp_path / "q1.json").read_text(encoding="utf-8")) == report
    assert (report["quarter"], report["suppressed"]) == ("2025Q1", False)
    rows = {(r["directorate"], r["indicator"]): r for r in report["rows"] if r["total"]}
    assert set(rows) == {("SD-NRD", "I2"), ("SD-NRD", "I3")}
    assert {k: rows[("SD-NRD", "I2")][k] for k in ("met", "explained", "not_met", "total")} == {
        "met": 1,
        "explained": 1,
        "not_met": 0,
        "total": 2,
    }
    assert rows[("SD-NRD", "I3")]["not_met"] == 1 and rows[("SD-NRD", "I3")]["cluster"] == "SBD"

    csv_text = report_flow(
        quarter="2025Q1", fmt="csv", suppress=False, output=str(tmp_path / "q1.csv")
    )
    assert (tmp_path / "q1.csv").read_text(encoding="utf-8") == csv_text
    csv_rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert [(r["directorate"], r["indicator"], int(r["total"])) for r in csv_rows] == [
        (r["directorate"], r["indicator"], r["total"]) for r in report["rows"]
    ]

    with session_scope(engine) as session:
        close_quarter(session, "2025Q1", "pia")  # only a closed quarter is published
    suppressed = json.loads(report_flow(quarter="2025Q1", fmt="json"))
    assert suppressed["suppressed"] is True
    assert all(row["total"] != 2 for row in suppressed["rows"])  # 0 < n < 5 is not shown


def _report_cli(args: list[str], db_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    from prefect.settings import PREFECT_API_URL

    # Use the harness's API, so the subprocess does not start a Prefect server of its own.
    env = os.environ | {"IDFLOW_DATABASE_URL": db_url, "PREFECT_API_URL": PREFECT_API_URL.value()}
    return subprocess.run(
        [IDFLOW, "report", *args], env=env, cwd=tmp_path, capture_output=True, text=True
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # refused before any query
def test_idflow_report_refuses_an_invalid_quarter_and_format_in_dutch(
    prefect_harness: None, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    quarter = _report_cli(["--quarter", "2025Q5"], db_url, tmp_path)
    assert quarter.returncode != 0
    assert "Ongeldig kwartaal '2025Q5'" in quarter.stderr
    assert "JJJJQn" in quarter.stderr
    assert quarter.stdout == ""
    fmt = _report_cli(["--quarter", "2025Q1", "--format", "pdf"], db_url, tmp_path)
    assert fmt.returncode != 0
    assert "Onbekend rapportformaat 'pdf'" in fmt.stderr
    assert fmt.stdout == ""
