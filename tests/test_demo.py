"""``idflow demo``, the main job: from an empty folder to a readable table and report files."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

IDFLOW = str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "idflow")

pytestmark = pytest.mark.prefect


def _run(
    args: list[str], cwd: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDFLOW_", "PREFECT_API"))}
    env |= (extra_env or {}) | {
        "PREFECT_HOME": str(cwd / ".prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "COLUMNS": "160",
    }
    return subprocess.run(
        [IDFLOW, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_the_demo_runs_in_an_empty_folder_and_a_second_run_finds_only_duplicates(
    tmp_path: Path,
) -> None:
    first = _run(["demo"], tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert (tmp_path / "idflow.db").is_file()
    assert "% voldaan (norm 100%) per cluster" in first.stdout
    for cluster in ("Sociaal", "Ruimte & Economie", "Bedrijfsvoering", "Gemeente totaal"):
        assert cluster in first.stdout
    assert "alle indicatoren samen (gepubliceerde cijfers)" in " ".join(first.stdout.split())
    assert "intern, niet publiceren" not in first.stdout
    assert re.search(r"Vastgesteld: \d+ kwartalen .* duurde \d+\.\d s", first.stderr)
    assert "Meldingen voor P&O die wachten op verzending:" in first.stdout
    # One alert is shown as P&O receives it, with the link to the vacancy page.
    shown = first.stdout.split("Eerste melding in het bestand", 1)[1]
    assert "/vacatures/" in shown.split("Rapporten:", 1)[0]
    engine_line = next(line for line in first.stderr.splitlines() if line.startswith("Engine:"))
    applied = int(engine_line.split()[1])
    assert applied > 1000 and "0 dubbel, 0 geweigerd" in engine_line

    [json_report] = (tmp_path / "reports").glob("*Q*.json")
    csv_report = json_report.with_suffix(".csv")
    report = json.loads(json_report.read_text(encoding="utf-8"))
    assert report["suppressed"] is True and report["rows"]
    assert report["quarter"] == json_report.stem
    assert csv_report.read_text(encoding="utf-8").startswith("cluster,directorate,indicator")

    verified = _run(["audit", "verify"], tmp_path)
    assert verified.returncode == 0, verified.stderr
    closed = re.search(rf"Logboek intact: {applied} transities en (\d+) versies", verified.stdout)
    assert closed and int(closed.group(1)) >= 7  # the quarters of two years, closed when due

    second = _run(["demo", "--intern"], tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"Engine: 0 gebeurtenissen verwerkt, {applied} dubbel, 0 geweigerd." in second.stderr
    assert "alle indicatoren samen (intern, niet publiceren)" in " ".join(second.stdout.split())
    assert "% ✓" in second.stdout or "% ~" in second.stdout or "% ✗" in second.stdout

    # The demo says how to open the pages on its data; its commands work as printed.
    told = [line.split("(")[0].split() for line in first.stdout.splitlines()]
    commands = [words[1:] for words in told if words[:3] == ["idflow", "users", "add"]]
    assert [c[2] for c in commands] == ["pia", "rita"]
    assert "IDFLOW_COOKIE_SECURE=false idflow serve" in first.stdout
    for command in commands:
        added = _run(command, tmp_path, {"IDFLOW_NEW_USER_PASSWORD": "demo-wachtwoord-1"})
        assert added.returncode == 0, added.stderr
    from fastapi.testclient import TestClient
    from test_web_api import sign_in

    from web.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'idflow.db'}")
    pno = TestClient(app, base_url="https://testserver")
    assert sign_in(pno, "pia", "demo-wachtwoord-1").status_code == 303
    assert "Stadsdelen" in pno.get("/dashboard").text
    recruiter = TestClient(app, base_url="https://testserver")
    assert sign_in(recruiter, "rita", "demo-wachtwoord-1").status_code == 303
    assert "VAC-" in recruiter.get("/vacatures?directorate=SOC-OJZ").text
